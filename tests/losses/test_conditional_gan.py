"""The matching-aware (GAN-CLS) discriminator loss on hand-made logits."""

import math

import numpy as np
import pytest

from tfhash.losses.adversarial import generator_loss
from tfhash.losses.conditional_gan import matching_aware_discriminator_loss


def _bce(p, target):  # -[target log p + (1 - target) log (1 - p)]
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_all_logits_zero_costs_two_log_two():
    # log 2 (match -> 1) + 0.5 log 2 (mismatch -> 0) + 0.5 log 2 (fake -> 0)
    zeros = np.zeros(3, np.float32)
    assert float(matching_aware_discriminator_loss(zeros, zeros, zeros)) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_weights_and_targets_on_hand_made_logits():
    match, mismatch, fake = np.array([2.0, -1.0]), np.array([0.5, -3.0]), np.array([1.5, 0.0])
    expected = (_bce(_sigmoid(match), 1).mean() + 0.5 * _bce(_sigmoid(mismatch), 0).mean()
                + 0.5 * _bce(_sigmoid(fake), 0).mean())
    np.testing.assert_allclose(matching_aware_discriminator_loss(match, mismatch, fake), expected, rtol=1e-6)
    np.testing.assert_allclose(matching_aware_discriminator_loss(match, mismatch, fake, mismatch_weight=0.2,
                                                                 fake_weight=0.0),
                               _bce(_sigmoid(match), 1).mean() + 0.2 * _bce(_sigmoid(mismatch), 0).mean(), rtol=1e-6)
    np.testing.assert_allclose(generator_loss(fake), _bce(_sigmoid(fake), 1).mean(), rtol=1e-6)


def test_log_of_one_minus_d_not_one_minus_log_d():
    # TUCH's eq. 4 as printed reads 1 - log H_D; the loss is log(1 - H_D): a confident, correct H pays ~nothing ...
    assert matching_aware_discriminator_loss(np.array([30.0]), np.array([-30.0]), np.array([-30.0])) < 1e-6
    # ... and believing a mismatched pair (logit 0) costs lambda1 * its log loss, 0.5 log 2.
    np.testing.assert_allclose(matching_aware_discriminator_loss(np.array([30.0]), np.array([0.0]), np.array([-30.0])),
                               0.5 * np.log(2), rtol=1e-5)
