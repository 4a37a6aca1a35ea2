"""`--strategy default|mirrored|multiworker` as tf.distribute strategies."""

import contextlib
import json
import os

import tensorflow as tf

from tfhash.errors import TfhashError
from tfhash.methods.config import STRATEGIES
from tfhash.methods.state import across_workers, broadcast_first_replica


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


def is_chief(strategy):
    """Whether this process writes the run: always within one process; across workers, TensorFlow's chief.

    That is the `chief` task of `TF_CONFIG`'s cluster, or worker 0 of a
    cluster without one.
    """
    if not across_workers(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def share_chief_state(model, strategy, first_epoch):
    """Give every worker the chief's model and optimizer state and its first epoch; returns that epoch.

    Only the chief reads the run folder (a resumed run's checkpoint), so the
    other workers start from what it restored. Variables are created equal
    on every worker already; this also covers state a worker built by itself
    before training (`Hasher.prepare`).
    """
    if not across_workers(strategy):
        return first_epoch
    variables = list(model.variables) + [v for o in model.optimizers.values() for v in o.variables]
    (epoch,) = broadcast_first_replica(strategy, variables, [tf.constant(first_epoch, tf.int64)])
    return int(epoch)


@contextlib.contextmanager
def lost_workers_reported(strategy):
    """Turn the error a worker gets when another worker of its cluster dies into one line (resume advice)."""
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError) as err:
        if not across_workers(strategy):
            raise
        raise TfhashError(f"another worker of the cluster stopped or cannot be reached ({type(err).__name__}; its "
                          "output says why); start every worker again, with --resume to continue from the chief's "
                          "last checkpoint") from None


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
