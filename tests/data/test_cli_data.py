"""`tfhash data ...` through click's CliRunner: summaries, exit code 2 on bad input."""

import json
import os

import numpy as np
import pytest
import scipy.io

from tests.helpers import assert_one_line_error
from tests.helpers import run_cli as run


def assert_clean_error(result, pattern, out):
    assert_one_line_error(result, pattern)
    assert result.stderr.strip().startswith("error: ")
    assert not os.path.exists(out)
    assert not [p for p in os.listdir(os.path.dirname(out)) if p.endswith(".tmp")]


def test_wikipedia_and_info(tmp_path, shared_data_dir):
    out = tmp_path / "wiki.h5"
    result = run("data", "import", "wikipedia", "--data-dir", os.path.join(shared_data_dir, "wikipedia"), "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"wrote {out}: 2866 pairs, images 128-d features, bow 10-d, 10 classes; "
        "splits database 2173, query 693, train 2173 (wikipedia-standard)"
    )
    info = run("data", "info", out)
    assert info.exit_code == 0 and json.loads(info.stdout)["split_sizes"]["query"] == 693


def test_synthetic_and_arrays(tmp_path):
    out = tmp_path / "syn.h5"
    result = run("data", "synthetic", "--n", 300, "--query-size", 30, "--text-kind", "both", "--multilabel", "--out", out)
    assert result.exit_code == 0, result.output
    assert "300 pairs" in result.stdout and "query 30" in result.stdout and "seed 0" in result.stdout
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.normal(size=(50, 4)))
    np.save(tmp_path / "y.npy", rng.random((50, 3)))
    np.save(tmp_path / "l.npy", rng.integers(0, 3, size=50))
    out = tmp_path / "arr.h5"
    result = run("data", "import", "arrays", "--images", tmp_path / "x.npy", "--texts", tmp_path / "y.npy",
                 "--labels", tmp_path / "l.npy", "--query-size", 5, "--train-size", 20, "--seed", 3, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("splits database 45, query 5, train 20 (custom seed 3)")


def test_dcmh_v5(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random((30, 4)) < 0.5).astype(np.uint8)
    labels[labels.sum(axis=1) == 0, 1] = 1
    labels[0] = 0
    scipy.io.savemat(tmp_path / "all.mat", {"LAll": labels, "YAll": rng.random((30, 8)), "IAll": rng.random((30, 5))})
    out = tmp_path / "d.h5"
    m = tmp_path / "all.mat"
    result = run("data", "import", "dcmh", "--labels", m, "--texts", m, "--images", m, "--protocol", "custom",
                 "--query-size", 6, "--out", out)
    assert result.exit_code == 0, result.output
    assert "4 classes (1 unlabeled)" in result.stdout and "query 6" in result.stdout


def test_errors_exit_2_with_one_line(tmp_path):
    out = str(tmp_path / "o.h5")
    scipy.io.savemat(tmp_path / "l.mat", {"LAll": np.eye(4, dtype=np.uint8)})
    scipy.io.savemat(tmp_path / "y.mat", {"YAll": np.ones((5, 3))})
    scipy.io.savemat(tmp_path / "i.mat", {"IAll": np.ones((4, 3))})
    nan = np.ones((4, 2))
    nan[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "y.npy", np.ones((4, 2)))
    l, y, i = (str(tmp_path / f) for f in ("l.mat", "y.mat", "i.mat"))
    cases = [
        (["data", "import", "wikipedia", "--data-dir", tmp_path / "nowhere"], "Wikipedia folder not found"),
        (["data", "import", "dcmh", "--labels", l, "--texts", y, "--images", i], "mismatched pair counts"),
        (["data", "import", "dcmh", "--labels", y, "--texts", y, "--images", i], "y.mat has no label variable 'LAll'"),
        (["data", "import", "dcmh", "--labels", l, "--texts", tmp_path / "gone.mat", "--images", i], "file not found"),
        (["data", "import", "dcmh", "--labels", l, "--texts", l], "no image input"),
        (["data", "import", "arrays", "--images", tmp_path / "nan.npy", "--texts", tmp_path / "y.npy", "--query-size", 1],
         "images contains NaN or inf values"),
        (["data", "import", "arrays", "--images", tmp_path / "y.npy", "--texts", tmp_path / "y.npy", "--query-size", 1,
          "--train-size", "lots"], "--train-size must be a number or 'all'"),
        (["data", "info", tmp_path / "absent.h5"], "dataset file not found"),
        (["data", "import", "arrays", "--images", tmp_path / "y.npy", "--texts", tmp_path / "y.npy", "--query-size", 1,
          "--feature-rows", tmp_path / "gone.txt"], "feature rows file not found"),
        (["data", "import", "mirflickr-features", "--data-dir", tmp_path / "nowhere"], "MIRFlickr folder not found"),
    ]
    for args, pattern in cases:
        assert_clean_error(run(*args, *(["--out", out] if args[1] == "import" else [])), pattern, out)


@pytest.mark.parametrize("args", [["data", "--help"], ["data", "import", "--help"], ["data", "features", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.exit_code == 0 and "Usage" in result.output
