"""CCA-ITQ: the classical reference every deep method is compared with.

CCA maps both modalities to a common space (Hotelling 1936), then ITQ
(Gong et al., TPAMI 2013) rotates it so that signs lose the least. The
rotation is learned on the stacked projections of both modalities, so one
rotation serves image and text codes.

Choice where the method is silent: CCA gives at most min(d_image, d_text)
directions (10 on Wikipedia's LDA topics), fewer than most code lengths.
With ``feature_map="auto"`` each modality is first standardised and lifted
by random Fourier features (an RBF kernel approximation, width
``rff_dim``) whenever ``bits`` exceeds that minimum; ``linear`` never lifts
(and refuses such bit lengths), ``rff`` always lifts.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfhash.errors import require
from tfhash.methods.base import Hasher
from tfhash.methods.itq import cca, itq_rotation
from tfhash.methods.registry import register_method
from tfhash.training.config import HasherConfig, option


@dataclasses.dataclass
class CCAITQConfig(HasherConfig):
    epochs: int = option(1, "Unused (closed form); kept for a uniform CLI.")
    feature_map: str = option("auto", "linear, rff (random Fourier features) or auto (rff when bits > input dims).",
                              choices=("auto", "linear", "rff"))
    rff_dim: int = option(1024, "Random Fourier feature width per modality.")
    rff_gamma: float = option(0.0, "RBF gamma on standardised inputs; 0 = 1 / input dim.")
    cca_reg: float = option(1e-3, "Covariance regularisation, relative to the mean variance.")
    itq_iterations: int = option(50, "ITQ alternating iterations (Gong et al.: 50).")


@register_method("cca-itq")
class CCAITQ(Hasher):
    """Closed-form CCA + ITQ over features (image features and bag-of-words)."""

    config_class = CCAITQConfig
    closed_form = True

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        require(len(self.image_shape) == 1, "cca-itq needs image feature vectors, not raw pixels")
        cfg = self.config
        dx, dy = self.image_shape[0], self.text_shape[0]
        self.lifted = cfg.feature_map == "rff" or (cfg.feature_map == "auto" and cfg.bits > min(dx, dy))
        width_x = cfg.rff_dim if self.lifted else dx
        width_y = cfg.rff_dim if self.lifted else dy
        require(cfg.bits <= min(width_x, width_y),
                f"cca-itq can give at most {min(width_x, width_y)} bits here; use --feature-map rff or a larger --rff-dim")

        def state(name, shape):
            return self.add_weight(name=name, shape=shape, initializer="zeros", trainable=False)

        self.image_stats = [state("image_mean", (dx,)), state("image_scale", (dx,))]
        self.text_stats = [state("text_mean", (dy,)), state("text_scale", (dy,))]
        self.image_rff = [state("image_rff_w", (dx, width_x)), state("image_rff_b", (width_x,))] if self.lifted else []
        self.text_rff = [state("text_rff_w", (dy, width_y)), state("text_rff_b", (width_y,))] if self.lifted else []
        self.image_center = state("image_center", (width_x,))
        self.text_center = state("text_center", (width_y,))
        self.image_projection = state("image_projection", (width_x, cfg.bits))
        self.text_projection = state("text_projection", (width_y, cfg.bits))
        self.rotation = state("rotation", (cfg.bits, cfg.bits))

    # --- the feature map shared by fitting (NumPy) and encoding (TF) ----------
    @staticmethod
    def _lift(x, stats, rff, ops):
        x = (x - stats[0]) / stats[1]
        if rff:
            x = ops.cos(x @ rff[0] + rff[1]) * np.sqrt(2.0 / rff[1].shape[0])
        return x

    def _encode(self, x, stats, rff, center, projection):
        x = tf.cast(x, tf.float32)
        lifted = self._lift(x, [tf.convert_to_tensor(v) for v in stats], [tf.convert_to_tensor(v) for v in rff], tf.math)
        return (lifted - center) @ projection @ self.rotation

    def encode_image(self, images, training=False):
        return self._encode(images, self.image_stats, self.image_rff, self.image_center, self.image_projection)

    def encode_text(self, texts, training=False):
        return self._encode(texts, self.text_stats, self.text_rff, self.text_center, self.text_projection)

    # --- closed-form fit ------------------------------------------------------
    def _fit_map(self, x, stats, rff, rng):
        mean, scale = x.mean(0), x.std(0) + 1e-6
        stats[0].assign(mean.astype(np.float32))
        stats[1].assign(scale.astype(np.float32))
        if rff:
            d = x.shape[1]
            gamma = self.config.rff_gamma or 1.0 / d
            rff[0].assign((rng.standard_normal((d, rff[0].shape[1])) * np.sqrt(2 * gamma)).astype(np.float32))
            rff[1].assign(rng.uniform(0, 2 * np.pi, rff[1].shape[0]).astype(np.float32))
        return self._lift(x, [mean, scale], [np.asarray(v) for v in rff], np)

    def fit_closed_form(self, train):
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        fx = self._fit_map(train.images().astype(np.float64), self.image_stats, self.image_rff, rng)
        fy = self._fit_map(train.texts().astype(np.float64), self.text_stats, self.text_rff, rng)
        cx, cy = fx.mean(0), fy.mean(0)
        px, py, _ = cca(fx - cx, fy - cy, cfg.bits, reg=cfg.cca_reg)
        v = np.concatenate([(fx - cx) @ px, (fy - cy) @ py])
        rotation = itq_rotation(v, iterations=cfg.itq_iterations, seed=cfg.seed)
        for var, value in ((self.image_center, cx), (self.text_center, cy), (self.image_projection, px),
                           (self.text_projection, py), (self.rotation, rotation)):
            var.assign(value.astype(np.float32))
        return self
