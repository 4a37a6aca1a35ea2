"""Aggregation over hand-made reports, every expected value worked out in the comments."""

import math

import pytest

from tfhash.benchmark.aggregate import (
    best_per_column,
    mean_pr_curve,
    mean_std,
    paired_differences,
    sample_std,
    summarize,
)
from tfhash.benchmark.table import metric_table, paired_table


def record(method, seed, i2t, t2i=0.5, bits=16, dataset="d", random=0.1, pr=None):
    report = {"map_all": {"i2t": i2t, "t2i": t2i}, "map_at_r": {"i2t": i2t + 0.1, "t2i": t2i + 0.1}, "R": 50,
              "random_codes_map": {"map_all": {"i2t": random, "t2i": random}, "map_at_r": {"i2t": 0.2, "t2i": 0.2}},
              "pr_curve": pr or {}}
    return {"dataset": dataset, "method": method, "bits": bits, "seed": seed, "report": report}


# ref: 0.20, 0.22, 0.24 -> mean 0.22; deviations -0.02, 0, +0.02 -> squares sum 0.0008, /(3-1) -> 0.0004 -> std 0.02
# m:   0.25, 0.21, 0.27 -> mean 0.73/3 = 0.243333; deviations +0.006667, -0.033333, +0.026667
#      -> squares 0.0000444 + 0.0011111 + 0.0007111 = 0.0018667, /2 = 0.00093333 -> std 0.0305505
# m - ref per seed: +0.05, -0.01, +0.03 -> mean 0.07/3 = 0.023333, wins on seeds 0 and 2 -> 2 of 3
RECORDS = [record("ref", 0, 0.20), record("ref", 1, 0.22), record("ref", 2, 0.24),
           record("m", 0, 0.25), record("m", 1, 0.21), record("m", 2, 0.27)]


def test_sample_std_uses_n_minus_one():
    assert sample_std([0.20, 0.22, 0.24]) == pytest.approx(0.02)
    assert sample_std([1.0, 3.0]) == pytest.approx(math.sqrt(2.0))  # mean 2, (1 + 1) / (2 - 1) = 2
    assert sample_std([0.3]) is None  # one run has no spread


def test_mean_std_leaves_out_undefined_maps():
    cell = mean_std([0.2, None, 0.4])  # None: a MAP with no scorable query
    assert (cell.mean, cell.n) == (pytest.approx(0.3), 2)
    assert cell.std == pytest.approx(math.sqrt(0.02))  # (0.01 + 0.01) / 1
    assert mean_std([None]) == (None, None, 0)


def test_summarize_per_cell():
    summary = summarize(RECORDS, "map_all", "i2t")
    assert summary[("d", "ref", 16)].mean == pytest.approx(0.22)
    assert summary[("d", "ref", 16)].std == pytest.approx(0.02)
    assert summary[("d", "m", 16)].mean == pytest.approx(0.73 / 3)
    assert summary[("d", "m", 16)].std == pytest.approx(0.0305505, abs=1e-7)
    assert summary[("d", "m", 16)].n == 3
    # map_at_r is map_all + 0.1 in these reports: same spread, mean 0.32
    assert summarize(RECORDS, "map_at_r", "i2t")[("d", "ref", 16)].mean == pytest.approx(0.32)
    assert summarize(RECORDS, "map_all", "i2t", random=True)[("d", "m", 16)].mean == pytest.approx(0.1)


def test_paired_difference_and_wins():
    diff = paired_differences(RECORDS, "ref", "map_all", "i2t")
    assert set(diff) == {("d", "m", 16)}  # the reference is not compared with itself
    assert diff[("d", "m", 16)].mean == pytest.approx(0.07 / 3)
    assert (diff[("d", "m", 16)].wins, diff[("d", "m", 16)].n) == (2, 3)


def test_paired_difference_only_over_shared_seeds_and_ties_are_not_wins():
    records = RECORDS[:2] + [record("m", 0, 0.20), record("m", 1, 0.23), record("m", 2, 0.99)]
    # seed 2 has no reference run: left out. seed 0: 0.20 - 0.20 = 0 (tie, no win); seed 1: 0.23 - 0.22 = +0.01
    diff = paired_differences(records, "ref", "map_all", "i2t")[("d", "m", 16)]
    assert (diff.mean, diff.wins, diff.n) == (pytest.approx(0.005), 1, 2)


def test_best_per_column_and_ties():
    assert best_per_column(summarize(RECORDS, "map_all", "i2t")) == {("d", 16): {"m"}}
    # t2i is 0.5 for every run: a tie, both are best
    assert best_per_column(summarize(RECORDS, "map_all", "t2i")) == {("d", 16): {"m", "ref"}}


def test_markdown_tables_show_the_worked_values():
    table = metric_table(RECORDS, "d", ["ref", "m"], [16], "map_all")
    lines = table.splitlines()
    assert lines[0] == "| method | I→T 16 | T→I 16 |"
    assert lines[2] == "| ref | 0.220 ± 0.020 | **0.500 ± 0.000** |"
    assert lines[3] == "| m | **0.243 ± 0.031** | **0.500 ± 0.000** |"
    assert lines[4] == "| random codes | 0.100 | 0.100 |"
    paired = paired_table(RECORDS, "d", ["ref", "m"], [16], "map_all", "ref").splitlines()
    assert paired[2] == "| m | +0.023 (2/3) | +0.000 (0/3) |"


def test_mean_pr_curve_averages_seeds_and_keeps_empty_radii_nan():
    a = {"i2t": {"recall": [0.0, 0.5, 1.0], "precision": [None, 0.6, 0.2]}}
    b = {"i2t": {"recall": [0.2, 0.7, 1.0], "precision": [None, 0.4, 0.2]}}
    recall, precision = mean_pr_curve([record("m", 0, 0.2, pr=a), record("m", 1, 0.2, pr=b)], "d", "m", 16, "i2t")
    assert recall.tolist() == pytest.approx([0.1, 0.6, 1.0])
    assert math.isnan(precision[0]) and precision[1:].tolist() == pytest.approx([0.5, 0.2])
    assert mean_pr_curve([], "d", "m", 16, "i2t") is None
