"""A tiny registered method for plumbing tests: two tanh towers pulled together, with noise and B."""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfhash.layers.hashing import binarize
from tfhash.layers.towers import mlp
from tfhash.methods.base import Hasher
from tfhash.methods.registry import register_method
from tfhash.methods.config import HasherConfig, option


@dataclasses.dataclass
class ToyConfig(HasherConfig):
    bits: int = option(16, "Code length.")
    epochs: int = option(4, "Epochs.")
    batch_size: int = option(64, "Batch size.")
    noise: float = option(0.05, "Input noise (exercises the seed generator on resume).")
    hidden: tuple[int, ...] = option((32,), "Tower widths (a tuple setting: config.json stores it as a list).")


@register_method("toy-test")
class ToyHasher(Hasher):
    """Test-only method: paired towers with a similarity loss, input noise and epoch-end B."""

    config_class = ToyConfig

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        widths = [*self.config.hidden, self.bits]
        self.image_tower = mlp(self.image_shape[0], widths, output_activation="tanh", name="image_tower")
        self.text_tower = mlp(self.text_shape[0], widths, output_activation="tanh", name="text_tower")
        self.codes = self.add_weight(shape=(self.train_size, self.bits), initializer="zeros", trainable=False, name="B")
        self.seed_generator = keras.random.SeedGenerator(self.config.seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def build_optimizers(self):
        return {
            "image": (keras.optimizers.Adam(1e-2), self.image_tower.trainable_variables),
            "text": (keras.optimizers.Adam(1e-2), self.text_tower.trainable_variables),
        }

    @property
    def metrics(self):
        return [self.loss_tracker]

    def encode_image(self, images, training=False):
        return self.image_tower(images, training=training)

    def encode_text(self, texts, training=False):
        return self.text_tower(texts, training=training)

    def train_step(self, data):
        noisy = data["image"] + self.config.noise * keras.random.normal(tf.shape(data["image"]), seed=self.seed_generator)
        with tf.GradientTape(persistent=True) as tape:
            hi, ht = self.encode_image(noisy, True), self.encode_text(data["text"], True)
            sim = tf.matmul(hi, ht, transpose_b=True) / self.bits
            same = tf.eye(tf.shape(hi)[0])
            loss = tf.reduce_mean(tf.square(sim - (2 * same - 1) * 0.2 - same * 0.8)) + 0.1 * tf.reduce_mean(
                tf.square(hi - tf.gather(self.codes, data["index"])))
        self.step("image", loss, tape)
        self.step("text", loss, tape)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def end_epoch(self, epoch, train):
        codes = self.encode_split(train)
        self.codes.assign(binarize(codes["image"] + codes["text"]))

    def unified_codes(self):
        return np.asarray(self.codes.numpy())
