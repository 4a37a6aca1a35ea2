"""ResNet-18: output width, stems, projection shortcuts, and the published parameter count."""

import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.layers.resnet import resnet18


def _names(model):
    return {layer.name for layer in model.layers}


def test_small_inputs_get_the_small_stem_and_8w_features():
    model = resnet18((32, 32, 3), width=4)
    assert model.output_shape == (None, 32)  # 8 * width
    assert "resnet18_pool" not in _names(model)  # "auto" picks the 3x3 stride-1 stem below 64 px
    # a 1x1 projection only where the shape changes: the first block of stages 2, 3, 4
    assert sorted(n for n in _names(model) if n.endswith("_proj_conv")) == [
        "resnet18_s2b1_proj_conv", "resnet18_s3b1_proj_conv", "resnet18_s4b1_proj_conv"]
    out = model(np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)).numpy()
    assert out.shape == (2, 32) and np.all(out >= 0)  # pooled ReLU outputs


def test_imagenet_stem_and_shallower_variants():
    assert "resnet18_pool" in _names(resnet18((64, 64, 3), width=2))  # auto at 64 px
    shallow = resnet18((16, 16, 3), width=2, blocks=(1, 1), stem="imagenet", name="r")
    assert shallow.output_shape == (None, 4) and "r_pool" in _names(shallow)  # 2 stages: 2 * width
    assert sum(n.endswith("_add") for n in _names(shallow)) == 2


def test_width_64_has_resnet18s_parameter_count():
    # torchvision's ResNet-18 has 11,689,512 parameters; without its 512 x 1000 + 1000 classifier: 11,176,512
    # (stem 9,408 + 128, stages 147,968 + 525,568 + 2,099,712 + 8,393,728). BN moving statistics are not parameters.
    model = resnet18((32, 32, 3), width=64, stem="imagenet")
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 11_176_512


def test_bad_arguments():
    with pytest.raises(TfhashError, match="stem"):
        resnet18((32, 32, 3), stem="cifar")
    with pytest.raises(TfhashError, match="width"):
        resnet18((32, 32, 3), width=0)
    with pytest.raises(TfhashError, match="height, width, channels"):
        resnet18((32, 32))
