"""Shared test set-up: two logical CPU devices (for MirroredStrategy tests) and data paths."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Must happen before TensorFlow initialises its devices, so once, here.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # already initialised by an earlier import
    pass

DATA_DIR = os.environ.get(
    "TFHASH_DATA_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"),
)


@pytest.fixture(scope="session")
def shared_data_dir():
    """The shared real-data folder (`TFHASH_DATA_DIR`, default ../shared/data); skip where absent."""
    path = os.path.abspath(DATA_DIR)
    if not os.path.isdir(path):
        pytest.skip(f"real data not found at {path} (set TFHASH_DATA_DIR to the shared data folder)")
    return path
