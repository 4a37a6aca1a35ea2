"""The packaged Wikipedia file: present, readable, identical to a fresh import."""

import os

import numpy as np

from tfhash.data.bundled import default_dataset_path
from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.wikipedia import import_wikipedia


def test_bundled_file_is_the_wikipedia_benchmark():
    path = default_dataset_path()
    assert os.path.isfile(path) and os.path.getsize(path) < 2_000_000
    with PairedDataset(path) as ds:
        assert ds.describe()["split_sizes"] == {"train": 2173, "database": 2173, "query": 693}
        assert ds.protocol == "wikipedia-standard" and ds.num_classes == 10


def test_bundled_file_matches_a_fresh_import(tmp_path, shared_data_dir):
    fresh = import_wikipedia(os.path.join(shared_data_dir, "wikipedia"), tmp_path / "wiki.h5")
    rows = np.arange(2866)
    with PairedDataset(default_dataset_path()) as a, PairedDataset(fresh) as b:
        for field in ("images", "bow", "labels"):
            np.testing.assert_array_equal(a.read(field, rows), b.read(field, rows))
        assert a.ids(rows) == b.ids(rows) and a.class_names == b.class_names
