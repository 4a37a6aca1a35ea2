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


def column_stats(data, epsilon=1e-6, chunk=None):
    """Per-column mean and std + `epsilon` of `data` (N, dim), as float32, in float64 a chunk of rows at a time.

    Equal to `data.astype(float64).mean(0)` / `.std(0)` (rows are summed in the
    same order), without the float64 copy of the whole array: at 190,000 x
    4096 features that copy alone is 6 GB. `chunk` rows default to about
    32 MB of float64 (1,024 rows of 4096-d features): a chunk is held twice.
    """
    return standardization_stats(data, True, epsilon, chunk)


#: An input with at least this share of exact zeros counts as sparse (bags of tags or words).
SPARSE_ZERO_SHARE = 0.9


def _chunk_rows(data, chunk):
    return chunk or max(1, 2**22 // max(1, int(data.shape[1])))


def zero_share(data, chunk=None):
    """Share of exactly-zero entries of `data` (N, dim), a chunk of rows at a time."""
    n, dim = data.shape
    chunk = _chunk_rows(data, chunk)
    zeros = sum(int(np.count_nonzero(data[start:start + chunk] == 0)) for start in range(0, n, chunk))
    return zeros / max(1, n * dim)


def standardization_stats(data, standardize_sparse=True, epsilon=1e-6, chunk=None):
    """(mean, scale) to standardise `data` (N, dim) per column (`column_stats`), or identity ones if it is
    sparse and not `standardize_sparse`: per-column scaling gives a 0/1 column that is 1 on a share p of
    rows the value about 1/sqrt(p), so the rarest tags would dominate a bag of tags.

    The zeros are counted in the pass that sums the columns: a sparse input is read once, a dense one twice.
    """
    n, dim = data.shape
    chunk = _chunk_rows(data, chunk)
    total, zeros = np.zeros(dim), 0
    for start in range(0, n, chunk):
        block = data[start:start + chunk]
        zeros += int(np.count_nonzero(block == 0))
        total = np.add.reduce(np.concatenate([total[None], block.astype(np.float64)]), axis=0)
    if not standardize_sparse and zeros >= SPARSE_ZERO_SHARE * n * dim:
        return np.zeros(dim, np.float32), np.ones(dim, np.float32)
    mean = total / n
    squares = np.zeros(dim)
    for start in range(0, n, chunk):
        deviation = data[start:start + chunk].astype(np.float64) - mean
        squares = np.add.reduce(np.concatenate([squares[None], deviation * deviation]), axis=0)
    return mean.astype(np.float32), (np.sqrt(squares / n) + epsilon).astype(np.float32)


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

    def fit(self, data, standardize_sparse=True):
        """Set mean and scale (std + epsilon) from `data` (N, dim): a NumPy array, or any 2-D array-like read
        a slice of rows at a time (e.g. `SplitView.rows_of`, which never loads the split whole). Without
        `standardize_sparse` a sparse `data` leaves the layer the identity (`standardization_stats`)."""
        if getattr(data, "ndim", None) != 2:
            data = np.asarray(data[:]).reshape(-1, self.mean.shape[0])  # [:] reads an array-like whole
        mean, scale = standardization_stats(data, standardize_sparse, self.epsilon)
        self.mean.assign(mean)
        self.scale.assign(scale)
        return self

    def call(self, inputs):
        return (ops.cast(inputs, self.compute_dtype) - self.mean) / self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
