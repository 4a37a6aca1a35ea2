"""ResNet-18 (He et al., CVPR 2016) built from Keras layers, from `keras.Input`.

Keras ships no ResNet-18, so it is written here: four stages of two basic
blocks (3x3 conv - BN - ReLU - 3x3 conv - BN, plus the identity, or a 1x1
strided projection when the shape changes), widths ``w, 2w, 4w, 8w``,
global average pooling. ``width=64`` is the published network (11.2 M
parameters); smaller widths keep CPU runs cheap.

Small inputs: the ImageNet stem (7x7 stride-2 conv + 3x3 stride-2 max pool)
divides the resolution by 4 before the first block, which leaves a 1x1 map
at the last stage for 32x32 images. ``stem="small"`` uses a single 3x3
stride-1 conv instead (the CIFAR variant of the paper, Sec. 4.2);
``stem="auto"`` picks it for inputs smaller than 64 pixels.

Functional API::

    resnet18((64, 64, 3), width=64, stem="auto")   # images -> (batch, 8 * width)
"""

import keras

from tfhash.errors import require

STEMS = ("auto", "imagenet", "small")
#: blocks per stage of ResNet-18
RESNET18_BLOCKS = (2, 2, 2, 2)


def _conv_bn(x, filters, kernel, stride, *, relu, name):
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                            kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def basic_block(x, filters, stride, *, name):
    """The two-conv residual block of ResNet-18/34 (projection shortcut when the shape changes)."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, relu=False, name=f"{name}_proj")
    y = _conv_bn(x, filters, 3, stride, relu=True, name=f"{name}_a")
    y = _conv_bn(y, filters, 3, 1, relu=False, name=f"{name}_b")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def resnet18(input_shape, *, width=64, stem="auto", blocks=RESNET18_BLOCKS, name="resnet18"):
    """A ResNet-18 feature extractor: images (batch, H, W, C) -> pooled features (batch, 8 * width).

    Inputs are used as given (rescale them first). `blocks` allows shallower
    variants of the same design; the default is ResNet-18's (2, 2, 2, 2).
    """
    require(len(input_shape) == 3, f"resnet18 needs (height, width, channels) inputs, got {tuple(input_shape)}")
    require(stem in STEMS, f"unknown ResNet stem '{stem}' (known: {', '.join(STEMS)})")
    require(width > 0, f"ResNet width must be positive, got {width}")
    if stem == "auto":
        stem = "small" if min(input_shape[:2]) < 64 else "imagenet"
    inputs = keras.Input(shape=tuple(input_shape), name=f"{name}_input")
    if stem == "imagenet":
        x = _conv_bn(inputs, width, 7, 2, relu=True, name=f"{name}_stem")
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    else:
        x = _conv_bn(inputs, width, 3, 1, relu=True, name=f"{name}_stem")
    for stage, count in enumerate(blocks):
        filters = width * 2 ** stage
        for b in range(count):
            stride = 2 if stage > 0 and b == 0 else 1
            x = basic_block(x, filters, stride, name=f"{name}_s{stage + 1}b{b + 1}")
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
    return keras.Model(inputs, x, name=name)
