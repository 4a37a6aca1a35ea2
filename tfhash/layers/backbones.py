"""Image backbones for raw pixels: an AlexNet-style CNN, `keras.applications` networks and ResNet-18.

`image_backbone(input_shape, kind=..., weights=..., output=...)` returns a
functional `keras.Model` mapping pixel images, float32 in [0, 255] as the
data pipeline delivers them (or uint8), to one feature vector per image.
Methods add their own layers (AlexNet's fc6-fc8, a code layer) on top::

    images = keras.Input((64, 64, 3))
    x = image_backbone((64, 64, 3), kind="alexnet-small", name="image_cnn")(images)
    x = Dense(4096, activation="relu")(x)

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
* ``mobilenetv2``, ``resnet50``, ``vgg16``, ``vgg19``, ``densenet121``,
  ``efficientnetb0``: the `keras.applications` network. ``output="pool"``
  (default): without its top, global-average-pooled. VGG16/VGG19 also give
  ``output="fc6"`` or ``"fc7"`` (Keras' ``fc1``/``fc2``, 4096-d, after
  ReLU): the features of the UGACH and UCH papers; these need the
  network's 224 x 224 input, so other sizes are resized inside the model.
* ``resnet18``: ResNet-18 (basic blocks 2-2-2-2, 512-d average pool; TUCH)
  from keras-hub's `ResNetBackbone`, whose ImageNet preset is
  ``resnet_18_imagenet`` (keras-hub is imported only when this kind is
  built). The keras-hub network keeps its ImageNet stem (7 x 7 / 2
  convolution and 3 x 3 / 2 max-pooling), so a 64 px image ends as a 2 x 2
  map before the pool.

Weights (``weights=``): ``"none"`` random initialisation; ``"imagenet"``
the ImageNet-pretrained weights, which Keras (keras-hub for resnet18)
downloads once and caches (``~/.keras/models``); a path to a weights file
of that network (for the applications: the file Keras itself would load,
e.g. ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` for ``pool``,
the full file for ``fc6``/``fc7``, or one written by ``save_weights``). The
AlexNet kinds have no ImageNet weights in Keras: they take a file only.

Pixels are preprocessed inside the model with each network's own
``keras.applications.<net>.preprocess_input`` (VGG and ResNet50: BGR minus
the ImageNet mean; MobileNetV2: [-1, 1]; DenseNet and ResNet-18: ImageNet
mean/std; EfficientNet: none, it rescales itself); the AlexNet kinds
rescale to [-1, 1]. ``image_size`` resizes (bilinear, after a centre crop
to the target's aspect ratio) to image_size x image_size first.
"""

import contextlib
import os
import sys

import keras
import tensorflow as tf

from tfhash.errors import TfhashError, require
from tfhash.layers.dense import Dense

#: AlexNet's (and Table 1's) convolution widths conv1..conv5.
ALEXNET_FILTERS = (96, 256, 384, 384, 256)

# kind -> (keras.applications constructor, keras.applications module holding its preprocess_input)
_APPLICATIONS = {
    "mobilenetv2": ("MobileNetV2", "mobilenet_v2"),
    "resnet50": ("ResNet50", "resnet50"),
    "vgg16": ("VGG16", "vgg16"),
    "vgg19": ("VGG19", "vgg19"),
    "densenet121": ("DenseNet121", "densenet"),
    "efficientnetb0": ("EfficientNetB0", "efficientnet"),
}
# Named outputs below the pooled trunk: paper name -> Keras layer name (VGG's top).
_VGG_FC = {"fc6": "fc1", "fc7": "fc2"}
#: Input side the ImageNet weights were trained at (and the fully connected layers need).
NATIVE_SIZE = 224
#: keras-hub's ResNet-18 configuration (He et al. 2016, Table 1) and its ImageNet preset.
RESNET18 = {"input_conv_filters": [64], "input_conv_kernel_sizes": [7],
            "stackwise_num_filters": [64, 128, 256, 512], "stackwise_num_blocks": [2, 2, 2, 2],
            "stackwise_num_strides": [1, 2, 2, 2], "block_type": "basic_block", "use_pre_activation": False}
RESNET18_PRESET = "resnet_18_imagenet"

BACKBONES = ("alexnet", "alexnet-small") + tuple(_APPLICATIONS) + ("resnet18",)
WEIGHTS = ("none", "imagenet")


def backbone_outputs(kind):
    """The `output` names `kind` offers: "pool", plus "fc6"/"fc7" for VGG."""
    return ("pool",) + (tuple(_VGG_FC) if kind in ("vgg16", "vgg19") else ())


def native_size(kind):
    """The square input side `kind` was designed for (227 AlexNet, 224 the others), None for alexnet-small."""
    return {"alexnet": 227, "alexnet-small": None}.get(kind, NATIVE_SIZE)


def fetch_error(kind):
    """The one-line error for an ImageNet download that failed."""
    return TfhashError(f"could not fetch ImageNet weights for {kind} (offline?): pass --backbone-weights FILE or none")


def _is_fetch_failure(err):
    # keras.utils.get_file turns URLError/HTTPError into a bare Exception("URL fetch failure ...") and a
    # bad checksum into ValueError("Incomplete or corrupted file ..."); sockets and caches raise OSError
    # (requests' ConnectionError, which keras-hub's Kaggle download raises, is one).
    text = str(err)
    return isinstance(err, OSError) or "URL fetch failure" in text or "corrupted file" in text


class _HoldDownloadNotice:
    """A stdout wrapper holding back Keras' "Downloading data from ..." line until the download progresses.

    Offline, the download fails before any progress, so the user sees only
    tfhash's one-line error; online, the notice appears with the progress bar.
    """

    def __init__(self, stream):
        self._stream = stream
        self._held = []

    def write(self, text):
        if text.startswith("Downloading data from"):
            self._held.append(text)
            return len(text)
        while self._held:
            self._stream.write(self._held.pop(0))
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _download_quietly(build):
    """`build()` with Keras' download notice held back (see `_HoldDownloadNotice`)."""
    with contextlib.redirect_stdout(_HoldDownloadNotice(sys.stdout)):
        return build()


def _weights_source(weights):
    """None (random), "imagenet" or an existing file path."""
    if weights is None or weights in ("", "none"):
        return None
    if weights == "imagenet":
        return "imagenet"
    path = os.fspath(weights)
    require(os.path.isfile(path), f"backbone weights file not found: {path} (use imagenet, none or a file)")
    return path


def _load_file(model, path, kind):
    """`model.load_weights(path)`, with a one-line error when the file is not that network's."""
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TfhashError(f"cannot load backbone weights {path} into {kind}: {first}") from None


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


@keras.saving.register_keras_serializable(package="tfhash")
class ImagenetPreprocess(keras.layers.Layer):
    """A network's own ImageNet preprocessing of [0, 255] RGB pixels.

    Args:
        network: a `keras.applications` module name (its `preprocess_input`
            is applied), or "torch" for ImageNet mean/std normalisation
            (keras-hub's ResNet presets).
    """

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = str(network)

    def call(self, inputs):
        x = tf.cast(inputs, self.compute_dtype)
        if self.network == "torch":
            return keras.applications.imagenet_utils.preprocess_input(x, mode="torch")
        return getattr(keras.applications, self.network).preprocess_input(x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "network": self.network}


def _application(kind, x, input_shape, weights, output):
    """The `keras.applications` network `kind` applied to preprocessed pixels `x`."""
    constructor, _ = _APPLICATIONS[kind]
    top = output in _VGG_FC
    try:
        net = _download_quietly(lambda: getattr(keras.applications, constructor)(
            include_top=top, weights=None if weights != "imagenet" else "imagenet", input_shape=input_shape,
            pooling=None if top else "avg"))
    except Exception as err:  # noqa: BLE001 - Keras reports a failed download as a bare Exception
        if weights == "imagenet" and _is_fetch_failure(err):
            raise fetch_error(kind) from None
        raise
    if weights not in (None, "imagenet"):
        _load_file(net, weights, kind)
    if top:
        net = keras.Model(net.inputs, net.get_layer(_VGG_FC[output]).output, name=f"{net.name}_{output}")
    return net(x)


def _resnet18(x, input_shape, weights):
    """keras-hub's ResNet-18 trunk, global-average-pooled to 512-d."""
    import keras_hub  # a dependency, imported here: it adds seconds to `import tfhash` and only resnet18 needs it
    if weights == "imagenet":
        try:
            net = _download_quietly(
                lambda: keras_hub.models.ResNetBackbone.from_preset(RESNET18_PRESET, image_shape=input_shape))
        except Exception as err:  # noqa: BLE001 - offline, requests raises ConnectionError (an OSError)
            source = type(err).__module__
            if _is_fetch_failure(err) or source.startswith(("kagglehub", "huggingface_hub")):
                raise fetch_error("resnet18") from None
            raise
    else:
        net = keras_hub.models.ResNetBackbone(**RESNET18, image_shape=input_shape)
        if weights is not None:
            _load_file(net, weights, "resnet18")
    return keras.layers.GlobalAveragePooling2D(name="resnet18_pool")(net(x))


def image_backbone(input_shape, kind="alexnet-small", *, filters=ALEXNET_FILTERS, weights="none", output="pool",
                   image_size=None, name=None):
    """A `keras.Model` from pixel images (values in [0, 255]) to a flat feature vector.

    Args:
        input_shape: (height, width, channels) of one image.
        kind: one of `BACKBONES`.
        filters: conv1..conv5 widths of the AlexNet kinds (ignored by the others).
        weights: "none" (random), "imagenet" (downloaded by Keras; TfhashError
            when the download fails) or a weights file of that network.
        output: "pool", or for VGG "fc6"/"fc7" (see `backbone_outputs`).
        image_size: resize (centre crop + bilinear) to this square side first;
            default: keep the input size, but 224 for VGG's fc outputs.
        name: model name (also prefixes the AlexNet layers' names).
    """
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise TfhashError(f"image backbones need (height, width, 3) pixel images, got shape {input_shape}")
    require(kind in BACKBONES, f"unknown image backbone '{kind}' (known: {', '.join(BACKBONES)})")
    require(output in backbone_outputs(kind),
            f"backbone {kind} has no output '{output}' (has: {', '.join(backbone_outputs(kind))})")
    weights = _weights_source(weights)
    require(not (weights == "imagenet" and kind.startswith("alexnet")),
            f"Keras has no ImageNet weights for {kind}: pass --backbone-weights FILE or none")
    if image_size is None and output in _VGG_FC:
        image_size = NATIVE_SIZE
    prefix = f"{name}_" if name else ""
    images = keras.Input(shape=input_shape, name=f"{prefix}pixels")
    x = images
    if image_size is not None and tuple(input_shape[:2]) != (int(image_size),) * 2:
        require(int(image_size) >= 32, f"image_size must be at least 32 pixels, got {image_size}")
        x = keras.layers.Resizing(int(image_size), int(image_size), crop_to_aspect_ratio=True,
                                  name=f"{prefix}resize")(x)
    net_shape = (int(image_size), int(image_size), 3) if image_size is not None else input_shape
    if kind in ("alexnet", "alexnet-small"):
        x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=f"{prefix}rescale")(x)
        model = keras.Model(images, _alexnet_trunk(x, filters, kind == "alexnet-small", prefix), name=name)
        if weights is not None:
            _load_file(model, weights, kind)
        return model
    if kind == "resnet18":
        x = ImagenetPreprocess("torch", name=f"{prefix}preprocess")(x)
        return keras.Model(images, _resnet18(x, net_shape, weights), name=name)
    x = ImagenetPreprocess(_APPLICATIONS[kind][1], name=f"{prefix}preprocess")(x)
    return keras.Model(images, _application(kind, x, net_shape, weights, output), name=name)
