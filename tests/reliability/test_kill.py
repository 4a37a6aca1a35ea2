"""kill -9 at several points of train, import, index and export, then the next command: no partial file
under a final name, no temporary left, and training resumes to the uninterrupted result."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.helpers import assert_same_h5, run_cli
from tests.reliability.conftest import temporaries

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _start_killed(log, point, *args):
    """Start `tfhash ARGS` in a subprocess that kills itself with SIGKILL at `point` (see kill_at.py)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(log, "w") as err:  # a file, not a pipe: nothing blocks while the others run
        return subprocess.Popen([sys.executable, "-m", "tests.reliability.kill_at", point, "--", *map(str, args)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)


TRAIN_POINTS = (
    "write:/model/00000:2",  # halfway through writing the second checkpoint
    "replace:codes.h5",      # model.keras written, codes.h5 complete but not yet renamed
)
IMPORT_POINTS = ("write:/images:1", "replace:d.h5")


@pytest.fixture(scope="module")
def killed(dataset, finished_run, tmp_path_factory):
    """Every killed command of this module, run at once (they are independent): {name: folder}."""
    root = tmp_path_factory.mktemp("killed")
    folders, procs = {}, []
    logs = tmp_path_factory.mktemp("killed-logs")

    def start(point, *args):
        log = str(logs / f"{len(procs)}.err")
        procs.append((_start_killed(log, point, *args), log))

    for point in TRAIN_POINTS:
        folders[point] = out = str(root / point.replace("/", "_").replace(":", "_") / "toy")
        start(point, "train", "toy-test", "--dataset", dataset, "--out", out, "--no-evaluate")
    for point in IMPORT_POINTS:
        folders[point] = folder = root / point.replace("/", "_").replace(":", "_")
        folder.mkdir()
        start(point, "data", "synthetic", "--n", 80, "--query-size", 8, "--out", folder / "d.h5")
    for name in ("index", "export"):
        folders[name] = run = str(root / name / "run")
        shutil.copytree(finished_run, run)
    start("replace:index-image.h5", "index", folders["index"], "--modality", "image")
    folders["exported"] = root / "export" / "exported"
    start("replace:1", "export", folders["export"], "--out", folders["exported"])
    for proc, log in procs:
        proc.wait(timeout=600)
        with open(log) as f:
            assert proc.returncode == -signal.SIGKILL, f.read()[-2000:]
    return folders


def _finished(run_dir):
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        return json.load(f)["finished"]


@pytest.fixture(scope="module")
def whole_run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "toy"
    result = run_cli("train", "toy-test", "--dataset", dataset, "--out", out, "--no-evaluate")
    assert result.exit_code == 0, result.output
    return str(out)


@pytest.mark.parametrize("point", TRAIN_POINTS)
def test_train_killed_then_resumed_ends_where_the_whole_run_ends(dataset, killed, whole_run, point):
    out = killed[point]
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


@pytest.mark.parametrize("point", IMPORT_POINTS)
def test_import_killed(killed, point):
    folder = killed[point]
    out = folder / "d.h5"
    assert not out.exists() and temporaries(folder)
    result = run_cli("data", "synthetic", "--n", 80, "--query-size", 8, "--out", out)
    assert result.exit_code == 0, result.output
    assert temporaries(folder) == [] and sorted(os.listdir(folder)) == ["d.h5"]


def test_index_killed(killed):
    run_copy = killed["index"]
    assert not os.path.exists(os.path.join(run_copy, "index-image.h5")) and temporaries(run_copy)
    result = run_cli("index", run_copy, "--modality", "image")
    assert result.exit_code == 0, result.output
    assert temporaries(run_copy) == []


def test_export_killed(killed):
    run_copy, base = killed["export"], killed["exported"]
    assert not (base / "1").exists() and temporaries(base)
    result = run_cli("export", run_copy, "--out", base)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(base)) == ["1"]
