"""Importer for the Wikipedia benchmark (Rasiwasia et al., ACM MM 2010).

Rows 0..2172 of the output are the 2,173 train pairs, rows 2173..2865 the
693 test pairs, each in the order of its `.list` file. Images are the 128-d
SIFT bag-of-visual-words features, bow the 10-d LDA topic proportions of the
article, ids the image ids. Split: "wikipedia-standard" (query = test,
database = train = train; fixed, no seed).
"""

import os

import numpy as np

from tfhash.data.dataset import write_dataset
from tfhash.data.importers.matfile import MatFile
from tfhash.data.protocols import make_splits, split_seed
from tfhash.errors import TfhashError, require

FEATURES = "wiki_raw_features.mat"
TRAIN_LIST = "wiki_trainset_txt_img_cat.list"
TEST_LIST = "wiki_testset_txt_img_cat.list"
CATEGORIES = "wiki_categories.list"
NUM_CLASSES = 10


def _path(folder, name):
    path = os.path.join(folder, name)
    require(os.path.isfile(path), f"Wikipedia file not found: {path}")
    return path


def read_list(path):
    """(text_ids, image_ids, classes 0-based) of a `*_txt_img_cat.list` file."""
    text_ids, image_ids, classes = [], [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.split()
            where = f"{os.path.basename(path)} line {number}"
            require(len(fields) == 3, f"{where}: expected 'text_id image_id class', got {line.strip()!r}")
            try:
                cls = int(fields[2])
            except ValueError:
                raise TfhashError(f"{where}: class {fields[2]!r} is not a number") from None
            require(1 <= cls <= NUM_CLASSES, f"{where}: class {cls} outside 1..{NUM_CLASSES}")
            text_ids.append(fields[0])
            image_ids.append(fields[1])
            classes.append(cls - 1)
    return text_ids, image_ids, np.asarray(classes, dtype=np.int64)


def load_wikipedia(folder):
    """The Wikipedia benchmark as arrays: images, bow, labels, ids, class_names, num_train."""
    folder = os.fspath(folder)
    require(os.path.isdir(folder), f"Wikipedia folder not found: {folder}")
    mat_path = _path(folder, FEATURES)
    parts = {}
    with MatFile(mat_path) as mat:
        for key in ("I_tr", "I_te", "T_tr", "T_te"):
            parts[key] = mat.load(key).astype(np.float32)
    rows = {}
    for split, name in (("tr", TRAIN_LIST), ("te", TEST_LIST)):
        text_ids, image_ids, classes = read_list(_path(folder, name))
        for kind in ("I", "T"):
            matrix = parts[f"{kind}_{split}"]
            require(
                matrix.ndim == 2 and matrix.shape[0] == len(classes),
                f"mismatched pair counts: {name} has {len(classes)} rows but {kind}_{split} in {FEATURES} "
                f"has shape {matrix.shape}",
            )
        rows[split] = (image_ids, classes)
    with open(_path(folder, CATEGORIES), encoding="utf-8") as f:
        class_names = [line.strip() for line in f if line.strip()]
    require(len(class_names) == NUM_CLASSES, f"{CATEGORIES} lists {len(class_names)} classes, expected {NUM_CLASSES}")
    classes = np.concatenate([rows["tr"][1], rows["te"][1]])
    return {
        "images": np.concatenate([parts["I_tr"], parts["I_te"]]),
        "bow": np.concatenate([parts["T_tr"], parts["T_te"]]),
        "labels": np.eye(NUM_CLASSES, dtype=np.uint8)[classes],
        "ids": rows["tr"][0] + rows["te"][0],
        "class_names": class_names,
        "num_train": len(rows["tr"][1]),
    }


def import_wikipedia(folder, out_path, *, name="wikipedia", labelled_size=None, seed=0):
    """Import the Wikipedia folder into a dataset file at `out_path`; return the path.

    With `labelled_size`, that many random training pairs (seeded) keep their
    labels for methods and the rest of the 2,173 form the unlabelled pool.
    """
    data = load_wikipedia(folder)
    splits = make_splits("wikipedia-standard", len(data["ids"]), seed=seed, labelled_size=labelled_size,
                         num_train=data["num_train"])
    return write_dataset(
        out_path,
        images=data["images"],
        bow=data["bow"],
        labels=data["labels"],
        class_names=data["class_names"],
        ids=data["ids"],
        splits=splits,
        split_seed=split_seed("wikipedia-standard", seed, labelled_size),
        protocol="wikipedia-standard",
        name=name,
    )
