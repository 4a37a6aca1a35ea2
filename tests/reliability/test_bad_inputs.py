"""Bad inputs found by the hostile-user pass (issue 16), one test per cause: each gives one `error:` line,
exit 2, before any work, and writes nothing."""

import fcntl
import json
import os
import shutil

import h5py
import numpy as np
import pytest

from tests.helpers import run_cli
from tests.reliability.conftest import snapshot
from tests.reliability.test_damaged_files import assert_refused


def _copy(dataset, tmp_path, name="d.h5"):
    path = str(tmp_path / name)
    shutil.copy(dataset, path)
    return path


def _train(dataset, out, *extra, method="cca-itq"):
    return run_cli("train", method, "--dataset", dataset, "--out", out, *(("--bits", 8) if method == "cca-itq" else ()),
                   *extra)


# --- cause 1: dataset files whose contents disagree -----------------------------------------------
def test_split_indices_past_the_data(dataset, tmp_path):
    bad = _copy(dataset, tmp_path)
    with h5py.File(bad, "r+") as f:
        query = f["splits/query"][()]
        query[-1] = 10_000
        f["splits/query"][...] = query
    before = snapshot(tmp_path)
    for result in (_train(bad, tmp_path / "run"), run_cli("data", "info", bad)):
        assert_refused(result, "split 'query' has rows outside 0..199")
    assert snapshot(tmp_path) == before


def test_fewer_text_rows_than_image_rows(dataset, tmp_path):
    bad = _copy(dataset, tmp_path)
    with h5py.File(bad, "r+") as f:
        bow = f["bow"][:150]
        del f["bow"]
        f["bow"] = bow
    before = snapshot(tmp_path)
    assert_refused(_train(bad, tmp_path / "run"), "200 images but 150 rows of bow")
    assert snapshot(tmp_path) == before


# --- cause 1: arrays on import ------------------------------------------------------------------
def _import(tmp_path, images, texts=None):
    paths = {}
    for name, value in (("images", images), ("texts", texts if texts is not None else np.ones((len(images), 4)))):
        paths[name] = str(tmp_path / f"{name}.npy")
        np.save(paths[name], value)
    return run_cli("data", "import", "arrays", "--images", paths["images"], "--texts", paths["texts"],
                   "--query-size", 4, "--out", tmp_path / "out.h5")


def test_non_numeric_arrays_are_refused_on_import(tmp_path):
    result = _import(tmp_path, np.array([["a", "b"]] * 20))
    assert_refused(result, "images must be numbers")
    assert not os.path.exists(tmp_path / "out.h5")


# --- cause 2: silent wrong results -------------------------------------------------------------
def test_complex_arrays_are_refused(tmp_path):
    result = _import(tmp_path, np.ones((20, 3)), texts=np.ones((20, 4)) + 1j)
    assert_refused(result, "complex")
    assert not os.path.exists(tmp_path / "out.h5")


def test_float_images_in_0_1_are_refused_not_stored_as_black(tmp_path):
    pixels = np.random.default_rng(0).random((20, 4, 4, 3))
    result = _import(tmp_path, pixels)
    assert_refused(result, "multiply by 255")
    assert "rescale" not in result.output
    assert not os.path.exists(tmp_path / "out.h5")


@pytest.mark.parametrize("split", ["query", "database"])
def test_nan_in_a_query_or_database_row_is_refused(dataset, tmp_path, split):
    bad = _copy(dataset, tmp_path)
    with h5py.File(bad, "r+") as f:
        row = int(f[f"splits/{split}"][0])
        train = np.setdiff1d(f["splits/train"][()], [row])  # the row is read only to be encoded, never trained on
        del f["splits/train"]
        f["splits/train"] = train
        images = f["images"][()]
        images[row, 0] = np.nan
        f["images"][...] = images
    before = snapshot(tmp_path)
    assert_refused(_train(bad, tmp_path / "run"), f"(row {row})")
    assert snapshot(tmp_path) == before


def test_latest_naming_a_missing_checkpoint_does_not_restart(killed_copy, dataset):
    os.remove(os.path.join(killed_copy, "checkpoints", "ckpt-00002.h5"))
    before = snapshot(killed_copy)
    assert_refused(_train(dataset, killed_copy, "--resume", method="toy-test"), "which is missing")
    assert snapshot(killed_copy) == before


# --- cause 3: never write over a file of another kind -------------------------------------------
def test_index_out_onto_codes_is_refused(run_copy):
    codes = os.path.join(run_copy, "codes.h5")
    with open(codes, "rb") as f:
        original = f.read()
    assert_refused(run_cli("index", run_copy, "--out", codes), "is not a tfhash binary index")
    with open(codes, "rb") as f:
        assert f.read() == original
    # An index may replace an index.
    result = run_cli("index", run_copy, "--out", os.path.join(run_copy, "index-text.h5"))
    assert result.exit_code == 0, result.output


def test_import_out_onto_an_index_is_refused(run_copy, tmp_path):
    index = os.path.join(run_copy, "index-text.h5")
    before = snapshot(run_copy)
    result = run_cli("data", "synthetic", "--n", 50, "--query-size", 5, "--out", index)
    assert_refused(result, "is not a tfhash dataset")
    assert snapshot(run_copy) == before


# --- cause 4: late checks ---------------------------------------------------------------------
def test_dataset_without_query_split_fails_before_training(dataset, tmp_path):
    bad = _copy(dataset, tmp_path)
    with h5py.File(bad, "r+") as f:
        del f["splits/query"]
    before = snapshot(tmp_path)
    assert_refused(_train(bad, tmp_path / "run", method="toy-test"), "no 'query' split")
    assert snapshot(tmp_path) == before


def test_absurd_bits_refused_before_building(dataset, tmp_path):
    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", tmp_path / "run", "--bits", 100_000_000)
    assert_refused(result, "use fewer --bits")
    assert not os.path.exists(tmp_path / "run")


# --- cause 5: a failed run does not look finished ---------------------------------------------
def test_failed_run_is_not_finished(dataset, tmp_path, monkeypatch):
    from tfhash.training import run_folder

    def disk_died(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(run_folder.RunFolder, "write_codes", disk_died)
    out = str(tmp_path / "run")
    assert run_cli("train", "cca-itq", "--dataset", dataset, "--out", out, "--bits", 8).exit_code == 2
    monkeypatch.undo()
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["finished"] is False
    for args in (("evaluate", out), ("export", out, "--out", tmp_path / "exp"), ("index", out)):
        assert_refused(run_cli(*args), "did not finish training")
    assert not os.path.exists(tmp_path / "exp")
    # Resuming completes it.
    result = run_cli("train", "cca-itq", "--dataset", dataset, "--out", out, "--bits", 8, "--resume")
    assert result.exit_code == 0, result.output
    with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["finished"] is True


# --- cause 7: one writer per run --------------------------------------------------------------
def test_second_writer_of_a_run_is_refused(killed_copy, dataset):
    with open(os.path.join(killed_copy, ".lock"), "a+") as held:  # as another process's flock would
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        before = snapshot(killed_copy)
        assert_refused(_train(dataset, killed_copy, "--resume", method="toy-test"), "in use by another tfhash process")
        assert snapshot(killed_copy) == before


# --- cause 1: TF_CONFIG -------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["mirrored", "multiworker"])
def test_tf_config_not_json(dataset, tmp_path, monkeypatch, strategy):
    monkeypatch.setenv("TF_CONFIG", "{cluster: nope")
    result = run_cli("train", "cca-itq", "--dataset", dataset, "--out", tmp_path / "run", "--bits", 8,
                     "--strategy", strategy)
    assert_refused(result, "TF_CONFIG is not JSON")
    assert not os.path.exists(tmp_path / "run")


# --- cause 6: option errors are one line ----------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("train", "cca-itq", "--bits", "many"),
    ("train", "toy-test", "--epochs", "1.5"),
    ("train", "cca-itq", "--dataset", "{tmp}"),              # a folder where a file goes
    ("train", "cca-itq", "--out", "{file}"),                 # a file where a folder goes
    ("evaluate", "{file}"),
    ("evaluate", "{tmp}", "--R", "0"),                        # out of range
    ("index", "{tmp}", "--kind", "kdtree"),
    ("index", "--model", "{file}"),
    ("search", "{tmp}"),
    ("search", "{file}", "-k", "0"),
    ("export", "{tmp}", "--version", "-1"),
    ("data", "synthetic", "--n", "x", "--out", "{tmp}/d.h5"),
    ("data", "synthetic", "--out", "{tmp}"),
    ("data", "import", "arrays", "--images", "a.npy"),      # missing --out
    ("--log-level", "loud", "data", "info", "{file}"),
])
def test_option_errors_are_one_line(tmp_path, args):
    file = tmp_path / "a-file"
    file.write_text("x")
    result = run_cli(*[a.format(tmp=tmp_path, file=file) for a in args])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Usage:" not in result.output
