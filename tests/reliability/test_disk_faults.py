"""A full disk (ENOSPC) or a read-only destination (EROFS/EACCES), simulated by making the writer fail
(tests run as root, where permissions are not enforced): one `error:` line, exit 2, no partial file under
a final name and no temporary left."""

import errno
import os

import h5py
import pytest

from tests.helpers import run_cli
from tests.reliability.conftest import snapshot, temporaries
from tests.reliability.test_damaged_files import assert_refused


def _disk_full(monkeypatch):
    def create_dataset(self, name, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5py.Group, "create_dataset", create_dataset)


def _read_only(monkeypatch, code=errno.EROFS):
    import tfhash.atomic

    def mkstemp(*args, dir=None, **kwargs):
        raise OSError(code, os.strerror(code), dir)

    monkeypatch.setattr(tfhash.atomic.tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("fault", ["full", "read-only", "no-permission"])
def test_import(tmp_path, monkeypatch, fault):
    {"full": _disk_full, "read-only": _read_only,
     "no-permission": lambda mp: _read_only(mp, errno.EACCES)}[fault](monkeypatch)
    result = run_cli("data", "synthetic", "--n", 60, "--query-size", 6, "--out", tmp_path / "d.h5")
    reason = {"full": "no space left", "read-only": "read-only", "no-permission": "permission denied"}[fault]
    assert_refused(result, f"cannot write {tmp_path / 'd.h5'}: ")
    assert reason in result.output
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_index(run_copy, monkeypatch, fault):
    before = snapshot(run_copy)
    (_disk_full if fault == "full" else _read_only)(monkeypatch)
    result = run_cli("index", run_copy, "--modality", "image")
    assert_refused(result, "index-image.h5")
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_evaluate(run_copy, monkeypatch, fault):
    before = snapshot(run_copy)
    if fault == "full":
        import tfhash.atomic

        def no_space(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(tfhash.atomic, "open", no_space, raising=False)  # report.json
        monkeypatch.setattr("matplotlib.figure.Figure.savefig", no_space)  # the plots
    else:
        _read_only(monkeypatch)
    result = run_cli("evaluate", run_copy)
    assert_refused(result, "cannot write")
    assert snapshot(run_copy) == before


def test_train_with_a_full_disk_leaves_an_unfinished_run_and_no_temporary(dataset, tmp_path, monkeypatch):
    _disk_full(monkeypatch)  # config.json is text and gets written; the first checkpoint is HDF5 and fails
    out = tmp_path / "run"
    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", out)
    assert_refused(result, "ckpt-00001.h5: no space left", stream="stderr")  # stdout has Keras' progress
    assert temporaries(out) == []
    assert not os.path.exists(out / "model.keras") and not os.path.exists(out / "codes.h5")
    monkeypatch.undo()
    assert_refused(run_cli("evaluate", out), "did not finish training")


def test_export_with_a_full_disk(run_copy, tmp_path, monkeypatch):
    import tfhash.export.saved_model as saved_model

    def copy_codes(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", dst)

    monkeypatch.setattr(saved_model, "_copy_codes", copy_codes)
    result = run_cli("export", run_copy, "--out", tmp_path / "exported")
    assert_refused(result, "no space left")
    assert os.listdir(tmp_path / "exported") == []
