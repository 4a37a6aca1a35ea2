"""Closed-form methods whose hash functions are linear maps of standardised inputs (CCA-ITQ, SCM, CMFH)."""

import numpy as np
import tensorflow as tf

from tfhash.errors import require
from tfhash.methods.base import Hasher


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

    def build_linear_maps(self, width=None, rotation=False):
        """Create the non-trainable statistics and maps (feature-vector inputs only)."""
        require(len(self.image_shape) == 1, f"{self.method_name} needs image feature vectors, not raw pixels")
        dx, dy = self.image_shape[0], self.text_shape[0]
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
        return self._encode(images, self.image_mean, self.image_scale, self.image_projection)

    def encode_text(self, texts, training=False):
        return self._encode(texts, self.text_mean, self.text_scale, self.text_projection)
