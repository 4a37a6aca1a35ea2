"""Input standardisation: chunked float64 statistics equal NumPy's, and the layer applies them."""

import numpy as np
import pytest

from tfhash.layers.normalization import Standardize, column_stats


@pytest.mark.parametrize("chunk", [1, 7, 1000, 16384])
def test_column_stats_equal_numpy_float64_bit_for_bit(chunk):
    rng = np.random.default_rng(chunk)
    x = (rng.standard_normal((2345, 37)) * 30 + 12).astype(np.float32)
    mean, scale = column_stats(x, epsilon=1e-6, chunk=chunk)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(mean, x64.mean(axis=0).astype(np.float32))
    np.testing.assert_array_equal(scale, (x64.std(axis=0) + 1e-6).astype(np.float32))


def test_standardize_layer_uses_training_statistics():
    x = np.random.default_rng(0).uniform(0, 5, size=(500, 6)).astype(np.float32)
    layer = Standardize()
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out, x)  # identity before fit
    out = np.asarray(layer.fit(x)(x))
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-4)
