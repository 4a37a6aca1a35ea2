"""binarize (sign with +1 at 0, no gradient) and the straight-through sign (gradient 1 inside [-1, 1], 0 outside)."""

import keras
import numpy as np
import tensorflow as tf

from tfhash.layers.hashing import SignSTE, binarize, sign_ste

# Points on both sides of, and exactly at, 0 and +-1; and an upstream gradient per point.
R = tf.constant([[-3.0, -1.0001, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0001, 3.0]])
UPSTREAM = tf.constant([[0.3, -0.7, 1.1, 2.0, -1.5, 0.9, -0.2, 4.0, 5.0]])
SIGNS = [[-1, -1, -1, -1, 1, 1, 1, 1, 1]]
INSIDE = np.array([0, 0, 1, 1, 1, 1, 1, 0, 0])  # |r| <= 1, the bounds included


def test_binarize_maps_zero_to_plus_one_and_has_no_gradient():
    np.testing.assert_array_equal(binarize(R), SIGNS)
    # -0.0 >= 0 as well, and tiny values keep their sign
    np.testing.assert_array_equal(binarize(tf.constant([-0.0, 1e-30, -1e-30])), [1, 1, -1])
    assert binarize(np.array([0.5], np.float32)).dtype == tf.float32  # a float code, not a bool
    with tf.GradientTape() as tape:
        tape.watch(R)
        y = tf.reduce_sum(binarize(R))
    assert tape.gradient(y, R) is None  # codes, not training


def _ste_gradient(fn):
    with tf.GradientTape() as tape:
        tape.watch(R)
        h = fn(R)
        loss = tf.reduce_sum(UPSTREAM * h)
    return h, tape.gradient(loss, R)


def test_sign_ste_outputs_sign_and_passes_the_gradient_only_inside_minus_one_one():
    h, grad = _ste_gradient(sign_ste)
    np.testing.assert_array_equal(h, SIGNS)
    # TUCH eq. 8: dL/dr = dL/dh where -1 <= r <= 1, 0 elsewhere
    np.testing.assert_array_equal(grad, UPSTREAM * INSIDE)


def test_sign_ste_layer_in_a_model_and_serialized():
    inputs = keras.Input((9,))
    model = keras.Model(inputs, SignSTE(name="discrete")(inputs))
    h, grad = _ste_gradient(model)
    np.testing.assert_array_equal(h, SIGNS)
    np.testing.assert_array_equal(grad, UPSTREAM * INSIDE)
    assert model.output_shape == (None, 9)
    # registered with Keras, so models holding it reload
    restored = keras.layers.deserialize(keras.layers.serialize(SignSTE(name="discrete")))
    assert isinstance(restored, SignSTE) and restored.name == "discrete"
    np.testing.assert_array_equal(restored(R), SIGNS)
