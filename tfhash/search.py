"""Index codes and search them (the library side of `tfhash index` / `tfhash search`).

Codes come from a training run (RUN_DIR/codes.h5, RUN_DIR/model.keras) or from
an exported model alone (`tfhash export`'s folder, see
`tfhash.export.saved_model`): the run codes shipped in its
`assets.extra/codes.h5`, or new items encoded by its SavedModel signatures.
"""

import os

import numpy as np

from tfhash.errors import TfhashError, require
from tfhash.training.run_folder import RunFolder, load_model
from tfhash.training.run_state import require_finished


def build_run_index(run_dir, *, modality="text", kind="flat", out=None):
    """Index the database codes of `modality` from RUN_DIR/codes.h5; returns (path, count, bits)."""
    from tfhash.index.binary import BinaryIndex

    require_finished(run_dir)
    codes = RunFolder(run_dir).read_codes()
    database = codes[f"database_{modality}"]
    index = BinaryIndex.build(database, ids=codes["database_ids"], kind=kind)
    path = out or os.path.join(run_dir, f"index-{modality}.h5")
    index.save(path)
    return path, database.shape[0], codes["bits"]


def _exported(model_path):
    from tfhash.export.saved_model import ExportedModel

    return ExportedModel(model_path)


def _read_lines(path, what):
    require(os.path.exists(path), f"{what} file not found: {path}")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _model_codes(model, modality, inputs=None, texts=None):
    """±1 codes of raw `inputs` (.npy path) or `texts` (a file, one text per line) by an `ExportedModel`."""
    if texts is not None:
        require(modality == "text", "--texts holds text items; use --modality text")
        require(model.input_spec("text")["dtype"] == "string",
                f"this {model.metadata['method']} model takes bag-of-words vectors, not strings; use --inputs X.npy")
        return model.hash("text", _read_lines(texts, "texts"))
    x = _load_npy(inputs, "inputs")
    if modality == "text" and model.input_spec("text")["dtype"] == "string":
        modality = "tokens"  # a .npy holds token ids; strings come through --texts
        require(np.issubdtype(x.dtype, np.integer), f"{inputs} must hold integer token ids (0 = padding)")
    return model.hash(modality, x)


def build_model_index(model_path, *, modality="text", kind="flat", out=None, inputs=None, texts=None, ids=None):
    """Index database items with an exported model alone; returns (path, count, bits).

    Without `inputs`/`texts`: the database codes of the run the model was
    exported from (shipped in the export). With `inputs` (a .npy of raw
    features, BoW or token ids) or `texts` (a text file, one item per line,
    for string-taking token models): those items, encoded by the model's
    SavedModel; `ids` (a text file, one id per line) names them, default
    "0".."N-1". The index goes to `out`, default MODEL/index-MODALITY.h5.
    """
    from tfhash.index.binary import BinaryIndex

    require(not (inputs and texts), "give at most one of --inputs, --texts")
    model = _exported(model_path)
    if inputs or texts:
        codes = _model_codes(model, modality, inputs, texts)
        item_ids = _read_lines(ids, "ids") if ids else [str(i) for i in range(codes.shape[0])]
        require(len(item_ids) == codes.shape[0], f"{ids} has {len(item_ids)} ids for {codes.shape[0]} items")
    else:
        require(not ids, "--ids names the items of --inputs/--texts; the shipped codes have their own ids")
        shipped = model.shipped_codes()
        codes, item_ids = shipped[f"database_{modality}"], shipped["database_ids"]
    index = BinaryIndex.build(codes, ids=item_ids, kind=kind)
    if out is None:  # next to the versions (TF Serving ignores files there), never inside one
        base = os.path.abspath(model_path)
        if os.path.exists(os.path.join(base, "saved_model.pb")):
            base = os.path.dirname(base)
        out = os.path.join(base, f"index-{modality}.h5")
    index.save(out)
    return out, codes.shape[0], model.bits


def load_run_model(run_dir):
    """The trained model of a run (`model.keras`)."""
    return load_model(run_dir)


def _load_npy(path, what):
    require(os.path.exists(path), f"{what} file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as err:  # numpy's errors for a damaged .npy
        raise TfhashError(f"cannot read {what} file {path}: the file is damaged or not a .npy array ({err})") from None


def query_codes_for(*, run_dir=None, positions=(), inputs=None, codes_path=None, modality="image", model=None,
                    texts=None):
    """±1 query codes from exactly one source: query positions, raw inputs, texts, or a codes file.

    Positions and raw inputs need a run (`run_dir`) or an exported model
    (`model`, whose shipped query codes the positions pick from); `texts`
    (one text per line) needs an exported model that takes strings.
    """
    sources = sum(bool(s) for s in (positions, inputs, codes_path, texts))
    require(sources == 1, "give exactly one of --query, --inputs, --texts, --codes")
    require(not (run_dir and model), "give --run or --model, not both")
    if codes_path:
        return _load_npy(codes_path, "codes")
    if model is not None:
        exported = _exported(model)
        if positions:
            return _pick(exported.shipped_codes()[f"query_{modality}"], positions)
        return _model_codes(exported, modality, inputs, texts)
    require(not texts, "--texts needs --model (an export that takes strings)")
    require(run_dir is not None, "--query and --inputs need --run RUN_DIR or --model MODEL")
    require_finished(run_dir)
    if positions:
        return _pick(RunFolder(run_dir).read_codes()[f"query_{modality}"], positions)
    x = _load_npy(inputs, "inputs")
    require(np.issubdtype(x.dtype, np.number) and np.all(np.isfinite(x)), f"{inputs} must hold finite numbers")
    model = load_run_model(run_dir)
    expected = model.image_shape if modality == "image" else model.text_shape
    require(tuple(x.shape[1:]) == tuple(expected),
            f"inputs have shape {tuple(x.shape[1:])} per item, the model's {modality} input is {tuple(expected)}")
    encode = model.hash_image if modality == "image" else model.hash_text
    dtype = "int32" if modality == "text" and type(model).text_field == "tokens" else "float32"
    return np.asarray(encode(x.astype(dtype)))


def _pick(codes, positions):
    bad = [p for p in positions if not 0 <= p < codes.shape[0]]
    require(not bad, f"query positions {bad} outside 0..{codes.shape[0] - 1}")
    return codes[list(positions)]


def search_index(index_path, query_codes, k):
    """Top-k (item id, Hamming distance) per query."""
    from tfhash.index.binary import BinaryIndex

    index = BinaryIndex.load(index_path)
    return index.search_ids(np.asarray(query_codes), k)
