"""Derived datasets: the validation split carved from training pairs, and per-seed re-splits."""

import os

import numpy as np
import pytest

from tests.helpers import structured_dataset
from tfhash.data.dataset import PairedDataset
from tfhash.data.protocols import make_custom_splits
from tfhash.data.resplit import reseeded_split, validation_split
from tfhash.errors import TfhashError


@pytest.fixture
def source(tmp_path):
    # 300 pairs: 50 queries, 250 database; train = 200 of them, validation 30 kept out of train
    return structured_dataset(tmp_path, n=300, query_size=50, image_dim=8, text_dim=6, num_classes=3,
                              train_size=200, validation_size=30)


def test_validation_split_uses_training_pairs_only(tmp_path, source):
    path = validation_split(source, os.path.join(tmp_path, "val.h5"), query_size=40, seed=1)
    with PairedDataset(source) as data, PairedDataset(path) as val:
        train_rows = data.split("train")
        assert val.num_pairs == 200 and val.ids(np.arange(200)) == data.ids(train_rows)
        # the same draw as make_custom_splits over the 200 training pairs with seed 1 (what the bench scripts used)
        expected = make_custom_splits(200, query_size=40, seed=1, labels=data.read("labels", train_rows))
        for name in ("query", "train", "database"):
            np.testing.assert_array_equal(val.split(name), expected[name])
        assert (val.split_seed, val.protocol) == (1, "custom")
        assert val.split("query").size == 40 and val.split("train").size == 160


def test_validation_split_default_size_and_stale_file_refused(tmp_path, source):
    path = os.path.join(tmp_path, "val.h5")
    validation_split(source, path)  # default: 200 train x 50 / 300 pairs = 33.3 -> 33 queries
    with PairedDataset(path) as val:
        assert val.split("query").size == 33
    assert validation_split(source, path) == path  # same request: reused
    with pytest.raises(TfhashError, match="holds another split"):
        validation_split(source, path, seed=7)


def test_reseeded_split_keeps_sizes_and_draws_with_the_seed(tmp_path, source):
    a = reseeded_split(source, os.path.join(tmp_path, "s3.h5"), 3)
    with PairedDataset(source) as data, PairedDataset(a) as new:
        assert {k: v.size for k, v in new.splits.items()} == {k: v.size for k, v in data.splits.items()}
        expected = make_custom_splits(300, query_size=50, train_size=200, validation_size=30, seed=3,
                                      labels=data.read("labels", np.arange(300)))
        for name, rows in expected.items():
            np.testing.assert_array_equal(new.split(name), rows)
        np.testing.assert_array_equal(new.read("images", np.arange(300)), data.read("images", np.arange(300)))
        assert new.split_seed == 3


def test_fixed_split_is_not_resplit(tmp_path):
    from tfhash.data.bundled import default_dataset_path

    with pytest.raises(TfhashError, match="fixed split 'wikipedia-standard'"):
        reseeded_split(default_dataset_path(), os.path.join(tmp_path, "w.h5"), 1)
