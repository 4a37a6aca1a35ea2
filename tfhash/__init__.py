"""tfhash: deep cross-modal hashing in TensorFlow/Keras 3."""

__version__ = "0.1.0"
