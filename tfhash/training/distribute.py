"""`--strategy default|mirrored|multiworker` as tf.distribute strategies."""

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
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        # NCCL is GPU-only; on CPU devices reduce through the host.
        cross = None if gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise TfhashError(f"unknown strategy '{name}' (known: {', '.join(STRATEGIES)})")
