"""`clean_stale_temporaries` removes what dead writers left, never a live writer's temporary."""

import os
import subprocess
import sys

from tfhash.atomic import atomic_path, clean_stale_temporaries


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_temporaries_of_dead_writers_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    names = {
        f".codes.h5.tfhash-{dead}-x1.tmp": "dead",
        f".model.keras.tfhash-{dead}-x2.tmp.keras": "dead",
        f".codes.h5.tfhash-{alive}-x3.tmp": "alive",
        ".codes.h5.abc123.tmp": "not ours to judge (no PID)",
        "codes.h5": "a final file",
    }
    for name in names:
        (tmp_path / name).write_text("x")
    (tmp_path / f".export.tfhash-{dead}-x4.tmp").mkdir()
    (tmp_path / f".export.tfhash-{dead}-x4.tmp" / "saved_model.pb").write_text("x")
    removed = clean_stale_temporaries(tmp_path)
    assert removed == sorted([f".codes.h5.tfhash-{dead}-x1.tmp", f".export.tfhash-{dead}-x4.tmp",
                              f".model.keras.tfhash-{dead}-x2.tmp.keras"])
    assert sorted(os.listdir(tmp_path)) == sorted([f".codes.h5.tfhash-{alive}-x3.tmp", ".codes.h5.abc123.tmp",
                                                   "codes.h5"])


def test_atomic_write_names_its_temporary_with_its_pid(tmp_path):
    with atomic_path(tmp_path / "f.txt") as tmp:
        assert os.path.basename(tmp).startswith(f".f.txt.tfhash-{os.getpid()}-") and tmp.endswith(".tmp")
        with open(tmp, "w") as f:
            f.write("done")
    assert os.listdir(tmp_path) == ["f.txt"]
