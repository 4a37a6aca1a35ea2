"""GAN losses on logits, at logits whose sigmoid is known by hand (0 -> 1/2, ln 3 -> 3/4)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfhash.losses.adversarial import binary_cross_entropy, discriminator_loss, generator_loss

LN3 = math.log(3.0)  # sigmoid(ln 3) = 3 / (3 + 1) = 3/4


def test_discriminator_loss_by_hand():
    # sigmoid(0) = 1/2: -log 1/2 for the real term + -log(1 - 1/2) for the fake one
    assert float(discriminator_loss(tf.zeros((2,)), tf.zeros((3,)))) == pytest.approx(2 * math.log(2), rel=1e-6)
    # real ln 3: -log 3/4 = log 4/3; fake ln 3: -log(1 - 3/4) = log 4 -> log(16/3)
    assert float(discriminator_loss(tf.constant([LN3]), tf.constant([LN3]))) == pytest.approx(math.log(16 / 3), rel=1e-6)
    # a confident, correct discriminator pays ~nothing; the computation is stable far out
    assert float(discriminator_loss(tf.constant([100.0]), tf.constant([-100.0]))) == pytest.approx(0.0, abs=1e-6)


def test_generator_loss_is_non_saturating_and_a_batch_mean():
    # -log D(fake): log 2 at logit 0, log 4/3 at ln 3 -> their mean over the batch
    expected = (math.log(2) + math.log(4 / 3)) / 2
    assert float(generator_loss(tf.constant([0.0, LN3]))) == pytest.approx(expected, rel=1e-6)
    # a fake the discriminator is sure about (logit -100) costs ~100 (the gradient does not vanish), not inf
    assert float(generator_loss(tf.constant([[-100.0]]))) == pytest.approx(100.0, rel=1e-6)


def test_binary_cross_entropy_against_a_constant_target():
    logits = tf.constant([[LN3], [0.0]])
    # target 1: (log 4/3 + log 2) / 2;  target 0: (log 4 + log 2) / 2
    np.testing.assert_allclose(binary_cross_entropy(1.0, logits), (math.log(4 / 3) + math.log(2)) / 2, rtol=1e-6)
    np.testing.assert_allclose(binary_cross_entropy(0.0, logits), (math.log(4) + math.log(2)) / 2, rtol=1e-6)
    # a soft target 3/4 at logit ln 3: -(3/4 log 3/4 + 1/4 log 1/4), the entropy of (3/4, 1/4)
    np.testing.assert_allclose(binary_cross_entropy(0.75, tf.constant([LN3])),
                               -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), rtol=1e-6)
