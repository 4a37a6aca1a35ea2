"""tfhash.eval.report: report dict, random baseline, protocols, plots, report.json, table."""

import json

import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.eval.report import (
    TASKS,
    cross_modal_report,
    format_map_table,
    plot_pr_curves,
    random_codes_like,
    write_report,
)
from tfhash.eval.retrieval import evaluate_retrieval

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BITS, CLASSES = 16, 8


def make_codes(n_query=60, n_db=600, flip=0.1, seed=0):
    """Single-label data whose codes are a per-class code with a few flipped bits: clearly better than chance."""
    rng = np.random.default_rng(seed)
    class_codes = np.where(rng.random((CLASSES, BITS)) < 0.5, 1, -1)

    def codes_for(classes):
        flips = np.where(rng.random((len(classes), BITS)) < flip, -1, 1)
        return (class_codes[classes] * flips).astype(np.int8)

    q_classes, db_classes = rng.integers(0, CLASSES, n_query), rng.integers(0, CLASSES, n_db)
    return {
        "query_image": codes_for(q_classes),
        "query_text": codes_for(q_classes),
        "database_image": codes_for(db_classes),
        "database_text": codes_for(db_classes),
        "database_unified": codes_for(db_classes),
        "query_labels": np.eye(CLASSES, dtype=np.uint8)[q_classes],
        "database_labels": np.eye(CLASSES, dtype=np.uint8)[db_classes],
    }


@pytest.fixture(scope="module")
def codes():
    return make_codes()


@pytest.fixture(scope="module")
def report(codes):
    return cross_modal_report(codes, R=50, top_k=[1, 10, 100], seed=3)


def test_report_carries_map_at_each_r(codes):
    two = cross_modal_report(codes, R=(50, 500), top_k=[1, 10], seed=3)
    assert two["R"] == 50 and two["Rs"] == [50, 500] and list(two["map_at_rs"]) == ["50", "500"]
    for r in (50, 500):
        for task, (q, d) in {"i2t": ("query_image", "database_text"), "t2i": ("query_text", "database_image")}.items():
            direct = evaluate_retrieval(codes[q], codes[d], codes["query_labels"], codes["database_labels"], R=r)
            assert two["map_at_rs"][str(r)][task] == direct.map_at_r
        assert list(two["random_codes_map"]["map_at_rs"][str(r)]) == list(TASKS)
    assert two["map_at_r"] == two["map_at_rs"]["50"]  # the single-R shape older readers know
    table = format_map_table(two)
    assert "MAP@50" in table and "MAP@500" in table and "random MAP@500" in table
    # A report written before the list existed still prints.
    old = {k: v for k, v in two.items() if k not in ("Rs", "map_at_rs")}
    old["random_codes_map"] = {k: v for k, v in two["random_codes_map"].items() if k != "map_at_rs"}
    assert "MAP@50" in format_map_table(old) and "MAP@500" not in format_map_table(old)


def test_report_has_every_key_for_every_task(report):
    tasks = list(TASKS)
    assert report["R"] == 50 and report["bits"] == BITS
    assert report["database_codes"] == "out-of-sample"
    for key in ("map_all", "map_at_r", "queries_without_relevant", "num_queries", "pr_curve", "precision_at_k"):
        assert list(report[key]) == tasks, key
    assert list(report["random_codes_map"]["map_all"]) == tasks
    assert list(report["random_codes_map"]["map_at_r"]) == tasks
    for task in tasks:
        assert report["num_queries"][task] == 60
        assert report["queries_without_relevant"][task] == 0
        curve = report["pr_curve"][task]
        assert curve["radius"] == list(range(BITS + 1))
        assert len(curve["precision"]) == len(curve["recall"]) == BITS + 1
        assert report["precision_at_k"][task]["k"] == [1, 10, 100]
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_report_matches_evaluate_retrieval(codes, report):
    # t2i ranks the image database with text queries.
    direct = evaluate_retrieval(
        codes["query_text"], codes["database_image"], codes["query_labels"], codes["database_labels"], R=50
    )
    assert report["map_all"]["t2i"] == direct.map_all
    assert report["map_at_r"]["t2i"] == direct.map_at_r


def test_random_baseline_sits_at_chance_and_real_codes_beat_it(codes, report):
    # With 8 balanced single-label classes a random ranking has about 1/8 relevant items everywhere.
    chance = (codes["query_labels"] @ codes["database_labels"].T > 0).mean()
    for task in TASKS:
        assert report["random_codes_map"]["map_all"][task] == pytest.approx(chance, abs=0.04)
        assert report["map_all"][task] > 0.8
        assert report["map_at_r"][task] > report["random_codes_map"]["map_at_r"][task] + 0.5


def test_random_codes_like_is_seeded_pm1_int8():
    base = np.ones((7, 12), np.int8)
    a, b, c = random_codes_like(base, 1), random_codes_like(base, 1), random_codes_like(base, 2)
    assert a.shape == base.shape and a.dtype == np.int8
    assert set(np.unique(a)) == {-1, 1}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_baseline_is_reproducible_and_seed_dependent(codes, report):
    again = cross_modal_report(codes, R=50, top_k=[1, 10, 100], seed=3)
    other = cross_modal_report(codes, R=50, top_k=[1, 10, 100], seed=4, tasks=("i2t",))
    assert again["random_codes_map"] == report["random_codes_map"]
    assert other["random_codes_map"]["map_all"]["i2t"] != report["random_codes_map"]["map_all"]["i2t"]


def test_unified_protocol_uses_database_unified_for_both_modalities(codes):
    unified = cross_modal_report(codes, tasks=("i2t", "i2i", "t2t"), database_protocol="unified")
    assert unified["database_codes"] == "unified"
    expected = evaluate_retrieval(
        codes["query_image"], codes["database_unified"], codes["query_labels"], codes["database_labels"]
    )
    # Same query codes, same (unified) database: i2t and i2i coincide.
    assert unified["map_all"]["i2t"] == unified["map_all"]["i2i"] == expected.map_all
    out_of_sample = cross_modal_report(codes, tasks=("i2t",))
    assert out_of_sample["map_all"]["i2t"] != unified["map_all"]["i2t"]


def test_unified_protocol_without_unified_codes_is_an_error(codes):
    partial = {k: v for k, v in codes.items() if k != "database_unified"}
    with pytest.raises(TfhashError, match="database_unified"):
        cross_modal_report(partial, database_protocol="unified")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(tasks=("i2x",)), "unknown task"),
        (dict(database_protocol="transductive"), "database_protocol"),
        (dict(R=0), "R must be"),
    ],
)
def test_bad_report_options(codes, kwargs, message):
    with pytest.raises(TfhashError, match=message):
        cross_modal_report(codes, **kwargs)


def test_missing_or_mismatched_codes_are_errors(codes):
    with pytest.raises(TfhashError, match="missing database_text"):
        cross_modal_report({k: v for k, v in codes.items() if k != "database_text"})
    with pytest.raises(TfhashError, match="bits"):
        cross_modal_report({**codes, "query_text": codes["query_text"][:, :8]})
    with pytest.raises(TfhashError, match="only \\+1/-1"):
        cross_modal_report({**codes, "query_image": np.zeros_like(codes["query_image"])}, tasks=("i2t",))


def test_write_report_writes_pngs_and_json(tmp_path, report):
    run_dir = tmp_path / "run"
    final = write_report(report, run_dir, extra={"method": "uch", "dataset": "toy", "config": {"bits": np.int64(16)}})
    assert final["method"] == "uch" and final["config"] == {"bits": 16}
    assert set(final["plots"]) == {"pr_curve", "precision_at_k"}
    for path in final["plots"].values():
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC
    with open(run_dir / "report.json", encoding="utf-8") as f:
        assert json.load(f) == final
    assert sorted(p.name for p in run_dir.iterdir()) == ["pr_curve.png", "precision_at_k.png", "report.json"]
    assert "plots" not in report  # the caller's dict is left alone


def test_write_report_refuses_to_overwrite_metrics(tmp_path, report):
    with pytest.raises(TfhashError, match="map_all"):
        write_report(report, tmp_path, extra={"map_all": 1.0})
    write_report(report, tmp_path, extra={"bits": BITS})  # same value: fine


def test_report_with_no_relevant_items_still_writes_strict_json(tmp_path, codes):
    lonely = {**codes, "query_labels": np.zeros_like(codes["query_labels"])}
    report = cross_modal_report(lonely, tasks=("i2t",))
    assert report["map_all"]["i2t"] is None and report["queries_without_relevant"]["i2t"] == 60
    write_report(report, tmp_path)
    with open(tmp_path / "report.json", encoding="utf-8") as f:
        assert json.load(f)["map_all"]["i2t"] is None
    assert "n/a" in format_map_table(report)


def test_plot_overwrites_atomically(tmp_path, report):
    path = tmp_path / "pr.png"
    path.write_bytes(b"old")
    plot_pr_curves(report, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["pr.png"]  # no temporary left behind


def test_format_map_table(report):
    table = format_map_table(report)
    lines = table.splitlines()
    assert lines[0].split() == list(TASKS)
    assert [line.split("  ")[0].strip() for line in lines[1:5]] == [
        "MAP@all",
        "MAP@50",
        "random MAP@all",
        "random MAP@50",
    ]
    assert f"{report['map_all']['t2t']:.4f}" in lines[1]
    assert f"{report['random_codes_map']['map_at_r']['i2t']:.4f}" in lines[4]
