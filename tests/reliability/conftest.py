"""Fixtures of the fault-injection suite: small finished runs to damage, and ways to damage files."""

import os
import re
import shutil

import pytest

from tests.helpers import run_cli, structured_dataset
from tests.training import toy_method  # noqa: F401  (registers "toy-test")

CORRUPTIONS = ("truncated", "emptied", "garbage")


def corrupt(path, how):
    """Damage `path` in place: cut to half its size, to zero bytes, or overwritten with random bytes."""
    size = os.path.getsize(path)
    if how == "truncated":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif how == "emptied":
        open(path, "wb").close()
    elif how == "garbage":
        with open(path, "wb") as f:
            f.write(os.urandom(max(size, 64)))
    else:
        raise ValueError(how)


def snapshot(folder):
    """{relative path: (size, mtime_ns)} of everything under `folder` (to show a command wrote nothing)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.stat(path)
            out[os.path.relpath(path, folder)] = (st.st_size if name in files else 0, st.st_mtime_ns)
    return out


# Hidden temporaries of every tfhash writer, old names included (so the suite also runs on older code).
_TEMPORARY = re.compile(r"^\..*\.tmp(\.keras)?$|^\.tmp-export-")


def temporaries(folder):
    """tfhash temporaries anywhere under `folder`."""
    return sorted(os.path.relpath(os.path.join(root, n), folder)
                  for root, dirs, files in os.walk(folder) for n in dirs + files if _TEMPORARY.match(n))


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("rel-data"), n=200, query_size=40, image_dim=12, text_dim=10,
                              num_classes=4)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, dataset):
    """A finished cca-itq run with an index (never modified: tests damage copies)."""
    out = str(tmp_path_factory.mktemp("rel-runs") / "cca")
    result = run_cli("train", "cca-itq", "--dataset", dataset, "--out", out, "--bits", 8)
    assert result.exit_code == 0, result.output
    result = run_cli("index", out)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def killed_toy_run(tmp_path_factory, dataset):
    """A toy-method run stopped after its second of four epochs (checkpoints 1 and 2 on disk)."""
    from tfhash.training import checkpoint
    from tfhash.training.run import train

    out = str(tmp_path_factory.mktemp("rel-killed") / "toy")
    original = checkpoint.EpochCheckpoint.on_epoch_end

    def killed(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 == 2:
            raise KeyboardInterrupt

    mp = pytest.MonkeyPatch()
    mp.setattr(checkpoint.EpochCheckpoint, "on_epoch_end", killed)
    try:
        with pytest.raises(KeyboardInterrupt):
            train("toy-test", None, dataset_path=dataset, run_dir=out, evaluate=False, verbose=0)
    finally:
        mp.undo()
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path):
    """A private copy of the finished run."""
    dst = str(tmp_path / "run")
    shutil.copytree(finished_run, dst)
    return dst


@pytest.fixture
def killed_copy(killed_toy_run, tmp_path):
    dst = str(tmp_path / "toy")
    shutil.copytree(killed_toy_run, dst)
    return dst
