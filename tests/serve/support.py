"""Helpers of the serve tests: a `tfhash serve` subprocess on 127.0.0.1, and JSON over HTTP."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO = os.path.join(ROOT, "saved_models", "mirflickr-cca-itq")


def free_port():
    """A port nothing listens on now (bound once by the OS, then released for the server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, body=None, *, raw=None, timeout=60):
    """(status, parsed JSON) of a GET, or of a POST of `body` (JSON) or `raw` bytes."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextlib.contextmanager
def running_server(model_dir, *args, log_path, startup=180):
    """Start `tfhash serve MODEL_DIR ARGS --port P` from this checkout; yield its base URL; stop it."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TF_CPP_MIN_LOG_LEVEL="3")
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "tfhash", "serve", model_dir, *args, "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tfhash serve exited with {proc.returncode}: {open(log_path).read()[-2000:]}")
            try:
                if request(base + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tfhash serve did not answer /healthz in {startup} s")
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
