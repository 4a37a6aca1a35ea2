"""Standardize and column_stats: chunked float64 statistics equal NumPy's, the layer applies them and is saved."""

import os

import keras
import numpy as np
import pytest

from tfhash.layers.normalization import Standardize, column_stats, standardization_stats, zero_share

# mean (3, 5); deviations (-2, 0, 2) and (-3, -1, 4): std sqrt(8/3) and sqrt(26/3)
SMALL = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]], np.float32)
SMALL_MEAN = [3.0, 5.0]
SMALL_STD = [np.sqrt(8 / 3), np.sqrt(26 / 3)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_column_stats_by_hand_for_any_chunk(chunk):
    mean, scale = column_stats(SMALL, epsilon=0.5, chunk=chunk)  # 2 does not divide 3: a short last chunk
    assert mean.dtype == np.float32 and scale.dtype == np.float32
    np.testing.assert_allclose(mean, SMALL_MEAN, rtol=1e-7)
    np.testing.assert_allclose(scale, np.add(SMALL_STD, 0.5), rtol=1e-7)  # std + epsilon


@pytest.mark.parametrize("chunk", [1, 7, 1000, 16384, None])
def test_column_stats_equal_numpy_float64_bit_for_bit(chunk):
    rng = np.random.default_rng(chunk)
    x = (rng.standard_normal((2345, 37)) * 30 + 12).astype(np.float32)
    mean, scale = column_stats(x, epsilon=1e-6, chunk=chunk)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(mean, x64.mean(axis=0).astype(np.float32))
    np.testing.assert_array_equal(scale, (x64.std(axis=0) + 1e-6).astype(np.float32))


def test_standardize_layer_is_identity_until_fit_then_uses_the_statistics():
    layer = Standardize(epsilon=0.5)
    np.testing.assert_array_equal(layer(SMALL), SMALL)  # identity before fit
    assert layer.fit(SMALL) is layer
    np.testing.assert_allclose(layer.mean.numpy(), SMALL_MEAN, rtol=1e-7)
    np.testing.assert_allclose(layer.scale.numpy(), np.add(SMALL_STD, 0.5), rtol=1e-7)
    # (5 - 3) / (sqrt(8/3) + 0.5), (9 - 5) / (sqrt(26/3) + 0.5)
    np.testing.assert_allclose(layer(SMALL[2:]), [[2 / (SMALL_STD[0] + 0.5), 4 / (SMALL_STD[1] + 0.5)]], rtol=1e-6)
    assert not layer.trainable_weights  # statistics, not parameters


def test_standardize_layer_equals_numpy_on_random_features():
    x = np.random.default_rng(0).uniform(0, 5, size=(500, 6)).astype(np.float32)
    layer = Standardize()
    layer.build(x.shape)  # fit needs the layer built (as it is inside a model)
    out = np.asarray(layer.fit(x)(x))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(out, (x64 - x64.mean(0)) / (x64.std(0) + 1e-6), atol=1e-5)  # float32 arithmetic
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)


def test_standardize_is_saved_and_loaded_with_the_model(tmp_path):
    inputs = keras.Input((2,))
    layer = Standardize(epsilon=0.25, name="image_standardize")
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(layer(inputs)))
    layer.fit(SMALL)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    loaded = restored.get_layer("image_standardize")
    assert isinstance(loaded, Standardize) and loaded.epsilon == 0.25
    np.testing.assert_array_equal(loaded.mean.numpy(), layer.mean.numpy())
    np.testing.assert_array_equal(loaded.scale.numpy(), layer.scale.numpy())
    np.testing.assert_array_equal(restored(SMALL), model(SMALL))


# 20 x 3: column 0 is 1 on rows 0-1 only, column 1 is 2 on row 5 only, column 2 all zero: 57 of 60 zeros (0.95)
SPARSE = np.zeros((20, 3), np.float32)
SPARSE[:2, 0] = 1.0
SPARSE[5, 1] = 2.0


@pytest.mark.parametrize("chunk", [1, 3, None])
def test_zero_share_by_hand(chunk):
    assert zero_share(SPARSE, chunk=chunk) == 57 / 60
    assert zero_share(SMALL, chunk=chunk) == 0.0


def test_sparse_inputs_stay_raw_unless_asked():
    mean, scale = standardization_stats(SPARSE, standardize_sparse=False)
    np.testing.assert_array_equal(mean, [0, 0, 0])
    np.testing.assert_array_equal(scale, [1, 1, 1])
    # Standardised, the rare 1s of column 0 (p = 0.1) become (1 - 0.1) / 0.3 = 3: what raw inputs avoid.
    mean, scale = standardization_stats(SPARSE, standardize_sparse=True, epsilon=0.0)
    np.testing.assert_allclose(mean, [0.1, 0.1, 0.0], rtol=1e-6)
    np.testing.assert_allclose(scale, [0.3, np.sqrt(0.19), 0.0], rtol=1e-6)
    # Dense inputs are standardised either way.
    for flag in (False, True):
        mean, scale = standardization_stats(SMALL, standardize_sparse=flag, epsilon=0.0)
        np.testing.assert_allclose(mean, SMALL_MEAN, rtol=1e-7)
        np.testing.assert_allclose(scale, SMALL_STD, rtol=1e-7)


def test_standardize_layer_left_identity_on_sparse_inputs():
    layer = Standardize()
    layer.build(SPARSE.shape)
    np.testing.assert_array_equal(layer.fit(SPARSE, standardize_sparse=False)(SPARSE), SPARSE)
    assert not np.allclose(layer.fit(SPARSE)(SPARSE), SPARSE)  # the default still standardises
