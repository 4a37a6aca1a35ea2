"""Conditional generators (shapes, ranges, dispatch) and the pixel helpers to_uint8 / save_image_grid."""

import os

import keras
import numpy as np
import pytest
from PIL import Image

from tfhash.errors import TfhashError
from tfhash.layers.generators import (conditional_generator, dcgan_generator, mlp_generator, save_image_grid,
                                      to_uint8)


def _inputs(n=2, noise_dim=3, text_dim=5):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, noise_dim)).astype(np.float32), rng.normal(size=(n, text_dim)).astype(np.float32)]


def _count(model, cls):
    return sum(isinstance(layer, cls) for layer in model.layers)


def test_dcgan_generator_doubles_the_size_per_step_and_outputs_tanh():
    keras.utils.set_random_seed(0)
    g = dcgan_generator(3, 5, image_size=16, channels=3, width=4, text_projection=2, name="g")
    images = g(_inputs()).numpy()
    assert images.shape == (2, 16, 16, 3) and np.all(np.abs(images) <= 1)
    assert _count(g, keras.layers.Conv2DTranspose) == 2  # 4 -> 8 -> 16
    # the text is compressed by a dense layer with leaky ReLU 0.2 before meeting z (GAN-INT-CLS)
    assert g.get_layer("g_text_projection").units == 2
    assert g.get_layer("g_text_lrelu").negative_slope == pytest.approx(0.2)
    with pytest.raises(TfhashError, match="4 \\* 2\\^k"):
        dcgan_generator(3, 5, image_size=12)


def test_mlp_generator_and_the_dispatch_by_output_rank():
    g = mlp_generator(3, 5, 7, widths=(6,), text_projection=2)
    assert g(_inputs()).shape == (2, 7) and _count(g, keras.layers.Dense) == 3  # projection, hidden, output
    images = conditional_generator((8, 8, 1), 3, 5, width=2, text_projection=2)
    assert images.output_shape == (None, 8, 8, 1) and _count(images, keras.layers.Conv2DTranspose) == 1
    features = conditional_generator((7,), 3, 5, widths=(6,), text_projection=2)
    assert features.output_shape == (None, 7) and _count(features, keras.layers.Conv2DTranspose) == 0
    with pytest.raises(TfhashError, match="square"):
        conditional_generator((8, 6, 3), 3, 5)
    with pytest.raises(TfhashError, match="feature vectors"):
        conditional_generator((2, 3), 3, 5)


def test_to_uint8_by_hand():
    # (x + 1) * 127.5, rounded half to even, clipped: -1 -> 0, -0.5 -> 63.75 -> 64, 0 -> 127.5 -> 128, 1 -> 255
    np.testing.assert_array_equal(to_uint8([-1.0, -0.5, 0.0, 1.0, 2.0, -3.0]), [0, 64, 128, 255, 255, 0])
    assert to_uint8([0.0]).dtype == np.uint8


def test_save_image_grid_places_cells_row_major(tmp_path):
    images = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (10, 20, 30)])
    path = save_image_grid(images, str(tmp_path / "grid.png"), columns=2, padding=1)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "RGB"
        grid = np.asarray(png)
    # 2 rows x 2 columns of 2 px cells, 1 px white padding: 2 * (2 + 1) + 1 = 7 px each way
    assert grid.shape == (7, 7, 3)
    expected = np.full((7, 7, 3), 255, np.uint8)
    expected[1:3, 1:3], expected[1:3, 4:6], expected[4:6, 1:3] = 10, 20, 30  # the fourth cell stays white
    np.testing.assert_array_equal(grid, expected)
    # default columns = ceil(sqrt(6)) = 3 -> 2 rows of 3 cells of 16 px with 2 px padding
    six = save_image_grid(np.zeros((6, 16, 16, 3), np.uint8), str(tmp_path / "six.png"))
    with Image.open(six) as png:
        assert png.size == (3 * 18 + 2, 2 * 18 + 2)
    gray = save_image_grid(np.zeros((1, 4, 4, 1), np.uint8), str(tmp_path / "gray.png"))
    with Image.open(gray) as png:
        assert png.mode == "L" and png.size == (8, 8)


def test_save_image_grid_rejects_bad_images(tmp_path):
    path = str(tmp_path / "bad.png")
    with pytest.raises(TfhashError, match="uint8"):
        save_image_grid(np.zeros((1, 4, 4, 3), np.float32), path)
    with pytest.raises(TfhashError, match="at least one"):
        save_image_grid(np.zeros((0, 4, 4, 3), np.uint8), path)
    assert not os.path.exists(path)
