"""Exported models: TF Serving SavedModels (`saved_model`) and `.keras` files (`keras_file`).

Importing this package registers every tfhash method with Keras, so that
`keras.models.load_model` reads any tfhash `.keras` file afterwards::

    import keras
    import tfhash.export

    model = keras.models.load_model("runs/RUN/model.keras")
    codes = model.hash_image(images)        # float ±1, (N, bits)

`load_model(path)` does the same in one call (path: a `.keras` file or a run folder).
"""

from tfhash.export.keras_file import load_model, register_methods
from tfhash.export.saved_model import ExportedModel, export_model, export_run

register_methods()

__all__ = ["ExportedModel", "export_model", "export_run", "load_model", "register_methods"]
