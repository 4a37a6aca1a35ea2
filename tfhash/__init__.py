"""tfhash: deep cross-modal hashing in TensorFlow/Keras 3.

`import tfhash` registers every method with Keras, so `keras.models.load_model`
reads a tfhash `.keras` file; `tfhash.load_model(path)` takes a `.keras` file
or a run folder. TensorFlow's native INFO and WARNING logs stay off unless
`TF_CPP_MIN_LOG_LEVEL` is set (they bury tfhash's one-line errors in a terminal).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfhash.cli.quiet import import_tensorflow as _import_tensorflow  # noqa: E402
from tfhash.version import __version__  # noqa: E402

_import_tensorflow()  # without the native start-up notices TensorFlow writes to fd 2

from tfhash.methods.registry import method_names as _method_names  # noqa: E402
from tfhash.training.run_folder import load_model  # noqa: E402

_method_names()  # imports every method module: each registers its class with Keras

__all__ = ["load_model", "__version__"]
