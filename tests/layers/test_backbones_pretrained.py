"""Image backbones: weights from a local file, each network's own preprocessing, the offline ImageNet error."""

import os
import urllib.error

import keras
import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.layers.backbones import ImagenetPreprocess, backbone_outputs, image_backbone


def _pixels(n, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.float32)


def test_weights_file_written_from_keras_applications_reproduces_its_outputs(tmp_path):
    keras.utils.set_random_seed(3)
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(96, 96, 3),
                                               pooling="avg")
    path = str(tmp_path / "mobilenetv2.weights.h5")
    reference.save_weights(path)
    keras.utils.set_random_seed(4)  # a different random start: only the file can make them agree
    net = image_backbone((96, 96, 3), "mobilenetv2", weights=path)
    x = _pixels(3, 96)
    expected = reference.predict(keras.applications.mobilenet_v2.preprocess_input(x.copy()), verbose=0)
    # A randomly initialised MobileNetV2 pools to tiny values (about 1e-12 here): compare relative to them.
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(net.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5 * scale)
    random = image_backbone((96, 96, 3), "mobilenetv2", weights="none")
    assert np.abs(random.predict(x, verbose=0) - expected).max() > 0.1 * scale


@pytest.mark.parametrize("kind, module, pixel, expected", [
    # caffe mode: RGB -> BGR, minus the ImageNet mean (103.939, 116.779, 123.68) in BGR order
    ("resnet50", "resnet50", (10.0, 20.0, 30.0), (30 - 103.939, 20 - 116.779, 10 - 123.68)),
    ("vgg19", "vgg19", (10.0, 20.0, 30.0), (30 - 103.939, 20 - 116.779, 10 - 123.68)),
    # tf mode: x / 127.5 - 1
    ("mobilenetv2", "mobilenet_v2", (0.0, 127.5, 255.0), (-1.0, 0.0, 1.0)),
    # torch mode: (x / 255 - mean) / std, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
    ("densenet121", "densenet", (255.0, 0.0, 127.5),
     ((1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.5 - 0.406) / 0.225)),
    # EfficientNet rescales inside the network: its preprocess_input is the identity
    ("efficientnetb0", "efficientnet", (10.0, 20.0, 30.0), (10.0, 20.0, 30.0)),
])
def test_each_network_gets_its_own_preprocessing(kind, module, pixel, expected):
    net = image_backbone((32, 32, 3), kind)
    layer = net.get_layer("preprocess")
    assert layer.network == module
    out = keras.ops.convert_to_numpy(layer(np.full((1, 2, 2, 3), pixel, np.float32)))
    np.testing.assert_allclose(out[0, 0, 0], expected, rtol=1e-5, atol=1e-5)


def test_vgg_fc7_is_4096_d_at_224_px_and_pool_is_512_d():
    assert backbone_outputs("vgg19") == ("pool", "fc6", "fc7")
    assert backbone_outputs("resnet50") == ("pool",)
    fc7 = image_backbone((64, 64, 3), "vgg16", output="fc7")  # resized to the 224 px the fc layers need
    assert fc7.output_shape == (None, 4096)
    assert fc7.get_layer("resize").output.shape[1:] == (224, 224, 3)
    assert image_backbone((64, 64, 3), "vgg19").output_shape == (None, 512)
    with pytest.raises(TfhashError, match="no output 'fc7'"):
        image_backbone((64, 64, 3), "resnet50", output="fc7")


def test_preprocess_layer_round_trips_through_config():
    layer = ImagenetPreprocess("vgg19", name="p")
    clone = ImagenetPreprocess.from_config(layer.get_config())
    assert clone.network == "vgg19" and clone.name == "p"


def _offline(monkeypatch):
    from keras.src.utils import file_utils

    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils, "urlretrieve", refuse)


def test_failed_imagenet_fetch_is_one_clear_error(monkeypatch, capsys):
    cache = os.path.join(os.path.expanduser("~"), ".keras", "models",
                         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5")
    if os.path.exists(cache):
        pytest.skip("ImageNet weights are cached here: no download happens")
    _offline(monkeypatch)
    with pytest.raises(TfhashError) as err:
        image_backbone((96, 96, 3), "mobilenetv2", weights="imagenet")
    assert str(err.value) == ("could not fetch ImageNet weights for mobilenetv2 (offline?): "
                              "pass --backbone-weights FILE or none")
    assert "Downloading" not in capsys.readouterr().out  # Keras' notice is held back when nothing arrives


def test_bad_weights_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(TfhashError, match="weights file not found"):
        image_backbone((32, 32, 3), "vgg16", weights=str(tmp_path / "missing.h5"))
    with pytest.raises(TfhashError, match="no ImageNet weights for alexnet-small"):
        image_backbone((32, 32, 3), "alexnet-small", weights="imagenet")
    other = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    with pytest.raises(TfhashError, match="cannot load backbone weights .* into vgg16"):
        image_backbone((32, 32, 3), "vgg16", weights=path)


def test_alexnet_weights_file_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    net = image_backbone((32, 32, 3), "alexnet-small", filters=(8, 8, 8, 8, 8))
    path = str(tmp_path / "alexnet.weights.h5")
    net.save_weights(path)
    keras.utils.set_random_seed(1)
    loaded = image_backbone((32, 32, 3), "alexnet-small", filters=(8, 8, 8, 8, 8), weights=path)
    x = _pixels(2, 32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), net.predict(x, verbose=0), atol=1e-6)


def test_resnet18_is_keras_hubs_resnet_backbone_with_512_d_output():
    import keras_hub

    net = image_backbone((64, 64, 3), "resnet18")
    assert net.output_shape == (None, 512)
    assert any(isinstance(layer, keras_hub.models.ResNetBackbone) for layer in net.layers)
    # ResNet-18 without its classifier: 11,186,112 weights (He et al. 2016), BN statistics included
    assert net.count_params() == 11_186_112


def test_failed_resnet18_preset_fetch_is_one_clear_error(monkeypatch, capsys):
    import requests
    from keras_hub.src.utils import preset_utils

    def refuse(handle, path=None, **kwargs):  # what kagglehub raises without network (requests' ConnectionError)
        raise requests.exceptions.ConnectionError("Failed to resolve 'api.kaggle.com'")

    monkeypatch.setattr(preset_utils.kagglehub, "model_download", refuse)
    with pytest.raises(TfhashError) as err:
        image_backbone((64, 64, 3), "resnet18", weights="imagenet")
    assert str(err.value) == ("could not fetch ImageNet weights for resnet18 (offline?): "
                              "pass --backbone-weights FILE or none")
    assert "Downloading" not in capsys.readouterr().out
