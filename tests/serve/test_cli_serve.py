"""`tfhash serve` flag errors: one `error:` line and exit 2, before anything is served."""

import subprocess
import sys

from tests.serve.support import DEMO, ROOT


def _serve(*args):
    return subprocess.run([sys.executable, "-m", "tfhash", "serve", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={"PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                      "PATH": "/usr/bin:/bin"})


def test_flag_errors_exit_2_with_one_line(tmp_path):
    unclear = tmp_path / "codes.h5"
    unclear.write_bytes(b"")
    proc = _serve(DEMO, "--index", str(unclear), "--port", "1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: cannot tell whether {unclear} indexes images or texts: write --index image={unclear} "
        f"or --index text={unclear}")
    proc = _serve(str(tmp_path), "--port", "1")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith(
        f"error: {tmp_path} holds no model versions")
