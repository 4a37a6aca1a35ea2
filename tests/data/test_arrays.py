"""Arrays importer: .npy / HDF5 / .mat sources and input validation."""

import h5py
import numpy as np
import pytest
import scipy.io

from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.arrays import import_arrays
from tfhash.errors import TfhashError

N = 60


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        "images": rng.normal(size=(N, 6)).astype(np.float32),
        "texts": rng.random((N, 9)).astype(np.float32),
        "classes": rng.integers(0, 4, size=N),
        "tokens": np.where(rng.random((N, 5)) < 0.7, rng.integers(1, 11, size=(N, 5)), 0).astype(np.int32),
    }
    for key, value in data.items():
        np.save(tmp_path / f"{key}.npy", value)
    with h5py.File(tmp_path / "feats.h5", "w") as f:
        f["group/features"] = data["images"]
        f["other"] = np.zeros(3)
    scipy.io.savemat(tmp_path / "texts.mat", {"Y": data["texts"]})
    return tmp_path, data


def test_npy_h5_and_mat_sources(files):
    folder, data = files
    out = import_arrays(
        folder / "out.h5", images=f"{folder}/feats.h5:/group/features", texts=f"{folder}/texts.mat:Y",
        labels=str(folder / "classes.npy"), tokens=str(folder / "tokens.npy"), query_size=10, seed=4,
    )
    with PairedDataset(out) as ds:
        rows = np.arange(N)
        np.testing.assert_array_equal(ds.read("images", rows), data["images"])
        np.testing.assert_array_equal(ds.read("bow", rows), data["texts"])
        np.testing.assert_array_equal(ds.read("tokens", rows), data["tokens"])
        np.testing.assert_array_equal(ds.read("labels", rows).argmax(axis=1), data["classes"])
        assert ds.num_classes == 4 and ds.vocabulary[:2] == ["#1", "#2"]
        assert {k: v.size for k, v in ds.splits.items()} == {"query": 10, "database": 50, "train": 50}
        assert ds.split_seed == 4 and ds.protocol == "custom"


def test_pixel_arrays(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 4, 4, 3)).astype(np.float64)
    out = import_arrays(tmp_path / "out.h5", images=pixels, texts=np.ones((20, 3)), query_size=2)
    with PairedDataset(out) as ds:
        np.testing.assert_array_equal(ds.read("images", np.arange(20)), pixels.astype(np.uint8))
    with pytest.raises(TfhashError, match=r"values in 0\.\.255"):
        import_arrays(tmp_path / "bad.h5", images=pixels / 300.0 - 0.5, texts=np.ones((20, 3)), query_size=2)


def test_validation_errors(files):
    folder, data = files
    out = folder / "out.h5"
    bad = data["images"].copy()
    bad[5, 2] = np.inf
    np.save(folder / "bad.npy", bad)
    cases = [
        (dict(images=str(folder / "bad.npy"), texts=str(folder / "texts.npy")), r"images contains NaN or inf"),
        (dict(images=str(folder / "images.npy"), texts=data["texts"][:-1]), r"mismatched pair counts: 60 images but 59 rows of texts"),
        (dict(images=str(folder / "missing.npy"), texts=data["texts"]), r"images file not found: .*missing\.npy"),
        (dict(images=str(folder / "feats.h5"), texts=data["texts"]), r"holds 2 datasets; name one as"),
        (dict(images=f"{folder}/feats.h5:/nope", texts=data["texts"]), r"feats\.h5 has no dataset 'nope'"),
        (dict(images=data["images"][:, :, None], texts=data["texts"]), r"images must be \(N, D\) features"),
        (dict(images=data["images"]), r"no text input given"),
        (dict(images=data["images"], texts=data["texts"], labels=np.full((N, 2), 0.5)), r"multi-hot 0/1"),
        (dict(images=data["images"], tokens=data["tokens"], vocabulary=["a", "b"]), r"token id 10 exceeds the vocabulary of 2"),
        (dict(images=data["images"], texts=data["texts"], protocol="nope"), r"unknown protocol 'nope'"),
    ]
    for kw, message in cases:
        with pytest.raises(TfhashError, match=message):
            import_arrays(out, query_size=10, **kw)
    assert not out.exists()


def test_features_of_some_pairs_aligned_by_rows(files):
    folder, data = files
    # Features of pairs 7, 3 and 50 only, in that order; texts/labels/ids cover all N pairs.
    feats = np.asarray([[7.0], [3.0], [50.0]], np.float32)
    np.save(folder / "some.npy", feats)
    (folder / "rows.txt").write_text("7 item7\n3\titem3\n\n50\n")
    (folder / "ids.txt").write_text("".join(f"item{i}\n" for i in range(N)))
    out = import_arrays(folder / "out.h5", images=str(folder / "some.npy"), texts=str(folder / "texts.npy"),
                        labels=str(folder / "classes.npy"), tokens=str(folder / "tokens.npy"),
                        ids=str(folder / "ids.txt"), image_rows=str(folder / "rows.txt"), query_size=1)
    with PairedDataset(out) as ds:
        assert ds.num_pairs == 3 and ds.ids([0, 1, 2]) == ["item7", "item3", "item50"]
        np.testing.assert_array_equal(ds.read("images", [0, 1, 2]), feats)
        np.testing.assert_array_equal(ds.read("bow", [0, 1, 2]), data["texts"][[7, 3, 50]])
        np.testing.assert_array_equal(ds.read("tokens", [0, 1, 2]), data["tokens"][[7, 3, 50]])
        np.testing.assert_array_equal(ds.read("labels", [0, 1, 2]).argmax(axis=1), data["classes"][[7, 3, 50]])
    # The same from an HDF5 text source (read in increasing row order, then put back in image order).
    with h5py.File(folder / "texts.h5", "w") as f:
        f["bow"] = data["texts"]
    out = import_arrays(folder / "out2.h5", images=feats, texts=f"{folder}/texts.h5:bow", image_rows=[7, 3, 50],
                        query_size=1)
    with PairedDataset(out) as ds:
        np.testing.assert_array_equal(ds.read("bow", [0, 1, 2]), data["texts"][[7, 3, 50]])
    (folder / "far.txt").write_text("7\n3\n60\n")
    with pytest.raises(TfhashError, match="row 60 is outside 0..59"):
        import_arrays(folder / "x.h5", images=feats, texts=data["texts"], image_rows=str(folder / "far.txt"))
    (folder / "named.txt").write_text("7 item8\n3\n50\n")
    with pytest.raises(TfhashError, match="row 7 is item7, not item8"):
        import_arrays(folder / "x.h5", images=feats, texts=data["texts"], ids=str(folder / "ids.txt"),
                      image_rows=str(folder / "named.txt"))
    with pytest.raises(TfhashError, match="3 image rows but 2 feature rows"):
        import_arrays(folder / "x.h5", images=feats, texts=data["texts"], image_rows=[7, 3])
