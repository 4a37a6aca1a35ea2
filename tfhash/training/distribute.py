"""`--strategy default|mirrored|multiworker` as tf.distribute strategies."""

import json
import os

import tensorflow as tf

from tfhash.errors import TfhashError
from tfhash.methods.config import STRATEGIES


def make_strategy(name="default"):
    """The tf.distribute strategy called `name`.

    `mirrored` replicates over every local GPU, or over the logical CPU
    devices when there is no GPU; `multiworker` reads the cluster from
    `TF_CONFIG` (a single local worker when it is unset).
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name in STRATEGIES:
        _check_tf_config()  # TensorFlow reads it for mirrored too, and fails with a traceback
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        # NCCL is GPU-only; on CPU devices reduce through the host.
        cross = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise TfhashError(f"unknown strategy '{name}' (known: {', '.join(STRATEGIES)})")


def _check_tf_config():
    """A set TF_CONFIG must be a JSON object (TensorFlow would fail with a traceback)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise TfhashError(f"TF_CONFIG is not JSON ({err}); set it to the cluster description, or unset it") from None
    if not isinstance(value, dict):
        raise TfhashError("TF_CONFIG must be a JSON object like {\"cluster\": ..., \"task\": ...}")
