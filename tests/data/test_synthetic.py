"""Synthetic data: shapes, determinism, and that it is learnable."""

import numpy as np
import pytest

from tfhash.data.dataset import PairedDataset
from tfhash.data.synthetic import make_synthetic, write_synthetic
from tfhash.errors import TfhashError


def test_shapes_and_kinds():
    d = make_synthetic(50, image_dim=20, text_dim=30, num_classes=4)
    assert d["images"].shape == (50, 20) and d["images"].dtype == np.float32
    assert d["bow"].shape == (50, 30) and d["bow"].min() >= 0 and (d["bow"].sum(axis=1) >= 8).all()
    assert d["labels"].shape == (50, 4) and (d["labels"].sum(axis=1) == 1).all()
    d = make_synthetic(60, image_kind="pixels", image_size=16, text_kind="both", max_tokens=9, vocab_size=40,
                       multilabel=True, num_classes=5)
    assert d["images"].shape == (60, 16, 16, 3) and d["images"].dtype == np.uint8
    assert d["tokens"].shape == (60, 9) and d["tokens"].max() <= 40 and len(d["vocabulary"]) == 40
    lengths = (d["tokens"] > 0).sum(axis=1)
    assert lengths.min() >= 2 and lengths.min() < lengths.max()  # ragged, so masking matters
    # Padding only at the end; bow counts the tokens.
    assert all((row[n:] == 0).all() and (row[:n] > 0).all() for row, n in zip(d["tokens"], lengths))
    np.testing.assert_array_equal(d["bow"].sum(axis=1), lengths)
    per_item = d["labels"].sum(axis=1)
    assert per_item.min() >= 1 and per_item.max() <= 3 and per_item.max() > 1


def test_deterministic_per_seed():
    a, b, c = (make_synthetic(80, seed=s, text_kind="tokens") for s in (4, 4, 5))
    for key in ("images", "tokens", "labels"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], c["images"])


def _precision_at_10(q, db, q_labels, db_labels):
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    db = db / np.linalg.norm(db, axis=1, keepdims=True)
    top = np.argsort(-q @ db.T, axis=1)[:, :10]
    return float(((q_labels @ db_labels.T) > 0)[np.arange(len(q))[:, None], top].mean())


@pytest.mark.parametrize("multilabel", [False, True])
def test_learnable_by_a_linear_map(multilabel):
    d = make_synthetic(1000, seed=0, multilabel=multilabel)
    train, query = slice(0, 800), slice(800, None)
    labels = d["labels"].astype(np.float64)

    def project(x):
        # Ridge regression of the train labels: a shared label space for both modalities.
        x = np.c_[x, np.ones(len(x))]
        w = np.linalg.solve(x[train].T @ x[train] + np.eye(x.shape[1]), x[train].T @ labels[train])
        return x @ w

    img, txt = project(d["images"].astype(np.float64)), project(d["bow"].astype(np.float64))
    chance = float(((labels[query] @ labels[train].T) > 0).mean())
    for q, db in ((img, txt), (txt, img)):
        p10 = _precision_at_10(q[query], db[train], labels[query], labels[train])
        assert p10 > min(0.9, chance + 0.5), (p10, chance)


def test_write_synthetic(tmp_path):
    path = write_synthetic(tmp_path / "syn.h5", 300, query_size=30, validation_size=20, seed=1,
                           image_kind="pixels", image_size=8, text_kind="tokens")
    with PairedDataset(path) as ds:
        assert ds.num_pairs == 300 and ds.image_shape == (8, 8, 3) and ds.max_tokens == 12
        assert {k: v.size for k, v in ds.splits.items()} == {"query": 30, "database": 270, "train": 250, "validation": 20}
        assert ds.split_seed == 1 and len(ds.vocabulary) == 200


def test_bad_arguments():
    with pytest.raises(TfhashError, match="unknown image kind"):
        make_synthetic(10, image_kind="video")
    with pytest.raises(TfhashError, match="n must be positive"):
        make_synthetic(0)
