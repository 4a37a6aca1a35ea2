"""The base class of every hashing method: a Keras model with two encoders."""

import keras
import numpy as np
import tensorflow as tf

from tfhash.layers.hashing import binarize
from tfhash.methods.config import HasherConfig


def _scaled(gradient, scale):
    """`gradient * scale`, keeping an embedding's sparse (IndexedSlices) gradient sparse."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * scale, gradient.indices, gradient.dense_shape)
    return gradient * scale


class OptimizerSet(dict):
    """The method's optimizers by name.

    A plain dict subclass on purpose: Keras' `.keras` saving walks Keras
    containers, and optimizer state belongs in training checkpoints, not in
    the inference model file.
    """


class Hasher(keras.Model):
    """A cross-modal hashing method.

    Subclasses build their sub-networks in `__init__` from `keras.Input`
    (so every variable exists before `fit`, as `MirroredStrategy` needs),
    implement `encode_image` / `encode_text` (continuous codes, shape
    `(batch, bits)`), `build_optimizers`, and `train_step`.

    Args:
        config: the method's config dataclass (or its dict form).
        image_shape: shape of one image input, e.g. `(128,)` or `(64, 64, 3)`.
        text_shape: shape of one text input, e.g. `(1386,)` (BoW) or `(25,)` (tokens).
        num_classes: label width (supervised methods).
        vocabulary_size: number of token ids incl. padding 0 (token-sequence methods).
        train_size: number of training pairs (methods with per-item state).
    """

    config_class = HasherConfig
    #: which text input the method reads: "bow" or "tokens"
    text_field = "bow"
    needs_labels = False
    #: closed-form methods implement `fit_closed_form` instead of `train_step`
    closed_form = False
    #: methods that learn codes B for the training items (UCH, SDCH)
    learns_unified_codes = False

    def __init__(self, config=None, *, image_shape, text_shape, num_classes=None, vocabulary_size=None,
                 train_size=None, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = self.config_class()
        elif isinstance(config, dict):
            config = self.config_class.from_dict(config)
        self.config = config.validate()
        self.image_shape = tuple(image_shape)
        self.text_shape = tuple(text_shape)
        self.num_classes = num_classes
        self.vocabulary_size = vocabulary_size
        self.train_size = train_size
        self._optimizer_set = OptimizerSet()

    # --- serialisation ----------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "config": self.config.to_dict(),
            "image_shape": list(self.image_shape),
            "text_shape": list(self.text_shape),
            "num_classes": self.num_classes,
            "vocabulary_size": self.vocabulary_size,
            "train_size": self.train_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- encoding -----------------------------------------------------------
    @property
    def bits(self):
        return self.config.bits

    def encode_image(self, images, training=False):
        """Continuous codes (batch, bits) of image inputs."""
        raise NotImplementedError

    def encode_text(self, texts, training=False):
        """Continuous codes (batch, bits) of text inputs."""
        raise NotImplementedError

    def hash_image(self, images):
        """±1 codes (float) of image inputs; sign(0) = +1."""
        return binarize(self.encode_image(images, training=False))

    def hash_text(self, texts):
        """±1 codes (float) of text inputs; sign(0) = +1."""
        return binarize(self.encode_text(texts, training=False))

    def call(self, inputs, training=False):
        return {
            "image": self.encode_image(inputs["image"], training=training),
            "text": self.encode_text(inputs["text"], training=training),
        }

    # --- training hooks -------------------------------------------------------
    def build_optimizers(self):
        """Return {name: (optimizer, variables it updates)}; called inside the strategy scope."""
        return {}

    def configure(self):
        """Create the optimizers, build each on its variables, and compile (inside `strategy.scope()`)."""
        for name, (optimizer, variables) in self.build_optimizers().items():
            optimizer.build(variables)
            self._optimizer_set[name] = optimizer
        self.compile(optimizer=None)  # the method's own optimizers update the weights
        self.built = True  # every variable exists since __init__
        return self

    @property
    def optimizers(self):
        """The method's optimizers by name (after `configure`)."""
        return self._optimizer_set

    def prepare(self, train):
        """Work before the first epoch (graphs, code initialisation); `train` is a `SplitView`."""

    def training_callbacks(self, train):
        """Extra Keras callbacks (e.g. the epoch-end B update)."""
        return []

    def unified_codes(self):
        """±1 codes B learned for the training items, or None."""
        return None

    def fit_closed_form(self, train):
        """Solve a closed-form method on the training split (`closed_form = True` only)."""
        raise NotImplementedError

    # --- evaluation hooks -----------------------------------------------------
    @classmethod
    def has_visualisations(cls, dataset_info):
        """Whether `write_visualisations` has anything to draw for a run on this dataset.

        `dataset_info` is the dataset summary of the run's config.json
        (`PairedDataset.describe()`: image_kind, image_shape, ...). Asked
        before the model file is loaded, so a method without figures costs
        evaluation nothing; default: no figures.
        """
        return False

    def write_visualisations(self, run_dir, dataset):
        """Write method-specific figures into `run_dir` after scoring; return {name: path} of what was written.

        Called by `evaluate_run` (`tfhash evaluate`, `tfhash train ... --evaluate`)
        with the trained model and the run's `PairedDataset`, only when
        `has_visualisations` said yes. Write files atomically. Default: nothing.
        """
        return {}

    # --- helpers for subclasses ---------------------------------------------
    @staticmethod
    def replica_mean(loss):
        """Scale a per-replica mean loss so that the optimizers' all-reduce SUM gives the global mean."""
        return loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)

    def apply(self, optimizer_name, loss, tape, variables):
        """One gradient step of optimizer `optimizer_name` on `variables` (per-replica `loss`)."""
        scale = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        grads = tape.gradient(loss, variables)
        pairs = [(_scaled(g, scale), v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            raise ValueError(f"loss for optimizer '{optimizer_name}' does not depend on its variables")
        self._optimizer_set[optimizer_name].apply_gradients(pairs)

    def encode_split(self, split_view, batch_size=256, modality="both", binary=False):
        """Encode a whole split in order; returns {"image": array, "text": array} (float32)."""
        image_fn = tf.function(self.hash_image if binary else self.encode_image, reduce_retracing=True)
        text_fn = tf.function(self.hash_text if binary else self.encode_text, reduce_retracing=True)
        out = {"image": [], "text": []}
        for batch in split_view.batches(batch_size):
            if modality in ("both", "image"):
                out["image"].append(image_fn(batch["image"]).numpy())
            if modality in ("both", "text"):
                out["text"].append(text_fn(batch["text"]).numpy())
        return {k: np.concatenate(v).astype(np.float32) for k, v in out.items() if v}
