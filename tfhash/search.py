"""Index a run's codes and search them (the library side of `tfhash index` / `tfhash search`)."""

import os

import numpy as np

from tfhash.errors import TfhashError, require
from tfhash.training.codes import read_codes


def build_run_index(run_dir, *, modality="text", kind="flat", out=None):
    """Index the database codes of `modality` from RUN_DIR/codes.h5; returns (path, count, bits)."""
    from tfhash.index.binary import BinaryIndex

    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    database = codes[f"database_{modality}"]
    index = BinaryIndex.build(database, ids=codes["database_ids"], kind=kind)
    path = out or os.path.join(run_dir, f"index-{modality}.h5")
    index.save(path)
    return path, database.shape[0], codes["bits"]


def load_run_model(run_dir):
    """The trained model of a run (`model.keras`), with every method registered."""
    import keras

    from tfhash.methods.registry import method_names

    path = os.path.join(run_dir, "model.keras")
    require(os.path.exists(path), f"no trained model in {run_dir} (missing model.keras)")
    method_names()  # imports the method modules, registering their classes with Keras
    return keras.models.load_model(path)


def _load_npy(path, what):
    require(os.path.exists(path), f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise TfhashError(f"cannot read {what} file {path}: {err}") from None


def query_codes_for(*, run_dir=None, positions=(), inputs=None, codes_path=None, modality="image"):
    """±1 query codes from exactly one source: run query positions, raw inputs, or a codes file."""
    sources = sum(bool(s) for s in (positions, inputs, codes_path))
    require(sources == 1, "give exactly one of --query, --inputs, --codes")
    if codes_path:
        return _load_npy(codes_path, "codes")
    require(run_dir is not None, "--query and --inputs need --run RUN_DIR")
    if positions:
        codes = read_codes(os.path.join(run_dir, "codes.h5"))[f"query_{modality}"]
        bad = [p for p in positions if not 0 <= p < codes.shape[0]]
        require(not bad, f"query positions {bad} outside 0..{codes.shape[0] - 1}")
        return codes[list(positions)]
    x = _load_npy(inputs, "inputs")
    require(np.issubdtype(x.dtype, np.number) and np.all(np.isfinite(x)), f"{inputs} must hold finite numbers")
    model = load_run_model(run_dir)
    expected = model.image_shape if modality == "image" else model.text_shape
    require(tuple(x.shape[1:]) == tuple(expected),
            f"inputs have shape {tuple(x.shape[1:])} per item, the model's {modality} input is {tuple(expected)}")
    encode = model.hash_image if modality == "image" else model.hash_text
    dtype = "int32" if modality == "text" and type(model).text_field == "tokens" else "float32"
    return np.asarray(encode(x.astype(dtype)))


def search_index(index_path, query_codes, k):
    """Top-k (item id, Hamming distance) per query."""
    from tfhash.index.binary import BinaryIndex

    index = BinaryIndex.load(index_path)
    return index.search_ids(np.asarray(query_codes), k)
