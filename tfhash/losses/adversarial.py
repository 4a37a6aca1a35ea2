"""GAN losses on logits (numerically stable sigmoid cross-entropy)."""

import tensorflow as tf


def _bce(labels_value, logits):
    labels = tf.fill(tf.shape(logits), tf.cast(labels_value, logits.dtype))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def discriminator_loss(real_logits, fake_logits):
    """-E[log D(real)] - E[log(1 - D(fake))]."""
    return _bce(1.0, real_logits) + _bce(0.0, fake_logits)


def generator_loss(fake_logits):
    """Non-saturating generator loss -E[log D(fake)]."""
    return _bce(1.0, fake_logits)


def binary_cross_entropy(target, logits):
    """Mean sigmoid cross-entropy of `logits` against a constant 0/1 `target`."""
    return _bce(target, logits)
