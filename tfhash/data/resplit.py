"""Datasets derived from another by new splits: the validation split model selection uses, and seeded re-splits.

Both write a new dataset file once (atomically) and return its path; an
existing file of that name is reused when its split seed and sizes are the
ones asked for, and refused otherwise (a stale file from other settings is
never silently trained on). Here rather than in `split.py`, which imports TensorFlow
through the pipeline.
"""

import os

import numpy as np

from tfhash.data.dataset import PairedDataset, write_dataset
from tfhash.data.protocols import make_custom_splits
from tfhash.errors import require

#: Seed of the validation split model selection uses (`tfhash benchmark --validation`, scripts/bench_*.py).
VALIDATION_SEED = 1

_FIELDS = ("images", "bow", "tokens", "labels")


def default_validation_queries(dataset):
    """Validation queries for `dataset`: the same share of its training pairs as its queries are of all its pairs."""
    train, query = dataset.split("train").size, dataset.split("query").size
    return max(1, int(round(train * query / dataset.num_pairs)))


def validation_split(source, path, *, query_size=None, seed=VALIDATION_SEED):
    """Carve a validation dataset from `source`'s training pairs only; returns `path`.

    `query_size` of the training pairs (default: `default_validation_queries`)
    become queries, drawn by `make_custom_splits` with `seed` (pairs without
    labels never become queries); the rest are train = database. The query
    labels of `source` are never read, so settings chosen here are chosen
    without looking at the test queries.
    """
    with PairedDataset(source) as data:
        rows = data.split("train")
        query_size = default_validation_queries(data) if query_size is None else int(query_size)
        if os.path.exists(path):
            return _reuse(path, seed, {"query": query_size, "database": rows.size - query_size})
        arrays = {k: data.read(k, rows) for k in _FIELDS if data.has_field(k)}
        splits = make_custom_splits(rows.size, query_size=query_size, seed=seed, labels=arrays.get("labels"))
        return write_dataset(path, **arrays, vocabulary=data.vocabulary, class_names=data.class_names,
                             ids=data.ids(rows), splits=splits, split_seed=seed, protocol="custom",
                             name=f"{data.name}-validation")


def reseeded_split(source, path, seed):
    """`source` (a `custom`-protocol dataset) with its splits drawn again with `seed`, same sizes; returns `path`.

    Query, train and validation sizes are kept; train is the whole database
    minus validation when it was so in `source`, else a draw of the same size.
    """
    with PairedDataset(source) as data:
        require(data.protocol == "custom",
                f"{data.name} has the fixed split '{data.protocol}'; only a custom-protocol dataset is re-split")
        sizes = {k: int(v.size) for k, v in data.splits.items()}
        if os.path.exists(path):
            return _reuse(path, seed, sizes)
        validation = sizes.get("validation", 0)
        train_size = None if sizes["train"] == sizes["database"] - validation else sizes["train"]
        rows = np.arange(data.num_pairs)
        labels = data.read("labels", rows) if data.has_labels else None
        splits = make_custom_splits(data.num_pairs, query_size=sizes["query"], train_size=train_size,
                                    validation_size=validation, seed=seed, labels=labels)
        arrays = {k: data.read(k, rows) for k in _FIELDS if data.has_field(k)}
        return write_dataset(path, **arrays, vocabulary=data.vocabulary, class_names=data.class_names,
                             ids=data.ids(rows), splits=splits, split_seed=seed, protocol="custom",
                             name=f"{data.name}-split{seed}")


def _reuse(path, seed, sizes):
    """`path` if it was drawn with `seed` and has split `sizes` (a subset of its splits); else one error line."""
    with PairedDataset(path) as old:
        found = {k: int(v.size) for k, v in old.splits.items()}
        same = old.split_seed == seed and all(found.get(k) == v for k, v in sizes.items())
    require(same, f"{path} holds another split (seed {old.split_seed}, sizes {found}); remove it to draw the "
                  f"one asked for (seed {seed}, sizes {sizes})")
    return path
