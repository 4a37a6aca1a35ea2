"""The `tfhash` command end to end (train -> evaluate -> index -> search) and its bad-input errors."""

import json
import os

import numpy as np
import pytest

from tests.helpers import assert_one_line_error, structured_dataset
from tests.helpers import run_cli as run


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("data"), n=400, query_size=80, image_dim=20, text_dim=16,
                              num_classes=4)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, dataset):
    out = tmp_path_factory.mktemp("runs") / "cca"
    result = run("train", "cca-itq", "--dataset", dataset, "--out", out, "--bits", 16)
    assert result.exit_code == 0, result.output
    assert "i2t" in result.output and "random" in result.output
    return str(out)


def test_train_help_lists_paper_defaults():
    result = run("train", "cca-itq", "--help")
    assert result.exit_code == 0
    assert "--bits" in result.output and "--itq-iterations" in result.output and "default: 50" in result.output


def test_train_lists_methods():
    result = run("train", "--help")
    assert result.exit_code == 0 and "cca-itq" in result.output


def test_evaluate_rewrites_the_report(run_dir):
    os.remove(os.path.join(run_dir, "report.json"))
    result = run("evaluate", run_dir, "--R", 20)
    assert result.exit_code == 0, result.output
    report = json.load(open(os.path.join(run_dir, "report.json")))
    assert report["R"] == 20 and report["method"] == "cca-itq"
    result = run("evaluate", run_dir, "--R", "20,100", "--R", 7)
    assert result.exit_code == 0, result.output
    report = json.load(open(os.path.join(run_dir, "report.json")))
    assert report["Rs"] == [20, 100, 7] and list(report["map_at_rs"]) == ["20", "100", "7"]
    assert "MAP@100" in result.output
    result = run("evaluate", run_dir)  # default: 50 and 500
    assert json.load(open(os.path.join(run_dir, "report.json")))["Rs"] == [50, 500]


def test_index_and_search(run_dir):
    result = run("index", run_dir, "--modality", "text")
    assert result.exit_code == 0, result.output
    assert "indexed 320 text codes (16 bits, flat)" in result.output
    index_path = os.path.join(run_dir, "index-text.h5")
    result = run("search", index_path, "--run", run_dir, "--query", 0, "--query", 3, "-k", 5)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("query 0: ")
    distances = [int(hit.rsplit(":", 1)[1]) for hit in lines[0].split(": ", 1)[1].split()]
    assert len(distances) == 5 and distances == sorted(distances)


def test_search_with_raw_inputs_matches_stored_codes(run_dir, dataset, tmp_path):
    import h5py

    with h5py.File(dataset) as f:
        x = f["images"][()][f["splits/query"][()][:2]]
    np.save(tmp_path / "x.npy", x)
    index_path = os.path.join(run_dir, "index-text.h5")
    if not os.path.exists(index_path):
        run("index", run_dir)
    by_inputs = run("search", index_path, "--run", run_dir, "--inputs", tmp_path / "x.npy", "-k", 3)
    by_position = run("search", index_path, "--run", run_dir, "--query", 0, "--query", 1, "-k", 3)
    assert by_inputs.exit_code == 0, by_inputs.output
    assert by_inputs.output == by_position.output


def test_unknown_method_is_one_line():
    assert_one_line_error(run("train", "nosuch"), "unknown method 'nosuch'")


def test_missing_dataset_is_one_line(tmp_path):
    result = run("train", "cca-itq", "--dataset", tmp_path / "missing.h5", "--out", tmp_path / "r")
    assert_one_line_error(result, "not found")
    assert not os.path.exists(tmp_path / "r")


def test_nan_features_are_refused(tmp_path):
    from tfhash.data.dataset import write_dataset

    images = np.ones((6, 3))
    path = str(tmp_path / "bad.h5")
    write_dataset(path, images=images, bow=np.ones((6, 2)), labels=np.eye(2)[[0, 1, 0, 1, 0, 1]],
                  splits={"train": [0, 1, 2, 3], "query": [4, 5], "database": [0, 1, 2, 3]})
    import h5py

    with h5py.File(path, "r+") as f:
        f["images"][0, 0] = np.nan
    result = run("train", "cca-itq", "--dataset", path, "--out", tmp_path / "r", "--bits", 8)
    assert_one_line_error(result, "NaN")


def test_index_refuses_bits_not_multiple_of_8(tmp_path, dataset):
    out = tmp_path / "r12"
    assert run("train", "cca-itq", "--dataset", dataset, "--out", out, "--bits", 12).exit_code == 0
    assert_one_line_error(run("index", out), "multiple of 8")
    assert not os.path.exists(out / "index-text.h5")


def test_evaluate_missing_run_is_one_line(tmp_path):
    assert_one_line_error(run("evaluate", tmp_path / "nothing"), "not found")


def test_a_fresh_process_prints_only_the_error_line():
    """TensorFlow's native start-up notices on fd 2 must not bury the one-line error in a terminal."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "tfhash", "train", "no-such-method"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: unknown method")
