"""Text helpers: the mask, masked poolings, masked LSTMs and encoders; padding never changes a result."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfhash.errors import TfhashError
from tfhash.layers.text import bow_encoder, last_valid_step, lstm_encoder, masked_lstm, masked_mean, token_mask

TOKENS = np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0], [2, 9, 9, 9, 1, 6]], np.int32)
LONGER = np.pad(TOKENS, ((0, 0), (0, 9)))  # the same sentences with 9 more padding steps


def test_token_mask_is_true_where_a_word_is():
    np.testing.assert_array_equal(token_mask(tf.constant([[3, 0, 4, 0], [0, 0, 0, 0]])),
                                  [[True, False, True, False], [False, False, False, False]])


def test_masked_mean_and_last_valid_step_by_hand():
    steps = tf.constant([[[1.0], [2.0], [3.0]], [[4.0], [5.0], [6.0]], [[1.0], [2.0], [3.0]]])
    mask = tf.constant([[True, True, False], [False, False, False], [True, False, True]])
    # row 0: mean(1, 2) = 1.5, last valid = 2; row 1 (empty): 0 and step 0 = 4; row 2 (a gap): mean(1, 3) = 2, last 3
    np.testing.assert_allclose(masked_mean(steps, mask), [[1.5], [0.0], [2.0]])
    np.testing.assert_allclose(last_valid_step(steps, mask), [[2.0], [4.0], [3.0]])
    # whatever sits in the masked steps is never seen (except step 0 of an empty row)
    junk = tf.where(mask[..., None], steps, 100.0)
    np.testing.assert_allclose(masked_mean(junk, mask), [[1.5], [0.0], [2.0]])
    np.testing.assert_allclose(last_valid_step(junk, mask)[::2], [[2.0], [3.0]])


def test_masked_lstm_skips_masked_steps_and_padding():
    keras.utils.set_random_seed(0)
    lstm = masked_lstm(2, 3, name="m")
    steps = np.random.default_rng(0).normal(size=(1, 4, 2)).astype(np.float32)
    mask = np.array([[True, False, True, False]])
    out = lstm([steps, mask]).numpy()
    # junk in the masked steps, and more padding at the end, change no valid step's output
    junk = steps.copy()
    junk[:, [1, 3]] = 50.0
    longer = np.concatenate([junk, np.full((1, 5, 2), -7.0, np.float32)], axis=1)
    out_longer = lstm([longer, np.pad(mask, ((0, 0), (0, 5)))]).numpy()
    np.testing.assert_allclose(out_longer[:, [0, 2]], out[:, [0, 2]], atol=1e-6)
    # the state is carried across the masked step: step 2 is what the LSTM gives for (s0, s2) with no gap
    gapless = lstm([steps[:, [0, 2]], np.ones((1, 2), bool)]).numpy()
    np.testing.assert_allclose(out[:, [0, 2]], gapless, atol=1e-6)
    # ... and a valid step does count (the check can fail)
    assert not np.allclose(lstm([steps, np.ones((1, 4), bool)]).numpy()[:, 2], out[:, 2], atol=1e-4)


def _encoders():
    """One encoder per pooling, all with the same weights."""
    keras.utils.set_random_seed(1)
    settings = dict(embedding_dim=4, units=(5, 3), output_dim=2, output_activation="tanh")
    sequence = lstm_encoder(10, pooling="sequence", name="enc", **settings)
    pooled = {p: lstm_encoder(10, pooling=p, name="enc", **settings) for p in ("mean", "last")}
    for model in pooled.values():
        model.set_weights(sequence.get_weights())
    return sequence, pooled


def test_lstm_encoder_poolings_and_padding():
    sequence, pooled = _encoders()
    steps = sequence(TOKENS).numpy()
    mask = TOKENS != 0
    assert steps.shape == (3, 6, 2) and np.all(np.abs(steps) <= 1)  # tanh output per step
    np.testing.assert_allclose(pooled["mean"](TOKENS), [steps[i][mask[i]].mean(0) for i in range(3)], atol=1e-6)
    np.testing.assert_allclose(pooled["last"](TOKENS), steps[[0, 1, 2], [2, 0, 5]], atol=1e-6)
    # more padding: the same pooled outputs, and the same valid steps
    for model in pooled.values():
        np.testing.assert_allclose(model(LONGER), model(TOKENS), atol=1e-6)
    np.testing.assert_allclose(sequence(LONGER).numpy()[:, :6][mask], steps[mask], atol=1e-6)
    # padding inside a sentence is skipped as well: (3, 0, 4) reads as (3, 4)
    np.testing.assert_allclose(pooled["last"](np.array([[3, 0, 4]])), pooled["last"](np.array([[3, 4]])), atol=1e-6)
    # ... while a word in place of padding changes the output (the checks can fail)
    extended = TOKENS.copy()
    extended[0, 3] = 8
    for model in pooled.values():
        assert not np.allclose(model(TOKENS)[0], model(extended)[0], atol=1e-6)


def test_lstm_encoder_rejects_bad_settings():
    with pytest.raises(TfhashError, match="pooling"):
        lstm_encoder(10, embedding_dim=4, units=(3,), pooling="max")
    with pytest.raises(TfhashError, match="vocabulary_size"):
        lstm_encoder(None, embedding_dim=4, units=(3,))


def test_bow_encoder_is_an_mlp_over_the_bag_of_words():
    model = bow_encoder(12, (8, 4), output_activation="tanh", name="bow")
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [tuple(layer.kernel.shape) for layer in dense] == [(12, 8), (8, 4)]
    assert [layer.activation.__name__ for layer in dense] == ["relu", "tanh"]
    assert model.name == "bow"
