"""Text-conditional generators G(z, t), and a way to look at what they make.

Both generators take ``[z, t]`` (noise (batch, noise_dim), text encoding
(batch, text_dim)) and follow Reed et al. (ICML 2016, GAN-INT-CLS): the text
encoding is first compressed by a dense layer with leaky ReLU (0.2), then
concatenated with z.

* `dcgan_generator`: the deconvolutional generator of DCGAN (Radford et
  al., 2016): dense -> 4x4x(8w) -> stride-2 transposed 4x4 convolutions
  halving the width and doubling the size, batch normalisation + ReLU,
  `tanh` output in [-1, 1]; 64x64x3 with 4 up-samplings (w = 64 in DCGAN).
* `mlp_generator`: the same API for feature vectors (dense + ReLU layers,
  linear output), for datasets that come as image features.

`conditional_generator(output_shape, ...)` picks one by the output rank.
`to_uint8` and `save_image_grid` turn generated pixels into a PNG.
"""

import math

import keras
import numpy as np

from tfhash.atomic import atomic_path
from tfhash.errors import require
from tfhash.layers.dense import Dense


def _conditioning(noise_dim, text_dim, text_projection, name):
    z = keras.Input(shape=(int(noise_dim),), name=f"{name}_noise")
    t = keras.Input(shape=(int(text_dim),), name=f"{name}_text")
    p = Dense(int(text_projection), name=f"{name}_text_projection")(t)
    p = keras.layers.LeakyReLU(0.2, name=f"{name}_text_lrelu")(p)
    return [z, t], keras.layers.Concatenate(name=f"{name}_concat")([z, p])


def dcgan_generator(noise_dim, text_dim, *, image_size=64, channels=3, width=64, text_projection=128,
                    name="generator"):
    """G(z, t) -> images (batch, image_size, image_size, channels) in [-1, 1]."""
    steps = int(round(math.log2(image_size / 4))) if image_size >= 8 else 0
    require(steps >= 1 and 4 * 2 ** steps == image_size,
            f"a DCGAN generator makes 4 * 2^k pixel squares (8, 16, 32, 64, ...), not {image_size}")
    inputs, x = _conditioning(noise_dim, text_dim, text_projection, name)
    filters = width * 2 ** (steps - 1)
    x = Dense(4 * 4 * filters, use_bias=False, name=f"{name}_project")(x)
    x = keras.layers.Reshape((4, 4, filters), name=f"{name}_reshape")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn0")(x)
    x = keras.layers.ReLU(name=f"{name}_relu0")(x)
    for i in range(1, steps):
        filters //= 2
        x = keras.layers.Conv2DTranspose(max(filters, 1), 4, strides=2, padding="same", use_bias=False,
                                         name=f"{name}_deconv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    x = keras.layers.Conv2DTranspose(int(channels), 4, strides=2, padding="same", activation="tanh",
                                     name=f"{name}_deconv{steps}")(x)
    return keras.Model(inputs, x, name=name)


def mlp_generator(noise_dim, text_dim, output_dim, *, widths=(512, 512), text_projection=128, name="generator"):
    """G(z, t) -> feature vectors (batch, output_dim), linear output."""
    inputs, x = _conditioning(noise_dim, text_dim, text_projection, name)
    for i, w in enumerate(widths):
        x = Dense(int(w), activation="relu", name=f"{name}_dense{i}")(x)
    x = Dense(int(output_dim), name=f"{name}_output")(x)
    return keras.Model(inputs, x, name=name)


def conditional_generator(output_shape, noise_dim, text_dim, *, width=64, widths=(512, 512), text_projection=128,
                          name="generator"):
    """`dcgan_generator` for (H, W, C) outputs (square), `mlp_generator` for (D,) outputs."""
    output_shape = tuple(output_shape)
    if len(output_shape) == 3:
        require(output_shape[0] == output_shape[1], f"the DCGAN generator makes square images, not {output_shape}")
        return dcgan_generator(noise_dim, text_dim, image_size=output_shape[0], channels=output_shape[2],
                               width=width, text_projection=text_projection, name=name)
    require(len(output_shape) == 1, f"a generator makes images (H, W, C) or feature vectors (D,), not {output_shape}")
    return mlp_generator(noise_dim, text_dim, output_shape[0], widths=widths, text_projection=text_projection,
                         name=name)


def to_uint8(images):
    """Images in [-1, 1] (a generator's tanh range) -> uint8 in [0, 255]."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def save_image_grid(images, path, *, columns=None, padding=2):
    """Write uint8 images (n, H, W, 3) as one PNG grid, row-major, atomically; returns `path`.

    `columns` defaults to ceil(sqrt(n)); cells are separated by `padding`
    white pixels.
    """
    from PIL import Image

    images = np.asarray(images)
    require(images.ndim == 4 and images.shape[-1] in (1, 3) and images.dtype == np.uint8,
            f"save_image_grid needs uint8 images (n, H, W, 1 or 3), got {images.dtype} {images.shape}")
    n, h, w, c = images.shape
    require(n > 0, "save_image_grid needs at least one image")
    columns = int(columns or math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + padding) + padding, columns * (w + padding) + padding, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[top:top + h, left:left + w] = image
    with atomic_path(path) as tmp:
        Image.fromarray(grid[..., 0] if c == 1 else grid).save(tmp, format="PNG")
    return path
