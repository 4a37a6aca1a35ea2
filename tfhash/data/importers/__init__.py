"""Importers: real benchmark files and plain arrays -> one tfhash dataset file each."""

from tfhash.data.importers.arrays import import_arrays
from tfhash.data.importers.dcmh_mat import import_dcmh
from tfhash.data.importers.mirflickr import import_mirflickr_images, import_mirflickr_text
from tfhash.data.importers.wikipedia import import_wikipedia

__all__ = ["import_arrays", "import_dcmh", "import_mirflickr_images", "import_mirflickr_text", "import_wikipedia"]
