"""Image backbones: AlexNet trunk output sizes, pixel rescaling, LRN by hand, bad arguments."""

import numpy as np
import pytest

from tfhash.errors import TfhashError

from tfhash.layers.backbones import BACKBONES, LocalResponseNorm, image_backbone

TINY = (4, 4, 4, 4, 8)  # conv1..conv5 widths small enough to build in a blink


def test_local_response_norm_by_hand():
    layer = LocalResponseNorm(depth_radius=1, bias=1.0, alpha=1.0, beta=1.0)
    x = np.array([[[[1.0, 2.0, 3.0]]]], np.float32)
    # x_c / (1 + sum of x^2 over channels c-1..c+1): 1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 9), 3 / (1 + 4 + 9)
    np.testing.assert_allclose(layer(x), [[[[1 / 6, 2 / 15, 3 / 14]]]], rtol=1e-6)
    restored = LocalResponseNorm.from_config(layer.get_config())
    assert (restored.depth_radius, restored.bias, restored.alpha, restored.beta) == (1, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("kind, size, flat", [
    ("alexnet-small", 64, 3 * 3 * 8),  # 64 -conv1 /2-> 32 -pool-> 15 -pool2-> 7 -pool5-> 3
    ("alexnet-small", 32, 1 * 1 * 8),  # 32 -> 16 -> 7 -> 3 -> 1
    ("alexnet", 227, 6 * 6 * 8),  # (227 - 11) / 4 + 1 = 55 -> 27 -> 13 -> 6, AlexNet's pool5
])
def test_alexnet_trunk_output_sizes(kind, size, flat):
    model = image_backbone((size, size, 3), kind=kind, filters=TINY, name="cnn")
    assert model.output_shape == (None, flat)
    assert [layer.name for layer in model.layers if isinstance(layer, LocalResponseNorm)] == ["cnn_lrn1", "cnn_lrn2"]
    # pixels in [0, 255] are rescaled to [-1, 1] inside the model
    np.testing.assert_allclose(model.get_layer("cnn_rescale")(np.array([0.0, 127.5, 255.0])), [-1, 0, 1], atol=1e-6)


def test_an_application_backbone_is_pooled_and_preprocessed():
    model = image_backbone((32, 32, 3), kind="mobilenetv2", name="net")
    assert model.output_shape == (None, 1280)  # MobileNetV2's last width, global-average-pooled
    assert model.get_layer("net_preprocess") is not None  # its own preprocess_input, inside the model
    assert set(BACKBONES) >= {"alexnet", "alexnet-small", "mobilenetv2", "resnet50", "vgg16"}


def test_bad_arguments():
    with pytest.raises(TfhashError, match="unknown image backbone"):
        image_backbone((32, 32, 3), kind="lenet")
    with pytest.raises(ValueError, match="5 convolution widths"):
        image_backbone((32, 32, 3), filters=(4, 4, 4, 4))
    with pytest.raises(TfhashError, match="height, width, 3"):
        image_backbone((32, 32))
