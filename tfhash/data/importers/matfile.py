"""Reading MATLAB .mat files: v5 through SciPy, v7.3 (HDF5) through h5py.

Every array comes back in MATLAB's own orientation: an (N, D) MATLAB matrix
is (N, D) here whether the file is v5 or v7.3. (MATLAB writes v7.3 files
column-major, so h5py sees the reversed shape, e.g. (D, N); we undo that.)
An HDF5 ".mat" written from Python (no MATLAB marks) is returned as h5py
sees it. Importers still check orientation against the pair count.
v7.3 arrays stay on disk as `LazyArray` views, read a slab of rows at a time.
"""

import os

import h5py
import numpy as np
import scipy.io
import scipy.sparse

from tfhash.errors import TfhashError, require


class LazyArray:
    """A read-only, axis-permuted view of an on-disk array, read by rows.

    Logical array = ``np.transpose(source, axes)``. Indexing along axis 0
    (an int, a slice, or an increasing index array) reads only those rows;
    `fn`, when given, is applied to every block read (e.g. a dtype check).
    """

    def __init__(self, source, axes=None, fn=None, dtype=None):
        self.source = source
        self.axes = tuple(range(len(source.shape))) if axes is None else tuple(axes)
        self.fn = fn
        self.dtype = np.dtype(dtype if dtype is not None else source.dtype)

    @property
    def shape(self):
        return tuple(self.source.shape[a] for a in self.axes)

    @property
    def ndim(self):
        return len(self.axes)

    def __len__(self):
        return self.shape[0]

    def transpose(self, *axes):
        """A new view with the logical axes permuted like `ndarray.transpose`."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        axes = tuple(reversed(range(self.ndim))) if not axes else axes
        return LazyArray(self.source, [self.axes[a] for a in axes], self.fn, self.dtype)

    def map_blocks(self, fn, dtype=None):
        """A view that applies `fn` to every block read (after any earlier `fn`)."""
        inner = self.fn
        combined = fn if inner is None else (lambda block: fn(inner(block)))
        return LazyArray(self.source, self.axes, combined, dtype or self.dtype)

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        squeeze = isinstance(key, (int, np.integer))
        if squeeze:
            row = int(key) + (self.shape[0] if key < 0 else 0)
            key = slice(row, row + 1)
        if not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool:
                key = np.flatnonzero(key)
        index = [slice(None)] * self.ndim
        index[self.axes[0]] = key
        try:
            raw = np.asarray(self.source[tuple(index)])
        except OSError as err:  # h5py, on a truncated or damaged v7.3 file
            raise TfhashError(f"cannot read {getattr(self.source.file, 'filename', 'a .mat file')}: the file is "
                              f"damaged or truncated ({err})") from None
        block = np.transpose(raw, self.axes)
        if self.fn is not None:
            block = self.fn(block)
        if squeeze:
            return block[0][rest] if rest else block[0]
        return block[(slice(None),) + rest] if rest else block

    def __array__(self, dtype=None, copy=None):
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def _sparse_from_group(group):
    # MATLAB v7.3 sparse: a group holding CSC arrays; attribute MATLAB_sparse = row count.
    rows = int(group.attrs["MATLAB_sparse"])
    jc = group["jc"][()]
    cols = jc.size - 1
    data = group["data"][()] if "data" in group else np.ones(group["ir"].shape, np.uint8)
    return scipy.sparse.csc_matrix((data, group["ir"][()], jc), shape=(rows, cols)).toarray()


class MatFile:
    """An open .mat file (v5 or v7.3), used as a context manager.

    ``get(name)`` returns a NumPy array (v5) or a `LazyArray` (v7.3), in
    MATLAB orientation; ``load(name)`` always returns a NumPy array.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.label = os.path.basename(self.path)
        require(os.path.isfile(self.path), f"file not found: {self.path}")
        self._h5 = None
        self._v5 = None
        if h5py.is_hdf5(self.path):
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as err:
                raise TfhashError(f"cannot read {self.label}: {err}") from None
            self.version = "7.3"
        else:
            try:
                entries = scipy.io.whosmat(self.path)
            except Exception as err:  # scipy raises several types for a non-.mat file
                raise TfhashError(f"cannot read {self.label}: not a MATLAB .mat file ({err})") from None
            self._names = [e[0] for e in entries]
            self.version = "5"

    @property
    def names(self):
        """The variable names in the file (HDF5 internals like #refs# excluded)."""
        if self._h5 is not None:
            return [k for k in self._h5.keys() if not k.startswith("#")]
        return list(self._names)

    def find(self, *candidates):
        """The first of `candidates` present in the file, or None."""
        names = self.names
        return next((c for c in candidates if c in names), None)

    def _matlab_written(self, node):
        # MATLAB marks every v7.3 variable with MATLAB_class and puts a 512-byte
        # header before the HDF5 data; an HDF5 file written from Python has
        # neither and is already row-major, so it must not be reversed.
        return "MATLAB_class" in node.attrs or self._h5.userblock_size > 0

    def _missing(self, name):
        have = ", ".join(self.names) or "none"
        return TfhashError(f"{self.label} has no variable '{name}' (it has: {have})")

    def get(self, name):
        """Variable `name` in MATLAB orientation (lazy for v7.3 files)."""
        if name not in self.names:
            raise self._missing(name)
        if self._h5 is not None:
            node = self._h5[name]
            if isinstance(node, h5py.Group):
                require("MATLAB_sparse" in node.attrs, f"{self.label}: variable '{name}' is a struct or cell, not an array")
                return _sparse_from_group(node)
            require(node.dtype.kind in "biuf", f"{self.label}: variable '{name}' is not numeric (dtype {node.dtype})")
            if self._matlab_written(node):
                return LazyArray(node, axes=tuple(reversed(range(node.ndim))))
            return LazyArray(node)
        if self._v5 is None:
            self._v5 = {}
        if name not in self._v5:
            try:
                value = scipy.io.loadmat(self.path, variable_names=[name])[name]
            except Exception as err:  # scipy raises several types for a damaged file
                raise TfhashError(f"cannot read variable '{name}' of {self.label}: the file is damaged or "
                                  f"truncated ({type(err).__name__}: {err})") from None
            if scipy.sparse.issparse(value):
                value = value.toarray()
            require(
                isinstance(value, np.ndarray) and value.dtype.kind in "biuf",
                f"{self.label}: variable '{name}' is not a numeric array",
            )
            self._v5[name] = value
        return self._v5[name]

    def load(self, name):
        """Variable `name` as an in-memory NumPy array."""
        return np.asarray(self.get(name))

    def close(self):
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
        self._v5 = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
