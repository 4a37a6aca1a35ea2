"""Strategies: mirrored over the two logical CPUs of the test session; multiworker in its own processes."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from tests.helpers import structured_dataset
from tfhash.errors import TfhashError
from tfhash.training.distribute import make_strategy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_mirrored_uses_both_logical_cpus():
    assert make_strategy("mirrored").num_replicas_in_sync == 2


def test_unknown_strategy_is_refused():
    with pytest.raises(TfhashError, match="unknown strategy"):
        make_strategy("tpu-pod")


def test_multiworker_trains_as_a_single_local_worker(tmp_path):
    # MultiWorkerMirroredStrategy must be the first collective set-up of a
    # process, so it gets a fresh interpreter (TF_CONFIG unset: one worker).
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {ROOT!r})
        from tests.training import toy_method
        from tests.helpers import structured_dataset
        from tfhash.training.run import train
        path = structured_dataset({str(tmp_path)!r}, n=300, query_size=50, image_dim=12, text_dim=8, num_classes=3)
        train("toy-test", toy_method.ToyConfig(epochs=1), dataset_path=path,
              run_dir=os.path.join({str(tmp_path)!r}, "run"), strategy="multiworker", verbose=0)
    """)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.load(open(tmp_path / "run" / "config.json"))
    assert config["strategy"] == "multiworker" and config["replicas"] == 1
    assert os.path.exists(tmp_path / "run" / "report.json")


def _free_ports(count):
    """`count` TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# Each worker runs `tfhash train` in its own process. After each epoch's schedule callback (the epoch's state is
# final there, right before the chief's checkpoint) it dumps its model and optimizer variables; with `stop` it is
# killed (KeyboardInterrupt) at the end of that epoch, after the chief's checkpoint.
_WORKER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    import keras, numpy as np
    from tfhash.methods import callbacks

    original = callbacks.MethodSchedule.on_epoch_end

    def dump(self, epoch, logs=None):
        original(self, epoch, logs)
        groups = {{"model": self.model.variables}}
        groups.update({{f"optimizer/{{n}}": o.variables for n, o in sorted(self.model.optimizers.items())}})
        values = {{f"{{g}}/{{i:05d}}": keras.ops.convert_to_numpy(v.value)
                  for g, vs in groups.items() for i, v in enumerate(vs)}}
        np.savez(os.path.join({dumps!r}, f"worker{index}-epoch{{epoch + 1}}.npz"), **values)

    def stop(self, epoch, logs=None):  # the last callback of both workers
        if epoch + 1 == {stop!r}:
            raise KeyboardInterrupt

    callbacks.MethodSchedule.on_epoch_end = dump
    keras.callbacks.TerminateOnNaN.on_epoch_end = stop
    from tfhash.cli.main import cli
    cli({args!r}, prog_name="tfhash")
""")

# Small widths (the methods' test settings) so two workers on two cores take seconds per epoch.
MULTIWORKER_METHODS = {
    "uch": ["--text-embedding", "32"],
    "sdch": ["--image-hidden", "32", "--text-hidden", "32", "--feature-dim", "16"],
}


def _run_workers(tmp_path, method, *extra, stop=None, timeout=420):
    """Two `tfhash train METHOD --strategy multiworker` processes on 127.0.0.1, each with its own --out
    (run0, run1); returns [(returncode, output)] of worker 0 (the chief) and worker 1."""
    data = structured_dataset(tmp_path, n=240, query_size=40, image_dim=16, text_dim=20, num_classes=4)
    dumps = tmp_path / "dumps"
    dumps.mkdir(exist_ok=True)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    procs = []
    for index in range(2):
        args = ["train", method, "--dataset", data, "--bits", "8", "--epochs", "2", "--batch-size", "32",
                "--strategy", "multiworker", "--no-evaluate", "--out", str(tmp_path / f"run{index}"),
                *MULTIWORKER_METHODS[method], *extra]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        script = _WORKER.format(root=ROOT, dumps=str(dumps), index=index, stop=stop, args=args)
        procs.append(subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    results = []
    try:
        for proc in procs:  # a worker waiting for a peer forever fails the test instead of hanging it
            output, _ = proc.communicate(timeout=timeout)
            results.append((proc.returncode, output))
    except subprocess.TimeoutExpired:
        for proc in procs:
            proc.kill()
        pytest.fail(f"multi-worker training did not end within {timeout} s")
    return results


def _arrays(path):
    """{name: array} of a worker's .npz dump, or of a checkpoint (same names: `model/00000`, ...)."""
    if path.suffix == ".npz":
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    with h5py.File(path, "r") as f:
        out = {}
        f.visititems(lambda name, item: out.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
        return out


def _assert_workers_equal(tmp_path, epoch):
    """Both workers hold the same model and optimizer state after `epoch`, bit for bit; returns it."""
    chief, other = (_arrays(tmp_path / "dumps" / f"worker{i}-epoch{epoch}.npz") for i in (0, 1))
    assert chief.keys() == other.keys() and len(chief) > 10
    different = [k for k in chief if not np.array_equal(chief[k], other[k])]
    assert not different, f"epoch {epoch}: the workers differ in {different}"
    return chief


def _assert_only_the_chief_wrote(tmp_path, final_state):
    run = tmp_path / "run0"
    saved = _arrays(run / "checkpoints" / "ckpt-00002.h5")
    assert saved.keys() == final_state.keys()
    assert all(np.array_equal(saved[k], final_state[k]) for k in saved)
    config = json.loads((run / "config.json").read_text())
    assert config["replicas"] == 2 and config["strategy"] == "multiworker" and config["finished"] is True
    assert (run / "model.keras").exists() and (run / "codes.h5").exists()
    assert not (tmp_path / "run1").exists()


def _assert_succeeded(results):
    for index, (code, output) in enumerate(results):
        assert code == 0, f"worker {index}:\n{output[-3000:]}"
    assert "the chief (worker 0) writes the run folder" in results[1][1]


def test_two_workers_train_the_same_model_and_only_the_chief_writes(tmp_path):
    _assert_succeeded(_run_workers(tmp_path, "sdch"))
    _assert_workers_equal(tmp_path, 1)
    _assert_only_the_chief_wrote(tmp_path, _assert_workers_equal(tmp_path, 2))


def test_two_workers_resume_from_the_chief_checkpoint(tmp_path):
    killed = _run_workers(tmp_path, "uch", stop=1)
    assert all(code == 130 for code, _ in killed), [output[-3000:] for _, output in killed]  # interrupted
    _assert_workers_equal(tmp_path, 1)
    assert (tmp_path / "run0" / "checkpoints" / "latest").read_text() == "ckpt-00001.h5"
    assert not (tmp_path / "run1").exists()

    # Only the chief has a checkpoint; worker 1 continues from the state the chief restored.
    _assert_succeeded(_run_workers(tmp_path, "uch", "--resume"))
    _assert_only_the_chief_wrote(tmp_path, _assert_workers_equal(tmp_path, 2))
