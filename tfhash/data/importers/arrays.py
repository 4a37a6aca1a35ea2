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

from tfhash.data.dataset import write_dataset
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
    block = np.asarray(block)
    if block.dtype == np.uint8:
        return block
    if block.size and (np.issubdtype(block.dtype, np.floating) and not np.all(np.isfinite(block))):
        raise TfhashError("images contain NaN or inf values")
    if block.size and (block.min() < 0 or block.max() > 255):
        raise TfhashError(
            f"pixel images must hold values in 0..255, found {block.min()}..{block.max()} "
            "(rescale images stored in 0..1 before importing)"
        )
    return np.rint(block).astype(np.uint8)


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
        except ValueError as err:
            raise TfhashError(f"cannot read {path}: {err}") from None
    if ext == ".mat":
        mat = stack.enter_context(MatFile(path))
        if inner is None:
            require(len(mat.names) == 1, f"{path} holds variables {', '.join(mat.names)}; name one as {path}:NAME")
            inner = mat.names[0]
        return mat.get(inner)
    if ext in _H5_EXTS or h5py.is_hdf5(path):
        return _open_h5(path, inner.lstrip("/") if inner else None, stack)
    raise TfhashError(f"{what}: unsupported file type '{ext}' (use .npy, .h5/.hdf5 or .mat)")


def _read_lines(path, what):
    require(os.path.isfile(path), f"{what} file not found: {path}")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f]


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
):
    """Write a dataset from arrays or array files; return `out_path`.

    `images` are (N, D) features or (N, H, W, 3) pixels in 0..255; `texts`
    an (N, V) bag-of-words; `tokens` (N, L) integer ids with 0 = padding;
    `labels` (N, C) 0/1 or (N,) integer class ids. `vocabulary`,
    `class_names` and `ids` are lists or text files with one entry a line;
    without a vocabulary, tokens get placeholder names "#1".."#K".
    """
    require(texts is not None or tokens is not None, "no text input given (need texts as bag-of-words, or tokens)")
    with contextlib.ExitStack() as stack:
        images = open_source(images, stack, "images")
        require(images.ndim in (2, 4), f"images must be (N, D) features or (N, H, W, 3) pixels, got shape {tuple(images.shape)}")
        if images.ndim == 4:
            require(images.shape[-1] == 3, f"pixel images must have 3 channels last, got shape {tuple(images.shape)}")
            images = as_pixels(images)
        bow = open_source(texts, stack, "texts") if texts is not None else None
        if bow is not None:
            require(np.issubdtype(bow.dtype, np.number), f"texts must be numeric bag-of-words, got dtype {bow.dtype}")
        if tokens is not None:
            tokens = np.asarray(open_source(tokens, stack, "tokens"))
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
            labels = labels_to_multihot(np.asarray(open_source(labels, stack, "labels")))
            report_unlabeled(labels)
        if isinstance(class_names, (str, os.PathLike)):
            class_names = _read_lines(os.fspath(class_names), "class names")
        if class_names is not None:
            require(labels is not None, "class names given but no labels")
            require(len(class_names) == labels.shape[1], f"{len(class_names)} class names for {labels.shape[1]} label columns")
        if isinstance(ids, (str, os.PathLike)):
            ids = _read_lines(os.fspath(ids), "ids")
        n = images.shape[0]
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
