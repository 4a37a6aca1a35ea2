"""Every kind of file tfhash reads, truncated, emptied or overwritten with garbage, under every command
that reads it: one `error:` line naming the file, exit 2, and nothing written."""

import os

import numpy as np
import pytest
import scipy.io

from tests.helpers import run_cli
from tests.reliability.conftest import CORRUPTIONS, corrupt, snapshot, temporaries


def assert_refused(result, name, stream="output"):
    """Exit 2, exactly one `error:` line (in all the output, or in `stream`), naming the damaged file."""
    lines = [line for line in getattr(result, stream).splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert name in lines[0], result.output


def _arrays(folder, n=60):
    rng = np.random.default_rng(0)
    paths = {"images": os.path.join(folder, "x.npy"), "texts": os.path.join(folder, "t.npy"),
             "labels": os.path.join(folder, "y.npy")}
    np.save(paths["images"], rng.normal(size=(n, 6)).astype(np.float32))
    np.save(paths["texts"], rng.integers(0, 2, size=(n, 5)).astype(np.float32))
    np.save(paths["labels"], rng.integers(0, 3, size=n))
    return paths


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("command", ["train", "info"])
def test_damaged_dataset(dataset, tmp_path, how, command):
    bad = str(tmp_path / "data.h5")
    with open(dataset, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read())
    corrupt(bad, how)
    before = snapshot(tmp_path)
    if command == "train":
        result = run_cli("train", "cca-itq", "--dataset", bad, "--out", tmp_path / "run", "--bits", 8)
    else:
        result = run_cli("data", "info", bad)
    assert_refused(result, "data.h5")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("kind", ["npy", "mat"])
def test_damaged_array_file_on_import(tmp_path, how, kind):
    paths = _arrays(str(tmp_path))
    if kind == "mat":
        source = str(tmp_path / "x.mat")
        scipy.io.savemat(source, {"X": np.load(paths["images"])})
        corrupt(source, how)
        images, name = source + ":X", "x.mat"
    else:
        corrupt(paths["images"], how)
        images, name = paths["images"], "x.npy"
    before = snapshot(tmp_path)
    result = run_cli("data", "import", "arrays", "--images", images, "--texts", paths["texts"],
                     "--labels", paths["labels"], "--query-size", 10, "--out", tmp_path / "out.h5")
    assert_refused(result, name)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_damaged_mat_on_dcmh_import(tmp_path, how):
    rng = np.random.default_rng(1)
    labels, texts, images = str(tmp_path / "l.mat"), str(tmp_path / "y.mat"), str(tmp_path / "i.mat")
    scipy.io.savemat(images, {"IAll": rng.normal(size=(50, 7))})
    scipy.io.savemat(labels, {"LAll": rng.integers(0, 2, size=(50, 4)).astype(np.float64)})
    scipy.io.savemat(texts, {"YAll": rng.integers(0, 2, size=(50, 6)).astype(np.float64)})
    corrupt(texts, how)
    before = snapshot(tmp_path)
    result = run_cli("data", "import", "dcmh", "--labels", labels, "--texts", texts, "--images", images,
                     "--protocol", "custom",
                     "--query-size", 5, "--out", tmp_path / "out.h5")
    assert_refused(result, "y.mat")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("damaged", ["ckpt", "latest"])
def test_damaged_checkpoint_on_resume(killed_copy, dataset, how, damaged):
    ckpt_dir = os.path.join(killed_copy, "checkpoints")
    corrupt(os.path.join(ckpt_dir, "ckpt-00002.h5" if damaged == "ckpt" else "latest"), how)
    before = snapshot(killed_copy)
    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", killed_copy, "--resume")
    assert_refused(result, "ckpt-00002.h5" if damaged == "ckpt" else "latest")
    assert snapshot(killed_copy) == before


def test_flipped_byte_in_checkpoint_is_caught_by_its_checksum(killed_copy, dataset):
    import h5py

    path = os.path.join(killed_copy, "checkpoints", "ckpt-00002.h5")
    with h5py.File(path, "r+") as f:
        ds = next(f["model"][k] for k in sorted(f["model"]) if f["model"][k].ndim >= 1)  # a weight, not a scalar
        value = ds[()]
        value.flat[0] += 1.0  # a well-formed file with one wrong number: only the checksum notices
        ds[...] = value
    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", killed_copy, "--resume")
    assert_refused(result, "ckpt-00002.h5")
    assert "checksum" in result.output


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("command", ["export", "search"])
def test_damaged_model_file(run_copy, tmp_path, how, command):
    corrupt(os.path.join(run_copy, "model.keras"), how)
    before = snapshot(tmp_path)
    if command == "export":
        result = run_cli("export", run_copy, "--out", tmp_path / "exported")
    else:
        inputs = str(tmp_path / "q.npy")
        np.save(inputs, np.zeros((2, 12), np.float32))
        before = snapshot(tmp_path)
        result = run_cli("search", os.path.join(run_copy, "index-text.h5"), "--run", run_copy, "--inputs", inputs)
    assert_refused(result, "model.keras")
    assert "damaged" in result.output and "not found" not in result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("command", ["evaluate", "export", "resume", "index"])
def test_damaged_config(run_copy, dataset, tmp_path, how, command):
    corrupt(os.path.join(run_copy, "config.json"), how)
    before = snapshot(tmp_path)
    args = {
        "evaluate": ("evaluate", run_copy),
        "export": ("export", run_copy, "--out", tmp_path / "exported"),
        "resume": ("train", "cca-itq", "--dataset", dataset, "--out", run_copy, "--resume", "--bits", 8),
        "index": ("index", run_copy, "--out", tmp_path / "run" / "new-index.h5"),
    }[command]
    result = run_cli(*args)
    assert_refused(result, "config.json")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", CORRUPTIONS)
@pytest.mark.parametrize("command", ["evaluate", "index", "search", "export"])
def test_damaged_codes(run_copy, tmp_path, how, command):
    corrupt(os.path.join(run_copy, "codes.h5"), how)
    before = snapshot(tmp_path)
    args = {
        "evaluate": ("evaluate", run_copy),
        "index": ("index", run_copy, "--out", tmp_path / "run" / "new-index.h5"),
        "search": ("search", os.path.join(run_copy, "index-text.h5"), "--run", run_copy, "--query", 0),
        "export": ("export", run_copy, "--out", tmp_path / "exported"),
    }[command]
    result = run_cli(*args)
    assert_refused(result, "codes.h5")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_damaged_index(run_copy, tmp_path, how):
    index = os.path.join(run_copy, "index-text.h5")
    corrupt(index, how)
    codes = str(tmp_path / "q.npy")
    np.save(codes, np.ones((1, 8), np.int8))
    before = snapshot(tmp_path)
    result = run_cli("search", index, "--codes", codes)
    assert_refused(result, "index-text.h5")
    assert snapshot(tmp_path) == before


def test_damaged_faiss_payload_is_caught_by_the_checksum(run_copy, tmp_path):
    import h5py

    index = os.path.join(run_copy, "index-text.h5")
    with h5py.File(index, "r+") as f:
        blob = f["faiss_index"][()]
        blob[-1] ^= 0xFF  # the last code byte: FAISS still reads the index, with a wrong code
        f["faiss_index"][...] = blob
    codes = str(tmp_path / "q.npy")
    np.save(codes, np.ones((1, 8), np.int8))
    result = run_cli("search", index, "--codes", codes)
    assert_refused(result, "index-text.h5")
    assert "checksum" in result.output


def test_no_temporaries_anywhere(tmp_path, run_copy):
    assert temporaries(run_copy) == []
