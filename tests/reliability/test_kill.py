"""kill -9 at several points of train, import, index and export, then the next command: no partial file
under a final name, no temporary left, and training resumes to the uninterrupted result."""

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.helpers import assert_same_h5, run_cli
from tests.reliability.conftest import temporaries

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def killed(point, *args):
    """Run `tfhash ARGS` in a subprocess killed with SIGKILL at `point` (see kill_at.py)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "tests.reliability.kill_at", point, "--", *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def _finished(run_dir):
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        return json.load(f)["finished"]


@pytest.fixture(scope="module")
def whole_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "toy"
    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", out, "--no-evaluate")
    assert result.exit_code == 0, result.output
    return str(out)


@pytest.mark.parametrize("point", [
    "write:/model/00000:2",  # halfway through writing the second checkpoint
    "replace:codes.h5",      # model.keras written, codes.h5 complete but not yet renamed
])
def test_train_killed_then_resumed_ends_where_the_whole_run_ends(dataset, tmp_path, whole_run, point):
    out = str(tmp_path / "toy")
    killed(point, "train", "toy-test", "--dataset", dataset, "--out", out, "--no-evaluate")
    assert temporaries(out), "the kill should have left a temporary (else this test shows nothing)"
    assert not os.path.exists(os.path.join(out, "codes.h5"))
    assert _finished(out) is False
    # The next command that touches the folder removes them, and an unfinished run is refused.
    result = run_cli("evaluate", out)
    assert result.exit_code == 2 and "did not finish training" in result.output
    assert temporaries(out) == []

    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", out, "--resume", "--no-evaluate")
    assert result.exit_code == 0, result.output
    assert temporaries(out) == [] and _finished(out) is True
    assert_same_h5(os.path.join(whole_run, "checkpoints", "ckpt-00004.h5"), os.path.join(out, "checkpoints", "ckpt-00004.h5"))
    assert_same_h5(os.path.join(whole_run, "codes.h5"), os.path.join(out, "codes.h5"))


@pytest.mark.parametrize("point", ["write:/images:1", "replace:d.h5"])
def test_import_killed(tmp_path, point):
    out = tmp_path / "d.h5"
    killed(point, "data", "synthetic", "--n", 80, "--query-size", 8, "--out", out)
    assert not out.exists() and temporaries(tmp_path)
    result = run_cli("data", "synthetic", "--n", 80, "--query-size", 8, "--out", out)
    assert result.exit_code == 0, result.output
    assert temporaries(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["d.h5"]


def test_index_killed(run_copy):
    killed("replace:index-image.h5", "index", run_copy, "--modality", "image")
    assert not os.path.exists(os.path.join(run_copy, "index-image.h5")) and temporaries(run_copy)
    result = run_cli("index", run_copy, "--modality", "image")
    assert result.exit_code == 0, result.output
    assert temporaries(run_copy) == []


def test_export_killed(run_copy, tmp_path):
    base = tmp_path / "exported"
    killed("replace:1", "export", run_copy, "--out", base)
    assert not (base / "1").exists() and temporaries(base)
    result = run_cli("export", run_copy, "--out", base)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(base)) == ["1"]
