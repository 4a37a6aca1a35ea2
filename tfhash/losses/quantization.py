"""Quantisation and balance terms that push continuous codes towards ±1."""

import tensorflow as tf


def quantization_loss(codes, binary_codes):
    """Mean over items of ||B - H||^2 (sum over bits)."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(binary_codes - codes), axis=-1))


def bit_balance_loss(codes):
    """||1^T H||^2 / n^2: each bit half +1, half -1 over the batch."""
    n = tf.cast(tf.shape(codes)[0], codes.dtype)
    return tf.reduce_sum(tf.square(tf.reduce_sum(codes, axis=0))) / (n * n)


def bitwise_margin_loss(codes, margin=0.5):
    """Mean over items of sum_k max(0, margin - |h_k|) (DVSH's bitwise max-margin)."""
    return tf.reduce_mean(tf.reduce_sum(tf.nn.relu(margin - tf.abs(codes)), axis=-1))


def bit_decorrelation_loss(codes):
    """Mean over the r x r entries of (H^T H / n - I)^2: uncorrelated bits of unit second moment (n = rows of H)."""
    n = tf.cast(tf.shape(codes)[0], codes.dtype)
    gram = tf.matmul(codes, codes, transpose_a=True) / n
    return tf.reduce_mean(tf.square(gram - tf.eye(tf.shape(codes)[1], dtype=codes.dtype)))
