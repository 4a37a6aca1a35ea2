"""IAPR TC-12 and MS-COCO importers on tiny files in the distributed layouts; the DVSH/TUCH presets."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_cli
from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.coco import import_coco
from tfhash.data.importers.iapr import import_iapr, read_annotation
from tfhash.data.importers.sentences import encode_sentences
from tfhash.data.protocols import make_splits
from tfhash.errors import TfhashError


def _jpeg(path, colour, size=(40, 30)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, colour).save(path, "JPEG", quality=95)


def test_encode_sentences_worked_example():
    # Counts over the first sentences: a=3, dog=2, cat=1, runs=1 -> vocabulary a, dog, cat, runs (ties alphabetical).
    out = encode_sentences([["A dog runs.", "A cat sleeps"], ["a dog, a CAT"], []], max_tokens=3, bow_size=3)
    assert out["vocabulary"] == ["a", "dog", "cat", "runs", "<unk>"]
    np.testing.assert_array_equal(out["tokens"], [[1, 2, 4], [1, 2, 1], [0, 0, 0]])
    # Bag of words over all sentences: a=4, cat=2, dog=2 are the 3 most frequent (sleeps, runs: 1).
    assert out["bow_words"] == ["a", "cat", "dog"]
    np.testing.assert_array_equal(out["bow"], [[2, 1, 1], [2, 1, 1], [0, 0, 0]])
    joined = encode_sentences([["A dog runs.", "A cat sleeps"]], caption="all")
    assert joined["tokens"].shape == (1, 6)
    assert [joined["vocabulary"][i - 1] for i in joined["tokens"][0]] == ["a", "dog", "runs", "a", "cat", "sleeps"]
    rare = encode_sentences([["x y y"]], min_count=2)
    assert rare["vocabulary"] == ["y", "<unk>"] and rare["tokens"].tolist() == [[2, 1, 1]]


# ------------------------------------------------------------------ IAPR TC-12

ENG = """<DOC>
<DOCNO>annotations/{folder}/{number}.eng</DOCNO>
<TITLE>Plaza {number}</TITLE>
<DESCRIPTION>{description}</DESCRIPTION>
<NOTES></NOTES>
<LOCATION>Cochabamba, Bolivia; São Paulo</LOCATION>
<DATE>1 February 2002</DATE>
<IMAGE>images/{folder}/{number}.jpg</IMAGE>
<THUMBNAIL>thumbnails/{folder}/{number}.jpg</THUMBNAIL>
</DOC>
"""

# image number -> (folder, description, region concepts)
IAPR = {
    25: ("00", "a yellow building with white columns; two palm trees in front of the house;", [3, 7, 7]),
    26: ("00", "a man on a horse; a blue sky;", [5, 9]),
    1000: ("01", "a palm tree on a beach;", [7]),
    1001: ("01", "a dog;", [11]),                       # only a concept outside the top 3 -> dropped
    1002: ("01", "", [3]),                              # no sentence -> dropped
    1003: ("01", "a horse in a field; clouds;", [5]),
    1004: ("01", "two palm trees; a house;", [3, 7]),
}


def _write_iapr(root):
    for number, (folder, description, _) in IAPR.items():
        path = os.path.join(root, "iaprtc12", "annotations_complete_eng", folder, f"{number}.eng")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="latin-1") as f:
            f.write(ENG.format(folder=folder, number=number, description=description))
        _jpeg(os.path.join(root, "iaprtc12", "images", folder, f"{number}.jpg"), (number % 255, 80, 160))
    for folder in ("00", "01"):
        lines = [f"{n} {r + 1} {c}" for n, (fo, _, cs) in IAPR.items() if fo == folder for r, c in enumerate(cs)]
        path = os.path.join(root, "saiapr_tc-12", folder, "labels.txt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(root, "saiapr_tc-12", "wlist.txt"), "w") as f:
        f.write("3 house\n5 horse\n7 palm\n9 sky\n11 dog\n")


def test_iapr_annotation_file_is_parsed(tmp_path):
    _write_iapr(tmp_path)
    record = read_annotation(os.path.join(tmp_path, "iaprtc12", "annotations_complete_eng", "00", "25.eng"))
    assert record == {"id": "25", "image": "images/00/25.jpg",
                      "sentences": ["a yellow building with white columns", "two palm trees in front of the house"]}


def test_iapr_import(tmp_path):
    _write_iapr(tmp_path)
    out = os.path.join(tmp_path, "iapr.h5")
    import_iapr(os.path.join(tmp_path, "iaprtc12", "annotations_complete_eng"), os.path.join(tmp_path, "saiapr_tc-12"),
                out, images_dir=os.path.join(tmp_path, "iaprtc12"), concept_names=os.path.join(tmp_path, "saiapr_tc-12", "wlist.txt"),
                top_concepts=3, image_size=16, protocol="custom", query_size=1, max_tokens=6)
    with PairedDataset(out) as ds:
        # Concepts by images: palm 3 (25, 1000, 1004), house 3 (25, 1002, 1004), horse 2, sky 1, dog 1.
        # Top 3 = house, horse, palm (columns in id order); 1001 (dog only) and 1002 (no sentence) dropped.
        assert ds.class_names == ["house", "horse", "palm"]
        rows = np.arange(ds.num_pairs)
        assert ds.ids(rows) == ["25", "26", "1000", "1003", "1004"]
        np.testing.assert_array_equal(ds.ground_truth(rows), [[1, 0, 1], [0, 1, 0], [0, 0, 1], [0, 1, 0], [1, 0, 1]])
        assert ds.image_shape == (16, 16, 3)
        np.testing.assert_array_equal(ds.read("images", [0])[0, 8, 8], (25, 80, 160))  # JPEG of a flat colour
        vocab = ds.vocabulary
        first = [vocab[i - 1] for i in ds.read("tokens", [0])[0] if i]
        assert first == ["a", "yellow", "building", "with", "white", "columns"]  # first sentence, 6 tokens
        assert ds.read("bow", rows).sum(axis=1)[0] == 6 + 8  # both sentences of image 25 counted


def test_iapr_import_from_features_and_the_cli(tmp_path):
    _write_iapr(tmp_path)
    ids = ["1004", "25", "26", "1000", "1003", "1001"]
    np.save(os.path.join(tmp_path, "f.npy"), np.arange(12, dtype=np.float32).reshape(6, 2))
    with open(os.path.join(tmp_path, "f.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")
    out = os.path.join(tmp_path, "iapr.h5")
    result = run_cli("data", "import", "iapr", "--annotations", os.path.join(tmp_path, "iaprtc12", "annotations_complete_eng"),
                     "--labels-dir", os.path.join(tmp_path, "saiapr_tc-12"), "--top-concepts", 3,
                     "--features", os.path.join(tmp_path, "f.npy"), "--feature-ids", os.path.join(tmp_path, "f.txt"),
                     "--protocol", "custom", "--query-size", 1, "--out", out)
    assert result.exit_code == 0, result.output
    with PairedDataset(out) as ds:
        # Rows follow the dataset's id order (25, 26, 1000, 1003, 1004), looked up by id in f.txt.
        np.testing.assert_array_equal(ds.read("images", np.arange(5)), [[2, 3], [4, 5], [6, 7], [8, 9], [0, 1]])
        assert ds.max_tokens == 25


# ------------------------------------------------------------------ MS-COCO

def _write_coco(root):
    images = [{"id": i, "file_name": f"COCO_train2014_{i:012d}.jpg", "width": 40, "height": 30} for i in (9, 25, 30, 42)]
    captions = {"info": {}, "licenses": [], "images": images, "annotations": [
        {"id": 1, "image_id": 25, "caption": "A giraffe eating leaves."},
        {"id": 2, "image_id": 9, "caption": "A plate of food."},
        {"id": 3, "image_id": 25, "caption": "Two giraffes stand by trees."},
        {"id": 4, "image_id": 30, "caption": "A vase with flowers."},
        {"id": 5, "image_id": 42, "caption": "An empty street."},
    ]}
    instances = {"info": {}, "licenses": [], "images": images, "annotations": [
        {"id": 10, "image_id": 9, "category_id": 51, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0, "segmentation": []},
        {"id": 11, "image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0, "segmentation": []},
        {"id": 12, "image_id": 25, "category_id": 25, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0, "segmentation": []},
        {"id": 13, "image_id": 30, "category_id": 86, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0, "segmentation": []},
    ], "categories": [{"supercategory": "person", "id": 1, "name": "person"},
                      {"supercategory": "animal", "id": 25, "name": "giraffe"},
                      {"supercategory": "food", "id": 51, "name": "bowl"},
                      {"supercategory": "indoor", "id": 86, "name": "vase"}]}
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    for name, data in (("captions_train2014.json", captions), ("instances_train2014.json", instances)):
        with open(os.path.join(root, "annotations", name), "w") as f:
            json.dump(data, f)
    for image in images:
        _jpeg(os.path.join(root, "train2014", image["file_name"]), (image["id"] * 5, 20, 200))


def test_coco_import(tmp_path):
    _write_coco(tmp_path)
    out = os.path.join(tmp_path, "coco.h5")
    ann = os.path.join(tmp_path, "annotations")
    import_coco([os.path.join(ann, "captions_train2014.json")], [os.path.join(ann, "instances_train2014.json")], out,
                image_dirs=[os.path.join(tmp_path, "train2014")], image_size=8, protocol="custom", query_size=1)
    with PairedDataset(out) as ds:
        rows = np.arange(ds.num_pairs)
        assert ds.ids(rows) == ["9", "25", "30"]  # 42 has no category: dropped
        assert ds.class_names == ["person", "giraffe", "bowl", "vase"]  # category id order
        np.testing.assert_array_equal(ds.ground_truth(rows), [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
        words = [[ds.vocabulary[i - 1] for i in seq if i] for seq in ds.read("tokens", rows)]
        assert words == [["a", "plate", "of", "food"], ["a", "giraffe", "eating", "leaves"], ["a", "vase", "with", "flowers"]]
        assert ds.read("bow", rows).sum(axis=1).tolist() == [4, 9, 4]  # image 25's two captions in its bag
        assert ds.image_shape == (8, 8, 3)


def test_coco_cli_and_bad_input(tmp_path):
    _write_coco(tmp_path)
    ann = os.path.join(tmp_path, "annotations")
    out = os.path.join(tmp_path, "coco.h5")
    result = run_cli("data", "import", "coco", "--captions", os.path.join(ann, "captions_train2014.json"),
                     "--instances", os.path.join(ann, "instances_train2014.json"),
                     "--images-dir", os.path.join(tmp_path, "train2014"), "--image-size", 8, "--caption", "all",
                     "--protocol", "custom", "--query-size", 1, "--out", out)
    assert result.exit_code == 0, result.output
    with PairedDataset(out) as ds:
        assert ds.max_tokens == 20 and int((ds.read("tokens", [1]) > 0).sum()) == 9  # both captions joined
    with pytest.raises(TfhashError, match="not found"):
        import_coco([os.path.join(ann, "captions_train2014.json")], [os.path.join(ann, "instances_train2014.json")],
                    out, image_dirs=[str(tmp_path)], protocol="custom", query_size=1)


# ------------------------------------------------------------------ presets

def test_per_class_query_preset():
    rng = np.random.default_rng(0)
    labels = (rng.random((9000, 22)) < 0.1).astype(np.uint8)
    labels[labels.sum(1) == 0, 0] = 1
    splits = make_splits("iapr-tuch", 9000, seed=1, labels=labels)
    query = splits["query"]
    assert 100 <= query.size <= 2200
    for c in range(22):  # drawn per class, so every class has at least its 100 queries
        assert labels[query, c].sum() >= 100
    assert np.intersect1d(query, splits["database"]).size == 0 and query.size + splits["database"].size == 9000
    assert splits["train"].size == 5000 and splits["validation"].size == 1000
    assert np.intersect1d(splits["validation"], splits["train"]).size == 0
    assert np.isin(splits["train"], splits["database"]).all()
    with pytest.raises(TfhashError):  # 3,000 pairs cannot hold 5,000 training pairs
        make_splits("iapr-dvsh", 3000, seed=1, labels=labels[:3000])
    coco = make_splits("coco-tuch", 8000, seed=0)
    assert (coco["query"].size, coco["train"].size, coco["validation"].size) == (1000, 5000, 1000)
    with pytest.raises(TfhashError, match="per class"):
        make_splits("iapr-dvsh", 9000, labels=labels, query_size=10)
