"""The paired cross-modal dataset: one HDF5 file, read lazily.

Layout (format version 1)::

    /images     (N, D) float32 features  or  (N, H, W, 3) uint8 pixels
    /bow        (N, V) float32 bag-of-words (optional)
    /tokens     (N, L) int32 token ids, 0 = padding (optional)
    /vocabulary (V',) str, id i+1 is vocabulary[i] (with /tokens)
    /labels     (N, C) uint8 multi-hot (optional)
    /class_names (C,) str (optional)
    /ids        (N,) str item ids
    /splits/<name> int64 row indices, name in train/query/database/validation/unlabelled
    attrs: format_version, name, split_seed, protocol, and for features
           extracted by `tfhash data features`: features_network,
           features_weights, features_layer

At least one of /bow and /tokens is present. Row i of every array is pair i.

The optional ``unlabelled`` split is a pool of non-query pairs whose labels
no method may use (semi-supervised protocols): it is disjoint from train,
query and validation, and `PairedDataset.read` refuses label reads of its
rows; only scoring reads them, through `PairedDataset.ground_truth`.
"""

import os

import h5py
import numpy as np

from tfhash.atomic import atomic_path, refuse_other_kind
from tfhash.errors import TfhashError, require

FORMAT_VERSION = 1
SPLIT_NAMES = ("train", "query", "database", "validation", "unlabelled")
#: the split whose labels are hidden from methods
POOL = "unlabelled"
REQUIRED_SPLITS = ("train", "query", "database")
TEXT_FIELDS = ("bow", "tokens")
_STR = h5py.string_dtype(encoding="utf-8")
#: File attributes recording how extracted image features were made (network, weights, layer).
FEATURE_ATTRS = ("features_network", "features_weights", "features_layer")


def _check_finite(name, array):
    if np.issubdtype(array.dtype, np.floating):
        # Chunked so a NUS-WIDE-sized array is never copied whole.
        step = max(1, 2**24 // max(1, int(np.prod(array.shape[1:]))))
        for start in range(0, array.shape[0], step):
            if not np.all(np.isfinite(array[start : start + step])):
                raise TfhashError(f"{name} contains NaN or inf values")


def as_pixel_values(block, what="images"):
    """A block of pixel values as uint8, refusing what is not whole numbers 0..255.

    Float images scaled to 0..1 are refused rather than guessed at: rounding
    them would store pixels 0 and 1 (black); multiply them by 255 first.
    """
    block = np.asarray(block)
    if block.dtype == np.uint8 or block.size == 0:
        return block.astype(np.uint8)
    require(block.dtype.kind in "biuf", f"{what} must be numbers, got dtype {block.dtype}")
    if block.dtype.kind == "f":
        require(bool(np.all(np.isfinite(block))), f"{what} contain NaN or inf values")
    lo, hi = block.min(), block.max()
    require(lo >= 0 and hi <= 255, f"{what} must hold pixel values in 0..255, found {lo}..{hi}")
    if block.dtype.kind == "f":
        require(float(hi) > 1.0,
                f"{what} are floats within 0..1; pixel images must hold values in 0..255 (multiply by 255 first)")
        require(bool(np.all(block == np.round(block))),
                f"{what} hold fractional pixel values; pixel images must hold whole numbers 0..255")
    return block.astype(np.uint8)


def is_dataset_file(path):
    """Whether `path` is a tfhash dataset file (an HDF5 file with /images and /splits)."""
    try:
        with h5py.File(path, "r") as f:
            return "images" in f and "splits" in f
    except (OSError, ValueError):
        return False


def validate_arrays(*, images, bow=None, tokens=None, labels=None, require_labels=False):
    """Check shapes, pair counts and values of a dataset's arrays; return N."""
    require(images is not None, "no image input given")
    require(bow is not None or tokens is not None, "no text input given (need bag-of-words or tokens)")
    images = np.asarray(images) if not hasattr(images, "shape") else images
    require(images.ndim in (2, 4), f"images must be (N, D) features or (N, H, W, 3) pixels, got shape {tuple(images.shape)}")
    if images.ndim == 4:
        require(images.shape[-1] == 3, f"pixel images must have 3 channels last, got shape {tuple(images.shape)}")
    n = images.shape[0]
    require(n > 0, "the dataset has no pairs")
    _check_finite("images", images)
    for name, array, ndim in (("bow", bow, 2), ("tokens", tokens, 2), ("labels", labels, 2)):
        if array is None:
            continue
        require(array.ndim == ndim, f"{name} must be 2-D (N, ...), got shape {tuple(array.shape)}")
        require(
            array.shape[0] == n,
            f"mismatched pair counts: {n} images but {array.shape[0]} rows of {name}",
        )
        _check_finite(name, array)
    if tokens is not None:
        require(np.issubdtype(np.asarray(tokens[:1]).dtype, np.integer), "tokens must be integer ids")
    if labels is not None:
        labels_np = np.asarray(labels)
        require(np.all((labels_np == 0) | (labels_np == 1)), "labels must be multi-hot 0/1")
        if require_labels:
            empty = np.flatnonzero(labels_np.sum(axis=1) == 0)
            require(empty.size == 0, f"{empty.size} pairs have an all-zero label row (first: row {empty[:1].tolist()})")
    elif require_labels:
        raise TfhashError("labels are required but the dataset has none")
    return n


def validate_splits(splits, n):
    """Check that split index arrays are in range, duplicate-free and query/database disjoint."""
    for name in REQUIRED_SPLITS:
        require(name in splits, f"split '{name}' is missing")
    for name, idx in splits.items():
        require(name in SPLIT_NAMES, f"unknown split '{name}' (known: {', '.join(SPLIT_NAMES)})")
        idx = np.asarray(idx)
        require(idx.ndim == 1 and idx.size > 0, f"split '{name}' must be a non-empty 1-D index list")
        require(idx.min() >= 0 and idx.max() < n, f"split '{name}' has indices outside 0..{n - 1}")
        require(np.unique(idx).size == idx.size, f"split '{name}' repeats indices")
    overlap = np.intersect1d(splits["query"], splits["database"])
    require(overlap.size == 0, f"query and database splits share {overlap.size} pairs")
    if POOL in splits:
        for other in ("train", "query", "validation"):
            if other in splits:
                shared = np.intersect1d(splits[POOL], splits[other]).size
                require(shared == 0, f"the {POOL} pool and the {other} split share {shared} pairs")


def validate_run_rows(dataset, fields, splits=REQUIRED_SPLITS):
    """Check, before any work, every row of `splits` a run will read: present, finite, labels 0/1.

    `fields` are the arrays the run reads (e.g. images, bow, labels). Reads
    the rows in chunks, so a large dataset is never loaded whole.
    """
    for name in splits:
        require(name in dataset.splits,
                f"dataset {dataset.name} has no '{name}' split, which a run needs (has: {', '.join(sorted(dataset.splits))})")
        require(dataset.splits[name].size > 0, f"split '{name}' of dataset {dataset.name} is empty")
    rows = np.unique(np.concatenate([np.asarray(dataset.splits[name], np.int64) for name in splits]))
    for field in fields:
        if not dataset.has_field(field):
            continue
        row_size = int(np.prod(dataset._arrays[field].shape[1:])) or 1
        step = max(1, 2**22 // row_size)
        for start in range(0, rows.size, step):
            try:
                # A file check, not a method's read: the pool's labels are checked too, never handed on.
                block = dataset._read(field, rows[start : start + step])
            except OSError as err:
                raise TfhashError(f"dataset {dataset.path} is damaged ({err}); import it again") from None
            if np.issubdtype(block.dtype, np.floating) and not np.all(np.isfinite(block)):
                bad = rows[start + int(np.flatnonzero(~np.isfinite(block).reshape(len(block), -1).all(axis=1))[0])]
                raise TfhashError(f"{field} of dataset {dataset.name} contains NaN or inf values (row {bad})")
            if field == "labels":
                require(np.all((block == 0) | (block == 1)), f"labels of dataset {dataset.name} must be multi-hot 0/1")


def write_dataset(
    path,
    *,
    images,
    bow=None,
    tokens=None,
    vocabulary=None,
    labels=None,
    class_names=None,
    ids=None,
    splits,
    split_seed=None,
    protocol="custom",
    name=None,
    chunk_rows=None,
    compression=None,
    attrs=None,
):
    """Validate and write a paired dataset to `path` atomically; return the path.

    Arrays may be NumPy arrays or h5py datasets; they are copied in chunks of
    `chunk_rows` rows (default: about 4 MiB per chunk), so a large source is
    never loaded whole. `compression` is an h5py filter name (e.g. "gzip").
    `attrs` are extra string file attributes (e.g. `FEATURE_ATTRS`).
    """
    refuse_other_kind(path, "tfhash dataset", is_dataset_file)
    n = validate_arrays(images=images, bow=bow, tokens=tokens, labels=labels)
    validate_splits(splits, n)
    if tokens is not None:
        require(vocabulary is not None, "token sequences need their vocabulary")
    if ids is None:
        ids = [str(i) for i in range(n)]
    require(len(ids) == n, f"mismatched pair counts: {n} images but {len(ids)} ids")
    name = name or os.path.splitext(os.path.basename(os.fspath(path)))[0]

    def copy(f, key, array, dtype):
        shape = tuple(array.shape)
        row_bytes = int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
        rows = chunk_rows or max(1, min(4096, 2**22 // max(1, row_bytes)))
        chunks = (min(shape[0], rows),) + shape[1:]
        ds = f.create_dataset(key, shape=shape, dtype=dtype, chunks=chunks, compression=compression)
        for start in range(0, shape[0], rows):
            block = np.asarray(array[start : start + rows])
            if key == "images" and dtype == np.uint8:
                block = as_pixel_values(block, key)
            ds[start : start + rows] = block.astype(dtype)

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["name"] = name
            f.attrs["protocol"] = protocol
            f.attrs["split_seed"] = -1 if split_seed is None else int(split_seed)
            for key, value in (attrs or {}).items():
                f.attrs[key] = str(value)
            copy(f, "images", images, np.uint8 if images.ndim == 4 else np.float32)
            if bow is not None:
                copy(f, "bow", bow, np.float32)
            if tokens is not None:
                copy(f, "tokens", tokens, np.int32)
                f.create_dataset("vocabulary", data=np.asarray(list(vocabulary), dtype=object), dtype=_STR)
            if labels is not None:
                copy(f, "labels", labels, np.uint8)
                if class_names is not None:
                    f.create_dataset("class_names", data=np.asarray(list(class_names), dtype=object), dtype=_STR)
            f.create_dataset("ids", data=np.asarray([str(i) for i in ids], dtype=object), dtype=_STR)
            group = f.create_group("splits")
            for split, idx in splits.items():
                group.create_dataset(split, data=np.asarray(idx, dtype=np.int64))
    return path


def _read_rows(ds, indices, block_bytes=2**24):
    """Rows `indices` (any order, repeats allowed) of an h5py dataset.

    Read a block of about `block_bytes` at a time straight into the output,
    so memory is the output plus one block (a whole-array fancy read would
    hold the rows three times: read, reordered, output).
    """
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty((indices.size,) + ds.shape[1:], ds.dtype)
    if indices.size == 0:
        return out
    order = np.argsort(indices, kind="stable")
    ordered = indices[order]
    step = max(1, block_bytes // max(1, int(np.prod(ds.shape[1:])) * ds.dtype.itemsize))
    for start in range(0, ordered.size, step):
        part = ordered[start : start + step]
        lo, hi = int(part[0]), int(part[-1]) + 1
        if hi - lo <= 2 * part.size:  # dense rows: one contiguous read, then pick
            block = ds[lo:hi][part - lo]
        else:  # h5py wants increasing, unique indices
            unique, inverse = np.unique(part, return_inverse=True)
            block = ds[unique][inverse]
        out[order[start : start + step]] = block
    return out


class PairedDataset:
    """A paired image-text dataset file, opened for lazy reading.

    Args:
        path: the HDF5 file written by `write_dataset` (or an importer).
        in_memory: load every array into memory now (default: when the
            file is under 1 GiB).
    """

    def __init__(self, path, in_memory=None):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise TfhashError(f"dataset file not found: {path}")
        try:
            self._file = h5py.File(path, "r")
        except OSError as err:
            raise TfhashError(f"cannot read dataset {path}: not an HDF5 file ({err})") from None
        try:
            self._open(path, in_memory)
        except (OSError, KeyError, ValueError, TypeError) as err:  # h5py's errors for a damaged file
            self._file.close()
            raise TfhashError(f"dataset {path} is damaged ({err}); import it again") from None
        except TfhashError:
            self._file.close()
            raise

    def _open(self, path, in_memory):
        f = self._file
        require(
            "images" in f and "splits" in f and ("bow" in f or "tokens" in f),
            f"{path} is not a tfhash dataset (needs /images, /bow or /tokens, /splits)",
        )
        self.path = path
        self.name = str(f.attrs.get("name", os.path.basename(path)))
        self.protocol = str(f.attrs.get("protocol", "custom"))
        seed = int(f.attrs.get("split_seed", -1))
        self.split_seed = None if seed < 0 else seed
        self.splits = {k: f["splits"][k][()] for k in f["splits"]}
        self.num_pairs = f["images"].shape[0]
        self.feature_source = {k: str(f.attrs[k]) for k in FEATURE_ATTRS if k in f.attrs}
        self.vocabulary = [s.decode() if isinstance(s, bytes) else s for s in f["vocabulary"][()]] if "vocabulary" in f else None
        self.class_names = [s.decode() if isinstance(s, bytes) else s for s in f["class_names"][()]] if "class_names" in f else None
        if in_memory is None:
            size = sum(f[k].size * f[k].dtype.itemsize for k in ("images", "bow", "tokens", "labels") if k in f)
            in_memory = size < 2**30
        self.in_memory = in_memory
        self._arrays = {k: f[k] for k in ("images", "bow", "tokens", "labels") if k in f}
        if in_memory:
            self._arrays = {k: v[()] for k, v in self._arrays.items()}
        self._check_shape(path)
        self._hidden = np.zeros(self.num_pairs, dtype=bool)  # rows whose labels methods may not read
        if POOL in self.splits:
            self._hidden[self.splits[POOL]] = True

    def _check_shape(self, path):
        """Row counts and split indices agree with the arrays (cheap: no data is read)."""
        n = self.num_pairs
        for key in ("bow", "tokens", "labels", "ids"):
            rows = self._file[key].shape[0] if key in self._file else n
            require(rows == n, f"dataset {path} is damaged: {n} images but {rows} rows of {key}; import it again")
        for name, idx in self.splits.items():
            idx = np.asarray(idx)
            require(idx.ndim == 1 and np.issubdtype(idx.dtype, np.integer),
                    f"dataset {path} is damaged: split '{name}' is not a list of row numbers; import it again")
            require(idx.size == 0 or (idx.min() >= 0 and idx.max() < n),
                    f"dataset {path} is damaged: split '{name}' has rows outside 0..{n - 1}; import it again")

    # --- what is in the file -------------------------------------------------
    @property
    def image_kind(self):
        return "pixels" if len(self._arrays["images"].shape) == 4 else "features"

    @property
    def image_shape(self):
        """Shape of one image input, e.g. (128,) or (64, 64, 3)."""
        return tuple(self._arrays["images"].shape[1:])

    @property
    def bow_dim(self):
        return self._arrays["bow"].shape[1] if "bow" in self._arrays else None

    @property
    def max_tokens(self):
        return self._arrays["tokens"].shape[1] if "tokens" in self._arrays else None

    @property
    def has_labels(self):
        return "labels" in self._arrays

    @property
    def num_classes(self):
        return self._arrays["labels"].shape[1] if self.has_labels else None

    def has_field(self, field):
        """Whether the file stores `field` (images/bow/tokens/labels)."""
        return field in self._arrays

    def text_shape(self, field):
        require(field in TEXT_FIELDS, f"unknown text field '{field}' (known: bow, tokens)")
        require(field in self._arrays, f"dataset {self.name} has no '{field}' text input")
        return tuple(self._arrays[field].shape[1:])

    def array(self, field):
        """The stored array of `field` (an h5py dataset unless in memory), for chunked reading."""
        require(field in self._arrays, f"dataset {self.name} has no '{field}'")
        return self._arrays[field]

    def split(self, name):
        """Row indices of split `name`; "a+b" names the union of splits a and b (sorted rows)."""
        if "+" in name:
            return np.unique(np.concatenate([self.split(part) for part in name.split("+")]))
        require(name in self.splits, f"dataset {self.name} has no '{name}' split (has: {', '.join(sorted(self.splits))})")
        return self.splits[name]

    # --- reading rows --------------------------------------------------------
    @property
    def has_pool(self):
        """Whether the file holds an unlabelled pool (labels hidden from methods)."""
        return bool(self._hidden.any())

    def read(self, field, indices):
        """Rows `indices` of `field` (images/bow/tokens/labels) as a NumPy array.

        Labels of unlabelled-pool rows are refused (TfhashError): no method
        may use them.
        """
        if field == "labels" and self._hidden.any():
            hidden = np.flatnonzero(self._hidden[np.asarray(indices, dtype=np.int64)])
            require(hidden.size == 0, f"labels of {hidden.size} pairs of the {POOL} pool were asked for; "
                                      "a method may not read them")
        return self._read(field, indices)

    def ground_truth(self, indices):
        """Labels of rows `indices`, pool rows included: for scoring retrieval only, never for training."""
        return self._read("labels", indices)

    def _read(self, field, indices):
        require(field in self._arrays, f"dataset {self.name} has no '{field}'")
        array = self._arrays[field]
        if self.in_memory:
            return array[np.asarray(indices, dtype=np.int64)]
        return _read_rows(array, indices)

    def ids(self, indices):
        rows = _read_rows(self._file["ids"], indices)
        return [s.decode() if isinstance(s, bytes) else str(s) for s in rows]

    def describe(self):
        """A dict summary (for config.json and reports)."""
        return {
            "name": self.name,
            "path": os.path.abspath(self.path),
            "num_pairs": int(self.num_pairs),
            "image_kind": self.image_kind,
            "image_shape": list(self.image_shape),
            "bow_dim": self.bow_dim,
            "max_tokens": self.max_tokens,
            "num_classes": self.num_classes,
            "protocol": self.protocol,
            "split_seed": self.split_seed,
            "split_sizes": {k: int(v.size) for k, v in self.splits.items()},
            **self.feature_source,
        }

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
