"""The run path: train -> checkpoints -> model.keras -> codes.h5 -> report, and resume."""

import json
import os

import h5py
import keras
import numpy as np
import pytest

from tests.helpers import assert_beats_random, structured_dataset, train_run
from tests.training import toy_method  # noqa: F401  (registers "toy-test")
from tfhash.errors import TfhashError
from tfhash.training import checkpoint as checkpoint_module
from tfhash.training.run_folder import read_codes
from tfhash.training.run import evaluate_run, train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("data"), n=500, query_size=100, image_dim=24, text_dim=16,
                              num_classes=5)


def test_cca_itq_run_leaves_everything_behind(tmp_path, dataset):
    run_dir, report = train_run("cca-itq", tmp_path, dataset, bits=16)
    assert {"config.json", "model.keras", "codes.h5", "report.json"} <= set(os.listdir(run_dir))
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["method"] == "cca-itq" and config["config"]["bits"] == 16
    assert config["dataset"]["split_sizes"] == {"train": 400, "database": 400, "query": 100}
    for key in ("method", "bits", "dataset", "map_all", "map_at_r", "R", "random_codes_map",
                "queries_without_relevant", "plots"):
        assert key in report, key
    assert set(report["map_all"]) == {"i2t", "t2i", "i2i", "t2t"}
    assert report["database_codes"] == "out-of-sample"
    assert_beats_random(report, tasks=("i2t", "t2i", "i2i", "t2t"), margin=0.2)
    for plot in report["plots"].values():
        assert open(plot, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_codes_match_the_saved_model(tmp_path, dataset):
    run_dir, _ = train_run("toy-test", tmp_path, dataset, epochs=2)
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    with h5py.File(dataset) as f:
        rows = f["splits/query"][()]
        images = f["images"][()][rows]
    np.testing.assert_array_equal(np.asarray(model.hash_image(images)).astype(np.int8), codes["query_image"])


def test_unified_protocol_is_named_and_uses_b(tmp_path, dataset):
    run_dir, report = train_run("toy-test", tmp_path, dataset, epochs=1)
    unified = evaluate_run(run_dir, database_codes="unified")
    assert unified["database_codes"] == "unified"
    assert unified["map_all"]["i2t"] == unified["map_all"]["i2i"]  # one database code per item


def test_unified_protocol_refused_without_unified_codes(tmp_path, dataset):
    run_dir, _ = train_run("cca-itq", tmp_path, dataset, bits=8)
    with pytest.raises(TfhashError, match="no unified codes"):
        evaluate_run(run_dir, database_codes="unified")


def test_resume_after_kill_ends_where_an_uninterrupted_run_does(tmp_path, dataset, monkeypatch):
    full = train("toy-test", None, dataset_path=dataset, run_dir=str(tmp_path / "full"), verbose=0)

    original = checkpoint_module.EpochCheckpoint.on_epoch_end

    def killed_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end", killed_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train("toy-test", None, dataset_path=dataset, run_dir=str(tmp_path / "killed"), verbose=0)
    assert not os.path.exists(tmp_path / "killed" / "model.keras")
    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end", original)
    resumed = train("toy-test", None, dataset_path=dataset, run_dir=str(tmp_path / "killed"), resume=True, verbose=0)

    a, b = read_codes(os.path.join(full, "codes.h5")), read_codes(os.path.join(resumed, "codes.h5"))
    for key in ("query_image", "query_text", "database_image", "database_text", "database_unified"):
        np.testing.assert_array_equal(a[key], b[key])
    wa = keras.models.load_model(os.path.join(full, "model.keras")).get_weights()
    wb = keras.models.load_model(os.path.join(resumed, "model.keras")).get_weights()
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


def test_existing_run_is_not_overwritten(tmp_path, dataset):
    run_dir, _ = train_run("cca-itq", tmp_path, dataset, bits=8)
    with pytest.raises(TfhashError, match="already holds a run"):
        train("cca-itq", None, dataset_path=dataset, run_dir=run_dir)


def test_resume_refuses_other_settings(tmp_path, dataset):
    from tests.training.toy_method import ToyConfig

    run_dir, _ = train_run("toy-test", tmp_path, dataset, epochs=1)
    with pytest.raises(TfhashError, match="other settings"):
        train("toy-test", ToyConfig(epochs=1, bits=8), dataset_path=dataset, run_dir=run_dir, resume=True)


def test_mirrored_strategy_runs_on_two_replicas_and_resumes(tmp_path, dataset):
    run_dir, report = train_run("toy-test", tmp_path, dataset, strategy="mirrored", epochs=1)
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["strategy"] == "mirrored" and config["replicas"] == 2
    assert set(report["map_all"]) == {"i2t", "t2i", "i2i", "t2t"}
    from tests.training.toy_method import ToyConfig

    with pytest.raises(TfhashError, match="other settings"):  # a run continues on the replicas it started on
        train("toy-test", ToyConfig(epochs=1), dataset_path=dataset, run_dir=run_dir, resume=True)


def test_supervised_method_needs_labels(tmp_path):
    from tfhash.data.dataset import write_dataset
    from tfhash.training.run import _check_dataset

    class Supervised:
        text_field = "bow"
        needs_labels = True
        method_name = "x"

    path = str(tmp_path / "nolabels.h5")
    write_dataset(path, images=np.ones((4, 2)), bow=np.ones((4, 2)),
                  splits={"train": [0, 1], "query": [2], "database": [3]})
    from tfhash.data.dataset import PairedDataset

    with pytest.raises(TfhashError, match="labels are required"):
        _check_dataset(PairedDataset(path), Supervised)
