"""The unlabelled pool: non-query pairs whose labels no method may read."""

import json
import os

import h5py
import numpy as np
import pytest

from tests.helpers import run_cli, train_run
from tfhash.data.dataset import PairedDataset
from tfhash.data.pipeline import make_pipeline
from tfhash.data.protocols import make_splits
from tfhash.data.split import SplitView
from tfhash.data.synthetic import write_synthetic
from tfhash.errors import TfhashError
from tfhash.training.run_folder import read_codes


def test_labelled_size_splits_the_training_pairs():
    plain = make_splits("custom", 100, seed=3, query_size=20)
    pooled = make_splits("custom", 100, seed=3, query_size=20, labelled_size=30)
    # Same query/database draw; train (80 pairs) becomes 30 labelled + 50 unlabelled, disjoint.
    np.testing.assert_array_equal(plain["query"], pooled["query"])
    np.testing.assert_array_equal(plain["database"], pooled["database"])
    assert pooled["train"].size == 30 and pooled["unlabelled"].size == 50
    assert np.intersect1d(pooled["train"], pooled["unlabelled"]).size == 0
    np.testing.assert_array_equal(np.union1d(pooled["train"], pooled["unlabelled"]), plain["train"])
    again = make_splits("custom", 100, seed=3, query_size=20, labelled_size=30)
    np.testing.assert_array_equal(again["train"], pooled["train"])
    # The fixed Wikipedia split takes a seeded pool too.
    wiki = make_splits("wikipedia-standard", 10, seed=0, labelled_size=4, num_train=7)
    assert wiki["train"].size == 4 and wiki["unlabelled"].size == 3 and wiki["query"].tolist() == [7, 8, 9]
    for bad in (0, 80, 200):
        with pytest.raises(TfhashError):
            make_splits("custom", 100, seed=3, query_size=20, labelled_size=bad)


@pytest.fixture()
def pooled(tmp_path):
    path = os.path.join(tmp_path, "pooled.h5")
    write_synthetic(path, 300, query_size=50, labelled_size=100, seed=1, num_classes=4, image_dim=16, text_dim=12)
    return path


def test_pool_labels_are_unreadable_except_for_scoring(pooled):
    with PairedDataset(pooled) as ds:
        pool = ds.split("unlabelled")
        assert ds.has_pool and pool.size == 150 and ds.split("train").size == 100
        with pytest.raises(TfhashError, match="unlabelled pool"):
            ds.read("labels", pool[:1])
        with pytest.raises(TfhashError, match="unlabelled pool"):
            ds.read("labels", ds.split("database"))  # the database holds the pool
        view = SplitView(ds, "unlabelled", with_labels=True)
        assert view.images().shape == (150, 16) and view.texts().shape == (150, 12)
        with pytest.raises(TfhashError):
            view.labels()
        with pytest.raises(TfhashError):
            make_pipeline(ds, "unlabelled", batch_size=32, with_labels=True)
        assert ds.read("labels", ds.split("train")).shape == (100, 4)
        assert ds.ground_truth(pool).shape == (150, 4)


def _redraw_labels(path, out, rng, split="unlabelled"):
    """A copy of `path` whose labels of `split` are redrawn at random (other labels untouched)."""
    with open(path, "rb") as src, open(out, "wb") as dst:
        dst.write(src.read())
    with h5py.File(out, "r+") as f:
        pool = f[f"splits/{split}"][()]
        labels = f["labels"][()]
        redrawn = np.eye(labels.shape[1], dtype=np.uint8)[rng.integers(0, labels.shape[1], pool.size)]
        assert (redrawn != labels[pool]).any()
        labels[pool] = redrawn
        f["labels"][...] = labels
    return out


TUCH_SMALL = dict(bits=8, epochs=3, text_epochs=1, gan_epochs=1, batch_size=50, text_dim=16, text_hidden=(32,),
                  text_projection=16, noise_dim=8, generator_hidden=(32,), image_hidden=(32,), text_branch_dim=16,
                  discriminator_hidden=32)


@pytest.mark.parametrize("method,settings", [
    ("scm", dict(bits=8)),
    ("tuch", TUCH_SMALL),
])
def test_pool_labels_never_reach_a_method(tmp_path, pooled, method, settings):
    # Train on two files that differ only in the pool's labels: the codes must be identical.
    other = _redraw_labels(pooled, os.path.join(tmp_path, "other.h5"), np.random.default_rng(0))
    runs = [train_run(method, tmp_path, path, run_name=f"run{i}", **settings)[0] for i, path in enumerate((pooled, other))]
    codes = [read_codes(os.path.join(run, "codes.h5")) for run in runs]
    for key in ("query_image", "query_text", "database_image", "database_text"):
        np.testing.assert_array_equal(codes[0][key], codes[1][key], err_msg=key)
    # The scores do differ: evaluation reads the pool's (ground-truth) labels of the database.
    assert not np.array_equal(codes[0]["database_labels"], codes[1]["database_labels"])


def test_changing_training_labels_does_change_scm(tmp_path, pooled):
    # The control for the test above: the same comparison sees a change in the labelled split.
    other = _redraw_labels(pooled, os.path.join(tmp_path, "other.h5"), np.random.default_rng(0), split="train")
    runs = [train_run("scm", tmp_path, path, run_name=f"run{i}", bits=8)[0] for i, path in enumerate((pooled, other))]
    codes = [read_codes(os.path.join(run, "codes.h5")) for run in runs]
    assert not np.array_equal(codes[0]["query_image"], codes[1]["query_image"])


def test_cli_import_with_a_pool(tmp_path, shared_data_dir):
    out = os.path.join(tmp_path, "wiki.h5")
    result = run_cli("data", "import", "wikipedia", "--data-dir", os.path.join(shared_data_dir, "wikipedia"),
                     "--labelled-size", 500, "--seed", 2, "--out", out)
    assert result.exit_code == 0, result.output
    assert "train 500" in result.output and "unlabelled 1673" in result.output
    info = json.loads(run_cli("data", "info", out).output)
    assert info["split_sizes"] == {"train": 500, "unlabelled": 1673, "database": 2173, "query": 693}
    assert info["split_seed"] == 2


def test_tuch_stages_one_and_two_read_the_pool(tmp_path, pooled):
    from tfhash.methods.registry import get_method
    from tfhash.training.run import build_model

    with PairedDataset(pooled) as ds:
        for pretrain_on_pool, first_splits in ((True, "train+unlabelled"), (False, "train")):
            config = get_method("tuch").config_class(**TUCH_SMALL, pretrain_on_pool=pretrain_on_pool)
            model = build_model(get_method("tuch"), config, ds)
            model.prepare(SplitView(ds, "train"))
            assert [model.phase(e).split for e in range(3)] == [first_splits, first_splits, "train"]
            assert [model.phase(e).name for e in range(3)] == ["text", "gan", "hashing"]
        assert ds.split("train+unlabelled").size == 250
    # The pool's images and texts do reach stages 1-2: the codes differ from labelled-only pre-training.
    runs = [train_run("tuch", tmp_path, pooled, run_name=f"pool{flag}", **TUCH_SMALL, pretrain_on_pool=flag)[0]
            for flag in (True, False)]
    codes = [read_codes(os.path.join(run, "codes.h5")) for run in runs]
    assert not np.array_equal(codes[0]["query_image"], codes[1]["query_image"])
