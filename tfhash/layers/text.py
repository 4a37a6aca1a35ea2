"""Text encoders shared by methods: token embeddings + masked LSTMs, and bag-of-words MLPs.

Token sequences are int ids, 0 = padding, 1 .. vocabulary_size - 1 words
(``vocabulary_size = len(dataset.vocabulary) + 1``). Masking, not padding,
decides which steps count: every helper here takes the mask from
`token_mask`, the LSTMs skip masked steps (they carry their state across
them), and poolings average or pick over valid steps only, so the same
sentence with more padding gives exactly the same output. Encoders take
sequences of any length (``keras.Input(shape=(None,))``).

Everything is built from `keras.Input` (so it exists before `fit`) and uses
`keras.ops` only (graph- and XLA-friendly).

Functional API::

    lstm_encoder(vocabulary_size, embedding_dim=128, units=(256, 256), output_dim=64,
                 output_activation="tanh", pooling="last")     # tokens -> (batch, 64)
    bow_encoder(bow_dim, widths=(512, 64))                    # bag-of-words -> (batch, 64)
    token_mask(tokens); masked_mean(steps, mask); last_valid_step(steps, mask)
"""

import keras
from keras import ops

from tfhash.errors import require
from tfhash.layers.dense import Dense
from tfhash.layers.towers import mlp

POOLINGS = ("sequence", "mean", "last")


def token_inputs(max_length=None, name=None):
    """A `keras.Input` of int32 token ids, (batch, max_length); None = any length."""
    return keras.Input(shape=(max_length,), dtype="int32", name=name)


def token_mask(tokens):
    """(batch, steps) bool: True where a word is present (id != 0)."""
    return ops.not_equal(tokens, 0)


def masked_mean(steps, mask):
    """Mean of `steps` (batch, T, D) over the valid steps of `mask` (batch, T); 0 for an empty row."""
    weights = ops.expand_dims(ops.cast(mask, steps.dtype), -1)
    count = ops.maximum(ops.sum(weights, axis=1), 1.0)
    return ops.sum(steps * weights, axis=1) / count


def last_valid_step(steps, mask):
    """`steps` (batch, T, D) at the last valid step of each row of `mask`; step 0 for an empty row."""
    positions = ops.cumsum(ops.ones_like(mask, dtype="int32"), axis=1) - 1  # works for any (symbolic) length
    last = ops.max(ops.where(mask, positions, 0), axis=1, keepdims=True)
    pick = ops.cast(ops.equal(positions, last), steps.dtype)  # a one-hot gather that XLA likes
    return ops.sum(steps * ops.expand_dims(pick, -1), axis=1)


def lstm_stack(inputs, mask, units, *, name=None):
    """LSTM layers of widths `units` over `inputs` (batch, T, D) with `mask`; returns every step."""
    x = inputs
    for i, width in enumerate(units):
        x = keras.layers.LSTM(int(width), return_sequences=True, name=f"{name}_lstm{i}" if name else None)(x, mask=mask)
    return x


def lstm_encoder(vocabulary_size, *, embedding_dim, units, output_dim=None, output_activation=None,
                 pooling="sequence", max_length=None, embeddings_initializer="uniform", name=None):
    """tokens -> embedding -> LSTM layers `units` -> (per-step Dense `output_dim`) -> pooling.

    `pooling`: "sequence" returns every step (batch, T, D) (take the mask
    with `token_mask(tokens)`), "mean" the mean over valid steps, "last" the
    output at the last valid step.
    """
    require(pooling in POOLINGS, f"unknown pooling '{pooling}' (known: {', '.join(POOLINGS)})")
    require(vocabulary_size is not None and vocabulary_size > 1,
            "an LSTM text encoder needs vocabulary_size (len(vocabulary) + 1, id 0 = padding)")
    tokens = token_inputs(max_length, name=f"{name}_tokens" if name else None)
    mask = token_mask(tokens)
    x = keras.layers.Embedding(int(vocabulary_size), int(embedding_dim), embeddings_initializer=embeddings_initializer,
                               name=f"{name}_embedding" if name else None)(tokens)
    x = lstm_stack(x, mask, units, name=name)
    if output_dim:
        x = Dense(int(output_dim), activation=output_activation,
                               name=f"{name}_output" if name else None)(x)
    if pooling == "mean":
        x = masked_mean(x, mask)
    elif pooling == "last":
        x = last_valid_step(x, mask)
    return keras.Model(tokens, x, name=name)


def masked_lstm(input_dim, units, *, name=None):
    """An LSTM over given step vectors: [steps (batch, T, input_dim), mask (batch, T) bool] -> every step."""
    steps = keras.Input(shape=(None, int(input_dim)), name=f"{name}_steps" if name else None)
    mask = keras.Input(shape=(None,), dtype="bool", name=f"{name}_mask" if name else None)
    return keras.Model([steps, mask], lstm_stack(steps, mask, (units,), name=name), name=name)


def bow_encoder(input_dim, widths, *, activation="relu", output_activation=None, dropout=0.0, name=None):
    """A bag-of-words MLP `input_dim -> widths` (the text counterpart of `lstm_encoder`)."""
    return mlp(int(input_dim), widths, activation=activation, output_activation=output_activation,
               dropout=dropout, name=name)
