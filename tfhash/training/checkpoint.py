"""Training checkpoints: every variable of the model and its optimizers, written atomically.

One HDF5 file per saved epoch (`ckpt-EPOCH.h5`) plus a `latest` pointer
file; both are written to a temporary name and renamed, so a kill at any
moment leaves the previous checkpoint intact. Seed-generator states are
model variables, so sampling resumes where it stopped.

Each file carries a SHA-256 of its epoch and variables (attribute
``sha256``), checked on restore: a damaged checkpoint is reported in one
line, never loaded. A `latest` pointer naming a missing or unreadable file
is an error too (resuming must never silently start again from epoch 1).
"""

import hashlib
import os
import re

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
            digest = _Digest(epoch)
            for group, variables in _groups(model).items():
                g = f.create_group(group)
                for i, var in enumerate(variables):
                    value = keras.ops.convert_to_numpy(var.value)
                    g.create_dataset(f"{i:05d}", data=value)
                    digest.add(group, i, value)
            f.attrs["sha256"] = digest.hexdigest()
    write_text(os.path.join(directory, "latest"), os.path.basename(path))
    old = sorted(p for p in os.listdir(directory) if p.startswith("ckpt-") and p.endswith(".h5"))
    for name in old[:-keep]:
        os.remove(os.path.join(directory, name))
    return path


class _Digest:
    """SHA-256 over the epoch and every variable's name, dtype, shape and bytes, in save order."""

    def __init__(self, epoch):
        self._h = hashlib.sha256(f"epoch={int(epoch)}".encode())

    def add(self, group, i, value):
        value = np.ascontiguousarray(value)
        self._h.update(f"|{group}/{i:05d}|{value.dtype.str}|{value.shape}|".encode())
        self._h.update(value.tobytes())

    def hexdigest(self):
        return self._h.hexdigest()


_CKPT_NAME = re.compile(r"^ckpt-\d{5,}\.h5$")


def latest_checkpoint(directory):
    """Path of the newest checkpoint in `directory`, or None if none was ever written.

    A `latest` pointer that is garbage or names a missing file raises a
    one-line `TfhashError`: resuming must not silently start from epoch 1.
    """
    pointer = os.path.join(directory, "latest")
    if not os.path.exists(pointer):
        return None
    try:
        with open(pointer, encoding="utf-8") as f:
            name = f.read().strip()
    except (OSError, UnicodeDecodeError):
        name = ""
    fix = f"delete {directory} to train from epoch 1, or train into another --out"
    require(_CKPT_NAME.match(name), f"checkpoint pointer {pointer} is damaged (it names no checkpoint); {fix}")
    path = os.path.join(directory, name)
    require(os.path.exists(path), f"checkpoint pointer {pointer} names {name}, which is missing; {fix}")
    return path


def restore_checkpoint(model, path):
    """Assign every saved variable; returns the number of completed epochs.

    Raises a one-line `TfhashError` if the file is damaged (unreadable, or
    its checksum does not match) or belongs to another model.
    """
    damaged = (f"checkpoint {path} is damaged ({{}}); delete it and the 'latest' file next to it to resume "
               "from the one before, or train again")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise TfhashError(damaged.format(f"not a readable HDF5 file: {err}")) from None
    with f:
        try:
            epoch = int(f.attrs["epoch"])
            saved_sum = f.attrs.get("sha256")
            digest = _Digest(epoch)
            values = {}
            for group, variables in _groups(model).items():
                require(group in f, f"checkpoint {path} has no state for {group}")
                saved = f[group]
                require(len(saved) == len(variables),
                        f"checkpoint {path} does not match this model ({group}: {len(saved)} vs {len(variables)} variables)")
                for i, var in enumerate(variables):
                    value = saved[f"{i:05d}"][()]
                    digest.add(group, i, value)
                    values[(group, i)] = value
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise TfhashError(damaged.format(err)) from None
    if saved_sum is not None:  # checkpoints of older tfhash versions carry none
        saved_sum = saved_sum.decode() if isinstance(saved_sum, bytes) else str(saved_sum)
        require(saved_sum == digest.hexdigest(), damaged.format("checksum mismatch"))
    for group, variables in _groups(model).items():
        for i, var in enumerate(variables):
            value = values[(group, i)]
            if tuple(value.shape) != tuple(var.shape):
                raise TfhashError(f"checkpoint {path} does not match this model (variable {var.path})")
            var.assign(value.astype(np.dtype(var.dtype)))
    return epoch


class EpochCheckpoint(keras.callbacks.Callback):
    """Save a checkpoint after every epoch (after the method's own epoch-end updates)."""

    def __init__(self, directory, keep=2):
        super().__init__()
        self.directory = directory
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        save_checkpoint(self.model, self.directory, epoch + 1, keep=self.keep)
