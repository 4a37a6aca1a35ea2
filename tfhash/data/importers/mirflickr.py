"""Importers for MIRFlickr-25K in its 20,015-pair DCMH form.

Inputs (one folder): ``mirflickr25k-lall.mat`` (LAll), ``mirflickr25k-yall.mat``
(YAll), ``all_imgs.txt`` (row i's image), ``all_tags.txt`` (row i's raw tags),
``yall_vocab.txt`` (the tag of each YAll column; ``TagList.txt`` as fallback),
``labels_annotation.txt`` (row i's label names; used to name the 24 classes)
and, for the raw-image importer, ``images/imN.jpg`` (or ``mirflickr/imN.jpg``).

Text comes in two forms: ``bow`` = the YAll rows, and ``tokens`` = the raw
tag sequence of each pair, in file order, as ids into the YAll vocabulary:
tag in YAll column j has id j+1 (0 is padding) and the last vocabulary entry
``<unk>`` is the id for a tag outside it. Sequences are padded to the
longest one (or truncated to `max_tokens`, keeping the first tags).

Images: `import_mirflickr_images` decodes the raw JPEGs that are present,
center-crops each to a square and resizes it (bicubic) to image_size x
image_size x 3 uint8. `import_mirflickr_text` takes all 20,015 pairs but
needs the IAll file for images (see `tfhash.data.importers.dcmh_mat`).
"""

import contextlib
import logging
import os

import numpy as np
from PIL import Image, ImageOps

from tfhash.data.dataset import write_dataset
from tfhash.data.importers.arrays import chunk_rows_for, open_source, read_feature_rows, report_unlabeled
from tfhash.data.importers.dcmh_mat import NO_IMAGES_MESSAGE, open_dcmh
from tfhash.data.protocols import make_splits, split_seed
from tfhash.errors import TfhashError, require

log = logging.getLogger(__name__)

LABELS_MAT = "mirflickr25k-lall.mat"
TEXTS_MAT = "mirflickr25k-yall.mat"
IMAGES_MAT = "mirflickr25k-iall.mat"
UNKNOWN = "<unk>"


def _file(folder, name):
    path = os.path.join(folder, name)
    require(os.path.isfile(path), f"MIRFlickr file not found: {path}")
    return path


def _lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f]


def _tag_vocabulary(folder):
    for name in ("yall_vocab.txt", "TagList.txt"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return [w for w in _lines(path) if w]
    raise TfhashError(f"MIRFlickr tag vocabulary not found: need yall_vocab.txt (or TagList.txt) in {folder}")


def token_matrix(sequences, vocabulary, max_tokens=None):
    """(N, L) int32 ids of word sequences, zero-padded; id j+1 = vocabulary[j], an unknown word len+1.

    L is `max_tokens` (longer sequences are cut), or the longest sequence.
    """
    index = {w: i + 1 for i, w in enumerate(vocabulary)}
    unknown = len(vocabulary) + 1
    if max_tokens is None:
        length = max(1, max((len(s) for s in sequences), default=0))
    else:
        length = int(max_tokens)
        require(length > 0, f"max_tokens must be positive, got {max_tokens}")
    tokens = np.zeros((len(sequences), length), dtype=np.int32)
    for i, seq in enumerate(sequences):
        ids = [index.get(w, unknown) for w in seq[:length]]
        tokens[i, : len(ids)] = ids
    return tokens


def encode_tags(tag_lines, vocabulary, max_tokens=None):
    """(N, L) int32 token ids of comma-separated tag lines; id j+1 = vocabulary[j], OOV = len+1."""
    return token_matrix([[t for t in line.split(",") if t] for line in tag_lines], vocabulary, max_tokens)


def derive_class_names(labels, annotation_lines):
    """Name of each label column: the annotation name present exactly on that column's rows, or None."""
    n = labels.shape[0]
    if len(annotation_lines) != n:
        return None
    rows = {}
    for i, line in enumerate(annotation_lines):
        for name in filter(None, (s.strip() for s in line.split(","))):
            rows.setdefault(name, np.zeros(n, dtype=bool))[i] = True
    names = []
    for c in range(labels.shape[1]):
        column = labels[:, c].astype(bool)
        match = [name for name, hit in rows.items() if np.array_equal(hit, column)]
        if len(match) != 1:
            return None
        names.append(match[0])
    return names


def load_mirflickr_text(folder, *, max_tokens=None):
    """All pairs' text and labels: labels, bow, tokens, vocabulary, class_names, ids, image_files, tag_lines."""
    folder = os.fspath(folder)
    require(os.path.isdir(folder), f"MIRFlickr folder not found: {folder}")
    with open_dcmh(_file(folder, LABELS_MAT), _file(folder, TEXTS_MAT)) as data:
        labels, bow = data["labels"], np.asarray(data["bow"])
    n = labels.shape[0]
    image_files = [line.strip() for line in _lines(_file(folder, "all_imgs.txt")) if line.strip()]
    tag_lines = _lines(_file(folder, "all_tags.txt"))
    for what, count in (("all_imgs.txt", len(image_files)), ("all_tags.txt", len(tag_lines))):
        require(count == n, f"mismatched pair counts: {LABELS_MAT} has {n} rows but {what} has {count} lines")
    vocabulary = _tag_vocabulary(folder)
    require(
        len(vocabulary) == bow.shape[1],
        f"the tag vocabulary has {len(vocabulary)} entries but YAll has {bow.shape[1]} columns",
    )
    class_names = None
    annotation = os.path.join(folder, "labels_annotation.txt")
    if os.path.isfile(annotation):
        class_names = derive_class_names(labels, _lines(annotation))
    if class_names is None:
        log.warning("could not name the label columns from labels_annotation.txt; storing no class names")
    return {
        "labels": labels,
        "bow": bow,
        "tokens": encode_tags(tag_lines, vocabulary, max_tokens),
        "vocabulary": vocabulary + [UNKNOWN],
        "class_names": class_names,
        "ids": [os.path.basename(p) for p in image_files],
        "image_files": image_files,
        "tag_lines": tag_lines,
    }


def decode_image(path, size):
    """The image at `path`, center-cropped to a square and resized to (size, size, 3) uint8."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG: let the decoder downscale first (faster)
            image = image.convert("RGB")
            return np.asarray(ImageOps.fit(image, (size, size), method=Image.Resampling.BICUBIC), dtype=np.uint8)
    except (OSError, ValueError) as err:
        raise TfhashError(f"cannot decode image {path}: {err}") from None


class DecodedImages:
    """Array-like (N, size, size, 3) uint8 over image files; slicing decodes those rows."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, paths, size):
        require(int(size) >= 8, f"image size must be at least 8 pixels, got {size}")
        self.paths = list(paths)
        self.size = int(size)

    @property
    def shape(self):
        return (len(self.paths), self.size, self.size, 3)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return decode_image(self.paths[key], self.size)
        paths = self.paths[key] if isinstance(key, slice) else [self.paths[i] for i in np.asarray(key)]
        out = np.zeros((len(paths), self.size, self.size, 3), np.uint8)
        for i, path in enumerate(paths):
            out[i] = decode_image(path, self.size)
        return out


def _find_image(folder, images_dir, image_file):
    name = os.path.basename(image_file)
    dirs = [images_dir] if images_dir else [os.path.join(folder, "images"), os.path.join(folder, "mirflickr")]
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def import_mirflickr_images(
    folder,
    out_path,
    *,
    image_size=64,
    max_tokens=None,
    images_dir=None,
    protocol="custom",
    query_size=130,
    train_size=None,
    validation_size=None,
    labelled_size=None,
    seed=0,
    name="mirflickr25k-images",
):
    """Import the pairs whose raw image is present, as pixel images; return `out_path`.

    Default split (custom, seeded): 130 queries, the rest database, train =
    database. With all 20,015 images present, use protocol "mirflickr-dcmh".
    """
    data = load_mirflickr_text(folder, max_tokens=max_tokens)
    found = [(i, _find_image(folder, images_dir, f)) for i, f in enumerate(data["image_files"])]
    found = [(i, p) for i, p in found if p is not None]
    where = images_dir or os.path.join(folder, "images")
    require(found, f"none of the {len(data['ids'])} MIRFlickr images were found in {where}")
    rows = np.asarray([i for i, _ in found])
    log.info("MIRFlickr: %d of %d pairs have their image", rows.size, len(data["ids"]))
    labels = data["labels"][rows]
    report_unlabeled(labels, LABELS_MAT)
    # Re-encoded so the padding length is that of these pairs, not of all 20,015.
    tokens = encode_tags([data["tag_lines"][i] for i in rows], data["vocabulary"][:-1], max_tokens)
    images = DecodedImages([p for _, p in found], image_size)
    splits = make_splits(
        protocol, rows.size, seed, query_size=query_size, train_size=train_size,
        validation_size=validation_size, labels=labels, labelled_size=labelled_size,
    )
    return write_dataset(
        out_path, images=images, bow=data["bow"][rows], tokens=tokens, vocabulary=data["vocabulary"],
        labels=labels, class_names=data["class_names"], ids=[data["ids"][i] for i in rows], splits=splits,
        split_seed=split_seed(protocol, seed, labelled_size), protocol=protocol, name=name, chunk_rows=chunk_rows_for(images),
    )


def _features_rows_path(features):
    """The default rows file of a features file: X.npy -> X.rows.txt."""
    return os.path.splitext(features.split(":", 1)[0] if not os.path.exists(features) else features)[0] + ".rows.txt"


def import_mirflickr_features(
    folder,
    out_path,
    *,
    features="features/efficientnet-lite2.npy",
    feature_rows=None,
    max_tokens=None,
    protocol="custom",
    query_size=130,
    train_size=None,
    validation_size=None,
    labelled_size=None,
    seed=0,
    name=None,
):
    """Import the pairs that have a row of precomputed image `features`; return `out_path`.

    `features` (M, D) (a path relative to `folder`, or absolute; .npy, .h5
    or .mat as in `open_source`) with `feature_rows` (default: X.rows.txt
    beside X.npy), whose line i is ``row<TAB>imN.jpg``: the all_imgs.txt
    line of feature row i. Text, tags and labels come from the MIRFlickr
    files as in `import_mirflickr_images`, and so does the default split
    (custom, seeded: 130 queries, the rest database, train = database).
    """
    folder = os.fspath(folder)
    data = load_mirflickr_text(folder, max_tokens=max_tokens)
    features = os.fspath(features)
    if not os.path.isabs(features) and not os.path.exists(features.split(":", 1)[0]):
        features = os.path.join(folder, features)
    rows_path = os.fspath(feature_rows) if feature_rows is not None else _features_rows_path(features)
    if feature_rows is not None and not os.path.isabs(rows_path) and not os.path.exists(rows_path):
        rows_path = os.path.join(folder, rows_path)
    rows = read_feature_rows(rows_path, len(data["ids"]), names=data["ids"])
    with contextlib.ExitStack() as stack:
        images = open_source(features, stack, "image features")
        require(images.ndim == 2, f"image features must be (M, D), got shape {tuple(images.shape)}")
        require(images.shape[0] == rows.size,
                f"mismatched pair counts: {images.shape[0]} feature rows but {rows.size} lines in {rows_path}")
        log.info("MIRFlickr: %d of %d pairs have image features", rows.size, len(data["ids"]))
        labels = data["labels"][rows]
        report_unlabeled(labels, LABELS_MAT)
        tokens = encode_tags([data["tag_lines"][i] for i in rows], data["vocabulary"][:-1], max_tokens)
        splits = make_splits(
            protocol, rows.size, seed, query_size=query_size, train_size=train_size,
            validation_size=validation_size, labels=labels, labelled_size=labelled_size,
        )
        stem = os.path.splitext(os.path.basename(features.split(":", 1)[0]))[0]
        return write_dataset(
            out_path, images=images, bow=data["bow"][rows], tokens=tokens, vocabulary=data["vocabulary"],
            labels=labels, class_names=data["class_names"], ids=[data["ids"][i] for i in rows], splits=splits,
            split_seed=split_seed(protocol, seed, labelled_size), protocol=protocol, name=name or f"mirflickr25k-{stem}",
            chunk_rows=chunk_rows_for(images),
        )


def import_mirflickr_text(
    folder,
    out_path,
    *,
    images_mat=None,
    max_tokens=None,
    protocol="mirflickr-dcmh",
    seed=0,
    query_size=None,
    train_size=None,
    validation_size=None,
    labelled_size=None,
    name="mirflickr25k",
):
    """Import all 20,015 pairs (bow, tokens, labels, class names) with the IAll images; return `out_path`.

    `images_mat` defaults to ``mirflickr25k-iall.mat`` in `folder`. Without
    it there is no image input, and this raises TfhashError: use
    `import_mirflickr_images` for the pairs whose raw image is present.
    """
    folder = os.fspath(folder)
    if images_mat is None and os.path.isfile(os.path.join(folder, IMAGES_MAT)):
        images_mat = os.path.join(folder, IMAGES_MAT)
    require(images_mat is not None, NO_IMAGES_MESSAGE)
    text = load_mirflickr_text(folder, max_tokens=max_tokens)
    with open_dcmh(_file(folder, LABELS_MAT), _file(folder, TEXTS_MAT), images_mat) as data:
        labels = text["labels"]
        report_unlabeled(labels, LABELS_MAT)
        splits = make_splits(
            protocol, labels.shape[0], seed, query_size=query_size, train_size=train_size,
            validation_size=validation_size, labels=labels, labelled_size=labelled_size,
        )
        return write_dataset(
            out_path, images=data["images"], bow=text["bow"], tokens=text["tokens"],
            vocabulary=text["vocabulary"], labels=labels, class_names=text["class_names"], ids=text["ids"],
            splits=splits, split_seed=split_seed(protocol, seed, labelled_size), protocol=protocol, name=name,
            chunk_rows=chunk_rows_for(data["images"]),
        )
