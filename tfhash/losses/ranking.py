"""Distances and triplet ranking terms between continuous codes."""

import tensorflow as tf


def squared_distances(queries, items):
    """||q_i - x_j||^2 for every query row i and item row j: (b, d), (p, d) -> (b, p)."""
    qq = tf.reduce_sum(tf.square(queries), axis=-1, keepdims=True)
    xx = tf.reduce_sum(tf.square(items), axis=-1)
    return tf.maximum(qq + xx[None, :] - 2.0 * tf.matmul(queries, items, transpose_b=True), 0.0)


def row_squared_distances(anchors, items):
    """||a_i - x_ij||^2 for each anchor row i and its own items: (b, d), (b, m, d) -> (b, m)."""
    return tf.reduce_sum(tf.square(anchors[:, None, :] - items), axis=-1)


def triplet_hinge(anchors, positives, negatives, margin):
    """max(0, margin + ||a - p||^2 - ||a - n||^2) per (anchor, negative).

    anchors (b, d); negatives (b, m, d); positives (b, d), one for all m
    negatives, or (b, m, d), the i-th paired with the i-th negative -> (b, m).
    UGACH's relevance score f (eq. 6), and the triplet ranking loss when
    averaged.
    """
    if len(positives.shape) == 2:
        positives = positives[:, None, :]  # one positive, broadcast over the m negatives
    return tf.nn.relu(margin + row_squared_distances(anchors, positives) - row_squared_distances(anchors, negatives))
