"""Per-feature standardisation with statistics fitted on the training split.

`Standardize` keeps its mean and scale as non-trainable weights, so they
live in checkpoints and in the `.keras` file, and one layer object can be
shared by several functional networks that read the same input::

    standardize = Standardize(name="image_standardize")
    net_a = keras.Model(x, head_a(standardize(x)))      # x = keras.Input((128,))
    net_b = keras.Model(y, head_b(standardize(y)))
    standardize.fit(train_features)                      # before training (e.g. in `prepare`)
"""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="tfhash")
class Standardize(keras.layers.Layer):
    """(x - mean) / scale over the last axis; identity until `fit` is called."""

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.mean = self.add_weight(name="mean", shape=(dim,), initializer="zeros", trainable=False)
        self.scale = self.add_weight(name="scale", shape=(dim,), initializer="ones", trainable=False)

    def fit(self, data):
        """Set mean and scale (std + epsilon) from `data` (N, dim), a NumPy array."""
        data = np.asarray(data, dtype=np.float64).reshape(-1, self.mean.shape[0])
        self.mean.assign(data.mean(axis=0).astype(np.float32))
        self.scale.assign((data.std(axis=0) + self.epsilon).astype(np.float32))
        return self

    def call(self, inputs):
        return (ops.cast(inputs, self.compute_dtype) - self.mean) / self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
