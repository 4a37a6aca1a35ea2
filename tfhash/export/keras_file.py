"""Loading a trained model's `.keras` file.

Keras rebuilds a saved model from its registered class. Every tfhash method
registers itself (`@register_method`) when its module is imported, so
before `keras.models.load_model` reads a tfhash `.keras` file the method
modules must have been imported. Two public ways:

    from tfhash.export import load_model
    model = load_model("runs/uch-64b-.../model.keras")   # or the run folder

    import keras
    import tfhash.export                                  # registers every method
    model = keras.models.load_model("runs/uch-64b-.../model.keras")

`import tfhash` alone does not import TensorFlow (it keeps the CLI quick), so
it does not register the methods.
"""

import os

from tfhash.errors import require


def register_methods():
    """Import every method module, registering its class with Keras; return the method names."""
    from tfhash.methods.registry import method_names

    return method_names()


def model_file(path):
    """`path` itself if it is a file, else RUN_DIR/model.keras."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
        require(os.path.exists(path), f"no trained model in {os.path.dirname(path)} (missing model.keras)")
    require(os.path.exists(path), f"model file not found: {path}")
    require(path.endswith(".keras"), f"{path} is not a .keras file")
    return path


def load_model(path):
    """The trained `Hasher` in a `.keras` file (or a run folder's `model.keras`), methods registered first.

    A damaged file raises a one-line `TfhashError` naming it (Keras itself
    may report a truncated archive as "file not found").
    """
    from tfhash.training.run_state import load_keras_file, require_finished

    register_methods()
    path = model_file(path)
    if os.path.basename(path) == "model.keras":  # a run's model: only once its training finished
        require_finished(os.path.dirname(os.path.abspath(path)))
    return load_keras_file(path)
