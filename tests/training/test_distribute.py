"""Strategies: mirrored over the two logical CPUs of the test session; multiworker in its own process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

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
