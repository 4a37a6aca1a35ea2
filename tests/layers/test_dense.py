"""`tfhash.layers.dense.Dense`: Keras' Dense with a faster backward pass, same values."""

import keras
import numpy as np
import tensorflow as tf

from tfhash.layers.dense import Dense


def _pair(units=7, activation="relu", use_bias=True):
    ours = Dense(units, activation=activation, use_bias=use_bias)
    theirs = keras.layers.Dense(units, activation=activation, use_bias=use_bias)
    ours.build((None, 5))
    theirs.build((None, 5))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def _value_and_grads(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.sin(y))  # a non-trivial upstream gradient
    return y, tape.gradient(loss, [x] + layer.trainable_variables)


def test_outputs_and_gradients_equal_keras_dense():
    x = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    for activation, use_bias in (("relu", True), (None, False), ("tanh", True)):
        ours, theirs = _pair(activation=activation, use_bias=use_bias)
        y1, g1 = _value_and_grads(ours, x)
        y2, g2 = _value_and_grads(theirs, x)
        np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-5, atol=1e-6)
        assert len(g1) == len(g2) == (3 if use_bias else 2)
        for a, b in zip(g1, g2):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_the_input_gradient_is_the_einsum():
    """The custom gradient is the one used (a graph without a transposed MatMul for d inputs)."""
    ours, _ = _pair()
    x = tf.random.normal((3, 5))

    @tf.function
    def grads(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(ours(x))
        return tape.gradient(loss, x)

    graph = grads.get_concrete_function(x).graph
    ops = [op.type for g in [graph] + [f.graph for f in graph._functions.values()] for op in g.get_operations()]
    assert "Einsum" in ops


def test_rank_3_inputs_use_keras_call():
    ours, theirs = _pair()
    x = np.random.default_rng(2).normal(size=(2, 3, 5)).astype("float32")
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-5, atol=1e-6)


def test_serialises_and_reloads_as_its_own_class(tmp_path):
    inputs = keras.Input((5,))
    model = keras.Model(inputs, Dense(3, activation="tanh", name="d")(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("d")) is Dense
    x = np.ones((2, 5), "float32")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_bfloat16_policy_computes_in_bfloat16():
    layer = Dense(4, dtype="mixed_bfloat16")
    y = layer(tf.ones((2, 3)))
    assert y.dtype == tf.bfloat16
    assert layer.kernel.dtype == "float32"
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.cast(layer(tf.ones((2, 3))), tf.float32))
    grad = tape.gradient(loss, layer.kernel)
    assert grad.dtype == tf.float32 and np.all(np.isfinite(grad.numpy()))
