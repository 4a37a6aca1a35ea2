"""REINFORCE: sampled log-probabilities, the surrogate's value and gradient, rewards held constant."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfhash.losses.policy_gradient import reinforce_loss, sampled_log_probs

# softmax of (0, ln 2, 0, ln 4) = (1, 2, 1, 4) / 8; of (ln 3, 0, 0, 0) = (3, 1, 1, 1) / 6
LOGITS = [[0.0, math.log(2), 0.0, math.log(4)], [math.log(3), 0.0, 0.0, 0.0]]


def test_sampled_log_probs_pick_each_rows_own_samples():
    samples = tf.constant([[3, 1, 3], [0, 2, 0]])
    expected = np.log([[1 / 2, 1 / 4, 1 / 2], [1 / 2, 1 / 6, 1 / 2]])
    np.testing.assert_allclose(sampled_log_probs(tf.constant(LOGITS), samples), expected, rtol=1e-6)


def test_reinforce_loss_value_and_baseline():
    log_probs = tf.constant(np.log([[0.5, 0.25]]), tf.float32)
    # -mean(2 log 1/2 + 1 log 1/4) = -(-2 ln 2 - 2 ln 2) / 2 = 2 ln 2
    assert float(reinforce_loss(log_probs, tf.constant([[2.0, 1.0]]))) == pytest.approx(2 * math.log(2), rel=1e-6)
    # baseline 1: rewards (1, 0) -> -(log 1/2) / 2 = ln 2 / 2
    assert float(reinforce_loss(log_probs, tf.constant([[2.0, 1.0]]), baseline=1.0)) == pytest.approx(
        math.log(2) / 2, rel=1e-6)


def test_gradient_is_reward_times_grad_log_p():
    logits = tf.Variable([LOGITS[0]])
    # one sample, item 1 (p = 1/4), reward 3: d(-3 log p_1)/dlogits = -3 (e_1 - p) = -3 (-1/8, 3/4, -1/8, -1/2)
    with tf.GradientTape() as tape:
        loss = reinforce_loss(sampled_log_probs(logits, tf.constant([[1]])), tf.constant([[3.0]]))
    np.testing.assert_allclose(tape.gradient(loss, logits), [[0.375, -2.25, 0.375, 1.5]], rtol=1e-5)


def test_surrogate_raises_the_probability_of_the_rewarded_sample():
    logits = tf.Variable([[0.3, -0.2, 0.1, 0.0, 0.5]])
    samples = tf.constant([[0, 3]])
    rewards = tf.constant([[2.0, 0.0]])  # only item 0 is rewarded
    before = tf.nn.softmax(logits).numpy()
    with tf.GradientTape() as tape:
        loss = reinforce_loss(sampled_log_probs(logits, samples), rewards)
    keras.optimizers.SGD(0.5).apply_gradients([(tape.gradient(loss, logits), logits)])
    after = tf.nn.softmax(logits).numpy()
    assert after[0, 0] > before[0, 0] + 0.05
    assert np.all(after[0, 1:] < before[0, 1:])


def test_rewards_and_baseline_are_constants():
    logits = tf.Variable([[0.3, -0.2, 0.1]])
    rewards, baseline = tf.Variable([[2.0, 0.0]]), tf.Variable(0.5)
    with tf.GradientTape() as tape:
        loss = reinforce_loss(sampled_log_probs(logits, tf.constant([[0, 2]])), rewards, baseline=baseline)
    grad_rewards, grad_baseline, grad_logits = tape.gradient(loss, [rewards, baseline, logits])
    assert grad_rewards is None and grad_baseline is None and grad_logits is not None
