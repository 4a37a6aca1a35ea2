"""UGACH's kNN correlation graph: exact neighbour sets on hand-built data, self first, chunking, approximate search."""

import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.methods.correlation_graph import correlation_graph, knn_neighbours, self_first

# Six pairs. Images lie on a line in two groups {0, 1, 2} and {3, 4, 5};
# texts group the other way, {0, 2, 4} and {1, 3, 5}.
IMAGES = np.array([[0.0], [1.0], [2.5], [10.0], [11.0], [12.5]], np.float32)
TEXTS = np.array([[0.0, 0.0], [9.0, 9.0], [0.0, 1.0], [9.0, 10.5], [1.2, 0.0], [10.0, 9.0]], np.float32)


def test_hand_built_graph_has_exact_neighbour_sets_with_the_pair_first():
    graph = correlation_graph(IMAGES, TEXTS, k_image=3, k_text=2, index="flat")
    assert graph.image.dtype == np.int32 and graph.image.shape == (6, 3) and graph.text.shape == (6, 2)
    # Column 0 is the item itself (the pair is its own manifold neighbour).
    np.testing.assert_array_equal(graph.image[:, 0], np.arange(6))
    np.testing.assert_array_equal(graph.text[:, 0], np.arange(6))
    # Image space: 3 nearest = own group; order by distance.
    np.testing.assert_array_equal(graph.image, [[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 4, 5], [4, 3, 5], [5, 4, 3]])
    # Text space, 2 nearest: 0-(2 at 1.0, 4 at 1.2) -> 2; 2 -> 0; 4 -> 0; 1 -> 5 (1.0) vs 3 (1.5) -> 5; 3 -> 1; 5 -> 1.
    np.testing.assert_array_equal(graph.text, [[0, 2], [1, 5], [2, 0], [3, 1], [4, 0], [5, 1]])
    # w(k, j) = 1 in either graph.
    assert graph.manifold_set(0) == {0, 1, 2}
    assert graph.manifold_set(3) == {3, 4, 5, 1}
    assert graph.neighbours().shape == (6, 5)


def test_cosine_metric_ignores_length():
    x = np.array([[1.0, 0.0], [10.0, 0.5], [0.0, 1.0], [0.3, 7.0]], np.float32)
    np.testing.assert_array_equal(knn_neighbours(x, 2, metric="cosine", index="flat"), [[0, 1], [1, 0], [2, 3], [3, 2]])
    # Euclidean instead pairs the short vectors.
    assert knn_neighbours(x, 2, metric="l2", index="flat")[0, 1] == 2


def test_duplicates_and_missing_results_keep_the_item_first():
    # Row 0 found its duplicate (item 1) before itself; row 1 did not find itself; -1 = no result.
    found = np.array([[1, 0, 5], [0, 4, 7], [2, -1, -1]])
    np.testing.assert_array_equal(self_first(found), [[0, 1, 5], [1, 0, 4], [2, 2, 2]])
    x = np.zeros((4, 3), np.float32)
    np.testing.assert_array_equal(knn_neighbours(x, 2, index="flat")[:, 0], np.arange(4))


def test_chunked_queries_give_the_same_graph():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(97, 8)).astype(np.float32)
    np.testing.assert_array_equal(knn_neighbours(x, 4, index="flat", chunk_size=10),
                                  knn_neighbours(x, 4, index="flat", chunk_size=4096))


def test_approximate_index_finds_cluster_mates():
    rng = np.random.default_rng(1)
    centers = rng.normal(scale=10.0, size=(20, 64))
    cluster = np.repeat(np.arange(20), 60)
    x = (centers[cluster] + rng.normal(size=(cluster.size, 64))).astype(np.float32)
    approx = knn_neighbours(x, 5, index="ivf", pca_dim=16, nlist=40, nprobe=4)
    exact = knn_neighbours(x, 5, index="flat")
    np.testing.assert_array_equal(approx[:, 0], np.arange(x.shape[0]))
    assert (cluster[approx] == cluster[:, None]).mean() > 0.99
    # "auto" switches to the approximate index above the threshold.
    np.testing.assert_array_equal(knn_neighbours(x, 5, index="auto", exact_max_items=len(x)), exact)
    assert knn_neighbours(x, 5, index="auto", exact_max_items=100, pca_dim=16, nlist=40, nprobe=4).shape == (1200, 5)


def test_bad_settings_fail_with_one_line():
    with pytest.raises(TfhashError, match="k <= number of items"):
        knn_neighbours(IMAGES, 7)
    with pytest.raises(TfhashError, match="graph metric"):
        knn_neighbours(IMAGES, 2, metric="hamming")
    with pytest.raises(TfhashError, match="mismatched pair counts"):
        correlation_graph(IMAGES, TEXTS[:5])
