"""MLP towers built from `keras.Input`, so they are built (and distributable) at once."""

import keras

from tfhash.layers.dense import Dense


def mlp(input_dim, widths, *, activation="relu", output_activation=None, dropout=0.0, name=None):
    """A functional MLP `input_dim -> widths[0] -> ... -> widths[-1]`.

    Hidden layers use `activation` (and `dropout` after each, if > 0); the
    last layer uses `output_activation`. `input_dim` may be an int or a shape.
    """
    shape = (input_dim,) if isinstance(input_dim, int) else tuple(input_dim)
    inputs = keras.Input(shape=shape, name=f"{name}_input" if name else None)
    x = inputs
    for i, width in enumerate(widths):
        last = i == len(widths) - 1
        x = Dense(
            int(width),
            activation=output_activation if last else activation,
            name=f"{name}_dense{i}" if name else None,
        )(x)
        if dropout and not last:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{i}" if name else None)(x)
    return keras.Model(inputs, x, name=name)

