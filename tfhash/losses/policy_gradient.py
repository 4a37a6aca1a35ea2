"""Policy-gradient (REINFORCE) terms for generators that *select* items instead of synthesising them.

A generator that picks discrete items (IRGAN, UGACH) cannot be trained by
back-propagating through its samples. REINFORCE (Williams 1992) uses

    grad E_{x ~ p_theta}[r(x)] = E[r(x) grad log p_theta(x)]
                               ~ 1/m sum_k r(x_k) grad log p_theta(x_k),   x_k ~ p_theta

(UGACH, eq. 10). `reinforce_loss` is the surrogate whose gradient is minus
that estimate, so minimising it with any optimizer ascends the expected reward.
"""

import tensorflow as tf


def sampled_log_probs(logits, samples):
    """log softmax(logits)[..., samples]: (batch, candidates) logits, (batch, m) sample indices -> (batch, m)."""
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    return tf.gather(log_probs, tf.cast(samples, tf.int32), axis=-1, batch_dims=1)


def reinforce_loss(log_probs, rewards, baseline=None):
    """-mean(reward * log p(sample)) with the rewards held constant (REINFORCE surrogate).

    `log_probs` and `rewards` have the same shape (e.g. (batch, m)); an
    optional `baseline` (broadcastable, also held constant) is subtracted
    from the rewards to reduce variance without biasing the gradient.
    """
    rewards = tf.stop_gradient(tf.cast(rewards, log_probs.dtype))
    if baseline is not None:
        rewards = rewards - tf.stop_gradient(tf.cast(baseline, log_probs.dtype))
    return -tf.reduce_mean(rewards * log_probs)
