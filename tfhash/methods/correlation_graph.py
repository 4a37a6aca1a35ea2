"""UGACH's correlation graph (eq. 5): k-nearest neighbours per modality, built with FAISS.

The graph is never a dense n x n matrix. Each modality gives an ``(n, k)``
int32 array whose row j lists the k nearest training items of item j in
that modality's feature space, item j itself first (the pair is always its
own manifold neighbour). w(p, j) = 1 in the paper's notation exactly when p
is in row j.

Two ways to find the neighbours:

* ``flat``: exact brute force (`faiss.knn`), queries in chunks of
  ``chunk_size`` rows against the whole feature matrix, used in place (no
  copy into an index). Cost n^2 d: fine for tens of thousands of items.
* ``ivf``: approximate. When the features are wider than ``pca_dim`` they
  are first projected by a PCA fitted on a sample of 10,000 rows by
  randomised subspace iteration (so a 4096-d image feature becomes
  ``pca_dim``-d), then an inverted-file index
  (``IndexIVFFlat``, ``nlist`` k-means cells, ``nprobe`` cells visited per
  query) is searched. This is what makes 190,000 x 4096 items feasible on
  a few CPU cores; `scripts/bench_graph.py` measures its time, peak memory
  and recall against exact search.

``auto`` picks ``flat`` up to ``exact_max_items`` items and ``ivf`` above.
"""

import dataclasses
import logging
import math
import time

import numpy as np

from tfhash.errors import require

log = logging.getLogger(__name__)

INDEX_KINDS = ("auto", "flat", "ivf")
METRICS = ("l2", "cosine")


@dataclasses.dataclass
class CorrelationGraph:
    """Neighbour lists of the training items: ``image`` (n, k_image) and ``text`` (n, k_text), int32."""

    image: np.ndarray
    text: np.ndarray
    seconds: float = 0.0

    @property
    def size(self):
        return int(self.image.shape[0])

    def neighbours(self):
        """(n, k_image + k_text) manifold neighbours of every item (eq. 5 in either modality)."""
        return np.concatenate([self.image, self.text], axis=1)

    def manifold_set(self, j):
        """The set {k : w(k, j) = 1 in the image or the text graph} of item j."""
        return set(self.image[j].tolist()) | set(self.text[j].tolist())


def _as_float32(x):
    return np.ascontiguousarray(x, dtype=np.float32)


def _l2_normalised(x, chunk_size):
    out = np.empty(x.shape, np.float32)
    for s in range(0, x.shape[0], chunk_size):
        block = np.asarray(x[s : s + chunk_size], np.float32)
        out[s : s + chunk_size] = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
    return out


def self_first(neighbours, offset=0):
    """Put each row's own item (row index + offset) first, keeping the order of the others.

    A row that did not find itself (duplicates, approximate search) drops its
    last neighbour to make room; missing results (-1) become the item itself.
    """
    n, k = neighbours.shape
    own = np.arange(offset, offset + n, dtype=np.int64)[:, None]
    neighbours = np.where(neighbours < 0, own, neighbours)
    is_own = neighbours == own
    order = np.argsort(is_own, axis=1, kind="stable")  # the others first, in their order
    others = np.take_along_axis(neighbours, order, axis=1)[:, : k - 1]
    return np.concatenate([own, others], axis=1).astype(np.int32)


def pca_basis(x, dim, *, sample_size=10000, iterations=4, seed=0):
    """Mean and top-`dim` principal directions (d, dim) of the rows of `x`, from a random sample.

    Randomised subspace iteration (Halko, Martinsson & Tropp 2011) on the
    sample: a few products with a (d, dim + 16) block instead of a full d x d
    eigendecomposition (seconds instead of minutes at d = 4096).
    """
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(x.shape[0], size=min(x.shape[0], sample_size), replace=False))
    sample = np.asarray(x[rows], np.float64)
    mean = sample.mean(axis=0)
    sample -= mean
    block = rng.standard_normal((x.shape[1], min(dim + 16, x.shape[1])))
    for _ in range(iterations):
        block, _ = np.linalg.qr(sample.T @ (sample @ block))
    small = block.T @ (sample.T @ (sample @ block))
    values, vectors = np.linalg.eigh(small)
    basis = block @ vectors[:, np.argsort(values)[::-1][:dim]]
    return mean.astype(np.float32), basis.astype(np.float32)


def _ivf_index(x, *, pca_dim, nlist, nprobe, seed):
    import faiss

    n, d = x.shape
    if d > pca_dim:
        mean, basis = pca_basis(x, pca_dim, seed=seed)

        def project(block):
            return np.ascontiguousarray((np.asarray(block, np.float32) - mean) @ basis)
    else:
        project = _as_float32
    dim = min(d, pca_dim)
    train_rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n, 40 * nlist), replace=False))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist, faiss.METRIC_L2)
    index.cp.seed = int(seed)
    index.train(np.concatenate([project(x[train_rows[s : s + 16384]]) for s in range(0, train_rows.size, 16384)]))
    for s in range(0, n, 16384):
        index.add(project(x[s : s + 16384]))
    index.nprobe = int(nprobe)
    return index, project


def knn_neighbours(features, k, *, metric="l2", index="auto", exact_max_items=25000, chunk_size=4096,
                   pca_dim=128, nlist=0, nprobe=16, seed=0):
    """The k nearest training items of every item (itself first), as an (n, k) int32 array.

    `nlist` = 0 means 4 sqrt(n) inverted-file cells (at most n / 39; ivf only).
    """
    import faiss

    require(metric in METRICS, f"unknown graph metric '{metric}' (known: {', '.join(METRICS)})")
    require(index in INDEX_KINDS, f"unknown graph index '{index}' (known: {', '.join(INDEX_KINDS)})")
    n = int(features.shape[0])
    require(1 <= k <= n, f"need 1 <= k <= number of items ({n}), got k={k}")
    x = _l2_normalised(features, chunk_size) if metric == "cosine" else _as_float32(features)
    exact = index == "flat" or (index == "auto" and n <= exact_max_items)
    out = np.empty((n, k), np.int32)
    if exact:
        for s in range(0, n, chunk_size):
            _, found = faiss.knn(x[s : s + chunk_size], x, k)
            out[s : s + chunk_size] = self_first(found, offset=s)
        return out
    nlist = nlist or max(1, min(int(round(4 * math.sqrt(n))), n // 39))  # faiss wants >= 39 points per cell
    ivf, project = _ivf_index(x, pca_dim=pca_dim, nlist=min(nlist, n), nprobe=nprobe, seed=seed)
    for s in range(0, n, chunk_size):
        _, found = ivf.search(project(x[s : s + chunk_size]), k)
        out[s : s + chunk_size] = self_first(found, offset=s)
    return out


def correlation_graph(images, texts, *, k_image=5, k_text=5, **options):
    """The image and text kNN graphs of UGACH (eq. 5) over paired training items.

    `options` go to `knn_neighbours` (metric, index, exact_max_items,
    chunk_size, pca_dim, nlist, nprobe, seed).
    """
    require(images.shape[0] == texts.shape[0],
            f"mismatched pair counts: {images.shape[0]} images but {texts.shape[0]} texts")
    start = time.perf_counter()
    image_nn = knn_neighbours(images.reshape(images.shape[0], -1), k_image, **options)
    text_nn = knn_neighbours(texts, k_text, **options)
    seconds = time.perf_counter() - start
    log.info("correlation graph over %d items (k=%d+%d) in %.1f s", images.shape[0], k_image, k_text, seconds)
    return CorrelationGraph(image=image_nn, text=text_nn, seconds=seconds)
