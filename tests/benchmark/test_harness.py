"""The benchmark harness on the bundled Wikipedia data: cache, reuse, resume after a kill, errors, re-splits."""

import json
import os

import h5py
import numpy as np
import pytest

from tests.helpers import assert_one_line_error, run_cli, structured_dataset
from tests.training import toy_method  # noqa: F401  (registers "toy-test")
from tfhash.benchmark import harness
from tfhash.data.bundled import default_dataset_path
from tfhash.data.dataset import PairedDataset
from tfhash.training import checkpoint as checkpoint_module

ARGS = ["benchmark", "--methods", "cca-itq,toy-test", "--bits", "16", "--seeds", "2", "--set", "toy-test.epochs=3"]


@pytest.fixture
def trainings(monkeypatch):
    """Counts the harness's calls to `train` (each is one run trained or resumed)."""
    calls = []
    real = harness.train

    def counted(method, config, **kw):
        calls.append((method, config.seed, kw["resume"]))
        return real(method, config, **kw)

    monkeypatch.setattr(harness, "train", counted)
    return calls


def _table(output):
    return output[output.index("Mean ±"):]


def test_second_call_reuses_every_run_and_prints_the_same_table(tmp_path, trainings):
    out = tmp_path / "bench"
    first = run_cli(*ARGS, "--out", out)
    assert first.exit_code == 0, first.output
    assert len(trainings) == 4  # cca-itq and toy-test, 16 bits, seeds 0 and 1
    lines = first.output.splitlines()
    assert lines[0].startswith("[1/4] wikipedia cca-itq 16b seed 0: trained in ")
    assert lines[3].startswith("[4/4] wikipedia toy-test 16b seed 1: trained in ")
    table = (out / "table.md").read_text()

    second = run_cli(*ARGS, "--out", out)
    assert second.exit_code == 0, second.output
    assert len(trainings) == 4  # nothing trained again
    assert second.output.splitlines()[:4] == [
        "[1/4] wikipedia cca-itq 16b seed 0: reused", "[2/4] wikipedia cca-itq 16b seed 1: reused",
        "[3/4] wikipedia toy-test 16b seed 0: reused", "[4/4] wikipedia toy-test 16b seed 1: reused"]
    assert _table(second.output) == _table(first.output)
    assert (out / "table.md").read_text() == table

    results = json.loads((out / "results.json").read_text())
    assert [(r["method"], r["seed"], r["status"]) for r in results["runs"]] == [
        ("cca-itq", 0, "reused"), ("cca-itq", 1, "reused"), ("toy-test", 0, "reused"), ("toy-test", 1, "reused")]
    # the table's numbers are the runs' reports: cca-itq's I->T 16-bit cell is their mean
    values = [r["report"]["map_all"]["i2t"] for r in results["runs"] if r["method"] == "cca-itq"]
    assert f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" in table
    assert results["runs"][2]["config"]["epochs"] == 3 and results["runs"][2]["config"]["seed"] == 0
    assert "fixed (wikipedia-standard" in table and "the seed sets only the model's initialisation" in table
    # the paired cell, worked out from the two seeds' reports
    ref = {r["seed"]: r["report"]["map_all"]["i2t"] for r in results["runs"] if r["method"] == "cca-itq"}
    diffs = [r["report"]["map_all"]["i2t"] - ref[r["seed"]] for r in results["runs"] if r["method"] == "toy-test"]
    assert f"| toy-test | {np.mean(diffs):+.3f} ({sum(d > 0 for d in diffs)}/2) |" in table
    assert (out / "map-vs-bits-wikipedia.png").stat().st_size > 0 and (out / "pr-wikipedia-16b.png").exists()


def test_killed_run_is_resumed_and_never_reused_half_written(tmp_path, trainings, monkeypatch):
    out = str(tmp_path / "bench")
    original = checkpoint_module.EpochCheckpoint.on_epoch_end

    def killed_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    def bench():
        return harness.run_benchmark([default_dataset_path()], ["cca-itq", "toy-test"], [16], 1, out,
                                     settings={"toy-test": {"epochs": 3}}, echo=lambda line: None)

    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end", killed_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        bench()
    killed = os.path.join(out, "runs", "wikipedia", "toy-test-16b-seed0")
    assert os.path.exists(os.path.join(killed, "config.json"))
    assert not os.path.exists(os.path.join(killed, harness.MARKER))  # not finished, so never taken as such
    assert not os.path.exists(os.path.join(out, "table.md"))

    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end", original)
    lines = []
    harness.run_benchmark([default_dataset_path()], ["cca-itq", "toy-test"], [16], 1, out,
                          settings={"toy-test": {"epochs": 3}}, echo=lines.append)
    assert lines[0] == "[1/2] wikipedia cca-itq 16b seed 0: reused"
    assert lines[1].startswith("[2/2] wikipedia toy-test 16b seed 0: resumed in ")
    assert trainings == [("cca-itq", 0, False), ("toy-test", 0, False), ("toy-test", 0, True)]
    marker = json.loads(open(os.path.join(killed, harness.MARKER)).read())
    assert marker["resumed"] is True and marker["settings"]["config"]["epochs"] == 3
    assert os.path.exists(os.path.join(out, "table.md"))


def test_run_without_marker_is_not_reused(tmp_path, trainings):
    """A run killed after its report but before FINISHED, or before its first checkpoint, trains again."""
    out = str(tmp_path / "bench")

    def bench():
        lines = []
        harness.run_benchmark([default_dataset_path()], ["cca-itq"], [16], 1, out, echo=lines.append)
        return lines

    bench()
    run_dir = os.path.join(out, "runs", "wikipedia", "cca-itq-16b-seed0")
    os.remove(os.path.join(run_dir, harness.MARKER))  # report.json is there, FINISHED is not
    assert bench()[0].startswith("[1/1] wikipedia cca-itq 16b seed 0: trained in ")
    assert trainings == [("cca-itq", 0, False), ("cca-itq", 0, False)]  # no checkpoint: restarted cleanly
    assert os.path.exists(os.path.join(run_dir, harness.MARKER))
    assert bench()[0] == "[1/1] wikipedia cca-itq 16b seed 0: reused"


def test_other_settings_in_the_way_is_one_error_line(tmp_path, trainings):
    out = tmp_path / "bench"
    assert run_cli("benchmark", "--methods", "cca-itq", "--bits", "16", "--seeds", "1", "--out", out).exit_code == 0
    result = run_cli("benchmark", "--methods", "cca-itq", "--bits", "16", "--seeds", "1", "--out", out,
                     "--set", "cca-itq.batch_size=64")
    assert_one_line_error(result, "holds a cca-itq run with other settings")
    assert len(trainings) == 1


@pytest.mark.parametrize("setting, message", [
    ("nope.epochs=1", "unknown method 'nope'"),
    ("cca-itq.colour=1", "cca-itq has no setting 'colour'"),
    ("toy-test.epochs=three", "--set toy-test.epochs: expected int, got 'three'"),
    ("toy-test.bits=8", "toy-test.bits is set by the benchmark grid"),
    ("uch.epochs=1", "--set names uch, which is not among the benchmarked methods"),
    ("epochs=1", "--set takes METHOD.SETTING=VALUE"),
])
def test_bad_set_is_one_error_line(tmp_path, trainings, setting, message):
    result = run_cli("benchmark", "--methods", "cca-itq,toy-test", "--bits", "16", "--seeds", "1",
                     "--out", tmp_path / "bench", "--set", setting)
    assert_one_line_error(result, message)
    assert trainings == []


def test_set_parses_with_the_field_type(tmp_path, trainings):
    out = tmp_path / "bench"
    result = run_cli("benchmark", "--methods", "toy-test", "--bits", "16", "--seeds", "1", "--out", out,
                     "--set", "toy-test.hidden=8,4", "--set", "toy-test.noise=0.0", "--set", "toy-test.epochs=1")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "results.json").read_text())["runs"][0]["config"]
    assert (config["hidden"], config["noise"], config["epochs"]) == ([8, 4], 0.0, 1)


def test_custom_protocol_is_resplit_per_seed(tmp_path, trainings):
    source = structured_dataset(tmp_path, n=400, query_size=60, image_dim=16, text_dim=12, num_classes=4,
                                train_size=200, validation_size=40)
    out = str(tmp_path / "bench")
    table = harness.run_benchmark([source], ["cca-itq"], [16], 2, out, echo=lambda line: None)
    splits = []
    for seed in (0, 1):
        path = os.path.join(out, "datasets", f"synthetic-split{seed}.h5")
        with PairedDataset(path) as data:
            assert data.split_seed == seed and data.protocol == "custom"
            assert {k: v.size for k, v in data.splits.items()} == {"query": 60, "database": 340, "train": 200,
                                                                   "validation": 40}
            splits.append(data.split("query"))
    assert not np.array_equal(splits[0], splits[1])
    assert "re-drawn for each seed" in table
    runs = json.loads(open(os.path.join(out, "results.json")).read())["runs"]
    assert [r["report"]["split_seed"] for r in runs] == [0, 1]


def test_validation_scores_on_training_pairs_only(tmp_path, trainings):
    out = str(tmp_path / "bench")
    table = harness.run_benchmark([default_dataset_path()], ["cca-itq"], [16], 1, out, validation=True,
                                  echo=lambda line: None)
    path = os.path.join(out, "datasets", "wikipedia-validation.h5")
    with PairedDataset(default_dataset_path()) as source, PairedDataset(path) as val:
        train_ids = set(source.ids(source.split("train")))
        assert set(val.ids(np.arange(val.num_pairs))) == train_ids  # no test query is in it
        # 2,173 training pairs x 693 / 2,866 = 525.4 -> 525 validation queries
        assert val.split("query").size == 525 and val.split("train").size == 2173 - 525
    assert "### wikipedia-validation" in table and "validation split carved from the training pairs" in table
    with h5py.File(path) as f:
        assert f.attrs["split_seed"] == 1


def test_one_method_under_two_labels(tmp_path, trainings):
    out = tmp_path / "bench"
    result = run_cli("benchmark", "--methods", "toy-test,narrow=toy-test", "--bits", "16", "--seeds", "1",
                     "--out", out, "--set", "toy-test.epochs=1", "--set", "narrow.epochs=1",
                     "--set", "narrow.hidden=4")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].startswith("[2/2] wikipedia narrow 16b seed 0: trained in ")
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["method"], r["trains"], r["config"]["hidden"]) for r in runs] == [
        ("toy-test", "toy-test", [32]), ("narrow", "toy-test", [4])]
    assert (out / "runs" / "wikipedia" / "narrow-16b-seed0" / harness.MARKER).exists()
    table = (out / "table.md").read_text()
    assert "| narrow | " in table and "against toy-test" in table  # no cca-itq: the first method is the reference
    assert_one_line_error(run_cli("benchmark", "--methods", "a=toy-test,a=cca-itq", "--out", out),
                          "'a' is listed twice in --methods")


def test_unified_table_for_methods_that_learn_b(tmp_path, trainings):
    out = tmp_path / "bench"
    result = run_cli("benchmark", "--methods", "cca-itq,toy-test", "--bits", "16", "--seeds", "2", "--out", out,
                     "--set", "toy-test.epochs=1", "--unified")
    assert result.exit_code == 0, result.output
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [r["unified_report"] is None for r in runs] == [True, True, False, False]  # CCA-ITQ learns no B
    toy = [r["unified_report"] for r in runs if r["method"] == "toy-test"]
    assert all(u["database_codes"] == "unified" for u in toy)
    table = (out / "table.md").read_text()
    section = table[table.index("**MAP@all, unified database codes**"):]
    values = [u["map_all"]["i2t"] for u in toy]
    row = next(line for line in section.splitlines() if line.startswith("| toy-test |"))
    assert row.startswith(f"| toy-test | **{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}** |")
    assert "| cca-itq |" not in section.split("**MAP@50, unified")[0]
    assert "--unified" in table  # the reproducing command
