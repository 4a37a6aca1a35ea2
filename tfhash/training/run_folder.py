"""The run folder: its layout and every file in it, read and written here only.

    RUN_DIR/config.json     every setting, the seed, the dataset and its split, strategy, versions
    RUN_DIR/checkpoints/    the state after each epoch (tfhash.training.checkpoint)
    RUN_DIR/logs/           TensorBoard
    RUN_DIR/model.keras     the trained model (`load_model`)
    RUN_DIR/codes.h5        ±1 codes of the query and database items (layout below)
    RUN_DIR/report.json     the evaluation, and its plots (tfhash.eval.report)
    RUN_DIR/vocabulary.txt  token-sequence methods: token id i+1 is line i

`codes.h5` layout: /query/{image,text} and /database/{image,text} int8
(N, bits); /database/unified (optional) int8; /{query,database}/labels
uint8; /{query,database}/ids str; attrs method, bits, dataset.
"""

import json
import os

import h5py
import numpy as np

from tfhash.atomic import atomic_path, write_text
from tfhash.errors import TfhashError, require
from tfhash.training.run_state import load_keras_file, read_run_config, require_finished

_STR = h5py.string_dtype(encoding="utf-8")


def to_int8_codes(codes):
    """Float ±1 (or any signs) to int8 ±1, sign(0) = +1."""
    return np.where(np.asarray(codes) >= 0, 1, -1).astype(np.int8)


def write_codes(path, *, query, database, method, bits, dataset):
    """Write codes atomically. `query`/`database`: dicts with image, text, ids, optional labels/unified."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"method": method, "bits": int(bits), "dataset": dataset})
            for group_name, part in (("query", query), ("database", database)):
                g = f.create_group(group_name)
                for key in ("image", "text", "unified"):
                    if part.get(key) is not None:
                        g.create_dataset(key, data=to_int8_codes(part[key]))
                if part.get("labels") is not None:
                    g.create_dataset("labels", data=np.asarray(part["labels"], np.uint8))
                g.create_dataset("ids", data=np.asarray(list(part["ids"]), dtype=object), dtype=_STR)
    return path


def read_codes(path):
    """Read `codes.h5` into a flat dict (`query_image`, `database_text`, ... , attrs)."""
    if not os.path.exists(path):
        raise TfhashError(f"codes file not found: {path} (train the run first)")
    out = {}
    try:
        with h5py.File(path, "r") as f:
            out.update({k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()})
            for group in ("query", "database"):
                require(group in f, f"{path} has no '{group}' codes")
                for key, ds in f[group].items():
                    value = ds[()]
                    if key == "ids":
                        value = [s.decode() if isinstance(s, bytes) else str(s) for s in value]
                    out[f"{group}_{key}" if key != "labels" else f"{group}_labels"] = value
        out["bits"] = int(out["bits"])
        for key in ("method", "dataset"):
            require(key in out, f"{path} has no '{key}' attribute")
    except (OSError, KeyError, ValueError, TypeError, TfhashError) as err:
        raise TfhashError(f"codes file {path} is damaged ({err}); rewrite it by training the run again") from None
    return out


CONFIG, CODES, MODEL, REPORT, VOCABULARY = "config.json", "codes.h5", "model.keras", "report.json", "vocabulary.txt"
CHECKPOINTS, LOGS = "checkpoints", "logs"


class RunFolder:
    """One training run's folder (`RUN_DIR`): paths, and the files tfhash writes into it."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def file(self, name):
        """Path of `name` (one of the layout's names) inside the folder."""
        return os.path.join(self.path, name)

    @property
    def checkpoints(self):
        return self.file(CHECKPOINTS)

    @property
    def logs(self):
        return self.file(LOGS)

    def exists(self, name):
        return os.path.exists(self.file(name))

    # --- config.json -----------------------------------------------------------------------
    def read_config(self, required=True):
        """The run's config.json as a dict ({} when absent and not `required`); one line if it is damaged."""
        return read_run_config(self.path, required)

    def write_config(self, record):
        os.makedirs(self.path, exist_ok=True)
        write_text(self.file(CONFIG), json.dumps(record, indent=2, sort_keys=True))

    # --- codes.h5 ----------------------------------------------------------------------------
    def read_codes(self):
        return read_codes(self.file(CODES))

    def write_codes(self, **parts):
        return write_codes(self.file(CODES), **parts)

    # --- report.json (written by tfhash.eval.report) ----------------------------------------
    def read_report(self, required=True):
        """The run's report.json as a dict ({} when absent and not `required`)."""
        path = self.file(REPORT)
        if not os.path.exists(path):
            require(not required, f"{self.path} has no {REPORT} (evaluate the run first)")
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (ValueError, UnicodeDecodeError) as err:
            raise TfhashError(f"{path} is damaged (not JSON: {err}); rewrite it with `tfhash evaluate {self.path}`") \
                from None

    # --- vocabulary.txt ----------------------------------------------------------------------
    def write_vocabulary(self, vocabulary):
        write_text(self.file(VOCABULARY), "\n".join(vocabulary) + "\n")

    def read_vocabulary(self):
        path = self.file(VOCABULARY)
        require(os.path.exists(path), f"{self.path} has no {VOCABULARY}")
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]

    # --- model.keras ---------------------------------------------------------------------------
    def save_model(self, model):
        save_model_file(model, self.file(MODEL))

    def load_model(self):
        return load_model(self.path)


def model_file(path):
    """`path` itself if it is a `.keras` file, else RUN_DIR/model.keras."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, MODEL)
        require(os.path.exists(path), f"no trained model in {os.path.dirname(path)} (missing {MODEL})")
    require(os.path.exists(path), f"model file not found: {path}")
    require(path.endswith(".keras"), f"{path} is not a .keras file")
    return path


def save_model_file(model, path):
    """`model.save` to a `.keras` file, atomically (Keras insists on the suffix, hence the detour)."""
    with atomic_path(path) as tmp:
        staged = tmp + ".keras"
        try:
            model.save(staged)
            os.replace(staged, tmp)
        finally:
            if os.path.exists(staged):
                os.remove(staged)


def load_model(path):
    """The trained `Hasher` in a `.keras` file, or in a run folder's `model.keras` (the one loader).

    A damaged file raises a one-line `TfhashError` naming it (Keras itself
    may report a truncated archive as "file not found"); a run's model loads
    only once its training finished.
    """
    from tfhash.methods.registry import method_names

    method_names()  # imports every method module, registering its class with Keras
    path = model_file(path)
    if os.path.basename(path) == MODEL:
        require_finished(os.path.dirname(os.path.abspath(path)))
    return load_keras_file(path)
