"""tfhash: deep cross-modal hashing in TensorFlow/Keras 3."""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so `import tfhash` (and the CLI) does not pull in TensorFlow.
    if name == "load_model":
        from tfhash.export.keras_file import load_model

        return load_model
    raise AttributeError(f"module 'tfhash' has no attribute {name!r}")
