"""SCM-Seq (tfhash.methods.scm): a hand-built problem with a worked-out answer, and no n x n matrix."""

import numpy as np
import pytest

from tests.helpers import assert_beats_random, structured_dataset, train_run
from tfhash.methods.scm import normalized_labels, scm_seq, semantic_cross_covariance


def _two_classes(n=8):
    """n pairs, two balanced classes; feature 0 of both modalities is the class (+-1), feature 1 is noise.

    Feature 1 is +-1 balanced inside each class, so it is uncorrelated with the class and with feature 0:
    X^T X = Y^T Y = n I, and the class direction is e1 in both modalities.
    """
    cls = np.repeat([1.0, -1.0], n // 2)
    noise = np.tile([1.0, -1.0], n // 2)
    x = np.stack([cls, noise], axis=1)
    y = np.stack([cls, -noise], axis=1)
    labels = np.stack([cls > 0, cls < 0], axis=1).astype(np.uint8)
    return x, y, labels, cls


def test_cross_covariance_matches_the_explicit_similarity_matrix():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    labels = (rng.random((30, 5)) < 0.4).astype(np.uint8)
    labels[3] = 0  # an unlabelled row: Lhat = 0, so S = -1 to everything
    lhat = normalized_labels(labels)
    s = 2 * lhat @ lhat.T - 1  # the paper's S, formed here only to check the n x n-free path
    np.testing.assert_allclose(semantic_cross_covariance(x, y, labels), x.T @ s @ y, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(lhat[labels.sum(1) > 0], axis=1), 1.0)


def _dense_scm_seq(x, y, labels, bits, ridge):
    """The algorithm box literally: the explicit n x n S, a full SVD of the whitened residual per bit."""
    from tfhash.methods.itq import inverse_sqrt

    def white(a):
        cov = a.T @ a
        return inverse_sqrt(cov + ridge * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0]))

    lhat = normalized_labels(labels)
    residual = bits * (2 * lhat @ lhat.T - 1)
    wxw, wyw = white(x), white(y)
    out = []
    for _ in range(bits):
        u, s, vt = np.linalg.svd(wxw @ x.T @ residual @ y @ wyw)
        wx, wy = wxw @ u[:, 0], wyw @ vt[0]
        out.append((wx, wy, s[0]))
        residual = residual - np.outer(np.where(x @ wx >= 0, 1.0, -1.0), np.where(y @ wy >= 0, 1.0, -1.0))
    return out


def test_factored_residual_equals_the_literal_algorithm():
    rng = np.random.default_rng(3)
    labels = (rng.random((60, 4)) < 0.4).astype(np.uint8)
    labels[labels.sum(1) == 0, 0] = 1
    x = labels @ rng.normal(size=(4, 5)) + rng.normal(size=(60, 5))
    y = labels @ rng.normal(size=(4, 3)) + rng.normal(size=(60, 3))
    x, y = x - x.mean(0), y - y.mean(0)
    wx, wy, eta = scm_seq(x, y, labels, 6, ridge=1e-3)
    for t, (rx, ry, reta) in enumerate(_dense_scm_seq(x, y, labels, 6, ridge=1e-3)):
        sign = np.sign(wx[:, t] @ rx)  # a singular pair's joint sign is arbitrary
        np.testing.assert_allclose(sign * wx[:, t], rx, atol=1e-8)
        np.testing.assert_allclose(sign * wy[:, t], ry, atol=1e-8)
        assert eta[t] == pytest.approx(reta, rel=1e-9)


def test_two_classes_worked_answer():
    # S = +1 within a class, -1 across, so X^T S Y = (X^T s)(Y^T s)^T with s = cls: = n^2 e1 e1^T.
    # Whitening by (n I)^{-1/2}: C = n e1 e1^T; the top pair is wx = wy = e1 / sqrt(n), eta = r * n.
    # The codes of bit 1 are sign(cls) in both modalities; X^T b = (n, 0), so the residual after
    # bit t is (r - t) n^2 e1 e1^T and every bit is e1 again with eta = (r - t) n.
    n, bits = 8, 4
    x, y, labels, cls = _two_classes(n)
    wx, wy, eta = scm_seq(x, y, labels, bits, ridge=1e-12)
    for w in (wx, wy):
        np.testing.assert_allclose(np.abs(w[0]), 1 / np.sqrt(n), rtol=1e-6)
        np.testing.assert_allclose(w[1], 0.0, atol=1e-6)
    np.testing.assert_allclose(eta, [4 * n, 3 * n, 2 * n, 1 * n], rtol=1e-6)
    bx, by = np.sign(x @ wx), np.sign(y @ wy)
    # Codes separate the classes: same code within a class, all bits differ across, and modalities agree.
    np.testing.assert_array_equal(bx, by)
    assert (bx[cls > 0] == bx[0]).all() and (bx[cls < 0] == -bx[0]).all()


def test_linear_in_n_without_an_n_by_n_matrix():
    # 200,000 pairs: S would be 200k x 200k (320 GB in float64); the label path needs a few MB.
    rng = np.random.default_rng(1)
    n = 200_000
    labels = np.eye(5, dtype=np.uint8)[rng.integers(0, 5, n)]
    x = labels @ rng.normal(size=(5, 4)) + 0.5 * rng.normal(size=(n, 4))
    y = labels @ rng.normal(size=(5, 3)) + 0.5 * rng.normal(size=(n, 3))
    x, y = x - x.mean(0), y - y.mean(0)
    wx, wy, eta = scm_seq(x, y, labels, 8)
    assert wx.shape == (4, 8) and wy.shape == (3, 8)
    agree = np.mean(np.sign(x @ wx[:, 0]) == np.sign(y @ wy[:, 0]))
    assert agree > 0.8  # the first bit carries the shared class structure in both modalities


def test_trains_through_the_run(tmp_path):
    dataset = structured_dataset(tmp_path)
    _, report = train_run("scm", tmp_path, dataset, bits=16)
    assert_beats_random(report)
