"""Training checkpoints: every variable of the model and its optimizers, written atomically.

One HDF5 file per saved epoch (`ckpt-EPOCH.h5`) plus a `latest` pointer
file; both are written to a temporary name and renamed, so a kill at any
moment leaves the previous checkpoint intact. Seed-generator states are
model variables, so sampling resumes where it stopped.
"""

import os

import h5py
import keras
import numpy as np

from tfhash.atomic import atomic_path, write_text
from tfhash.errors import TfhashError, require


def _groups(model):
    groups = {"model": model.variables}
    for name, optimizer in sorted(model.optimizers.items()):
        groups[f"optimizer/{name}"] = optimizer.variables
    return groups


def save_checkpoint(model, directory, epoch, keep=2):
    """Save the state after `epoch` completed epochs; keep the newest `keep` files."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"ckpt-{epoch:05d}.h5")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["epoch"] = int(epoch)
            for group, variables in _groups(model).items():
                g = f.create_group(group)
                for i, var in enumerate(variables):
                    g.create_dataset(f"{i:05d}", data=keras.ops.convert_to_numpy(var.value))
    write_text(os.path.join(directory, "latest"), os.path.basename(path))
    old = sorted(p for p in os.listdir(directory) if p.startswith("ckpt-") and p.endswith(".h5"))
    for name in old[:-keep]:
        os.remove(os.path.join(directory, name))
    return path


def latest_checkpoint(directory):
    """Path of the newest complete checkpoint in `directory`, or None."""
    pointer = os.path.join(directory, "latest")
    if not os.path.exists(pointer):
        return None
    with open(pointer, encoding="utf-8") as f:
        path = os.path.join(directory, f.read().strip())
    return path if os.path.exists(path) else None


def restore_checkpoint(model, path):
    """Assign every saved variable; returns the number of completed epochs."""
    with h5py.File(path, "r") as f:
        for group, variables in _groups(model).items():
            require(group in f, f"checkpoint {path} has no state for {group}")
            saved = f[group]
            require(len(saved) == len(variables),
                    f"checkpoint {path} does not match this model ({group}: {len(saved)} vs {len(variables)} variables)")
            for i, var in enumerate(variables):
                value = saved[f"{i:05d}"][()]
                if tuple(value.shape) != tuple(var.shape):
                    raise TfhashError(f"checkpoint {path} does not match this model (variable {var.path})")
                var.assign(value.astype(np.dtype(var.dtype)))
        return int(f.attrs["epoch"])


class EpochCheckpoint(keras.callbacks.Callback):
    """Save a checkpoint after every epoch (after the method's own epoch-end updates)."""

    def __init__(self, directory, keep=2):
        super().__init__()
        self.directory = directory
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        save_checkpoint(self.model, self.directory, epoch + 1, keep=self.keep)
