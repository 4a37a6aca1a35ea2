"""Pairwise similarity-preserving losses on continuous codes or features, with s_ij from labels.

Each loss is the mean over pairs: with one code set, over the pairs i != j
inside it (an item paired with itself says nothing); with two sets
(`other`), over every (i, j) across them (e.g. a mini-batch against a
stored copy of the whole training set). An empty set gives 0, not NaN (a
replica can receive an empty slice of a short last batch).

Similarities: `signed_label_similarity` (+1 / -1) for the squared and
margin losses, `label_similarity` (1 / 0) for the logistic likelihood.
"""

import tensorflow as tf


def signed_label_similarity(labels, other_labels=None):
    """s_ij = +1 when items i and j share at least one label, -1 otherwise (multi-hot labels)."""
    labels = tf.cast(labels, tf.float32)
    other = labels if other_labels is None else tf.cast(other_labels, tf.float32)
    return tf.where(tf.matmul(labels, other, transpose_b=True) > 0, 1.0, -1.0)


def label_similarity(labels, other_labels=None):
    """s_ij = 1 when items i and j share at least one label, 0 otherwise (multi-hot labels)."""
    return (signed_label_similarity(labels, other_labels) + 1.0) / 2.0


def _pair_mean(values, within_one_set):
    """Mean of a (n, m) pair matrix; over the off-diagonal entries when the pairs come from one set."""
    if not within_one_set:
        return tf.math.divide_no_nan(tf.reduce_sum(values), tf.cast(tf.size(values), values.dtype))
    n = tf.shape(values)[0]
    off = 1.0 - tf.eye(n, dtype=values.dtype)
    return tf.reduce_sum(values * off) / tf.maximum(tf.reduce_sum(off), 1.0)


def cosine_margin_loss(codes, similarity, margin=0.5, other=None):
    """Mean over pairs of max(0, margin - s_ij cos(h_i, h_j)) (DVSH's cosine max-margin, eq. 6).

    Similar pairs are pushed to cosine >= margin, dissimilar ones to cosine
    <= -margin; a zero code has cosine 0 with everything.
    """
    a = tf.math.l2_normalize(codes, axis=-1, epsilon=1e-12)
    b = a if other is None else tf.math.l2_normalize(other, axis=-1, epsilon=1e-12)
    cosine = tf.matmul(a, b, transpose_b=True)
    return _pair_mean(tf.nn.relu(margin - tf.cast(similarity, cosine.dtype) * cosine), other is None)


def inner_product_loss(codes, similarity, other=None):
    """Mean over pairs of (s_ij - <h_i, h_j> / K)^2 (the inner-product squared loss of KSH / DVSH-I)."""
    b = codes if other is None else other
    bits = tf.cast(tf.shape(codes)[-1], codes.dtype)
    inner = tf.matmul(codes, b, transpose_b=True) / bits
    return _pair_mean(tf.square(tf.cast(similarity, inner.dtype) - inner), other is None)


def logistic_pair_loss(features, similarity, other=None, scale=1.0):
    """Mean over pairs of log(1 + exp(theta_ij)) - s_ij theta_ij, theta_ij = scale <f_i, f_j>, s_ij in {0, 1}.

    The negative log-likelihood of s_ij under p(s_ij = 1) = sigmoid(theta_ij)
    (DCMH eq. 2; SDCH eq. 4 with scale 1). Stable for any theta.
    """
    b = features if other is None else other
    theta = scale * tf.matmul(features, b, transpose_b=True)
    nll = tf.nn.softplus(theta) - tf.cast(similarity, theta.dtype) * theta
    return _pair_mean(nll, other is None)
