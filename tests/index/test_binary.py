"""Tests for tfhash.index.binary: packing, exact/approximate Hamming search, persistence."""

import os

import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.index import binary
from tfhash.index.binary import INDEX_KINDS, BinaryIndex, pack_codes, unpack_codes

APPROX_KINDS = ("ivf", "hnsw", "multihash")


@pytest.fixture(autouse=True, scope="module")
def single_faiss_thread():
    # Tiny data: OpenMP start-up and spin-waiting cost more than they save,
    # badly so when the machine is shared.
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def random_codes(rng, n, bits):
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, bits))


def tied_codes(rng, n, bits=16, distinct=6, noise=0.05):
    """Few distinct codes plus a little noise: lots of exactly tied distances."""
    base = random_codes(rng, distinct, bits)
    codes = base[rng.integers(0, distinct, n)]
    return np.where(rng.random(codes.shape) < noise, -codes, codes).astype(np.int8)


def clustered_codes(rng, n, bits, clusters=40, noise=0.1):
    centers = random_codes(rng, clusters, bits)
    codes = centers[rng.integers(0, clusters, n)]
    return np.where(rng.random(codes.shape) < noise, -codes, codes).astype(np.int8)


def hamming(queries, db):
    return (queries[:, None, :] != db[None, :, :]).sum(-1)


def brute_topk(queries, db, k):
    """Reference ranking: by distance, ties by database position."""
    dist = hamming(queries, db)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1), order


def brute_range(queries, db, radius):
    out = []
    for row in hamming(queries, db):
        pos = np.flatnonzero(row <= radius)  # already ascending by position
        pos = pos[np.argsort(row[pos], kind="stable")]
        out.append((row[pos], pos))
    return out


def tie_aware_recall(D, D_exact):
    kth = D_exact[:, -1:]
    return ((D >= 0) & (D <= kth)).sum() / D_exact.size


# --------------------------------------------------------------------- packing
def test_pack_unpack_roundtrip_and_bit_order():
    rng = np.random.default_rng(0)
    for dtype in (np.int8, np.int32, np.float32, np.float64):
        codes = random_codes(rng, 37, 24).astype(dtype)
        packed = pack_codes(codes)
        assert packed.dtype == np.uint8 and packed.shape == (37, 3)
        back = unpack_codes(packed, 24)
        assert back.dtype == np.int8
        np.testing.assert_array_equal(back, codes.astype(np.int8))
    # Documented big-endian order: the first bit is the byte's most significant bit.
    first = -np.ones((1, 8), dtype=np.int8)
    first[0, 0] = 1
    assert pack_codes(first)[0, 0] == 0x80
    assert pack_codes(np.zeros((0, 16), np.int8)).shape == (0, 2)


def test_pack_rejects_bad_input():
    with pytest.raises(TfhashError, match="bits must be a multiple of 8 to pack, got 12"):
        pack_codes(np.ones((3, 12)))
    with pytest.raises(TfhashError, match="-1 and \\+1"):
        pack_codes(np.array([[1, 0, -1, 1, 1, 1, 1, 1]]))
    with pytest.raises(TfhashError, match="-1 and \\+1"):
        pack_codes(np.full((2, 8), 0.5))
    with pytest.raises(TfhashError, match="2-D"):
        pack_codes(np.ones(8))
    with pytest.raises(TfhashError):
        unpack_codes(np.zeros((2, 2), np.uint8), 24)
    assert issubclass(TfhashError, ValueError)


# ------------------------------------------------------------------ exact flat
@pytest.mark.parametrize("seed", range(6))
def test_flat_search_equals_stable_bruteforce_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    db = tied_codes(rng, n, distinct=int(rng.integers(1, 6)))
    queries = np.concatenate([db[:8], tied_codes(rng, 12), random_codes(rng, 10, 16)])
    index = BinaryIndex.build(db)
    for k in (1, 5, 17, n - 1, n, n + 7):
        D, I = index.search(queries, k)
        assert D.dtype == np.int32 and I.dtype == np.int64 and D.shape == (len(queries), k)
        ref_D, ref_I = brute_topk(queries, db, k)
        kk = min(k, n)
        np.testing.assert_array_equal(D[:, :kk], ref_D)
        np.testing.assert_array_equal(I[:, :kk], ref_I)
        assert (D[:, kk:] == -1).all() and (I[:, kk:] == -1).all()


class AdversarialFlat:
    """Wraps a faiss flat index; `search` keeps the *highest* positions among
    items tied at the k-th distance and shuffles ties, as faiss is allowed to."""

    def __init__(self, inner, db, rng):
        self.inner, self.db, self.rng = inner, db, rng
        self.ntotal = inner.ntotal

    def search(self, packed_queries, k):
        queries = binary.unpack_codes(packed_queries, self.db.shape[1])
        dist = hamming(queries, self.db)
        D = np.empty((len(queries), k), np.int32)
        I = np.empty((len(queries), k), np.int64)
        for r, row in enumerate(dist):
            keep = np.lexsort((-np.arange(len(row)), row))[:k]  # ties: highest positions
            keep = self.rng.permutation(keep)
            keep = keep[np.argsort(row[keep], kind="stable")]
            D[r], I[r] = row[keep], keep
        return D, I

    def range_search(self, packed_queries, thresh):
        return self.inner.range_search(packed_queries, thresh)


@pytest.mark.parametrize("seed", range(3))
def test_flat_tie_resolution_does_not_trust_faiss_tie_order(seed):
    rng = np.random.default_rng(100 + seed)
    db = tied_codes(rng, 150, distinct=3)
    queries = np.concatenate([db[:5], random_codes(rng, 10, 16)])
    index = BinaryIndex.build(db)
    index._index = AdversarialFlat(index._index, db, rng)
    for k in (1, 4, 30, 149):
        naive_I = index._index.search(pack_codes(queries), k)[1]
        D, I = index.search(queries, k)
        ref_D, ref_I = brute_topk(queries, db, k)
        assert not np.array_equal(np.sort(naive_I, axis=1), np.sort(ref_I, axis=1))  # the double bites
        np.testing.assert_array_equal(D, ref_D)
        np.testing.assert_array_equal(I, ref_I)


def test_flat_search_many_identical_codes_keeps_lowest_positions():
    db = np.ones((300, 16), np.int8)
    index = BinaryIndex.build(db)
    D, I = index.search(db[:3], 10)
    np.testing.assert_array_equal(I, np.tile(np.arange(10), (3, 1)))
    assert (D == 0).all()


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_range_search_is_exact_with_ties(kind):
    rng = np.random.default_rng(11)
    db = tied_codes(rng, 250)
    queries = np.concatenate([db[:5], random_codes(rng, 10, 16)])
    index = BinaryIndex.build(db, kind=kind)
    for radius in (0, 1, 3, 6, 16, 40):
        got = index.range_search(queries, radius)
        ref = brute_range(queries, db, radius)
        assert len(got) == len(queries)
        for (d, i), (rd, ri) in zip(got, ref):
            assert d.dtype == np.int32 and i.dtype == np.int64
            np.testing.assert_array_equal(d, rd)
            np.testing.assert_array_equal(i, ri)


def test_search_ids_uses_item_ids():
    rng = np.random.default_rng(3)
    db = tied_codes(rng, 30)
    ids = [f"item-{i}" for i in range(30)]
    index = BinaryIndex.build(db, ids)
    D, I = index.search(db[:4], 35)
    res = index.search_ids(db[:4], 35)
    for drow, irow, pairs in zip(D, I, res):
        assert len(pairs) == 30  # the 5 padding slots are dropped
        assert pairs == [(ids[p], int(d)) for d, p in zip(drow, irow) if p >= 0]
    assert res[0][0] == ("item-0", 0)
    from_numpy = BinaryIndex.build(db, np.array(ids))
    assert from_numpy.ids == ids and all(type(i) is str for i in from_numpy.ids)


def test_bad_queries_and_ids():
    rng = np.random.default_rng(4)
    index = BinaryIndex.build(random_codes(rng, 10, 16))
    with pytest.raises(TfhashError, match="32 bits but the index has 16"):
        index.search(random_codes(rng, 2, 32), 3)
    with pytest.raises(TfhashError, match="-1 and \\+1"):
        index.search(np.zeros((2, 16)), 3)
    with pytest.raises(TfhashError, match="k must be at least 1"):
        index.search(random_codes(rng, 2, 16), 0)
    with pytest.raises(TfhashError, match="radius"):
        index.range_search(random_codes(rng, 2, 16), -1)
    with pytest.raises(TfhashError, match="got 3 ids for 10 codes"):
        BinaryIndex.build(random_codes(rng, 10, 16), ["a", "b", "c"])
    with pytest.raises(TfhashError, match="unique"):
        BinaryIndex.build(random_codes(rng, 2, 16), ["a", "a"])
    with pytest.raises(TfhashError, match="index kind"):
        BinaryIndex.build(random_codes(rng, 2, 16), kind="lsh")
    with pytest.raises(TfhashError, match="nlist"):
        BinaryIndex.build(random_codes(rng, 5, 16), kind="ivf", nlist=6)


# --------------------------------------------------------- approximate kinds
@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(5)
    codes = clustered_codes(rng, 4200, 64)
    db, queries = codes[:4000], codes[4000:]
    return db, queries, brute_topk(queries, db, 10)


@pytest.mark.parametrize("kind", APPROX_KINDS)
def test_approximate_kinds_recall_and_roundtrip(kind, clustered, tmp_path):
    db, queries, (ref_D, _) = clustered
    ids = [f"doc{i}" for i in range(len(db))]
    index = BinaryIndex.build(db, ids, kind=kind)
    assert (index.kind, index.bits, index.ntotal) == (kind, 64, len(db))
    D, I = index.search(queries, 10)
    valid = I >= 0
    assert ((I >= -1) & (I < len(db))).all()
    # Returned distances are the true ones, rows sorted by (distance, position).
    true = np.take_along_axis(hamming(queries, db), np.maximum(I, 0), axis=1)
    np.testing.assert_array_equal(np.where(valid, true, -1), D)
    key = np.where(valid, D.astype(np.int64) * len(db) + I, np.iinfo(np.int64).max)
    assert (np.diff(key, axis=1) >= 0).all()
    assert tie_aware_recall(D, ref_D) >= 0.95

    path = tmp_path / f"{kind}.h5"
    index.save(path)
    loaded = BinaryIndex.load(path)
    assert (loaded.kind, loaded.bits, loaded.ntotal, loaded.ids) == (kind, 64, len(db), ids)
    D2, I2 = loaded.search(queries, 10)
    np.testing.assert_array_equal(D2, D)
    np.testing.assert_array_equal(I2, I)
    assert loaded.search_ids(queries[:3], 10) == index.search_ids(queries[:3], 10)
    for (a, b), (c, d) in zip(loaded.range_search(queries[:5], 12), index.range_search(queries[:5], 12)):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_ivf_all_lists_probed_is_exact_up_to_ties(clustered):
    db, queries, (ref_D, _) = clustered
    index = BinaryIndex.build(db, kind="ivf", nlist=16, nprobe=16)
    D, _ = index.search(queries, 10)
    np.testing.assert_array_equal(D, ref_D)


def test_multihash_range_search_at_pigeonhole_bound():
    # 4 tables x 8 bits with 1 flip are provably complete for radius <= 7: the
    # native multi-hash path is used there and must match brute force.
    rng = np.random.default_rng(12)
    db = clustered_codes(rng, 600, 32, clusters=5, noise=0.1)
    queries = np.concatenate([db[:5], clustered_codes(rng, 10, 32, clusters=5, noise=0.1)])
    index = BinaryIndex.build(db, kind="multihash", multihash_tables=4, multihash_bits=8, multihash_flips=1)
    for radius in (5, 7, 8, 12):
        got = index.range_search(queries, radius)
        for (d, i), (rd, ri) in zip(got, brute_range(queries, db, radius)):
            np.testing.assert_array_equal(d, rd)
            np.testing.assert_array_equal(i, ri)


def test_multihash_parameters():
    rng = np.random.default_rng(6)
    db = clustered_codes(rng, 500, 32)
    index = BinaryIndex.build(db, kind="multihash", multihash_tables=4, multihash_bits=8)
    assert (index._index.nhash, index._index.b) == (4, 8)
    with pytest.raises(TfhashError, match="cannot exceed the code bits"):
        BinaryIndex.build(db, kind="multihash", multihash_tables=4, multihash_bits=9)


# ----------------------------------------------------------------- persistence
def test_flat_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(7)
    db = tied_codes(rng, 200)
    ids = [f"ü-{i}\x00x" for i in range(200)]  # non-ASCII and NUL survive
    index = BinaryIndex.build(db, ids)
    path = tmp_path / "sub" / "flat.h5"
    index.save(str(path))
    loaded = BinaryIndex.load(path)
    assert loaded.ids == ids and loaded.kind == "flat" and loaded.bits == 16
    for k in (1, 13):
        for a, b in zip(loaded.search(db[:20], k), index.search(db[:20], k)):
            np.testing.assert_array_equal(a, b)


def test_save_is_atomic(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    index = BinaryIndex.build(random_codes(rng, 50, 16))
    path = tmp_path / "index.h5"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(binary, "_write_ids", boom)
    with pytest.raises(OSError, match="disk full"):
        index.save(path)
    assert os.listdir(tmp_path) == []

    # An existing index survives a failed overwrite untouched.
    monkeypatch.undo()
    index.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(binary, "_write_ids", boom)
    with pytest.raises(OSError):
        BinaryIndex.build(random_codes(rng, 7, 16)).save(path)
    assert os.listdir(tmp_path) == ["index.h5"]
    assert path.read_bytes() == before
    assert BinaryIndex.load(path).ntotal == 50


def test_load_rejects_missing_garbage_and_foreign_files(tmp_path):
    import h5py

    with pytest.raises(TfhashError, match="no index file"):
        BinaryIndex.load(tmp_path / "nope.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(TfhashError, match="not an HDF5 file"):
        BinaryIndex.load(garbage)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(TfhashError, match="not a tfhash binary index"):
        BinaryIndex.load(foreign)

    good = tmp_path / "good.h5"
    BinaryIndex.build(random_codes(np.random.default_rng(9), 40, 16)).save(good)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(good.read_bytes())
    with h5py.File(broken, "r+") as f:
        del f["faiss_index"]
        f["faiss_index"] = np.frombuffer(b"not a faiss index at all", np.uint8)
    with pytest.raises(TfhashError, match="corrupt"):
        BinaryIndex.load(broken)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(TfhashError):
        BinaryIndex.load(truncated)
    newer = tmp_path / "newer.h5"
    newer.write_bytes(good.read_bytes())
    with h5py.File(newer, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(TfhashError, match="version 99"):
        BinaryIndex.load(newer)


# ---------------------------------------------------------------------- empty
@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_empty_index(kind, tmp_path):
    index = BinaryIndex.build(np.zeros((0, 32), np.int8), kind=kind)
    assert index.ntotal == 0 and index.ids == [] and index.bits == 32
    queries = random_codes(np.random.default_rng(10), 3, 32)
    D, I = index.search(queries, 5)
    assert D.shape == I.shape == (3, 5) and (D == -1).all() and (I == -1).all()
    assert index.search_ids(queries, 5) == [[], [], []]
    assert all(len(d) == len(i) == 0 for d, i in index.range_search(queries, 32))
    path = tmp_path / "empty.h5"
    index.save(path)
    loaded = BinaryIndex.load(path)
    assert loaded.ntotal == 0 and loaded.kind == kind
    assert (loaded.search(queries, 2)[1] == -1).all()
    D, I = index.search(np.zeros((0, 32), np.int8), 4)
    assert D.shape == (0, 4)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw", "multihash"])
def test_codes_at_gives_back_the_indexed_codes(kind):
    codes = np.array([[1, -1] * 8, [-1] * 16, [1] * 16, [-1, -1, 1, 1] * 4] * 12, dtype=np.int8)
    index = BinaryIndex.build(codes, kind=kind)
    assert np.array_equal(index.codes_at([3, 0, 47]), codes[[3, 0, 47]])
    assert index.codes_at([]).shape == (0, 16)
    with pytest.raises(TfhashError, match="outside 0..47"):
        index.codes_at([48])
