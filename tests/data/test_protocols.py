"""Split protocols: preset sizes, disjointness, determinism per seed."""

import numpy as np
import pytest

from tfhash.data.protocols import PROTOCOLS, make_custom_splits, make_splits, split_seed
from tfhash.errors import TfhashError

PRESETS = [
    ("mirflickr-dcmh", 20015, 2000, 10000),
    ("nuswide-dcmh", 30000, 2100, 10500),  # real NUS-WIDE is ~190k; sizes do not depend on it
    ("iapr-dcmh", 20000, 2000, 10000),
    ("coco-dcmh", 30000, 5000, 10000),
]


def _check(splits, n):
    q, db, tr = splits["query"], splits["database"], splits["train"]
    assert np.intersect1d(q, db).size == 0 and np.intersect1d(q, tr).size == 0
    assert np.union1d(q, db).size == n
    assert np.setdiff1d(tr, db).size == 0
    for idx in splits.values():
        assert np.all(np.diff(idx) > 0)  # sorted, no repeats


@pytest.mark.parametrize("name,n,queries,train", PRESETS)
def test_presets(name, n, queries, train):
    splits = make_splits(name, n, seed=0)
    assert splits["query"].size == queries and splits["train"].size == train
    assert splits["database"].size == n - queries
    _check(splits, n)
    again = make_splits(name, n, seed=0)
    other = make_splits(name, n, seed=1)
    for key in ("query", "train"):
        np.testing.assert_array_equal(splits[key], again[key])
        assert not np.array_equal(splits[key], other[key])
    assert split_seed(name, 7) == 7


def test_preset_overrides_and_whole_database_training():
    splits = make_splits("mirflickr-dcmh", 20015, seed=0, train_size="all", query_size=1000)
    assert splits["query"].size == 1000
    np.testing.assert_array_equal(splits["train"], splits["database"])


def test_wikipedia_standard_is_fixed():
    splits = make_splits("wikipedia-standard", 2866, seed=5)
    np.testing.assert_array_equal(splits["train"], np.arange(2173))
    np.testing.assert_array_equal(splits["database"], np.arange(2173))
    np.testing.assert_array_equal(splits["query"], np.arange(2173, 2866))
    assert split_seed("wikipedia-standard", 5) is None
    with pytest.raises(TfhashError, match="fixed split"):
        make_splits("wikipedia-standard", 2866, query_size=10)


def test_custom_with_validation():
    splits = make_custom_splits(500, query_size=50, train_size=200, validation_size=40, seed=2)
    assert [splits[k].size for k in ("query", "database", "train", "validation")] == [50, 450, 200, 40]
    _check(splits, 500)
    assert np.intersect1d(splits["validation"], splits["train"]).size == 0
    assert np.intersect1d(splits["validation"], splits["query"]).size == 0
    full = make_custom_splits(500, query_size=50, validation_size=40, seed=2)
    assert full["train"].size == 410


def test_unlabeled_rows_never_become_queries():
    labels = np.zeros((100, 3), np.uint8)
    labels[:20, 1] = 1
    splits = make_custom_splits(100, query_size=19, seed=0, labels=labels)
    assert splits["query"].max() < 20
    with pytest.raises(TfhashError, match=r"only 20 of 100 pairs can be queries"):
        make_custom_splits(100, query_size=20, seed=0, labels=labels)


def test_bad_requests():
    with pytest.raises(TfhashError, match=r"unknown protocol 'flickr' \(known: coco-dcmh, coco-dvsh, coco-tuch, custom, iapr-dcmh"):
        make_splits("flickr", 100)
    with pytest.raises(TfhashError, match="need a query size"):
        make_splits("custom", 100)
    with pytest.raises(TfhashError, match="train size 5000 exceeds"):
        make_splits("custom", 1000, query_size=100, train_size=5000)
    with pytest.raises(TfhashError, match="leaves no database"):
        make_splits("mirflickr-dcmh", 1500)
    assert set(PROTOCOLS) >= {"mirflickr-dcmh", "nuswide-dcmh", "iapr-dcmh", "coco-dcmh", "wikipedia-standard"}
