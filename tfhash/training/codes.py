"""`codes.h5`: the ±1 codes of a run's query and database items, with labels and ids.

Layout: /query/{image,text} and /database/{image,text} int8 (N, bits);
/database/unified (optional) int8; /{query,database}/labels uint8;
/{query,database}/ids str; attrs method, bits, dataset, and optionally
output_diagnostics (JSON: diagnostics of the model's continuous outputs).
"""

import json
import os

import h5py
import numpy as np

from tfhash.atomic import atomic_path
from tfhash.errors import TfhashError, require

_STR = h5py.string_dtype(encoding="utf-8")


def to_int8_codes(codes):
    """Float ±1 (or any signs) to int8 ±1, sign(0) = +1."""
    return np.where(np.asarray(codes) >= 0, 1, -1).astype(np.int8)


def write_codes(path, *, query, database, method, bits, dataset, output_diagnostics=None):
    """Write codes atomically. `query`/`database`: dicts with image, text, ids, optional labels/unified.

    `output_diagnostics` (a JSON-ready dict, e.g. {"image": ..., "text": ...}
    from `tfhash.eval.diagnostics.output_diagnostics`) is kept as a JSON attribute.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"method": method, "bits": int(bits), "dataset": dataset})
            if output_diagnostics is not None:
                f.attrs["output_diagnostics"] = json.dumps(output_diagnostics)
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
    except OSError as err:
        raise TfhashError(f"cannot read codes file {path}: {err}") from None
    out["bits"] = int(out["bits"])
    if "output_diagnostics" in out:
        out["output_diagnostics"] = json.loads(out["output_diagnostics"])
    return out
