"""Pure functions over benchmark records: mean and spread per cell, paired differences, wins, best per column.

A record is one finished run: a dict with "dataset", "method", "bits",
"seed" and "report" (the run's report.json dict). A cell is one
(dataset, method, bits) over its seeds; `metric` is "map_all", "map_at_r"
(the report's first R) or "map@R" (e.g. "map@500", from the report's list)
and `task` "i2t" or "t2i". The spread is the sample standard deviation
(ddof=1), what papers mean by "± std over runs"; it is None for one seed.
"""

import collections
import math
import warnings

import numpy as np

Cell = collections.namedtuple("Cell", "mean std n")
Paired = collections.namedtuple("Paired", "mean wins n")


def sample_std(values):
    """Sample standard deviation (ddof=1) of `values`; None for fewer than two."""
    values = [float(v) for v in values]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def mean_std(values):
    """`Cell(mean, sample std, n)` of `values` (None entries, i.e. undefined MAPs, left out)."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return Cell(None, None, 0)
    return Cell(sum(values) / len(values), sample_std(values), len(values))


def _score(record, metric, task, random=False):
    report = record["report"]
    source = report["random_codes_map"] if random else report
    if metric.startswith("map@"):
        r = metric[len("map@"):]
        if r in source.get("map_at_rs", {}):
            return source["map_at_rs"][r].get(task)
        # a report written before the list: only its single R
        return source["map_at_r"].get(task) if str(report.get("R")) == r else None
    return source[metric].get(task)


def summarize(records, metric, task, *, random=False):
    """{(dataset, method, bits): Cell} over seeds (with `random`: the random-codes MAP of the same runs)."""
    groups = collections.defaultdict(list)
    for r in records:
        groups[(r["dataset"], r["method"], r["bits"])].append(_score(r, metric, task, random))
    return {key: mean_std(values) for key, values in groups.items()}


def paired_differences(records, reference, metric, task):
    """{(dataset, method, bits): Paired} of method minus `reference` on the same dataset, bits and seed.

    `mean` averages the per-seed differences over the seeds both have; `wins`
    counts the seeds where the method scores strictly higher; `n` the seeds
    compared. The reference itself is left out.
    """
    scores = {(r["dataset"], r["method"], r["bits"], r["seed"]): _score(r, metric, task) for r in records}
    diffs = collections.defaultdict(list)
    for (dataset, method, bits, seed), value in scores.items():
        base = scores.get((dataset, reference, bits, seed))
        if method == reference or value is None or base is None:
            continue
        diffs[(dataset, method, bits)].append(value - base)
    return {key: Paired(sum(d) / len(d), sum(x > 0 for x in d), len(d)) for key, d in diffs.items()}


def best_per_column(summary):
    """{(dataset, bits): set of methods with the highest mean} of a `summarize` result (ties: all of them)."""
    best = {}
    for (dataset, method, bits), cell in summary.items():
        if cell.mean is None:
            continue
        top = best.get((dataset, bits))
        if top is None or cell.mean > top[0]:
            best[(dataset, bits)] = (cell.mean, {method})
        elif cell.mean == top[0]:
            top[1].add(method)
    return {key: methods for key, (_, methods) in best.items()}


def mean_pr_curve(records, dataset, method, bits, task):
    """(recall, precision) by Hamming radius averaged over seeds; radii no seed has a value at are NaN."""
    curves = [r["report"]["pr_curve"][task] for r in records
              if (r["dataset"], r["method"], r["bits"]) == (dataset, method, bits)]
    if not curves:
        return None

    def stack(key):
        return np.array([[math.nan if v is None else v for v in c[key]] for c in curves], dtype=float)

    recall, precision = stack("recall"), stack("precision")
    with warnings.catch_warnings():  # an all-NaN radius warns; NaN is the right answer there
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(recall, axis=0), np.nanmean(precision, axis=0)
