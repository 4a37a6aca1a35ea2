"""Pairwise losses and label similarities on hand-made codes: pair means, two sets, empty sets."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfhash.losses.pairwise import (cosine_margin_loss, inner_product_loss, label_similarity, logistic_pair_loss,
                                    signed_label_similarity)

# Three 2-bit codes and multi-hot labels: 0 and 1 share label 0, 1 and 2 share label 1, 0 and 2 share nothing.
CODES = tf.constant([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
LABELS = tf.constant([[1, 0], [1, 1], [0, 1]])


def test_label_similarities_one_set_and_two_sets():
    np.testing.assert_array_equal(signed_label_similarity(LABELS), [[1, 1, -1], [1, 1, 1], [-1, 1, 1]])
    labels = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(label_similarity(labels), [[1, 0, 1], [0, 1, 1], [1, 1, 1]])
    # two sets: rows are `labels`, columns `other_labels`; an item without labels shares nothing, not even with itself
    other = np.array([[1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(signed_label_similarity(labels, other), [[1, -1], [1, -1], [1, -1]])
    np.testing.assert_array_equal(label_similarity(labels, other), [[1, 0], [1, 0], [1, 0]])
    assert signed_label_similarity(labels).dtype == tf.float32


def test_cosine_margin_loss_by_hand():
    s = signed_label_similarity(LABELS)
    # cosines: (0,1) = 1/sqrt2 (similar: no loss), (0,2) = 0 (dissimilar: 0.5),
    # (1,2) = -1/sqrt2 (similar: 0.5 + 1/sqrt2); each pair counted both ways, the diagonal left out
    expected = (0.0 + 0.5 + 0.5 + 1 / np.sqrt(2)) / 3
    np.testing.assert_allclose(cosine_margin_loss(CODES, s, margin=0.5), expected, rtol=1e-6)
    # two sets: every (i, j) pair counts, the diagonal (cosine 1, similar: no loss) included -> 6 off-diagonal
    # pairs' losses over 9 pairs
    np.testing.assert_allclose(cosine_margin_loss(CODES, s, margin=0.5, other=CODES), 3 * expected * 2 / 9, rtol=1e-6)
    # a zero code has cosine 0 with everything (no NaN): margin - 0 for both ordered pairs
    zero = tf.constant([[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(cosine_margin_loss(zero, tf.ones((2, 2)), margin=0.5), 0.5, rtol=1e-6)
    # the cosine ignores length: scaling a code changes nothing
    np.testing.assert_allclose(cosine_margin_loss(CODES * [[3.0], [0.5], [7.0]], s, margin=0.5), expected, rtol=1e-6)


def test_inner_product_loss_by_hand():
    s = signed_label_similarity(LABELS)
    # <h_i, h_j> / K: 0.5 (s=1), 0 (s=-1), -0.5 (s=1) -> (0.25 + 1 + 2.25) / 3
    np.testing.assert_allclose(inner_product_loss(CODES, s), 3.5 / 3, rtol=1e-6)
    # two sets: <z, z_j> / r = (1, 0) against s = (+1, -1): mean(0, 1)
    z, others = np.array([[1.0, 1.0]]), np.array([[1.0, 1.0], [1.0, -1.0]])
    assert float(inner_product_loss(z, np.array([[1.0, -1.0]]), other=others)) == pytest.approx(0.5)


def test_logistic_pair_loss_by_hand():
    # theta = <f, g_j> = (1, 0); s = (1, 0): mean(log(1 + e) - 1, log 2).
    f, g = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 2.0]])
    expected = (math.log(1 + math.e) - 1 + math.log(2)) / 2
    assert float(logistic_pair_loss(f, np.array([[1.0, 0.0]]), other=g)) == pytest.approx(expected, rel=1e-6)
    # Within one set only the pair i != j counts: theta = 2, s = 1 -> log(1 + e^2) - 2.
    f = np.array([[1.0, 0.0], [2.0, 0.0]], np.float32)
    assert float(logistic_pair_loss(f, np.ones((2, 2)))) == pytest.approx(math.log(1 + math.e**2) - 2, rel=1e-6)
    # scale multiplies theta: 0.5 * <(2, 0), (1, 0)> = 1, s = 1 -> log(1 + e) - 1
    assert float(logistic_pair_loss(np.array([[2.0, 0.0]]), np.array([[1.0]]), other=np.array([[1.0, 0.0]]),
                                    scale=0.5)) == pytest.approx(math.log(1 + math.e) - 1, rel=1e-6)
    # Stable far out: theta = 100 similar -> ~0, dissimilar -> ~100.
    big = np.array([[10.0]], np.float32)
    assert float(logistic_pair_loss(big, np.array([[1.0]]), other=big)) == pytest.approx(0.0, abs=1e-6)
    assert float(logistic_pair_loss(big, np.array([[0.0]]), other=big)) == pytest.approx(100.0, rel=1e-6)


@pytest.mark.parametrize("loss", [cosine_margin_loss, inner_product_loss, logistic_pair_loss])
def test_empty_sets_and_single_items_give_zero_not_nan(loss):
    # An empty replica slice: no pairs, loss 0 (one set and against another set).
    empty = tf.zeros((0, 2))
    assert float(loss(empty, tf.zeros((0, 0)))) == 0.0
    assert float(loss(empty, tf.zeros((0, 2)), other=tf.constant([[1.0, 1.0], [1.0, -1.0]]))) == 0.0
    # One item alone has no pair i != j.
    assert float(loss(tf.constant([[1.0, -1.0]]), tf.constant([[-1.0]]))) == 0.0
