"""Method registry: `tfhash train NAME` finds a method here."""

import importlib

import keras

from tfhash.errors import TfhashError

# Modules that define methods; imported on first lookup.
METHOD_MODULES = ("reference", "cmfh", "scm", "uch", "ugach", "sdch", "dvsh", "tuch")

_METHODS = {}


def register_method(name):
    """Class decorator: register a `Hasher` subclass as method `name` (and for Keras loading)."""

    def wrap(cls):
        cls.method_name = name
        _METHODS[name] = keras.saving.register_keras_serializable(package="tfhash")(cls)
        return cls

    return wrap


def _load_all():
    for module in METHOD_MODULES:
        try:
            importlib.import_module(f"tfhash.methods.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"tfhash.methods.{module}":
                raise


def method_names():
    """Names of every registered method."""
    _load_all()
    return sorted(_METHODS)


def get_method(name):
    """The `Hasher` class registered as `name`."""
    _load_all()
    if name not in _METHODS:
        raise TfhashError(f"unknown method '{name}' (known: {', '.join(sorted(_METHODS))})")
    return _METHODS[name]
