"""tfhash: deep cross-modal hashing in TensorFlow/Keras 3.

`import tfhash` registers every method with Keras, so `keras.models.load_model`
reads a tfhash `.keras` file; `tfhash.load_model(path)` takes a `.keras` file
or a run folder.
"""

__version__ = "0.1.0"

from tfhash.cli.quiet import import_tensorflow as _import_tensorflow  # noqa: E402

_import_tensorflow()  # TensorFlow's native start-up notices stay out of the terminal

from tfhash.methods.registry import method_names as _method_names  # noqa: E402
from tfhash.training.run_folder import load_model  # noqa: E402

_method_names()  # imports every method module: each registers its class with Keras

__all__ = ["load_model", "__version__"]
