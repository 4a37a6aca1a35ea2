"""Exported models: TF Serving SavedModels (`saved_model`).

`.keras` files load with `tfhash.load_model(path)` or, after `import tfhash`,
with `keras.models.load_model(path)`.
"""

from tfhash.export.saved_model import ExportedModel, export_model, export_run
from tfhash.training.run_folder import load_model

__all__ = ["ExportedModel", "export_model", "export_run", "load_model"]
