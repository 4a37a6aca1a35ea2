"""MS-COCO with captions, as DVSH (KDD 2016) and TUCH (IJCAI 2017) use it.

Inputs, in the layout of the official 2014 annotations:

* ``annotations/captions_train2014.json`` (and/or ``captions_val2014.json``):
  ``{"images": [{"id", "file_name", ...}], "annotations": [{"id",
  "image_id", "caption"}]}``; an image's sentences are its captions in file
  order (at least five each);
* the matching ``instances_*.json``: ``"annotations"`` carry ``image_id`` and
  ``category_id``, ``"categories"`` the 80 ``{"id", "name"}`` (ids 1..90
  with gaps). An image's label is multi-hot over the 80 categories in id
  order; images without any category are dropped (both papers prune them:
  82,783 -> 82,081 train2014 images in TUCH, 82,120 in DVSH);
* images: folders holding the ``file_name`` JPEGs (e.g. ``train2014/``),
  decoded, centre-cropped and resized like MIRFlickr's; or a features file
  with one image id per line beside it.

One pair per image; ids are the COCO image ids. Token sequences follow
`tfhash.data.importers.sentences` (default: the first caption, at most 20
words, DVSH's length for COCO).
"""

import collections
import json
import os

import numpy as np

from tfhash.data.dataset import write_dataset
from tfhash.data.importers.arrays import chunk_rows_for
from tfhash.data.importers.mirflickr import DecodedImages
from tfhash.data.importers.sentences import encode_sentences, read_features
from tfhash.data.protocols import make_splits, split_seed
from tfhash.errors import TfhashError, require


def _load_json(path, what):
    require(os.path.isfile(path), f"{what} file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise TfhashError(f"{path} is not valid JSON ({err})") from None


def read_captions(paths):
    """{image id: {"file_name", "sentences"}} from COCO captions files."""
    images = {}
    for path in paths:
        data = _load_json(path, "captions")
        require("images" in data and "annotations" in data, f"{path} is not a COCO captions file")
        for image in data["images"]:
            images[int(image["id"])] = {"file_name": image["file_name"], "sentences": []}
        for ann in data["annotations"]:
            image_id = int(ann["image_id"])
            require(image_id in images, f"{path}: caption {ann.get('id')} names unknown image {image_id}")
            images[image_id]["sentences"].append(ann["caption"])
    return images


def read_instances(paths):
    """(categories [(id, name)] in id order, {image id: set of category ids}) from COCO instances files."""
    categories, labels = {}, collections.defaultdict(set)
    for path in paths:
        data = _load_json(path, "instances")
        require("categories" in data and "annotations" in data, f"{path} is not a COCO instances file")
        for cat in data["categories"]:
            categories[int(cat["id"])] = cat["name"]
        for ann in data["annotations"]:
            labels[int(ann["image_id"])].add(int(ann["category_id"]))
    unknown = {c for cs in labels.values() for c in cs} - set(categories)
    require(not unknown, f"instance annotations use undeclared category ids {sorted(unknown)[:5]}")
    return sorted(categories.items()), labels


def _find(image_dirs, file_name):
    for d in image_dirs:
        path = os.path.join(os.fspath(d), file_name)
        if os.path.isfile(path):
            return path
    raise TfhashError(f"image {file_name} not found in {', '.join(map(os.fspath, image_dirs))}")


def import_coco(captions, instances, out_path, *, image_dirs=None, features=None, feature_ids=None,
                caption="first", max_tokens=20, min_count=1, bow_size=2000, image_size=64, protocol="coco-dvsh",
                seed=0, query_size=None, train_size=None, validation_size=None, labelled_size=None, name="coco"):
    """Import COCO captions + instance labels + images (or features) into `out_path`; return it.

    `captions` and `instances` are lists of JSON paths (e.g. train2014 and
    val2014 together); `image_dirs` a list of folders holding the JPEGs.
    """
    require(bool(image_dirs) != (features is not None), "give either image folders or a features file")
    require(features is None or feature_ids is not None, "a features file needs its ids file (one image id a line)")
    images = read_captions(captions)
    categories, concepts = read_instances(instances)
    column = {cid: j for j, (cid, _) in enumerate(categories)}
    ids = sorted(i for i, image in images.items() if image["sentences"] and concepts.get(i))
    require(ids, "no image has both a caption and a category")
    labels = np.zeros((len(ids), len(categories)), np.uint8)
    for row, image_id in enumerate(ids):
        labels[row, [column[c] for c in concepts[image_id]]] = 1
    text = encode_sentences([images[i]["sentences"] for i in ids], caption=caption, max_tokens=max_tokens,
                            min_count=min_count, bow_size=bow_size)
    str_ids = [str(i) for i in ids]
    if features is not None:
        pixels = read_features(features, feature_ids, str_ids)
    else:
        pixels = DecodedImages([_find(image_dirs, images[i]["file_name"]) for i in ids], image_size)
    splits = make_splits(protocol, len(ids), seed, query_size=query_size, train_size=train_size,
                         validation_size=validation_size, labels=labels, labelled_size=labelled_size)
    return write_dataset(
        out_path, images=pixels, bow=text["bow"], tokens=text["tokens"], vocabulary=text["vocabulary"],
        labels=labels, class_names=[n for _, n in categories], ids=str_ids, splits=splits,
        split_seed=split_seed(protocol, seed, labelled_size), protocol=protocol, name=name,
        chunk_rows=chunk_rows_for(pixels),
    )
