"""MIRFlickr-25K: the real 20,015 text+label pairs and the raw-image subset."""

import os

import numpy as np
import pytest
import scipy.io

from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.mirflickr import (
    UNKNOWN,
    decode_image,
    encode_tags,
    import_mirflickr_features,
    import_mirflickr_images,
    import_mirflickr_text,
    load_mirflickr_text,
)
from tfhash.errors import TfhashError

CONCEPTS = [
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor", "lake", "male",
    "night", "people", "plant_life", "portrait", "river", "sea", "sky", "structures", "sunset", "transport",
    "tree", "water",
]


@pytest.fixture(scope="module")
def mir_dir(shared_data_dir):
    path = os.path.join(shared_data_dir, "mirflickr25k")
    if not os.path.isdir(path):
        pytest.skip(f"MIRFlickr data not found at {path}")
    return path


@pytest.fixture(scope="module")
def text(mir_dir):
    return load_mirflickr_text(mir_dir)


def _tags(mir_dir):
    with open(os.path.join(mir_dir, "all_tags.txt"), encoding="utf-8") as f:
        return [line.rstrip("\r\n").split(",") for line in f]


def test_real_text_and_labels(mir_dir, text):
    mat_l = scipy.io.loadmat(os.path.join(mir_dir, "mirflickr25k-lall.mat"))["LAll"]
    mat_y = scipy.io.loadmat(os.path.join(mir_dir, "mirflickr25k-yall.mat"))["YAll"]
    assert text["labels"].shape == (20015, 24) and text["bow"].shape == (20015, 1386)
    np.testing.assert_array_equal(text["labels"], mat_l)
    np.testing.assert_array_equal(text["bow"], mat_y)
    assert text["class_names"] == CONCEPTS  # derived from labels_annotation.txt, not hardcoded
    assert len(text["vocabulary"]) == 1387 and text["vocabulary"][-1] == UNKNOWN
    assert text["ids"][:2] == ["im1.jpg", "im2.jpg"]
    tags = _tags(mir_dir)
    for i in (0, 3, 19999):
        seq = text["tokens"][i][text["tokens"][i] > 0]
        assert [text["vocabulary"][t - 1] for t in seq] == tags[i]
        # Token id j+1 is YAll column j: the tags rebuild the bag of words.
        rebuilt = np.zeros(1386, np.uint8)
        rebuilt[seq - 1] = 1
        np.testing.assert_array_equal(rebuilt, mat_y[i])


def test_full_import_needs_an_image_file_and_works_with_one(tmp_path, mir_dir):
    with pytest.raises(TfhashError, match=r"no image input.*mirflickr-images"):
        import_mirflickr_text(mir_dir, tmp_path / "none.h5")
    # Stand-in IAll (the real 4096-d file is not available): MATLAB layout, N x D.
    features = np.random.default_rng(0).normal(size=(20015, 4)).astype(np.float32)
    scipy.io.savemat(tmp_path / "iall.mat", {"IAll": features})
    out = import_mirflickr_text(mir_dir, tmp_path / "mir.h5", images_mat=tmp_path / "iall.mat", train_size=5000)
    with PairedDataset(out) as ds:
        assert ds.num_pairs == 20015 and ds.bow_dim == 1386 and ds.num_classes == 24
        assert {k: v.size for k, v in ds.splits.items()} == {"query": 2000, "database": 18015, "train": 5000}
        assert ds.protocol == "mirflickr-dcmh" and ds.split_seed == 0
        np.testing.assert_array_equal(ds.read("images", [7, 20014]), features[[7, 20014]])
        assert ds.max_tokens == max(len(t) for t in _tags(mir_dir))


def test_raw_image_subset(tmp_path, mir_dir, text):
    out = import_mirflickr_images(mir_dir, tmp_path / "img.h5", image_size=32)
    with PairedDataset(out) as ds:
        assert ds.num_pairs == 730 and ds.image_shape == (32, 32, 3) and ds.image_kind == "pixels"
        assert {k: v.size for k, v in ds.splits.items()} == {"query": 130, "database": 600, "train": 600}
        assert ds.split_seed == 0 and ds.class_names == CONCEPTS
        ids = ds.ids(np.arange(730))
        rows = [text["ids"].index(i) for i in ids]
        assert rows == list(range(730))  # here the 730 present images are the first 730 lines
        images = ds.read("images", [0, 500])
        np.testing.assert_array_equal(images[0], decode_image(os.path.join(mir_dir, "images", ids[0]), 32))
        assert images.std() > 10  # real pictures, not blanks
        np.testing.assert_array_equal(ds.read("bow", [0, 729]), text["bow"][[0, 729]])
        np.testing.assert_array_equal(ds.read("labels", np.arange(730)), text["labels"][:730])
        tags = _tags(mir_dir)
        tokens = ds.read("tokens", [0, 1, 600])
        assert tokens.shape[1] == max(len(tags[i]) for i in range(730))
        for seq, i in zip(tokens, (0, 1, 600)):
            assert [ds.vocabulary[t - 1] for t in seq[seq > 0]] == tags[i]


def test_shared_pretrained_features_import_in_one_command(tmp_path, mir_dir, text):
    from tests.helpers import run_cli

    out = tmp_path / "feat.h5"
    result = run_cli("data", "import", "mirflickr-features", "--data-dir", mir_dir, "--out", out)
    assert result.exit_code == 0, result.output
    assert "730 pairs, images 1280-d features, bow 1386-d" in result.output
    features = np.load(os.path.join(mir_dir, "features", "efficientnet-lite2.npy"))
    with open(os.path.join(mir_dir, "features", "efficientnet-lite2.rows.txt"), encoding="utf-8") as f:
        lines = [line.split() for line in f if line.strip()]
    rows = np.asarray([int(r) for r, _ in lines])
    images = import_mirflickr_images(mir_dir, tmp_path / "img.h5", image_size=8)
    with PairedDataset(out) as ds, PairedDataset(images) as raw:
        everything = np.arange(730)
        np.testing.assert_array_equal(ds.read("images", everything), features)
        np.testing.assert_array_equal(ds.read("bow", everything), text["bow"][rows])
        np.testing.assert_array_equal(ds.read("labels", everything), text["labels"][rows])
        assert ds.ids(everything) == [name for _, name in lines]
        # The same pairs, tags and seeded split as the raw-image importer: the two are interchangeable.
        assert ds.ids(everything) == raw.ids(everything)
        np.testing.assert_array_equal(ds.read("tokens", everything), raw.read("tokens", everything))
        assert {k: v.tolist() for k, v in ds.splits.items()} == {k: v.tolist() for k, v in raw.splits.items()}
        assert (ds.protocol, ds.split_seed, ds.class_names) == ("custom", 0, CONCEPTS)
        assert ds.name == "mirflickr25k-efficientnet-lite2"


def test_own_features_aligned_by_a_rows_file(tmp_path, mir_dir, text):
    features = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "mine.npy", features)
    # all_imgs.txt line 10 (row 9) is im11.jpg: im10 is not among the 20,015 pairs.
    (tmp_path / "mine.rows.txt").write_text("20014\tim25000.jpg\n2\tim3.jpg\n9\tmirflickr/im11.jpg\n")
    out = import_mirflickr_features(mir_dir, tmp_path / "mine.h5", features=tmp_path / "mine.npy", query_size=1)
    with PairedDataset(out) as ds:
        np.testing.assert_array_equal(ds.read("images", [0, 1, 2]), features)
        np.testing.assert_array_equal(ds.read("labels", [0, 1, 2]), text["labels"][[20014, 2, 9]])
        assert ds.ids([0, 1, 2]) == ["im25000.jpg", "im3.jpg", "im11.jpg"]
    (tmp_path / "bad.rows.txt").write_text("20014\n2\tim4.jpg\n9\n")
    with pytest.raises(TfhashError, match="row 2 is im3.jpg, not im4.jpg"):
        import_mirflickr_features(mir_dir, tmp_path / "x.h5", features=tmp_path / "mine.npy",
                                  feature_rows=tmp_path / "bad.rows.txt", query_size=1)
    (tmp_path / "short.rows.txt").write_text("1\n2\n")
    with pytest.raises(TfhashError, match="3 feature rows but 2 lines"):
        import_mirflickr_features(mir_dir, tmp_path / "x.h5", features=tmp_path / "mine.npy",
                                  feature_rows=tmp_path / "short.rows.txt", query_size=1)
    assert not os.path.exists(tmp_path / "x.h5")


def test_decode_is_center_crop_then_resize(tmp_path):
    from PIL import Image

    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = 255  # white centre square, black side bands
    Image.fromarray(wide).save(tmp_path / "wide.png")
    out = decode_image(tmp_path / "wide.png", 16)
    assert out.shape == (16, 16, 3) and out.min() > 200  # no black band: it was cropped away
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(TfhashError, match=r"cannot decode image .*broken\.jpg"):
        decode_image(tmp_path / "broken.jpg", 16)


def test_encode_tags_pads_truncates_and_marks_unknown():
    tokens = encode_tags(["a,b,zzz", "b", ""], ["a", "b"], max_tokens=2)
    np.testing.assert_array_equal(tokens, [[1, 2], [2, 0], [0, 0]])
    np.testing.assert_array_equal(encode_tags(["zzz,a"], ["a", "b"]), [[3, 1]])
