"""mlp: widths, activations, dropout placement, names, and a forward pass worked out by hand."""

import keras
import numpy as np
import pytest

from tfhash.layers.towers import mlp


def _dense(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_widths_activations_and_names():
    model = mlp(3, (4, 5, 2), activation="relu", output_activation="tanh", name="tower")
    dense = _dense(model)
    assert [tuple(layer.kernel.shape) for layer in dense] == [(3, 4), (4, 5), (5, 2)]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "relu", "tanh"]
    assert [layer.name for layer in dense] == ["tower_dense0", "tower_dense1", "tower_dense2"]
    assert model.name == "tower" and model.input_shape == (None, 3) and model.output_shape == (None, 2)
    # the default output is linear; a shape as input_dim is kept as given
    assert _dense(mlp(3, (4, 2)))[-1].activation.__name__ == "linear"
    assert mlp((2, 3), (4,)).input_shape == (None, 2, 3)


@pytest.mark.parametrize("dropout, expected", [(0.0, 0), (0.5, 2)])
def test_dropout_only_after_hidden_layers(dropout, expected):
    model = mlp(3, (4, 5, 2), dropout=dropout, name="t")
    drops = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.name for layer in drops] == ["t_dropout0", "t_dropout1"][:expected]
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))  # inactive at inference


def test_forward_pass_by_hand():
    model = mlp(2, (2, 1))
    hidden, out = _dense(model)
    hidden.set_weights([np.eye(2, dtype=np.float32), np.array([0.0, 0.5], np.float32)])
    out.set_weights([np.array([[2.0], [3.0]], np.float32), np.array([-1.0], np.float32)])
    # (1, -2): h = relu(1, -1.5) = (1, 0) -> 2 - 1 = 1;  (-1, 1): h = (0, 1.5) -> 4.5 - 1 = 3.5
    np.testing.assert_allclose(model(np.array([[1.0, -2.0], [-1.0, 1.0]], np.float32)), [[1.0], [3.5]], rtol=1e-6)
    tanh = mlp(2, (2, 1), output_activation="tanh")
    tanh.set_weights(model.get_weights())
    np.testing.assert_allclose(tanh(np.array([[1.0, -2.0]], np.float32)), [[np.tanh(1.0)]], rtol=1e-6)
