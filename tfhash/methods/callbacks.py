"""The one callback every method trains with: the method's schedule, epoch by epoch."""

import keras


class MethodSchedule(keras.callbacks.Callback):
    """Call `model.begin_epoch(epoch)` before and `model.end_epoch(epoch, train)` after each epoch.

    `begin_epoch` enters the epoch's `Phase` (learning rates, frozen players);
    `end_epoch` is where discrete updates outside gradient descent happen
    (UCH's and SDCH's B), before the epoch's checkpoint is written; first
    `sync_replicas` makes the state replicas update alone equal across workers.
    """

    def __init__(self, train):
        super().__init__()
        self.train = train

    def on_epoch_begin(self, epoch, logs=None):
        self.model.begin_epoch(epoch)

    def on_epoch_end(self, epoch, logs=None):
        self.model.sync_replicas()  # workers' BatchNormalization statistics, before they encode or checkpoint
        self.model.end_epoch(epoch, self.train)
