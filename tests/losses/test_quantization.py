"""Quantisation and balance terms on hand-made codes."""

import numpy as np
import pytest
import tensorflow as tf

from tfhash.losses.quantization import bit_balance_loss, bitwise_margin_loss, quantization_loss


def test_quantization_loss_sums_bits_and_averages_items():
    # [[0.5, -1]] vs [[1, -1]]: (1 - 0.5)^2 + 0 = 0.25
    assert float(quantization_loss(tf.constant([[0.5, -1.0]]), tf.constant([[1.0, -1.0]]))) == pytest.approx(0.25)
    # second item [0, 0] vs [1, -1]: 1 + 1 = 2 -> mean over the two items (0.25 + 2) / 2 = 1.125
    codes = tf.constant([[0.5, -1.0], [0.0, 0.0]])
    binary = tf.constant([[1.0, -1.0], [1.0, -1.0]])
    assert float(quantization_loss(codes, binary)) == pytest.approx(1.125)
    # codes already at their signs cost nothing
    assert float(quantization_loss(binary, binary)) == 0.0


def test_bit_balance_loss_is_squared_column_sums_over_n_squared():
    # columns sum to (0, 2): (0 + 4) / 2^2 = 1
    assert float(bit_balance_loss(tf.constant([[1.0, 1.0], [-1.0, 1.0]]))) == pytest.approx(1.0)
    # each bit half +1, half -1: 0
    assert float(bit_balance_loss(tf.constant([[1.0, -1.0], [-1.0, 1.0]]))) == 0.0
    # one item: 0.5^2 + 1 + 1 = 2.25
    assert float(bit_balance_loss(tf.constant([[0.5, 1.0, -1.0]]))) == pytest.approx(2.25)


def test_bitwise_margin_loss_penalises_bits_near_zero():
    # margin 0.5: row 0 (0.5 - 0.2) + 0 = 0.3, row 1 0 + (0.5 - 0) = 0.5 -> mean 0.4
    codes = tf.constant([[0.2, -0.9], [0.5, 0.0]])
    np.testing.assert_allclose(bitwise_margin_loss(codes, margin=0.5), 0.4, rtol=1e-6)
    # margin 1: (1 - 0.2) + (1 - 0.9) = 0.9 for row 0, 0.5 + 1 = 1.5 for row 1 -> mean 1.2
    np.testing.assert_allclose(bitwise_margin_loss(codes, margin=1.0), 1.2, rtol=1e-6)
    # the default margin is 0.5 and bits beyond it cost nothing, whatever their sign
    assert float(bitwise_margin_loss(tf.constant([[0.6, -3.0]]))) == 0.0
