"""Binarisation: sign with a straight-through gradient, and plain sign for inference."""

import keras
import tensorflow as tf


def binarize(x):
    """sign(x) with sign(0) = +1, as float ±1; no gradient (for codes, not training)."""
    x = tf.convert_to_tensor(x)
    return tf.where(x >= 0, tf.ones_like(x), -tf.ones_like(x))


@tf.custom_gradient
def sign_ste(x):
    """sign(x) (+1 at 0) whose gradient is the identity where |x| <= 1 and zero elsewhere.

    The straight-through estimator of TUCH (eq. 8) and of the hard-tanh
    relaxation: d sign / dx := 1{|x| <= 1}.
    """
    y = binarize(x)

    def grad(dy):
        return dy * tf.cast(tf.abs(x) <= 1.0, dy.dtype)

    return y, grad


@keras.saving.register_keras_serializable(package="tfhash")
class SignSTE(keras.layers.Layer):
    """A layer that outputs sign(x) in {-1, +1} and back-propagates by `sign_ste`."""

    def call(self, inputs):
        return sign_ste(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape
