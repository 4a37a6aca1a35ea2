"""`tfhash.methods.optimizers.Adam`: Keras' Adam rule in one fused kernel per variable."""

import keras
import numpy as np
import tensorflow as tf

from tfhash.methods.optimizers import Adam


def _run(make, steps=6, distributed=False):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    grads = [[rng.normal(size=w.shape).astype("float32") for w in start] for _ in range(steps)]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if distributed else tf.distribute.get_strategy()
    with strategy.scope():
        variables = [keras.Variable(w) for w in start]
        optimizer = make()
        optimizer.build(variables)

    @tf.function
    def apply(gs):
        strategy.run(lambda: optimizer.apply_gradients(zip(
            [g / strategy.num_replicas_in_sync for g in gs], variables)))

    for gs in grads:
        apply([tf.constant(g) for g in gs])
    return [v.numpy() for v in variables], [m.numpy() for m in optimizer._momentums + optimizer._velocities]


def test_same_updates_as_keras_adam(monkeypatch):
    calls = _count_fused(monkeypatch)
    for kwargs in ({}, {"learning_rate": 0.01, "beta_1": 0.5, "epsilon": 1e-3}, {"weight_decay": 0.1}):
        ours = _run(lambda: Adam(**kwargs))
        theirs = _run(lambda: keras.optimizers.Adam(**kwargs))
        moved = np.abs(ours[0][0] - _run(lambda: Adam(**kwargs), steps=0)[0][0]).max()
        assert moved > 1e-3  # the weights moved, so equality below says something
        for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert calls


def _count_fused(monkeypatch):
    calls = []
    fused = tf.raw_ops.ResourceApplyAdam
    monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam", lambda **kw: (calls.append(1), fused(**kw))[1])
    return calls


def test_same_updates_under_mirrored_strategy(monkeypatch):
    calls = _count_fused(monkeypatch)
    ours = _run(Adam, distributed=True)
    assert calls  # the fused kernel, not Keras' fallback, ran on the replicas' variables
    theirs = _run(keras.optimizers.Adam)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_amsgrad_falls_back_to_keras():
    ours = _run(lambda: Adam(amsgrad=True))
    theirs = _run(lambda: keras.optimizers.Adam(amsgrad=True))
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_config_round_trip():
    opt = Adam(learning_rate=0.003, beta_1=0.5)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(again) is Adam and again.get_config() == opt.get_config()
