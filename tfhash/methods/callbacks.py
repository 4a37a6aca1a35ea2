"""Callbacks shared by methods."""

import keras


class EpochEndCodeUpdate(keras.callbacks.Callback):
    """Call `model.update_codes(train)` after each epoch (UCH's and SDCH's discrete B step).

    Discrete updates of B are outside gradient descent, so they live here
    and not in `train_step`.
    """

    def __init__(self, train):
        super().__init__()
        self.train = train

    def on_epoch_end(self, epoch, logs=None):
        self.model.update_codes(self.train, epoch)
