"""The closed-form references (CCA-ITQ, SCM, CMFH) on raw-pixel datasets: pooled thumbnails, same at fit and encode."""

import numpy as np
import pytest

from tests.helpers import assert_beats_random, structured_dataset, train_run
from tfhash.methods.linear import PIXEL_GRID, pixel_vectors


def test_pixel_vectors_are_area_averages_in_unit_range():
    # 32 x 32 image: every 2 x 2 block averages to a known value; channel 2 constant 255
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, size=(PIXEL_GRID, PIXEL_GRID)).astype(np.float32)
    image = np.zeros((1, 2 * PIXEL_GRID, 2 * PIXEL_GRID, 3), np.float32)
    image[0, :, :, 0] = np.kron(blocks, np.ones((2, 2)))  # each block constant
    image[0, 0::2, 0::2, 1] = 255.0  # one pixel of four: average 255 / 4
    image[0, :, :, 2] = 255.0
    out = pixel_vectors(image).numpy().reshape(PIXEL_GRID, PIXEL_GRID, 3)
    np.testing.assert_allclose(out[..., 0], blocks / 255.0, atol=1e-6)
    np.testing.assert_allclose(out[..., 1], 0.25, atol=1e-6)
    np.testing.assert_allclose(out[..., 2], 1.0, atol=1e-6)
    assert pixel_vectors(image).shape == (1, PIXEL_GRID * PIXEL_GRID * 3)


@pytest.fixture(scope="module")
def pixel_data(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("pix"), n=300, query_size=60, image_kind="pixels",
                              image_size=32, text_dim=40, num_classes=4)


@pytest.mark.parametrize("method", ["cca-itq", "scm", "cmfh"])
def test_references_learn_on_pixels(method, pixel_data, tmp_path):
    """Trained on (N, 32, 32, 3) pixels, each reference's codes beat random codes by a wide margin."""
    _, report = train_run(method, tmp_path, pixel_data, bits=16)
    assert_beats_random(report, margin=0.15)


def test_encoding_pixels_equals_encoding_their_pooled_vectors(pixel_data):
    """The model's image encoder pools exactly as the fit did: codes of pixels = linear map of `pixel_vectors`."""
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.methods.registry import get_method
    from tfhash.training.run import build_model

    with PairedDataset(pixel_data) as dataset:
        train = SplitView(dataset, "train")
        cls = get_method("cca-itq")
        model = build_model(cls, cls.config_class(bits=16), dataset)
        model.fit_closed_form(train)
        images = train.images()[:20]
        vectors = model.image_vectors(images)
        assert vectors.shape == (20, PIXEL_GRID * PIXEL_GRID * 3)
        z = model.encode_image(images.astype(np.float32)).numpy()
        mean, scale = model.image_mean.numpy(), model.image_scale.numpy()
        expected = ((vectors - mean) / scale) @ model.image_projection.numpy() @ model.rotation.numpy()
        np.testing.assert_allclose(z, expected, rtol=1e-3, atol=1e-3)
