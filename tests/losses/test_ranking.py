"""Squared distances and the triplet hinge on hand-made points."""

import numpy as np
import tensorflow as tf

from tfhash.losses.ranking import squared_distances, triplet_hinge


def test_squared_distances_by_hand():
    queries = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    items = tf.constant([[1.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    # (0,0) to the items: 1, 9 + 16, 2;  (1,1): 1, 4 + 9, 0
    np.testing.assert_allclose(squared_distances(queries, items), [[1, 25, 2], [1, 13, 0]], atol=1e-6)


def test_squared_distances_never_negative():
    # ||q||^2 + ||x||^2 - 2 <q, x> cancels catastrophically for a point against itself far from 0: in float32
    # some of these rows come out as -2 before the clamp (found by trying; the test fails without it).
    q = (np.random.default_rng(0).normal(size=(20, 16)) * 100 + 1000).astype(np.float32)
    d = squared_distances(q, q).numpy()
    assert d.min() >= 0.0


def test_triplet_hinge_by_hand():
    anchors = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    positives = tf.constant([[1.0, 0.0], [1.0, 1.0]])  # ||a - p||^2 = 1, 0
    negatives = tf.constant([[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]],  # ||a - n||^2 = 4, 1, 2
                             [[1.0, 1.0], [1.0, 3.0], [4.0, 5.0]]])  # 0, 4, 25
    # margin 2: row 0 max(0, 2 + 1 - (4, 1, 2)) = (0, 2, 1); row 1 max(0, 2 + 0 - (0, 4, 25)) = (2, 0, 0)
    np.testing.assert_allclose(triplet_hinge(anchors, positives, negatives, 2.0), [[0, 2, 1], [2, 0, 0]], atol=1e-6)


def test_triplet_hinge_with_a_positive_per_negative():
    anchors = tf.constant([[0.0, 0.0]])
    positives = tf.constant([[[1.0, 0.0], [0.0, 2.0]]])  # ||a - p_i||^2 = 1, 4
    negatives = tf.constant([[[2.0, 0.0], [0.0, 1.0]]])  # ||a - n_i||^2 = 4, 1
    # margin 2: max(0, 2 + 1 - 4) = 0 and max(0, 2 + 4 - 1) = 5 (the i-th positive with the i-th negative)
    np.testing.assert_allclose(triplet_hinge(anchors, positives, negatives, 2.0), [[0, 5]], atol=1e-6)
