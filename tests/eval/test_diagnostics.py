"""tfhash.eval.diagnostics on hand-built code matrices with the values worked out by hand."""

import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.eval.diagnostics import code_diagnostics, format_diagnostics, output_diagnostics
from tfhash.eval.report import cross_modal_report, format_report_diagnostics

# Collapsed: three bits, each a copy of the balanced column (+, +, -, -), and a fourth bit always +1.
COLLAPSED = np.array([[1, 1, 1, 1],
                      [1, 1, 1, 1],
                      [-1, -1, -1, 1],
                      [-1, -1, -1, 1]], np.int8)

# Balanced: all 8 codes of 3 bits once each (a full factorial design).
BALANCED = np.array([[a, b, c] for a in (1, -1) for b in (1, -1) for c in (1, -1)], np.int8)


def test_collapsed_codes():
    d = code_diagnostics(COLLAPSED)
    # Bit means: 0, 0, 0 (two + and two -) and 1 for the constant bit.
    assert d["balance"] == [0.0, 0.0, 0.0, 1.0]
    assert d["max_abs_balance"] == 1.0 and d["mean_abs_balance"] == 0.25
    # The three live bits are identical: |r| = 1 for each of their 3 pairs; the constant bit is left out.
    assert d["mean_abs_correlation"] == pytest.approx(1.0)
    assert d["constant_bits"] == 1
    # Rank-one covariance (the constant bit adds no variance): the top component holds all of it.
    assert d["top_pc_share"] == pytest.approx(1.0)
    # Two distinct codes, two items each: entropy 1 bit of a possible log2(min(4 items, 2^4)) = 2.
    assert d["distinct_codes"] == 2
    assert d["entropy_bits"] == pytest.approx(1.0)
    assert d["max_entropy_bits"] == pytest.approx(2.0)
    assert d["num_codes"] == 4 and d["bits"] == 4


def test_balanced_codes():
    d = code_diagnostics(BALANCED)
    # Every bit + in 4 of 8 rows: mean 0; every pair agrees in 4 of 8 rows: r = 0.
    assert d["balance"] == [0.0, 0.0, 0.0] and d["max_abs_balance"] == 0.0
    assert d["mean_abs_correlation"] == pytest.approx(0.0)
    assert d["constant_bits"] == 0
    # Covariance = identity (3 x 3): the top component holds 1/3.
    assert d["top_pc_share"] == pytest.approx(1 / 3)
    # 8 distinct codes, each p = 1/8: entropy 3 bits, the maximum.
    assert d["distinct_codes"] == 8
    assert d["entropy_bits"] == pytest.approx(3.0) and d["max_entropy_bits"] == pytest.approx(3.0)


def test_partly_correlated_codes():
    # bit 0 = (+, +, +, -): mean 0.5, variance 1 - 0.25 = 0.75; bit 1 = (+, +, -, -): mean 0, variance 1.
    # Covariance E[x0 x1] - 0.5 * 0 = (1 + 1 - 1 + 1) / 4 = 0.5, so r = 0.5 / sqrt(0.75) = 0.57735.
    # Eigenvalues of [[0.75, 0.5], [0.5, 1]]: (1.75 +- sqrt(1.0625)) / 2 = 1.390388, 0.359612; share 1.390388 / 1.75.
    # Codes (+,+) twice, (+,-) once, (-,-) once: p = 1/2, 1/4, 1/4, entropy 0.5 + 0.5 + 0.5 = 1.5 bits.
    codes = np.array([[1, 1], [1, 1], [1, -1], [-1, -1]])
    d = code_diagnostics(codes)
    assert d["balance"] == [0.5, 0.0] and d["mean_abs_balance"] == 0.25
    assert d["mean_abs_correlation"] == pytest.approx(0.5 / np.sqrt(0.75))
    assert d["top_pc_share"] == pytest.approx(0.794507, abs=1e-6)
    assert d["distinct_codes"] == 3 and d["entropy_bits"] == pytest.approx(1.5)


def test_every_bit_constant():
    d = code_diagnostics(np.ones((5, 3), np.int8))
    # No live bit: no correlation and no variance to share; one code, entropy 0.
    assert d["mean_abs_correlation"] is None and d["top_pc_share"] is None
    assert d["constant_bits"] == 3 and d["distinct_codes"] == 1 and d["entropy_bits"] == 0.0


def test_output_diagnostics():
    x = np.array([1.0, -1.0, 3.0, -3.0])
    # y = 2x (r = 1) and a constant 5: mean |r| over the one live pair is 1; all variance on one direction.
    d = output_diagnostics(np.stack([x, 2 * x, np.full(4, 5.0)], axis=1))
    assert d["mean_abs_correlation"] == pytest.approx(1.0) and d["constant_outputs"] == 1
    assert d["top_pc_share"] == pytest.approx(1.0)
    # Orthogonal columns of equal variance: r = 0, top share 1/2.
    d = output_diagnostics(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]))
    assert d["mean_abs_correlation"] == pytest.approx(0.0) and d["top_pc_share"] == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [np.zeros((3, 2)), np.ones(4), np.ones((0, 3)), np.array([[1, 2], [1, -1]])])
def test_bad_codes_are_refused(bad):
    with pytest.raises(TfhashError):
        code_diagnostics(bad)


def test_format_flags_the_collapse_only():
    text = format_diagnostics({"image": code_diagnostics(COLLAPSED), "text": code_diagnostics(BALANCED)},
                              {"image": output_diagnostics(COLLAPSED.astype(float))})
    assert "warning: image codes look collapsed: the top principal component holds 100%" in text
    assert "warning: image codes have 1 constant bit(s)" in text
    assert "warning: image outputs look collapsed" in text
    assert "text codes" not in text
    assert "3.0/3.0" in text  # balanced text codes: entropy at its maximum


def test_report_carries_diagnostics_per_modality():
    labels = np.eye(2, dtype=np.uint8)[[0, 0, 1, 1]]
    codes = {"query_image": COLLAPSED, "database_image": COLLAPSED, "query_text": COLLAPSED,
             "database_text": COLLAPSED, "query_labels": labels, "database_labels": labels,
             "output_diagnostics": {"image": output_diagnostics(COLLAPSED.astype(float))}}
    report = cross_modal_report(codes, R=2, top_k=[1])
    # Query and database codes stacked: the same two codes, four items each -> still 1 bit of entropy of 3.
    image = report["code_diagnostics"]["image"]
    assert image["num_codes"] == 8 and image["distinct_codes"] == 2
    assert image["entropy_bits"] == pytest.approx(1.0) and image["max_entropy_bits"] == pytest.approx(3.0)
    assert set(report["code_diagnostics"]) == {"image", "text"}
    assert report["output_diagnostics"]["image"]["constant_outputs"] == 1
    assert "image codes look collapsed" in format_report_diagnostics(report)
