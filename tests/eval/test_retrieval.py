"""tfhash.eval.retrieval: hand-worked cases, a brute-force reference, batching, bad input."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfhash.errors import TfhashError
from tfhash.eval import retrieval
from tfhash.eval.retrieval import evaluate_retrieval, hamming_distance, hamming_ranking

# ---------------------------------------------------------------- brute-force reference
# Plain loops over a full stable sort; slow and obvious on purpose.


def ref_metrics(q, db, ql, dl, R, ks):
    bits = q.shape[1]
    ks = sorted({min(k, len(db)) for k in ks})
    ap_all, ap_r, pk = [], [], []
    prec_sum, prec_n, rec_sum = [0.0] * (bits + 1), [0] * (bits + 1), [0.0] * (bits + 1)
    excluded = 0
    for i in range(len(q)):
        dist = [(bits - int(np.dot(q[i].astype(int), db[j].astype(int)))) // 2 for j in range(len(db))]
        rel = [bool(np.any(ql[i].astype(bool) & dl[j].astype(bool))) for j in range(len(db))]
        order = sorted(range(len(db)), key=lambda j: (dist[j], j))
        ranked = [rel[j] for j in order]
        n_rel = sum(ranked)
        if n_rel == 0:
            excluded += 1
            continue
        hits, total = 0, 0.0
        for r, is_rel in enumerate(ranked, start=1):
            if is_rel:
                hits += 1
                total += hits / r
        ap_all.append(total / n_rel)
        hits, total = 0, 0.0
        for r, is_rel in enumerate(ranked[:R], start=1):
            if is_rel:
                hits += 1
                total += hits / r
        ap_r.append(total / hits if hits else 0.0)
        pk.append([sum(ranked[:k]) / k for k in ks])
        for radius in range(bits + 1):
            inside = [j for j in range(len(db)) if dist[j] <= radius]
            good = sum(rel[j] for j in inside)
            if inside:
                prec_sum[radius] += good / len(inside)
                prec_n[radius] += 1
            rec_sum[radius] += good / n_rel
    n = len(ap_all)
    return {
        "map_all": sum(ap_all) / n if n else math.nan,
        "map_at_r": sum(ap_r) / n if n else math.nan,
        "precision_at_k": np.mean(pk, axis=0) if n else np.full(len(ks), math.nan),
        "k": np.array(ks),
        "pr_precision": np.array([s / c if c else math.nan for s, c in zip(prec_sum, prec_n)]),
        "pr_num_queries": np.array(prec_n),
        "pr_recall": np.array([s / n if n else math.nan for s in rec_sum]),
        "excluded": excluded,
    }


def assert_matches_reference(result, ref, num_queries):
    np.testing.assert_allclose(result.map_all, ref["map_all"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.map_at_r, ref["map_at_r"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(result.top_k, ref["k"])
    np.testing.assert_allclose(result.precision_at_k, ref["precision_at_k"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.pr_precision, ref["pr_precision"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.pr_recall, ref["pr_recall"], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(result.pr_num_queries, ref["pr_num_queries"])
    assert result.queries_without_relevant == ref["excluded"]
    assert result.num_queries == num_queries


def random_case(rng, n_query, n_db, bits, classes, density):
    q = np.where(rng.random((n_query, bits)) < 0.5, 1, -1).astype(np.int8)
    db = np.where(rng.random((n_db, bits)) < 0.5, 1, -1).astype(np.int8)
    # Reuse database rows as queries and duplicate rows so exact ties at every distance are common.
    if n_db > 1:
        db[rng.integers(0, n_db, n_db // 3)] = db[rng.integers(0, n_db, n_db // 3)]
        q[: n_query // 2] = db[rng.integers(0, n_db, n_query // 2)]
    ql = (rng.random((n_query, classes)) < density).astype(np.uint8)
    dl = (rng.random((n_db, classes)) < density).astype(np.uint8)
    return q, db, ql, dl


# ---------------------------------------------------------------- hand-worked case
#
# 4 bits. Database (5 items) and labels over 4 classes:
#   d0 = + + + -   [1 0 0 0]
#   d1 = + + + +   [0 1 0 0]
#   d2 = - - + +   [1 1 0 0]
#   d3 = + + - +   [0 0 1 0]
#   d4 = - - - -   [0 0 1 0]
# q0 = + + + +, labels [1 0 0 0]: distances d0..d4 = 1 0 2 1 4, relevant {d0, d2}.
#   Ranking (ties by index): d1 d0 d3 d2 d4 -> relevance 0 1 0 1 0.
#   AP = (1/2)(1/2 + 2/4) = 0.5   (d3 before d0 would give (1/2)(1/3 + 2/4) = 0.4167)
#   AP@2 = top 2 has one hit at rank 2: (1/1)(1/2) = 0.5;  AP@1 = no hit in top 1 -> 0.
# q1 = - - - -, labels [0 0 1 0]: distances 3 4 2 3 0, relevant {d3, d4}.
#   Ranking: d4 d2 d0 d3 d1 -> relevance 1 0 0 1 0.
#   AP = (1/2)(1/1 + 2/4) = 0.75;  AP@2 = 1.0;  AP@1 = 1.0.
# q2 = + - + -, labels [0 0 0 1]: no database item has class 3 -> excluded, counted.
# MAP@all = (0.5 + 0.75)/2 = 0.625; MAP@2 = (0.5 + 1)/2 = 0.75; MAP@1 = (0 + 1)/2 = 0.5.

HAND_DB = np.array([[1, 1, 1, -1], [1, 1, 1, 1], [-1, -1, 1, 1], [1, 1, -1, 1], [-1, -1, -1, -1]], np.int8)
HAND_DB_LABELS = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0]])
HAND_Q = np.array([[1, 1, 1, 1], [-1, -1, -1, -1], [1, -1, 1, -1]], np.int8)
HAND_Q_LABELS = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])


def hand(**kwargs):
    return evaluate_retrieval(HAND_Q, HAND_DB, HAND_Q_LABELS, HAND_DB_LABELS, **kwargs)


def test_hand_distances_and_stable_ranking():
    np.testing.assert_array_equal(hamming_distance(HAND_Q[:2], HAND_DB), [[1, 0, 2, 1, 4], [3, 4, 2, 3, 0]])
    np.testing.assert_array_equal(hamming_ranking(HAND_Q[:2], HAND_DB), [[1, 0, 3, 2, 4], [4, 2, 0, 3, 1]])


def test_hand_map_all_and_map_at_r_with_an_excluded_query():
    result = hand(R=2)
    assert result.num_queries == 3
    assert result.queries_without_relevant == 1
    assert result.map_all == pytest.approx(0.625)
    assert result.map_at_r == pytest.approx(0.75)
    assert result.R == 2
    # A query with relevant items but none in the top R scores 0 (q0 at R=1), it is not left out.
    assert hand(R=1).map_at_r == pytest.approx(0.5)
    # R at least the database size is MAP@all.
    assert hand(R=5).map_at_r == pytest.approx(0.625)
    assert hand(R=50).map_at_r == pytest.approx(0.625)


def test_hand_several_r_at_once():
    # The worked values above: MAP@2 = 0.75, MAP@1 = 0.5, MAP@5 = MAP@all = 0.625; order kept as asked.
    result = hand(R=(2, 1, 5))
    assert result.Rs == [2, 1, 5] and result.R == 2
    assert result.map_at_r == pytest.approx(0.75)
    assert result.map_at_rs == pytest.approx({2: 0.75, 1: 0.5, 5: 0.625})
    assert result.to_dict()["map_at_rs"] == pytest.approx({"2": 0.75, "1": 0.5, "5": 0.625})
    assert hand(R=7).to_dict()["map_at_rs"] == pytest.approx({"7": 0.625})


@pytest.mark.parametrize("R", [(), (2, 2), (3, 0), "50"])
def test_bad_r_lists_are_refused(R):
    with pytest.raises(TfhashError):
        hand(R=R)


def test_hand_precision_at_k():
    # Ranked relevance q0: 0 1 0 1 0, q1: 1 0 0 1 0 (q2 excluded).
    # P@1 = (0 + 1)/2 = 0.5; P@2 = (1/2 + 1/2)/2 = 0.5; P@5 = (2/5 + 2/5)/2 = 0.4; K=10 clips to 5.
    result = hand(top_k=[2, 1, 10, 5])
    np.testing.assert_array_equal(result.top_k, [1, 2, 5])
    np.testing.assert_allclose(result.precision_at_k, [0.5, 0.5, 0.4])


def test_hand_pr_curve_at_radius_0_1_and_bits():
    result = hand()
    # radius 0: q0 retrieves {d1} (irrelevant): P 0, R 0; q1 retrieves {d4} (relevant): P 1, R 1/2.
    # radius 1: q0 retrieves {d0, d1, d3}: P 1/3, R 1/2; q1 still {d4}: P 1, R 1/2.
    # radius 4 = bits: everything: P 2/5 and R 1 for both.
    assert result.pr_precision[0] == pytest.approx(0.5)
    assert result.pr_recall[0] == pytest.approx(0.25)
    assert result.pr_precision[1] == pytest.approx((1 / 3 + 1) / 2)
    assert result.pr_recall[1] == pytest.approx(0.5)
    assert result.pr_precision[4] == pytest.approx(0.4)
    assert result.pr_recall[4] == pytest.approx(1.0)
    assert len(result.pr_precision) == len(result.pr_recall) == 5
    np.testing.assert_array_equal(result.pr_num_queries, [2, 2, 2, 2, 2])


def test_query_retrieving_nothing_is_left_out_of_precision_at_that_radius():
    # 2 bits; both database items share the query's class.
    # qa = + + : distances 1, 2 -> nothing within radius 0.
    # qb = + - : distances 0, 1 -> {db0} within radius 0: precision 1, recall 1/2.
    # precision[0] averages qb only (= 1, not (0 + 1)/2); recall[0] averages both: (0 + 1/2)/2.
    db = np.array([[1, -1], [-1, -1]], np.int8)
    q = np.array([[1, 1], [1, -1]], np.int8)
    result = evaluate_retrieval(q, db, [[1], [1]], [[1], [1]])
    assert result.pr_precision[0] == 1.0
    assert result.pr_num_queries[0] == 1
    assert result.pr_recall[0] == 0.25
    only_qa = evaluate_retrieval(q[:1], db, [[1]], [[1], [1]])
    assert math.isnan(only_qa.pr_precision[0]) and only_qa.pr_num_queries[0] == 0
    assert only_qa.to_dict()["pr_curve"]["precision"][0] is None


def test_all_queries_without_relevant_items_gives_nan_means_and_json_none():
    result = evaluate_retrieval(HAND_Q[2:], HAND_DB, HAND_Q_LABELS[2:], HAND_DB_LABELS)
    assert result.queries_without_relevant == result.num_queries == 1
    assert math.isnan(result.map_all) and math.isnan(result.map_at_r)
    as_dict = result.to_dict()
    assert as_dict["map_all"] is None and as_dict["map_at_r"] is None


def test_to_dict_is_plain_json():
    import json

    as_dict = hand(R=2).to_dict()
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert as_dict["pr_curve"]["radius"] == [0, 1, 2, 3, 4]
    assert as_dict["map_all"] == pytest.approx(0.625)


# ---------------------------------------------------------------- against the reference


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_query=st.integers(1, 7),
    n_db=st.integers(1, 25),
    bits=st.integers(1, 9),
    classes=st.integers(1, 4),
    density=st.sampled_from([0.1, 0.3, 0.6]),
    R=st.integers(1, 30),
    top_k=st.lists(st.integers(1, 40), min_size=1, max_size=4),
)
def test_matches_brute_force_reference(seed, n_query, n_db, bits, classes, density, R, top_k):
    rng = np.random.default_rng(seed)
    q, db, ql, dl = random_case(rng, n_query, n_db, bits, classes, density)
    result = evaluate_retrieval(q, db, ql, dl, R=R, top_k=top_k)
    assert_matches_reference(result, ref_metrics(q, db, ql, dl, R, top_k), n_query)


@pytest.mark.parametrize("bits, classes", [(64, 24), (70, 3), (130, 65), (300, 2)])
def test_matches_reference_across_word_boundaries(bits, classes):
    # Several 64-bit words for codes and labels, and > 255 bits (16-bit distances).
    rng = np.random.default_rng(bits)
    q, db, ql, dl = random_case(rng, 6, 60, bits, classes, 0.2)
    result = evaluate_retrieval(q, db, ql, dl, R=7, top_k=[1, 3, 60])
    assert_matches_reference(result, ref_metrics(q, db, ql, dl, 7, [1, 3, 60]), 6)
    brute = [[(bits - int(np.dot(a.astype(int), b.astype(int)))) // 2 for b in db] for a in q]
    np.testing.assert_array_equal(hamming_distance(q, db), brute)
    np.testing.assert_array_equal(
        hamming_ranking(q, db), [sorted(range(len(db)), key=lambda j: (row[j], j)) for row in brute]
    )


def test_default_top_k_is_clipped_to_database_size():
    rng = np.random.default_rng(1)
    q, db, ql, dl = random_case(rng, 3, 30, 8, 2, 0.5)
    np.testing.assert_array_equal(evaluate_retrieval(q, db, ql, dl).top_k, [1, 5, 10, 20, 30])


def test_popcount_fallback_without_bitwise_count(monkeypatch):
    rng = np.random.default_rng(2)
    q, db, _, _ = random_case(rng, 4, 40, 100, 1, 0.5)
    expected = hamming_distance(q, db)
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    np.testing.assert_array_equal(hamming_distance(q, db), expected)


# ---------------------------------------------------------------- batching


def test_result_does_not_depend_on_memory_budget_or_threads():
    rng = np.random.default_rng(3)
    q, db, ql, dl = random_case(rng, 37, 400, 12, 5, 0.15)
    ql[0] = 0  # one excluded query
    big = evaluate_retrieval(q, db, ql, dl, R=20, memory_budget_bytes=2**30, workers=1)
    assert big.queries_without_relevant >= 1
    for budget, workers in [(1, 1), (1, 3), (5000, 2), (2**30, 4)]:
        small = evaluate_retrieval(q, db, ql, dl, R=20, memory_budget_bytes=budget, workers=workers)
        assert small.to_dict() == big.to_dict()


# ---------------------------------------------------------------- bad input

GOOD = dict(query_codes=HAND_Q, database_codes=HAND_DB, query_labels=HAND_Q_LABELS, database_labels=HAND_DB_LABELS)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(query_codes=(HAND_Q > 0).astype(np.int8)), "0/1 codes"),
        (dict(database_codes=HAND_DB * 2), "only \\+1/-1"),
        (dict(query_codes=HAND_Q > 0), "dtype bool"),
        (dict(query_codes=HAND_Q[0]), "2-D"),
        (dict(query_codes=HAND_Q.astype(float) * np.nan), "only \\+1/-1"),
        (dict(database_codes=HAND_DB[:, :3]), "4 bits but database codes have 3"),
        (dict(query_labels=HAND_Q_LABELS[:2]), "query labels have 2 rows but query codes have 3"),
        (dict(database_labels=HAND_DB_LABELS[:, :3]), "4 classes but database labels have 3"),
        (dict(database_labels=HAND_DB_LABELS[:, 0]), "2-D multi-hot"),
        (dict(query_labels=HAND_Q_LABELS * 3), "only 0/1"),
        (dict(database_codes=np.zeros((0, 4), np.int8), database_labels=np.zeros((0, 4))), "empty"),
    ],
)
def test_bad_input_raises_tfhash_error(change, message):
    with pytest.raises(TfhashError, match=message):
        evaluate_retrieval(**{**GOOD, **change})


@pytest.mark.parametrize(
    "kwargs", [dict(R=0), dict(R=2.5), dict(top_k=[0]), dict(top_k=[]), dict(memory_budget_bytes=0), dict(workers=0)]
)
def test_bad_options_raise_tfhash_error(kwargs):
    with pytest.raises(TfhashError):
        evaluate_retrieval(**GOOD, **kwargs)


def test_distance_helpers_validate_too():
    with pytest.raises(TfhashError, match="bits"):
        hamming_distance(HAND_Q, HAND_DB[:, :2])
    with pytest.raises(TfhashError, match="0/1"):
        hamming_ranking(np.zeros((1, 4)), HAND_DB)


def test_float_and_int_codes_are_accepted():
    result = evaluate_retrieval(HAND_Q.astype(np.float32), HAND_DB.astype(np.int64), HAND_Q_LABELS, HAND_DB_LABELS)
    assert result.map_all == pytest.approx(0.625)
    assert retrieval.DEFAULT_TOP_K[0] == 1
