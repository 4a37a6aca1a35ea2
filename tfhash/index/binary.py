"""Packing ±1 hash codes into bytes, and a FAISS binary (Hamming) index over them.

Bit order
    `pack_codes` uses `np.packbits` (big-endian within a byte): bit ``j`` of a
    code goes to byte ``j // 8``, at value ``1 << (7 - j % 8)``. A bit is 1
    where the code is +1. Hamming distances do not depend on the bit order,
    but packed codes written by other tools must use the same convention.

Result order
    Every result list is sorted by Hamming distance, then by database
    position (the order the codes were given to `BinaryIndex.build`). Missing
    slots (fewer than ``k`` results) hold ``-1`` in both distances and
    positions, at the end of the row.

Guarantees per kind
    ``flat``
        Exact: `search` equals a stable brute-force Hamming ranking, including
        which of several items tied at the k-th distance are kept (the lowest
        positions).
    ``ivf``, ``hnsw``, ``multihash``
        Approximate `search`: every returned distance is the true Hamming
        distance of the returned item and rows are sorted as above, but true
        neighbours may be missing (IVF only scans ``nprobe`` of ``nlist``
        lists, HNSW walks a graph, multi-hash only looks at buckets within
        ``multihash_flips`` bit flips of the query's substrings, so it may
        also return fewer than ``k`` items).
    `range_search` is exact for every kind: multi-hash uses its hash tables
    when the radius is small enough for them to be provably complete
    (``radius < tables * (flips + 1)``, by the pigeonhole principle), and
    every other case scans all codes.

File format (`BinaryIndex.save`)
    One HDF5 file with root attributes ``format = "tfhash.BinaryIndex"``,
    ``format_version``, ``bits``, ``kind``, ``ntotal`` and datasets
    ``faiss_index`` (the bytes of ``faiss.serialize_index_binary``),
    ``ids_utf8`` (all ids, UTF-8, concatenated) and ``ids_offsets`` (int64,
    ``ntotal + 1`` offsets into ``ids_utf8``). A blob plus offsets keeps
    any string (even with NUL characters) and loads a million ids quickly.
    Attribute ``sha256`` is a checksum of the attributes and the three
    datasets, checked by `load` (FAISS itself does not notice every damaged
    payload). `save` never replaces a file that is not an index.
"""

import hashlib
import math
import os

import faiss
import h5py
import numpy as np

from tfhash.atomic import atomic_path, refuse_other_kind
from tfhash.errors import TfhashError, require

INDEX_KINDS = ("flat", "ivf", "hnsw", "multihash")

FORMAT_NAME = "tfhash.BinaryIndex"
FORMAT_VERSION = 1

# Rows packed per step: bounds the temporaries of validating a large float array.
_PACK_CHUNK = 1 << 16
# Queries range-searched per step when resolving ties in flat search.
_TIE_CHUNK = 256
# IVF k-means needs at least this many points per list to train without warnings.
_MIN_POINTS_PER_LIST = 39
_MAX_POINTS_PER_LIST = 256
_HNSW_EF_CONSTRUCTION = 40
_HNSW_EF_SEARCH = 64
_DEFAULT_FLIPS = 2


def _as_code_array(codes, what="codes"):
    arr = np.asarray(codes)
    require(arr.ndim == 2, f"{what} must be a 2-D array (items, bits), got shape {arr.shape}")
    require(
        arr.dtype.kind in "iuf",
        f"{what} must hold ±1 integers or floats, got dtype {arr.dtype}",
    )
    return arr


def pack_codes(codes):
    """Pack ±1 codes of shape (N, bits) into uint8 bytes of shape (N, bits // 8).

    A bit is 1 where the code is +1; bits are packed big-endian within each
    byte (``np.packbits`` order). Raises `TfhashError` unless `codes` is a
    2-D array of ±1 values with a positive number of bits divisible by 8.
    """
    arr = _as_code_array(codes)
    n, bits = arr.shape
    require(bits > 0, "codes must have at least one bit")
    require(bits % 8 == 0, f"bits must be a multiple of 8 to pack, got {bits}")
    out = np.empty((n, bits // 8), dtype=np.uint8)
    for start in range(0, n, _PACK_CHUNK):
        block = arr[start : start + _PACK_CHUNK]
        positive = block == 1
        require(
            bool(np.all(positive | (block == -1))),
            "codes must contain only -1 and +1 values",
        )
        out[start : start + len(block)] = np.packbits(positive, axis=1)
    return out


def unpack_codes(packed, bits):
    """Inverse of `pack_codes`: uint8 (N, bits // 8) -> int8 ±1 codes (N, bits)."""
    arr = np.asarray(packed)
    require(arr.ndim == 2, f"packed codes must be a 2-D array, got shape {arr.shape}")
    require(arr.dtype == np.uint8, f"packed codes must be uint8, got dtype {arr.dtype}")
    bits = int(bits)
    require(bits > 0 and bits % 8 == 0, f"bits must be a positive multiple of 8, got {bits}")
    require(
        arr.shape[1] * 8 == bits,
        f"packed codes have {arr.shape[1]} bytes per code, expected {bits // 8} for {bits} bits",
    )
    unpacked = np.unpackbits(arr, axis=1, count=bits)
    return (unpacked.astype(np.int8) * 2 - 1).astype(np.int8)


def _as_int(value, name, minimum):
    require(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool),
        f"{name} must be an integer, got {value!r}",
    )
    value = int(value)
    require(value >= minimum, f"{name} must be at least {minimum}, got {value}")
    return value


def _default_nlist(n):
    # ~sqrt(N) lists, but never so many that k-means would be starved of points.
    return max(1, min(int(round(math.sqrt(n))), n // _MIN_POINTS_PER_LIST))


def _sort_rows(D, I, ntotal, bits):
    """Sort each row by (distance, position); invalid slots (I < 0) go last as -1."""
    invalid = I < 0
    key = np.where(invalid, bits + 1, D).astype(np.int64) * (ntotal + 1) + np.where(invalid, ntotal, I)
    order = np.argsort(key, axis=1, kind="stable")
    D = np.take_along_axis(np.where(invalid, -1, D), order, axis=1).astype(np.int32)
    I = np.take_along_axis(np.where(invalid, -1, I), order, axis=1).astype(np.int64)
    return D, I


def _sort_range_result(lims, D, I):
    """Sort a faiss range result by (query, distance, position), keeping `lims` valid."""
    D = D.astype(np.int32)
    I = I.astype(np.int64)
    rows = np.repeat(np.arange(len(lims) - 1), np.diff(lims).astype(np.int64))
    order = np.lexsort((I, D, rows))
    return D[order], I[order]


def _ivf_codes_in_order(ivf):
    """All codes of an IVF index, back in database-position order."""
    codes = np.empty((ivf.ntotal, ivf.code_size), dtype=np.uint8)
    invlists = ivf.invlists
    for lst in range(ivf.nlist):
        size = invlists.list_size(lst)
        if size == 0:
            continue
        ids = faiss.rev_swig_ptr(invlists.get_ids(lst), size).copy()
        data = faiss.rev_swig_ptr(invlists.get_codes(lst), size * ivf.code_size).copy()
        codes[ids] = data.reshape(size, ivf.code_size)
    return codes


class BinaryIndex:
    """A FAISS binary (Hamming) index over ±1 codes, with the items' string ids.

    Build with `BinaryIndex.build`, or `BinaryIndex.load` a saved one. Positions
    returned by `search` / `range_search` index into `ids` (and into the codes
    given to `build`).
    """

    def __init__(self, index, ids, bits, kind):
        self._index = index
        self.ids = ids
        self.bits = bits
        self.kind = kind
        self._exact_cache = None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        codes,
        ids=None,
        *,
        kind="flat",
        nlist=None,
        nprobe=None,
        hnsw_m=16,
        multihash_tables=None,
        multihash_bits=None,
        multihash_flips=_DEFAULT_FLIPS,
    ):
        """Build an index of `kind` (one of `INDEX_KINDS`) over ±1 codes (N, bits).

        `ids` are the items' string ids (default ``"0" .. "N-1"``). Options
        that do not apply to `kind` are ignored.

        - ivf: `nlist` lists (default ~sqrt(N), fewer for small N), trained on
          the codes; `nprobe` lists scanned per query (default ~nlist / 4).
        - hnsw: `hnsw_m` neighbours per graph node.
        - multihash: `multihash_tables` hash tables over consecutive
          `multihash_bits`-bit substrings (default: substrings of ~log2(N)
          bits, as many tables as fit), probing buckets within
          `multihash_flips` bit flips of each query substring.
        """
        require(kind in INDEX_KINDS, f"index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
        arr = _as_code_array(codes)
        n, bits = arr.shape
        packed = pack_codes(arr)
        del arr

        if ids is None:
            ids = [str(i) for i in range(n)]
        else:
            ids = list(ids)
            require(len(ids) == n, f"got {len(ids)} ids for {n} codes")
            require(all(isinstance(i, str) for i in ids), "ids must be strings")
            ids = [str(i) for i in ids]  # plain str, e.g. from numpy string arrays
            require(len(set(ids)) == n, "ids must be unique")

        if kind == "flat":
            index = faiss.IndexBinaryFlat(bits)
        elif kind == "ivf":
            index = cls._make_ivf(packed, bits, nlist, nprobe)
        elif kind == "hnsw":
            hnsw_m = _as_int(hnsw_m, "hnsw_m", 2)
            index = faiss.IndexBinaryHNSW(bits, hnsw_m)
            index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = _HNSW_EF_SEARCH
        else:
            index = cls._make_multihash(n, bits, multihash_tables, multihash_bits, multihash_flips)
        if n:
            index.add(packed)
        return cls(index, ids, bits, kind)

    @staticmethod
    def _make_ivf(packed, bits, nlist, nprobe):
        n = len(packed)
        if nlist is None:
            nlist = _default_nlist(n)
        else:
            nlist = _as_int(nlist, "nlist", 1)
            require(nlist <= max(n, 1), f"nlist ({nlist}) cannot exceed the number of codes ({n})")
        if nprobe is None:
            nprobe = max(1, math.ceil(nlist / 4))
        else:
            nprobe = _as_int(nprobe, "nprobe", 1)
            require(nprobe <= nlist, f"nprobe ({nprobe}) cannot exceed nlist ({nlist})")

        quantizer = faiss.IndexBinaryFlat(bits)
        index = faiss.IndexBinaryIVF(quantizer, bits, nlist)
        if nlist == 1:
            # One list holds everything whatever its centroid, so skip k-means
            # (which cannot run on an empty set and warns on a tiny one).
            quantizer.add(np.zeros((1, bits // 8), dtype=np.uint8))
            index.is_trained = True
        else:
            train = packed
            limit = nlist * _MAX_POINTS_PER_LIST
            if n > limit:
                # faiss would subsample too, but noisily; a fixed seed keeps builds reproducible.
                rows = np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))
                train = packed[rows]
            index.train(train)
        index.nprobe = nprobe
        return index

    @staticmethod
    def _make_multihash(n, bits, tables, sub_bits, flips):
        if tables is None and sub_bits is None:
            # Multi-index hashing rule of thumb: substrings of ~log2(N) bits
            # give about one item per bucket. Then spread all bits over the tables.
            sub_bits = int(min(max(round(math.log2(max(n, 2))), 4), 32, bits))
            tables = bits // sub_bits
            sub_bits = bits // tables
        elif tables is None:
            sub_bits = _as_int(sub_bits, "multihash_bits", 1)
            require(sub_bits <= bits, f"multihash_bits ({sub_bits}) cannot exceed the code bits ({bits})")
            tables = bits // sub_bits
        else:
            tables = _as_int(tables, "multihash_tables", 1)
            require(tables <= bits, f"multihash_tables ({tables}) cannot exceed the code bits ({bits})")
            if sub_bits is None:
                sub_bits = bits // tables
            sub_bits = _as_int(sub_bits, "multihash_bits", 1)
        require(sub_bits <= 63, f"multihash_bits must be at most 63, got {sub_bits}")
        require(
            tables * sub_bits <= bits,
            f"multihash_tables * multihash_bits ({tables} * {sub_bits}) cannot exceed the code bits ({bits})",
        )
        flips = _as_int(flips, "multihash_flips", 0)
        require(flips <= sub_bits, f"multihash_flips ({flips}) cannot exceed multihash_bits ({sub_bits})")
        index = faiss.IndexBinaryMultiHash(bits, tables, sub_bits)
        index.nflip = flips
        return index

    # ---------------------------------------------------------------- queries
    @property
    def ntotal(self):
        """Number of indexed items."""
        return int(self._index.ntotal)

    def __len__(self):
        return self.ntotal

    def __repr__(self):
        return f"BinaryIndex(kind={self.kind!r}, bits={self.bits}, ntotal={self.ntotal})"

    def _pack_queries(self, query_codes):
        arr = _as_code_array(query_codes, "query codes")
        require(
            arr.shape[1] == self.bits,
            f"query codes have {arr.shape[1]} bits but the index has {self.bits}",
        )
        return pack_codes(arr)

    def search(self, query_codes, k):
        """Top-`k` neighbours of each ±1 query code.

        Returns ``(D, I)``: int32 Hamming distances and int64 database
        positions, both (Q, k), rows sorted by (distance, position), padded
        with -1 where fewer than `k` items are found. Exact for ``flat``
        (ties at the k-th distance keep the lowest positions); approximate
        for the other kinds.
        """
        q = self._pack_queries(query_codes)
        k = _as_int(k, "k", 1)
        D = np.full((len(q), k), -1, dtype=np.int32)
        I = np.full((len(q), k), -1, dtype=np.int64)
        n = self.ntotal
        if n == 0 or len(q) == 0:
            return D, I
        # faiss misbehaves for k > ntotal (HNSW returns garbage), so ask for at most ntotal.
        kk = min(k, n)
        if self.kind == "flat":
            d, i = self._flat_topk(q, kk)
        else:
            d, i = _sort_rows(*self._index.search(q, kk), n, self.bits)
        D[:, :kk] = d
        I[:, :kk] = i
        return D, I

    def _flat_topk(self, q, k):
        n = self.ntotal
        # One extra neighbour tells whether the k-th distance is tied beyond the
        # cut-off; only then may faiss have kept the "wrong" tied items.
        k1 = min(k + 1, n)
        d, i = self._index.search(q, k1)
        if k1 == k:  # k == ntotal: everything was returned
            return _sort_rows(d, i, n, self.bits)
        kth = d[:, k - 1]
        ambiguous = np.flatnonzero(d[:, k] == kth)
        d, i = _sort_rows(d[:, :k], i[:, :k], n, self.bits)
        # Re-fetch every item at distance <= kth for those queries, then keep the
        # first k by (distance, position). Grouped by kth since faiss takes one
        # radius per call; chunked to bound the size of the range results.
        for radius in np.unique(kth[ambiguous]):
            rows = ambiguous[kth[ambiguous] == radius]
            for start in range(0, len(rows), _TIE_CHUNK):
                sub = rows[start : start + _TIE_CHUNK]
                lims, rd, ri = self._index.range_search(q[sub], int(radius) + 1)
                rd, ri = _sort_range_result(lims, rd, ri)
                take = lims[:-1, None].astype(np.int64) + np.arange(k)
                d[sub] = rd[take]
                i[sub] = ri[take]
        return d, i

    def search_ids(self, query_codes, k):
        """Like `search`, but per query a list of ``(item id, distance)`` pairs."""
        D, I = self.search(query_codes, k)
        ids = self.ids
        return [
            [(ids[pos], int(dist)) for dist, pos in zip(drow, irow) if pos >= 0]
            for drow, irow in zip(D.tolist(), I.tolist())
        ]

    def _exact_index(self):
        """An IndexBinaryFlat over all codes in position order (shared, not copied, where possible)."""
        if self.kind == "flat":
            return self._index
        if self.kind in ("hnsw", "multihash"):
            # Held alongside self._index, which owns the storage.
            return faiss.downcast_IndexBinary(self._index.storage)
        if self._exact_cache is None:
            flat = faiss.IndexBinaryFlat(self.bits)
            if self.ntotal:
                flat.add(_ivf_codes_in_order(self._index))
            self._exact_cache = flat
        return self._exact_cache

    def codes_at(self, positions):
        """The ±1 int8 codes (len(positions), bits) of the items at database `positions`."""
        positions = [_as_int(p, "position", 0) for p in positions]
        bad = [p for p in positions if p >= self.ntotal]
        require(not bad, f"positions {bad} outside 0..{self.ntotal - 1}")
        exact = self._exact_index()
        packed = np.stack([exact.reconstruct(p) for p in positions]) if positions else \
            np.zeros((0, self.bits // 8), np.uint8)
        return unpack_codes(packed.astype(np.uint8), self.bits)

    def range_search(self, query_codes, radius):
        """All items within Hamming distance `radius` (inclusive) of each query.

        Returns per query ``(D, I)``: int32 distances and int64 positions,
        sorted by (distance, position). Exact for every kind (see the module
        docstring for how).
        """
        q = self._pack_queries(query_codes)
        radius = _as_int(radius, "radius", 0)
        if self.ntotal == 0 or len(q) == 0:
            return [(np.empty(0, np.int32), np.empty(0, np.int64)) for _ in range(len(q))]
        # faiss keeps distances strictly below its threshold.
        thresh = min(radius, self.bits) + 1
        if self.kind == "multihash" and radius < self._index.nhash * (self._index.nflip + 1):
            index = self._index
        else:
            index = self._exact_index()
        lims, D, I = index.range_search(q, thresh)
        D, I = _sort_range_result(lims, D, I)
        lims = lims.astype(np.int64)
        return [(D[a:b], I[a:b]) for a, b in zip(lims[:-1], lims[1:])]

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Write the index and its ids to one HDF5 file at `path`, atomically."""
        blob = faiss.serialize_index_binary(self._index)
        encoded = [s.encode("utf-8") for s in self.ids]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        if encoded:
            np.cumsum([len(b) for b in encoded], out=offsets[1:])
        ids_utf8 = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        refuse_other_kind(path, "tfhash binary index", is_index_file)
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT_NAME
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["bits"] = self.bits
                f.attrs["kind"] = self.kind
                f.attrs["ntotal"] = self.ntotal
                f.create_dataset("faiss_index", data=blob)
                _write_ids(f, ids_utf8, offsets)
                f.attrs["sha256"] = _checksum(self.bits, self.kind, self.ntotal, blob, ids_utf8, offsets)

    @classmethod
    def load(cls, path):
        """Read an index written by `save`; `TfhashError` if missing, corrupt or not an index."""
        path = os.fspath(path)
        require(os.path.exists(path), f"no index file at {path}")
        require(os.path.isfile(path), f"{path} is not a file")
        try:
            f = h5py.File(path, "r")
        except OSError:
            raise TfhashError(f"{path} is not a tfhash binary index (not an HDF5 file)") from None
        with f:
            fmt = f.attrs.get("format")
            if isinstance(fmt, bytes):
                fmt = fmt.decode("utf-8", "replace")
            require(fmt == FORMAT_NAME, f"{path} is not a tfhash binary index")
            try:
                version = int(f.attrs["format_version"])
                bits = int(f.attrs["bits"])
                kind = str(f.attrs["kind"])
                ntotal = int(f.attrs["ntotal"])
                blob = np.asarray(f["faiss_index"][...], dtype=np.uint8)
                ids_utf8 = np.asarray(f["ids_utf8"][...], dtype=np.uint8)
                offsets = np.asarray(f["ids_offsets"][...], dtype=np.int64)
                saved_sum = f.attrs.get("sha256")
            except (KeyError, OSError, ValueError, TypeError) as exc:
                raise TfhashError(f"{path} is a corrupt tfhash binary index ({exc}); build it again") from None
        if saved_sum is not None:  # indexes of older tfhash versions carry none
            saved_sum = saved_sum.decode() if isinstance(saved_sum, bytes) else str(saved_sum)
            require(saved_sum == _checksum(bits, kind, ntotal, blob, ids_utf8, offsets),
                    f"{path} is a corrupt tfhash binary index (checksum mismatch); build it again with `tfhash index`")
        require(
            version <= FORMAT_VERSION,
            f"{path} has index format version {version}; this tfhash reads up to {FORMAT_VERSION}, upgrade it",
        )
        require(kind in INDEX_KINDS, f"{path} is a corrupt tfhash binary index (unknown kind {kind!r})")
        try:
            # Already of the concrete class; downcasting again would make a
            # non-owning wrapper whose owner is garbage-collected at once.
            index = faiss.deserialize_index_binary(blob)
        except RuntimeError:
            raise TfhashError(f"{path} is a corrupt tfhash binary index (faiss cannot read it)") from None
        expected = {
            "flat": faiss.IndexBinaryFlat,
            "ivf": faiss.IndexBinaryIVF,
            "hnsw": faiss.IndexBinaryHNSW,
            "multihash": faiss.IndexBinaryMultiHash,
        }[kind]
        ok = (
            isinstance(index, expected)
            and index.d == bits
            and index.ntotal == ntotal
            and offsets.shape == (ntotal + 1,)
            and offsets[0] == 0
            and offsets[-1] == len(ids_utf8)
            and bool(np.all(np.diff(offsets) >= 0))
        )
        require(ok, f"{path} is a corrupt tfhash binary index (inconsistent contents)")
        raw = ids_utf8.tobytes()
        try:
            ids = [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
        except UnicodeDecodeError:
            raise TfhashError(f"{path} is a corrupt tfhash binary index (ids are not UTF-8)") from None
        return cls(index, ids, bits, kind)


def _checksum(bits, kind, ntotal, blob, ids_utf8, offsets):
    h = hashlib.sha256(f"{FORMAT_NAME}|{int(bits)}|{kind}|{int(ntotal)}|".encode())
    for part in (blob, ids_utf8, offsets):
        data = np.ascontiguousarray(part)
        h.update(f"{data.dtype.str}{data.shape}".encode())
        h.update(data.tobytes())
    return h.hexdigest()


def is_index_file(path):
    """Whether `path` is an HDF5 file written by `BinaryIndex.save` (any version)."""
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
    except (OSError, ValueError):
        return False
    return (fmt.decode("utf-8", "replace") if isinstance(fmt, bytes) else fmt) == FORMAT_NAME


def _write_ids(f, ids_utf8, offsets):
    f.create_dataset("ids_utf8", data=ids_utf8)
    f.create_dataset("ids_offsets", data=offsets)
