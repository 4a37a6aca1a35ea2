"""Image backbones for raw pixels: an AlexNet-style CNN and `keras.applications` networks.

`image_backbone(input_shape, kind=...)` returns a functional `keras.Model`
mapping pixel images, float32 in [0, 255] as the data pipeline delivers
them, to one feature vector per image. It holds the convolutional trunk
only: methods add their own fully connected layers (AlexNet's fc6-fc8)
and code layer on top::

    images = keras.Input((64, 64, 3))
    x = image_backbone((64, 64, 3), kind="alexnet-small", name="image_cnn")(images)
    x = keras.layers.Dense(4096, activation="relu")(x)

Kinds:

* ``alexnet``: conv1-conv5 of AlexNet as in SDCH's Table 1, for 227 x 227
  inputs (conv1 96 x 11 x 11 stride 4; conv2 256 x 5 x 5; conv3-4 384 x 3
  x 3; conv5 256 x 3 x 3; 3 x 3 / 2 max-pooling after conv1, conv2 and
  conv5; LRN after conv1 and conv2 (Krizhevsky et al.: k = 2, n = 5,
  alpha = 1e-4, beta = 0.75); ReLU throughout). Table 1 prints stride 4
  for conv2 and stride 0 for conv3-conv5, which cannot be meant (a 227
  input would shrink to nothing); we use AlexNet's stride 1 there.
  Output: the flattened pool5 map (6 x 6 x 256 at 227 px).
* ``alexnet-small``: the same layers for small images (32-128 px): conv1
  is 5 x 5 with stride 2 and every convolution pads to keep its size, so a
  64 px image gives a 3 x 3 x 256 pool5 map, the counterpart of AlexNet's
  6 x 6 at 227 px.
* ``mobilenetv2``, ``resnet50``, ``vgg16``, ``densenet121``,
  ``efficientnetb0``: the `keras.applications` network without its top,
  global-average-pooled, randomly initialised (``weights=None``; nothing is
  downloaded).

Pixels are rescaled inside the model: to [-1, 1] for the AlexNet kinds and
most applications; EfficientNet rescales its own [0, 255] input.
"""

import keras
import tensorflow as tf

#: AlexNet's (and Table 1's) convolution widths conv1..conv5.
ALEXNET_FILTERS = (96, 256, 384, 384, 256)

# kind -> (keras.applications constructor name, whether the network rescales [0, 255] itself)
_APPLICATIONS = {
    "mobilenetv2": ("MobileNetV2", False),
    "resnet50": ("ResNet50", False),
    "vgg16": ("VGG16", False),
    "densenet121": ("DenseNet121", False),
    "efficientnetb0": ("EfficientNetB0", True),
}

BACKBONES = ("alexnet", "alexnet-small") + tuple(_APPLICATIONS)


@keras.saving.register_keras_serializable(package="tfhash")
class LocalResponseNorm(keras.layers.Layer):
    """AlexNet's local response normalisation across channels: x / (k + alpha * sum_n x^2)^beta."""

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        return tf.nn.local_response_normalization(inputs, depth_radius=self.depth_radius, bias=self.bias,
                                                  alpha=self.alpha, beta=self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}


def _alexnet_trunk(x, filters, small, prefix):
    """conv1-conv5 with LRN after conv1 and conv2 and max-pooling after conv1, conv2, conv5."""
    if len(filters) != 5:
        raise ValueError(f"AlexNet-style backbones need 5 convolution widths, got {tuple(filters)}")
    kernels = ((5, 2) if small else (11, 4), (5, 1), (3, 1), (3, 1), (3, 1))
    for i, (width, (kernel, stride)) in enumerate(zip(filters, kernels), start=1):
        padding = "valid" if (i == 1 and not small) else "same"
        x = keras.layers.Conv2D(int(width), kernel, strides=stride, padding=padding, activation="relu",
                                name=f"{prefix}conv{i}")(x)
        if i in (1, 2):
            x = LocalResponseNorm(name=f"{prefix}lrn{i}")(x)
        if i in (1, 2, 5):
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"{prefix}pool{i}")(x)
    return keras.layers.Flatten(name=f"{prefix}flatten")(x)


def image_backbone(input_shape, kind="alexnet-small", *, filters=ALEXNET_FILTERS, name=None):
    """A `keras.Model` from pixel images (float32 in [0, 255]) to a flat feature vector.

    Args:
        input_shape: (height, width, channels) of one image.
        kind: one of `BACKBONES`.
        filters: conv1..conv5 widths of the AlexNet kinds (ignored by the others).
        name: model name (also prefixes the AlexNet layers' names).
    """
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"image_backbone needs (height, width, channels) images, got shape {input_shape}")
    if kind not in BACKBONES:
        raise ValueError(f"unknown image backbone '{kind}' (known: {', '.join(BACKBONES)})")
    prefix = f"{name}_" if name else ""
    images = keras.Input(shape=input_shape, name=f"{prefix}pixels")
    if kind in ("alexnet", "alexnet-small"):
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=f"{prefix}rescale")(images)
        outputs = _alexnet_trunk(x, filters, kind == "alexnet-small", prefix)
    else:
        constructor, rescales_itself = _APPLICATIONS[kind]
        x = images if rescales_itself else keras.layers.Rescaling(1.0 / 127.5, offset=-1.0,
                                                                   name=f"{prefix}rescale")(images)
        net = getattr(keras.applications, constructor)(include_top=False, weights=None, input_shape=input_shape,
                                                       pooling="avg")
        outputs = net(x)
    return keras.Model(images, outputs, name=name)
