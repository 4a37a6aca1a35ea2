"""Importer for plain arrays (.npy, HDF5, .mat), plus the array checks importers share.

A source is a NumPy array or a string: ``x.npy``, ``file.h5:/group/features``
(or ``file.h5`` holding a single dataset), ``file.mat:IAll``. Sources are read
lazily (memory-mapped .npy, h5py datasets) and copied in chunks.
"""

import contextlib
import logging
import os

import h5py
import numpy as np

from tfhash.data.dataset import as_pixel_values, write_dataset
from tfhash.data.importers.matfile import LazyArray, MatFile
from tfhash.data.protocols import make_splits, split_seed
from tfhash.errors import TfhashError, require

log = logging.getLogger(__name__)

_H5_EXTS = (".h5", ".hdf5", ".hdf")


def chunk_rows_for(array, target_bytes=2**24):
    """Rows per copy chunk so one chunk is about `target_bytes` (1..4096 rows)."""
    row_bytes = int(np.prod(array.shape[1:], dtype=np.int64)) * max(4, np.dtype(array.dtype).itemsize)
    return int(np.clip(target_bytes // max(1, row_bytes), 1, 4096))


def _pixel_block(block):
    return as_pixel_values(block, "pixel images")


def require_real(array, what):
    """Refuse arrays that are not real numbers (strings, objects, complex: its imaginary part would be lost)."""
    kind = np.dtype(array.dtype).kind
    require(kind != "c", f"{what} are complex numbers; tfhash needs real values (take .real or abs() first)")
    require(kind in "biuf", f"{what} must be numbers, got dtype {array.dtype}")
    return array


def as_pixels(images):
    """`images` (N, H, W, 3) as a uint8-valued view; values outside 0..255 raise on read."""
    if images.dtype == np.uint8:
        return images
    if isinstance(images, LazyArray):
        return images.map_blocks(_pixel_block, dtype=np.uint8)
    return _pixel_block(images)


def labels_to_multihot(labels, what="labels"):
    """0/1 (or boolean) label matrix as uint8; a 1-D integer class vector becomes one-hot."""
    labels = np.asarray(labels)
    if labels.ndim == 1:
        require(np.issubdtype(labels.dtype, np.integer), f"{what}: a 1-D label vector must hold integer class ids")
        require(labels.size == 0 or labels.min() >= 0, f"{what}: class ids must be non-negative")
        return np.eye(int(labels.max()) + 1, dtype=np.uint8)[labels]
    require(labels.ndim == 2, f"{what} must be (N, C) multi-hot or (N,) class ids, got shape {labels.shape}")
    if np.issubdtype(labels.dtype, np.floating):
        require(np.all(np.isfinite(labels)), f"{what} contain NaN or inf values")
    require(np.all((labels == 0) | (labels == 1)), f"{what} must be multi-hot 0/1")
    return labels.astype(np.uint8)


def report_unlabeled(labels, source="labels"):
    """Count (and log) pairs whose label row is all zero."""
    count = int(np.sum(np.asarray(labels).sum(axis=1) == 0))
    if count:
        log.warning("%s: %d pairs have no label (kept in the database, never used as queries)", source, count)
    return count


def _open_h5(path, inner, stack):
    try:
        f = stack.enter_context(h5py.File(path, "r"))
    except OSError as err:
        raise TfhashError(f"cannot read {path}: not an HDF5 file ({err})") from None
    if not inner:
        found = []
        f.visititems(lambda name, node: found.append(name) if isinstance(node, h5py.Dataset) else None)
        require(len(found) == 1, f"{path} holds {len(found)} datasets; name one as {path}:/path/to/dataset")
        inner = found[0]
    require(inner in f and isinstance(f[inner], h5py.Dataset), f"{os.path.basename(path)} has no dataset '{inner}'")
    return f[inner]


def open_source(source, stack, what):
    """An array-like for `source` (see module doc); files stay open in `stack`."""
    if not isinstance(source, (str, os.PathLike)):
        return np.asarray(source)
    source = os.fspath(source)
    path, inner = source, None
    if not os.path.exists(source) and ":" in source:
        path, inner = source.rsplit(":", 1)
    require(os.path.isfile(path), f"{what} file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, EOFError, OSError) as err:  # numpy's errors for a damaged .npy
            raise TfhashError(f"cannot read {path}: the file is damaged or not a .npy array ({err})") from None
    if ext == ".mat":
        mat = stack.enter_context(MatFile(path))
        if inner is None:
            require(len(mat.names) == 1, f"{path} holds variables {', '.join(mat.names)}; name one as {path}:NAME")
            inner = mat.names[0]
        return mat.get(inner)
    if ext in _H5_EXTS or h5py.is_hdf5(path):
        return _open_h5(path, inner.lstrip("/") if inner else None, stack)
    raise TfhashError(f"{what}: unsupported file type '{ext}' (use .npy, .h5/.hdf5 or .mat)")


def read_feature_rows(path, num_rows, *, names=None):
    """Row of each line of a feature-rows file: int64 (M,), 0-based rows into arrays of `num_rows` rows.

    Line i says which pair row i of a feature file belongs to: its first
    whitespace-separated field is the 0-based row; an optional second field
    names the item (e.g. ``0<TAB>im1.jpg``), checked against `names` (the
    pairs' item names, e.g. basenames of MIRFlickr's all_imgs.txt) when given.
    """
    rows = []
    for number, line in enumerate(_read_lines(os.fspath(path), "feature rows"), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            row = int(fields[0])
        except ValueError:
            raise TfhashError(f"{path} line {number}: expected a row number, got {fields[0]!r}") from None
        require(0 <= row < num_rows, f"{path} line {number}: row {row} is outside 0..{num_rows - 1}")
        if names is not None and len(fields) > 1:
            require(fields[1] == names[row] or os.path.basename(fields[1]) == os.path.basename(names[row]),
                    f"{path} line {number}: row {row} is {names[row]}, not {fields[1]}")
        rows.append(row)
    rows = np.asarray(rows, dtype=np.int64)
    require(rows.size > 0, f"{path} lists no rows")
    require(np.unique(rows).size == rows.size, f"{path} lists a row twice")
    return rows


def _read_lines(path, what):
    require(os.path.isfile(path), f"{what} file not found: {path}")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f]


def _select_rows(image_rows, n_images, **fields):
    """The rows `image_rows` of each present field (bow, tokens, labels, ids), in that order."""
    sizes = {k: (len(v) if k == "ids" else v.shape[0]) for k, v in fields.items() if v is not None}
    require(len(set(sizes.values())) <= 1,
            "mismatched pair counts: " + ", ".join(f"{v} rows of {k}" for k, v in sizes.items()))
    total = next(iter(sizes.values()))
    if isinstance(image_rows, (str, os.PathLike)):
        rows = read_feature_rows(image_rows, total, names=fields.get("ids"))
    else:
        rows = np.asarray(image_rows, dtype=np.int64)
        require(rows.ndim == 1 and rows.size and rows.min() >= 0 and rows.max() < total,
                f"image rows must be a 1-D list of rows in 0..{total - 1}")
    require(rows.size == n_images, f"mismatched pair counts: {n_images} image rows but {rows.size} feature rows")
    order = np.argsort(rows)
    out = {}
    for key, value in fields.items():
        if value is None:
            out[key] = None
        elif key == "ids":
            out[key] = [value[i] for i in rows]
        else:
            # h5py wants increasing indices: read sorted, then put back in image order.
            picked = np.asarray(value[np.sort(rows)] if not isinstance(value, np.ndarray) else value[rows])
            if not isinstance(value, np.ndarray):
                picked = picked[np.argsort(order)]
            out[key] = picked
    return out["bow"], out["tokens"], out["labels"], out["ids"]


def import_arrays(
    out_path,
    *,
    images,
    texts=None,
    labels=None,
    tokens=None,
    vocabulary=None,
    class_names=None,
    ids=None,
    protocol="custom",
    query_size=None,
    train_size=None,
    validation_size=None,
    labelled_size=None,
    seed=0,
    name=None,
    image_rows=None,
):
    """Write a dataset from arrays or array files; return `out_path`.

    `images` are (N, D) features or (N, H, W, 3) pixels in 0..255; `texts`
    an (N, V) bag-of-words; `tokens` (N, L) integer ids with 0 = padding;
    `labels` (N, C) 0/1 or (N,) integer class ids. `vocabulary`,
    `class_names` and `ids` are lists or text files with one entry a line;
    without a vocabulary, tokens get placeholder names "#1".."#K".

    `image_rows` aligns image features that cover only some pairs (e.g. the
    papers' features, or your own, of the items whose image you have): a
    rows file (see `read_feature_rows`) or an integer array, one row of the
    texts/tokens/labels/ids per image row. The dataset then holds those
    pairs, in the order of the image rows.
    """
    require(texts is not None or tokens is not None, "no text input given (need texts as bag-of-words, or tokens)")
    with contextlib.ExitStack() as stack:
        images = require_real(open_source(images, stack, "images"), "images")
        require(images.ndim in (2, 4), f"images must be (N, D) features or (N, H, W, 3) pixels, got shape {tuple(images.shape)}")
        if images.ndim == 4:
            require(images.shape[-1] == 3, f"pixel images must have 3 channels last, got shape {tuple(images.shape)}")
            images = as_pixels(images)
        bow = open_source(texts, stack, "texts") if texts is not None else None
        if bow is not None:
            require_real(bow, "texts (bag-of-words)")
        if tokens is not None:
            tokens = np.asarray(require_real(open_source(tokens, stack, "tokens"), "tokens"))
            require(
                tokens.ndim == 2 and np.issubdtype(tokens.dtype, np.integer),
                f"tokens must be (N, L) integer ids, got shape {tokens.shape} dtype {tokens.dtype}",
            )
            require(tokens.size == 0 or tokens.min() >= 0, "token ids must be non-negative (0 = padding)")
            top = int(tokens.max()) if tokens.size else 0
            if vocabulary is None:
                vocabulary = [f"#{i}" for i in range(1, top + 1)] or ["#1"]
            elif isinstance(vocabulary, (str, os.PathLike)):
                vocabulary = _read_lines(os.fspath(vocabulary), "vocabulary")
            require(top <= len(vocabulary), f"token id {top} exceeds the vocabulary of {len(vocabulary)} entries")
        if labels is not None:
            labels = labels_to_multihot(np.asarray(require_real(open_source(labels, stack, "labels"), "labels")))
            report_unlabeled(labels)
        if isinstance(class_names, (str, os.PathLike)):
            class_names = _read_lines(os.fspath(class_names), "class names")
        if class_names is not None:
            require(labels is not None, "class names given but no labels")
            require(len(class_names) == labels.shape[1], f"{len(class_names)} class names for {labels.shape[1]} label columns")
        if isinstance(ids, (str, os.PathLike)):
            ids = _read_lines(os.fspath(ids), "ids")
        n = images.shape[0]
        if image_rows is not None:
            bow, tokens, labels, ids = _select_rows(image_rows, n, bow=bow, tokens=tokens, labels=labels, ids=ids)
        for what, array in (("texts", bow), ("tokens", tokens), ("labels", labels)):
            if array is not None:
                require(array.shape[0] == n, f"mismatched pair counts: {n} images but {array.shape[0]} rows of {what}")
        splits = make_splits(
            protocol, n, seed, query_size=query_size, train_size=train_size,
            validation_size=validation_size, labels=labels, labelled_size=labelled_size,
        )
        return write_dataset(
            out_path, images=images, bow=bow, tokens=tokens, vocabulary=vocabulary, labels=labels,
            class_names=class_names, ids=ids, splits=splits, split_seed=split_seed(protocol, seed, labelled_size),
            protocol=protocol, name=name, chunk_rows=chunk_rows_for(images),
        )
