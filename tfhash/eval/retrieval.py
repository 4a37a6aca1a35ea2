"""Hamming-ranking retrieval metrics (pure NumPy): MAP@all, MAP@R, PR by radius, P@K.

Conventions (all documented on `evaluate_retrieval`):

* Codes are +1/-1 arrays of shape (N, bits); distance = (bits - <q, d>) / 2.
* The ranking sorts the database by distance, ties broken by database index
  (lower first), so every metric is deterministic.
* An item is relevant to a query when they share at least one label.
* Queries with no relevant item in the whole database are left out of every
  mean and counted in `queries_without_relevant`.

Distances are computed batch by batch with XOR + popcount on bit-packed codes,
so memory stays within `memory_budget_bytes` whatever the number of queries.
"""

import concurrent.futures
import dataclasses
import math
import os

import numpy as np

from tfhash.errors import TfhashError, require

DEFAULT_TOP_K = (1, 5, 10, 20, 50, 100, 200, 500, 1000)


# ---------------------------------------------------------------- validation


def _check_codes(codes, name):
    codes = np.asarray(codes)
    require(codes.ndim == 2, f"{name} must be a 2-D (N, bits) array of +1/-1 codes; got shape {codes.shape}")
    require(min(codes.shape) > 0, f"{name} are empty: no rows or no bits (shape {codes.shape})")
    require(
        codes.dtype != bool and (np.issubdtype(codes.dtype, np.integer) or np.issubdtype(codes.dtype, np.floating)),
        f"{name} must hold +1/-1 numbers (int8); got dtype {codes.dtype}"
        + (" (convert booleans with np.where(b, 1, -1))" if codes.dtype == bool else ""),
    )
    ok = (codes == 1) | (codes == -1)
    if not ok.all():
        bad = codes[~ok].flat[0]
        hint = " (0/1 codes? convert with 2 * b - 1)" if bad == 0 else ""
        raise TfhashError(f"{name} must contain only +1/-1 values; found {bad!r}{hint}")
    return codes.astype(np.int8, copy=False)


def _check_labels(labels, name, rows, codes_name):
    labels = np.asarray(labels)
    require(labels.ndim == 2, f"{name} must be a 2-D multi-hot (N, classes) array; got shape {labels.shape}")
    require(
        labels.shape[0] == rows,
        f"{name} have {labels.shape[0]} rows but {codes_name} have {rows}; they must describe the same items",
    )
    require(labels.shape[1] > 0, f"{name} have no classes (shape {labels.shape})")
    require(
        labels.dtype == bool or np.issubdtype(labels.dtype, np.number),
        f"{name} must be numeric or boolean multi-hot; got dtype {labels.dtype}",
    )
    require(np.isin(labels, (0, 1)).all(), f"{name} must be multi-hot: only 0/1 values")
    return labels.astype(bool, copy=False)


def _check_inputs(query_codes, database_codes, query_labels=None, database_labels=None):
    q = _check_codes(query_codes, "query codes")
    db = _check_codes(database_codes, "database codes")
    require(
        q.shape[1] == db.shape[1],
        f"query codes have {q.shape[1]} bits but database codes have {db.shape[1]}; they must match",
    )
    if query_labels is None:
        return q, db
    ql = _check_labels(query_labels, "query labels", q.shape[0], "query codes")
    dl = _check_labels(database_labels, "database labels", db.shape[0], "database codes")
    require(
        ql.shape[1] == dl.shape[1],
        f"query labels have {ql.shape[1]} classes but database labels have {dl.shape[1]}; they must match",
    )
    return q, db, ql, dl


def _positive_int(value, name):
    require(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1,
        f"{name} must be a positive integer; got {value!r}",
    )
    return int(value)


def R_values(R):
    """`R` (an int, or a sequence of distinct ints) as a tuple of positive ints; TfhashError otherwise."""
    values = tuple(R) if isinstance(R, (list, tuple, np.ndarray)) else (R,)
    require(len(values) > 0, "R is empty; give at least one positive integer")
    values = tuple(_positive_int(r, "R") for r in values)
    require(len(set(values)) == len(values), f"R values repeat: {values}")
    return values


def _top_k_values(top_k, n_database):
    """Sorted unique K values, each clipped to the database size."""
    ks = DEFAULT_TOP_K if top_k is None else top_k
    if isinstance(ks, (int, np.integer)):
        ks = [ks]
    ks = [_positive_int(k, "top_k value") for k in ks]
    require(len(ks) > 0, "top_k must list at least one K")
    return np.unique(np.minimum(ks, n_database)).astype(np.int64)


# ---------------------------------------------------------------- bit-packed kernels


def _pack_rows(bits):
    """(N, C) bool -> (N, W) uint64, C bits per row packed into W = ceil(C/64) words."""
    packed = np.packbits(bits, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


_POPCOUNT_LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words):
    # np.bitwise_count needs NumPy >= 2.0; the byte table keeps 1.26 working.
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _POPCOUNT_LUT[words.view(np.uint8)].reshape(words.shape + (8,)).sum(axis=-1, dtype=np.uint8)


def _distance_dtype(bits):
    # The narrowest type keeps argsort on its O(N) radix path (<= 16-bit ints).
    return np.uint8 if bits <= 255 else np.uint16 if bits <= 65535 else np.int32


def _packed_distances(query_words, database_words_t, dtype):
    """Hamming distances (B, N) from packed queries (B, W) and packed database (W, N)."""
    n_words, n_db = database_words_t.shape
    dist = np.zeros((len(query_words), n_db), dtype=dtype)
    # Row by row with reused buffers: a (B, N) uint64 temporary is 8x the output
    # and its page faults made threads contend; this is faster too.
    xor = np.empty(n_db, dtype=np.uint64)
    for i, words in enumerate(query_words):
        for w in range(n_words):
            np.bitwise_xor(database_words_t[w], words[w], out=xor)
            dist[i] += _popcount(xor)
    return dist


def _packed_relevance(query_words, database_words_t):
    """(B, N) mask of pairs sharing at least one label, from packed multi-hot labels."""
    n_words, n_db = database_words_t.shape
    rel = np.empty((len(query_words), n_db), dtype=bool)
    both = np.empty(n_db, dtype=np.uint64)
    for i, words in enumerate(query_words):
        np.not_equal(np.bitwise_and(database_words_t[0], words[0], out=both), 0, out=rel[i])
        for w in range(1, n_words):
            rel[i] |= np.bitwise_and(database_words_t[w], words[w], out=both) != 0
    return rel


# ---------------------------------------------------------------- public API


def hamming_distance(query_codes, database_codes):
    """Hamming distances (Q, N) int32 between ±1 codes; builds the full matrix, so for small inputs."""
    q, db = _check_inputs(query_codes, database_codes)
    dist = _packed_distances(_pack_rows(q > 0), _pack_rows(db > 0).T.copy(), _distance_dtype(q.shape[1]))
    return dist.astype(np.int32)


def hamming_ranking(query_codes, database_codes):
    """Database indices (Q, N) sorted by Hamming distance, ties broken by lower database index."""
    q, db = _check_inputs(query_codes, database_codes)
    dist = _packed_distances(_pack_rows(q > 0), _pack_rows(db > 0).T.copy(), _distance_dtype(q.shape[1]))
    return np.argsort(dist, axis=1, kind="stable")


@dataclasses.dataclass
class RetrievalResult:
    """Metrics of one query set against one database; see `evaluate_retrieval` for conventions."""

    map_all: float
    map_at_r: float  # at R = Rs[0]
    R: int
    pr_precision: np.ndarray  # (bits+1,), NaN where no query retrieved anything at that radius
    pr_recall: np.ndarray  # (bits+1,)
    top_k: np.ndarray
    precision_at_k: np.ndarray
    num_queries: int
    queries_without_relevant: int
    pr_num_queries: np.ndarray = None  # (bits+1,) queries contributing to pr_precision[r]
    map_at_rs: dict = None  # {R: MAP@R} for every R asked for, in the order asked

    @property
    def Rs(self):
        """Every R asked for (the first is `R`)."""
        return list(self.map_at_rs) if self.map_at_rs else [self.R]

    def to_dict(self):
        """Plain-Python dict for JSON; NaN (undefined mean) becomes None."""
        return {
            "map_all": _json_float(self.map_all),
            "map_at_r": _json_float(self.map_at_r),
            "R": int(self.R),
            "map_at_rs": {str(r): _json_float(v) for r, v in (self.map_at_rs or {self.R: self.map_at_r}).items()},
            "pr_curve": {
                "radius": list(range(len(self.pr_recall))),
                "precision": [_json_float(x) for x in self.pr_precision],
                "recall": [_json_float(x) for x in self.pr_recall],
                "num_queries": None if self.pr_num_queries is None else [int(x) for x in self.pr_num_queries],
            },
            "precision_at_k": {
                "k": [int(k) for k in self.top_k],
                "precision": [_json_float(x) for x in self.precision_at_k],
            },
            "num_queries": int(self.num_queries),
            "queries_without_relevant": int(self.queries_without_relevant),
        }


def _json_float(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _query_metrics(dist, rel, Rs, ks, bits):
    """Per-query metrics from distances (N,) and relevance (N,); None without relevant items."""
    order = np.argsort(dist, kind="stable")
    ranks = np.flatnonzero(rel.take(order))  # 0-based ranks of the relevant items
    n_rel = ranks.size
    if n_rel == 0:
        return None
    # The k-th relevant item sits at rank ranks[k-1]: precision there is k / (rank + 1).
    precision_at_hits = np.arange(1, n_rel + 1) / (ranks + 1)
    ap_all = precision_at_hits.sum() / n_rel
    in_top_r = np.searchsorted(ranks, Rs)  # R beyond the database = whole database
    cumulative = np.concatenate([[0.0], np.cumsum(precision_at_hits)])
    # AP@R for each R; 0 when no relevant item is in the top R (DCMH convention).
    ap_r = np.where(in_top_r > 0, cumulative[in_top_r] / np.maximum(in_top_r, 1), 0.0)
    hits_k = np.searchsorted(ranks, ks)

    # Even keys count irrelevant items at a distance, odd keys relevant ones.
    key = dist.astype(np.uint16 if bits < 2**15 else np.int64) << 1
    key |= rel
    hist = np.bincount(key, minlength=2 * (bits + 1))
    retrieved = np.cumsum(hist[0::2] + hist[1::2])
    relevant = np.cumsum(hist[1::2])
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = relevant / retrieved  # NaN where nothing is retrieved yet
    return ap_all, ap_r, hits_k, precision, relevant / n_rel


def _chunk_metrics(code_words, label_words, db, Rs, ks, bits):
    """`_query_metrics` for each query of a chunk; db = (code words (W, N), label words (W', N))."""
    dist = _packed_distances(code_words, db[0], _distance_dtype(bits))
    rel = _packed_relevance(label_words, db[1])
    return [_query_metrics(dist[i], rel[i], Rs, ks, bits) for i in range(len(dist))]


class _Totals:
    """Sums over the included queries, added in query order so batching cannot change them."""

    def __init__(self, bits, ks, Rs):
        self.ks, self.Rs = ks, Rs
        self.included = self.excluded = 0
        self.ap_all = 0.0
        self.ap_r = np.zeros(len(Rs))
        self.hits_k = np.zeros(len(ks), dtype=np.int64)
        self.precision = np.zeros(bits + 1)
        self.precision_n = np.zeros(bits + 1, dtype=np.int64)
        self.recall = np.zeros(bits + 1)

    def add(self, metrics):
        if metrics is None:
            self.excluded += 1
            return
        ap_all, ap_r, hits_k, precision, recall = metrics
        self.included += 1
        self.ap_all += ap_all
        self.ap_r += ap_r
        self.hits_k += hits_k
        some = ~np.isnan(precision)
        self.precision[some] += precision[some]
        self.precision_n += some
        self.recall += recall

    def result(self):
        n = self.included
        map_at_rs = {int(r): (float(v) / n if n else math.nan) for r, v in zip(self.Rs, self.ap_r)}
        with np.errstate(invalid="ignore", divide="ignore"):
            return RetrievalResult(
                map_all=self.ap_all / n if n else math.nan,
                map_at_r=map_at_rs[int(self.Rs[0])],
                R=int(self.Rs[0]),
                map_at_rs=map_at_rs,
                pr_precision=self.precision / self.precision_n,
                pr_recall=self.recall / n if n else np.full_like(self.recall, math.nan),
                top_k=self.ks,
                precision_at_k=self.hits_k / (self.ks * n) if n else np.full(len(self.ks), math.nan),
                num_queries=self.included + self.excluded,
                queries_without_relevant=self.excluded,
                pr_num_queries=self.precision_n,
            )


def _default_workers():
    try:
        return max(1, min(8, len(os.sched_getaffinity(0))))
    except AttributeError:  # not on Linux
        return max(1, min(8, os.cpu_count() or 1))


def evaluate_retrieval(
    query_codes,
    database_codes,
    query_labels,
    database_labels,
    *,
    R=50,
    top_k=None,
    memory_budget_bytes=2**28,
    workers=None,
):
    """Rank the database for every query by Hamming distance and return a `RetrievalResult`.

    Ranking: distance ascending, ties by lower database index. Relevant: shares
    at least one label. Queries without any relevant database item are left out
    of every mean below and counted in `queries_without_relevant`; a mean over
    no query is NaN.

    * map_all: mean AP over the whole ranking, AP = (1/#rel) * sum of
      precision@r at the ranks r of relevant items.
    * map_at_r: mean AP@R (R, or the first of several), AP@R = (1/#rel in top R) * sum of precision@r at the
      relevant ranks r <= R; a query whose relevant items all fall below the top
      R scores 0 (the DCMH-code convention). R larger than the database means
      the whole database. `R` may be a sequence of distinct values: then
      `map_at_rs` holds MAP@R for each, in order (`map_at_r` is the first).
    * pr_precision[r], pr_recall[r] for Hamming radius r = 0..bits: per query
      #relevant within r / #items within r, and / #relevant. A query retrieving
      nothing within r is left out of precision at r (pr_num_queries[r] counts
      the queries that did; NaN when none did).
    * precision_at_k for each K in `top_k` (default 1, 5, ..., 1000), every K
      clipped to the database size: #relevant in the top K / K.

    Queries are processed in batches so that the (batch x N) distance and
    relevance arrays stay under `memory_budget_bytes` (each thread also needs
    up to ~50 bytes per database item of scratch). Each batch is shared by
    `workers` threads (default: the CPUs available, at most 8). The result does
    not depend on the budget or the thread count.
    """
    q, db, ql, dl = _check_inputs(query_codes, database_codes, query_labels, database_labels)
    Rs = R_values(R)
    budget = _positive_int(memory_budget_bytes, "memory_budget_bytes")
    workers = _default_workers() if workers is None else _positive_int(workers, "workers")
    n_db, bits = db.shape
    ks = _top_k_values(top_k, n_db)
    totals = _Totals(bits, ks, Rs)

    code_words, label_words = _pack_rows(q > 0), _pack_rows(ql)
    packed_db = (_pack_rows(db > 0).T.copy(), _pack_rows(dl).T.copy())
    # A batch holds a distance and a relevance flag per (query, database item).
    batch = max(1, budget // ((np.dtype(_distance_dtype(bits)).itemsize + 1) * n_db))
    # Each batch is split across threads (NumPy releases the GIL in the heavy calls);
    # results come back in query order, so sums do not depend on batch or thread count.
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(q), batch):
            stop = min(start + batch, len(q))
            bounds = np.linspace(start, stop, min(workers, stop - start) + 1).astype(int)
            chunks = [
                pool.submit(_chunk_metrics, code_words[a:b], label_words[a:b], packed_db, Rs, ks, bits)
                for a, b in zip(bounds[:-1], bounds[1:])
            ]
            for chunk in chunks:
                for metrics in chunk.result():
                    totals.add(metrics)
    return totals.result()
