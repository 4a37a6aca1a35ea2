"""Closed-form methods whose hash functions are linear maps of standardised inputs (CCA-ITQ, SCM, CMFH).

Raw-pixel images are read as the vector of their area-averaged
`PIXEL_GRID` x `PIXEL_GRID` thumbnail per channel, scaled to [0, 1] (768
values for RGB): a linear map of 64 x 64 x 3 = 12,288 raw values would need
a covariance larger than the training sets these methods are benchmarked
on, and the papers compare deep methods on pixels with these references on
features. So the same pixel dataset serves every method of a benchmark.
"""

import numpy as np
import tensorflow as tf

from tfhash.errors import require
from tfhash.methods.base import Hasher


#: Side of the thumbnail raw-pixel images are averaged to (per channel) before the linear maps.
PIXEL_GRID = 16


def pixel_vectors(images, grid=PIXEL_GRID):
    """(N, H, W, C) pixels in [0, 255] -> (N, grid * grid * C) area averages in [0, 1] (float32 tensor)."""
    x = tf.image.resize(tf.cast(images, tf.float32) / 255.0, (grid, grid), method="area")
    return tf.reshape(x, (-1, grid * grid * int(x.shape[-1])))


def input_stats(x, standardize=True):
    """(mean, scale) per column of a (N, d) array: scale = std + 1e-6, or ones without `standardize` (centring only)."""
    return x.mean(0), (x.std(0) + 1e-6 if standardize else np.ones(x.shape[1]))


class LinearHasher(Hasher):
    """Codes sign(((x - mean) / scale) @ projection [@ rotation]) for each modality, solved in closed form.

    A subclass calls `build_linear_maps(width, rotation)` in `__init__`,
    solves its projections in `fit_closed_form`, and stores them with
    `set_linear_maps`. `width` is the projections' output width: the code
    length, or fewer directions that a shared (width, bits) `rotation` then
    spreads over the bits (CCA-ITQ).
    """

    closed_form = True

    @property
    def image_dim(self):
        """Width of the image vectors the maps read: the features, or a pixel image's `pixel_vectors`."""
        if len(self.image_shape) == 1:
            return self.image_shape[0]
        require(len(self.image_shape) == 3, f"{self.method_name} needs feature vectors or (H, W, C) pixel images")
        return PIXEL_GRID * PIXEL_GRID * self.image_shape[-1]

    def image_vectors(self, images, chunk=1024):
        """The rows the image maps read, as float64 NumPy: features as they are, pixel images pooled."""
        if len(self.image_shape) == 1:
            return np.asarray(images, dtype=np.float64)
        return np.concatenate([pixel_vectors(images[i:i + chunk]).numpy() for i in range(0, len(images), chunk)]
                              ).astype(np.float64)

    def build_linear_maps(self, width=None, rotation=False):
        """Create the non-trainable statistics and maps."""
        dx, dy = self.image_dim, self.text_shape[0]
        width = width or self.config.bits

        def state(name, shape):
            return self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False)

        self.image_mean, self.image_scale = state("image_mean", (dx,)), state("image_scale", (dx,))
        self.text_mean, self.text_scale = state("text_mean", (dy,)), state("text_scale", (dy,))
        self.image_projection = state("image_projection", (dx, width))
        self.text_projection = state("text_projection", (dy, width))
        self.rotation = state("rotation", (width, self.config.bits)) if rotation else None
        return state

    def set_linear_maps(self, image, text, rotation=None):
        """Store (mean, scale, projection) of each modality (and the rotation) as float32."""
        pairs = list(zip((self.image_mean, self.image_scale, self.image_projection), image))
        pairs += list(zip((self.text_mean, self.text_scale, self.text_projection), text))
        if rotation is not None:
            pairs.append((self.rotation, rotation))
        for var, value in pairs:
            var.assign(np.asarray(value).astype(np.float32))

    def _encode(self, x, mean, scale, projection):
        z = ((tf.cast(x, tf.float32) - mean) / scale) @ projection
        return z if self.rotation is None else z @ self.rotation

    def encode_image(self, images, training=False):
        if len(self.image_shape) == 3:
            images = pixel_vectors(images)
        return self._encode(images, self.image_mean, self.image_scale, self.image_projection)

    def encode_text(self, texts, training=False):
        return self._encode(texts, self.text_mean, self.text_scale, self.text_projection)
