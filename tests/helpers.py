"""Test helpers shared by every method's tests: a structured synthetic set, a run, a score."""

import os

import numpy as np

from tfhash.eval.retrieval import evaluate_retrieval


def structured_dataset(tmp_path, name="structured.h5", n=600, query_size=100, seed=0, **kwargs):
    """A learnable synthetic dataset file (latent classes -> both modalities), train = database."""
    from tfhash.data.synthetic import write_synthetic

    path = os.path.join(str(tmp_path), name)
    write_synthetic(path, n, query_size=query_size, seed=seed, **kwargs)
    return path


def codes_map(query_codes, database_codes, query_labels, database_labels):
    """MAP@all of ±1 codes (thin wrapper for tests)."""
    return evaluate_retrieval(np.asarray(query_codes, np.int8), np.asarray(database_codes, np.int8),
                              query_labels, database_labels).map_all


def train_run(method, tmp_path, dataset_path, *, strategy="default", run_name="run", **settings):
    """Train `method` with `settings` on `dataset_path`; return (run_dir, report dict)."""
    import json

    from tfhash.methods.registry import get_method
    from tfhash.training.run import train

    config = get_method(method).config_class(**settings)
    run_dir = train(method, config, dataset_path=dataset_path, run_dir=os.path.join(str(tmp_path), run_name),
                    strategy=strategy, verbose=0)
    with open(os.path.join(run_dir, "report.json"), encoding="utf-8") as f:
        return run_dir, json.load(f)


def assert_beats_random(report, tasks=("i2t", "t2i"), margin=0.15):
    """Learned MAP@all exceeds the random-codes MAP by `margin` (absolute) on each task."""
    for task in tasks:
        learned = report["map_all"][task]
        chance = report["random_codes_map"]["map_all"][task]
        assert learned > chance + margin, f"{task}: learned MAP {learned:.3f} vs random {chance:.3f}"


def run_cli(*args):
    """Invoke the `tfhash` command in-process; returns click's Result."""
    from click.testing import CliRunner

    from tfhash.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, text):
    """The command failed with exit code 2 and exactly one `error: ...` line containing `text`."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.output


def assert_same_h5(path_a, path_b):
    """Two HDF5 files hold the same datasets, equal bit for bit (checkpoints, codes)."""
    import h5py

    def arrays(path):
        out = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return out

    a, b = arrays(path_a), arrays(path_b)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
