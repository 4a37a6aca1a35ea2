"""Export a trained method as a TensorFlow Serving SavedModel, and use one (search, benchmarks).

Layout (what TF Serving's file-system source watches)::

    OUT/                      the model's base path (`--model_base_path`)
      1/                      version 1: a complete SavedModel
        saved_model.pb
        variables/
        assets/vocabulary.tsv             token models only: "token<TAB>id" lookup keys
        assets.extra/tfhash.json          method, bits, input shapes, text format, source run
        assets.extra/codes.h5             the run's query/database codes (optional)
      2/ ...                  each export adds the next integer; none is ever overwritten

A version is written to a hidden ``OUT/.export.tfhash-PID-*.tmp`` folder and renamed
to its number only when complete, so a crash never leaves half a version
(TF Serving ignores folders whose names are not numbers).

Signatures (all take a batch; ``N`` = batch size, ``K`` = bits)

=================  ==============================  ===========================================
name               input                           outputs
=================  ==============================  ===========================================
``encode_image``   ``image`` float32 (N, *image)   ``codes`` int8 (N, K) in {-1, +1};
``serving_default``  (same as ``encode_image``)    ``bits`` uint8 (N, K / 8), `pack_codes` order;
``encode_text``    ``text``: float32 (N, V) BoW,   ``logits`` float32 (N, K), the continuous
                   or string (N,) for token models   code before the sign (sign(0) = +1)
``encode_tokens``  ``tokens`` int32 (N, L)         (token models only: ids, 0 = padding)
=================  ==============================  ===========================================

Pixel images are float32 in [0, 255] (what training saw). The ``bits``
output packs bit ``j`` of a code into byte ``j // 8`` at value
``1 << (7 - j % 8)``, a 1 where the code is +1 (as
`tfhash.index.binary.pack_codes`), so it needs ``K`` to be a multiple of 8.

Text strings (models trained on token sequences)
    One string per item. It is lowercased (UTF-8), split on commas and
    whitespace (empty pieces dropped), and each piece looked up in the run's
    vocabulary (lowercased; token id i+1 = line i of `vocabulary.txt`).
    Unknown pieces become the id of ``<unk>`` when the vocabulary has that
    entry (as MIRFlickr's does), and are dropped otherwise. The sequence is
    cut to the model's length L (first tokens kept) and padded with 0 at
    the end, as the importers pad. So ``"Sky, clouds sunset"`` and
    ``"sky clouds,sunset"`` give the same code.
"""

import json
import os
import re
import shutil
import tempfile

import numpy as np

from tfhash.atomic import clean_stale_temporaries, temp_prefix
from tfhash.errors import TfhashError, require
from tfhash.training.run_folder import CODES, VOCABULARY, RunFolder, read_codes

SIGNATURE_NAMES = ("serving_default", "encode_image", "encode_text")
TOKEN_SIGNATURE = "encode_tokens"
OUTPUT_NAMES = ("codes", "bits", "logits")
METADATA_FILE = os.path.join("assets.extra", "tfhash.json")
CODES_FILE = os.path.join("assets.extra", "codes.h5")
VOCABULARY_ASSET = "vocabulary.tsv"
FORMAT_NAME = "tfhash.SavedModel"
FORMAT_VERSION = 1
UNKNOWN_TOKEN = "<unk>"
#: the characters that separate tokens in a text string (besides whitespace)
TOKEN_SEPARATORS = ","



# --------------------------------------------------------------------------- versions
def list_versions(base):
    """The integer versions under `base` (sorted), as TF Serving sees them."""
    if not os.path.isdir(base):
        return []
    return sorted(int(n) for n in os.listdir(base) if n.isdigit() and os.path.isdir(os.path.join(base, n)))


def resolve_version_dir(path):
    """A version folder: `path` itself if it is a SavedModel, else the newest version under it."""
    path = os.fspath(path)
    require(os.path.isdir(path), f"no exported model at {path}")
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = list_versions(path)
    require(versions, f"{path} holds no model versions (expected {path}/1/saved_model.pb; run `tfhash export`)")
    return os.path.join(path, str(versions[-1]))


# --------------------------------------------------------------------------- text lookups
def lookup_keys(vocabulary):
    """(token, id) pairs of the string lookup: lowercased, first occurrence wins.

    Entries that no input string can produce (empty, or holding a separator
    or whitespace) are left out.
    """
    seen, pairs = set(), []
    for i, word in enumerate(vocabulary):
        key = str(word).lower()
        if not key or key in seen or re.search(rf"[\s{TOKEN_SEPARATORS}]", key):
            continue
        seen.add(key)
        pairs.append((key, i + 1))
    return pairs


def unknown_id(vocabulary):
    """The id unknown tokens get (`<unk>`'s), or None to drop them."""
    vocabulary = list(vocabulary)
    return vocabulary.index(UNKNOWN_TOKEN) + 1 if UNKNOWN_TOKEN in vocabulary else None


# --------------------------------------------------------------------------- building
def _packed_bits(codes, bits):
    import tensorflow as tf

    on = tf.reshape(tf.cast(codes > 0, tf.int32), [-1, bits // 8, 8])
    weights = tf.constant([128, 64, 32, 16, 8, 4, 2, 1], tf.int32)
    return tf.cast(tf.reduce_sum(on * weights, axis=-1), tf.uint8)


def _outputs(logits, bits):
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    codes = tf.where(logits >= 0, tf.ones_like(logits, tf.int8), -tf.ones_like(logits, tf.int8))
    return {"codes": codes, "bits": _packed_bits(codes, bits), "logits": logits}


class _StringTokenizer:
    """Text strings -> (N, L) int32 token ids, by the rules in the module docstring."""

    def __init__(self, vocabulary, length, asset_dir):
        import tensorflow as tf

        path = os.path.join(asset_dir, VOCABULARY_ASSET)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(f"{key}\t{i}\n" for key, i in lookup_keys(vocabulary))
        init = tf.lookup.TextFileInitializer(path, tf.string, 0, tf.int64, 1, delimiter="\t")
        self.table = tf.lookup.StaticHashTable(init, default_value=-1)
        self.unknown = unknown_id(vocabulary)
        self.length = int(length)

    def __call__(self, texts):
        import tensorflow as tf

        texts = tf.strings.regex_replace(tf.strings.lower(texts, encoding="utf-8"), f"[{TOKEN_SEPARATORS}]", " ")
        pieces = tf.strings.split(texts)  # whitespace, no empty pieces
        ids = tf.ragged.map_flat_values(self.table.lookup, pieces)
        if self.unknown is None:
            ids = tf.ragged.boolean_mask(ids, ids >= 0)
        else:
            ids = tf.ragged.map_flat_values(lambda v: tf.where(v >= 0, v, self.unknown), ids)
        return tf.cast(ids.to_tensor(default_value=0, shape=[None, self.length]), tf.int32)


def _text_input_kind(model):
    return "tokens" if type(model).text_field == "tokens" else "bow"


def build_archive(model, *, vocabulary=None, asset_dir):
    """A `keras.export.ExportArchive` with the signatures of the module docstring."""
    import keras
    import tensorflow as tf

    bits = int(model.bits)
    require(bits % 8 == 0, f"cannot export {bits}-bit codes: the packed 'bits' output needs a multiple of 8 bits")
    image_shape, text_shape = tuple(model.image_shape), tuple(model.text_shape)
    # The model is not `track`ed: the archive then keeps only the variables the endpoints read
    # (the encoders), not discriminators, generators or the training codes B.
    archive = keras.export.ExportArchive()

    def encode_image(image):
        return _outputs(model.encode_image(image, training=False), bits)

    # The first endpoint is also "serving_default".
    archive.add_endpoint("encode_image", encode_image,
                         input_signature=[tf.TensorSpec((None,) + image_shape, tf.float32, name="image")])
    if _text_input_kind(model) == "tokens":
        require(vocabulary is not None, f"{type(model).method_name} reads token ids: exporting it needs the vocabulary")
        if model.vocabulary_size is not None:
            require(len(vocabulary) + 1 == int(model.vocabulary_size),
                    f"the vocabulary has {len(vocabulary)} words but the model was built for "
                    f"{int(model.vocabulary_size) - 1}")
        tokenizer = _StringTokenizer(vocabulary, text_shape[0], asset_dir)
        archive.track(tokenizer.table)

        def encode_tokens(tokens):
            return _outputs(model.encode_text(tokens, training=False), bits)

        def encode_text(text):
            return _outputs(model.encode_text(tokenizer(text), training=False), bits)

        archive.add_endpoint("encode_text", encode_text,
                             input_signature=[tf.TensorSpec((None,), tf.string, name="text")])
        archive.add_endpoint(TOKEN_SIGNATURE, encode_tokens,
                             input_signature=[tf.TensorSpec((None,) + text_shape, tf.int32, name="tokens")])
    else:
        def encode_text(text):
            return _outputs(model.encode_text(text, training=False), bits)

        archive.add_endpoint("encode_text", encode_text,
                             input_signature=[tf.TensorSpec((None,) + text_shape, tf.float32, name="text")])
    return archive


def describe_inputs(model):
    """The inputs of each signature, as recorded in `tfhash.json`."""
    image_kind = "pixels" if len(model.image_shape) == 3 else "features"
    inputs = {"image": {"signature": "encode_image", "dtype": "float32", "shape": list(model.image_shape),
                        "kind": image_kind}}
    if _text_input_kind(model) == "tokens":
        inputs["text"] = {"signature": "encode_text", "dtype": "string", "shape": [], "kind": "strings"}
        inputs["tokens"] = {"signature": TOKEN_SIGNATURE, "dtype": "int32", "shape": list(model.text_shape),
                            "kind": "token ids"}
    else:
        inputs["text"] = {"signature": "encode_text", "dtype": "float32", "shape": list(model.text_shape),
                          "kind": "bow"}
    return inputs


def _metadata(model, vocabulary, source, with_codes):
    import keras
    import tensorflow as tf

    from tfhash.version import __version__

    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "method": type(model).method_name,
        "bits": int(model.bits),
        "config": model.config.to_dict(),
        "inputs": describe_inputs(model),
        "signatures": list(SIGNATURE_NAMES) + ([TOKEN_SIGNATURE] if _text_input_kind(model) == "tokens" else []),
        "outputs": {"codes": "int8 (N, bits) in {-1, +1}", "bits": "uint8 (N, bits / 8), np.packbits order",
                    "logits": "float32 (N, bits), continuous code before the sign (sign(0) = +1)"},
        "codes_file": CODES_FILE if with_codes else None,
        "source": source or {},
        "versions": {"tfhash": __version__, "tensorflow": tf.__version__, "keras": keras.__version__},
    }
    if vocabulary is not None:
        meta["text_format"] = ("one string per item: lowercased, split on commas and whitespace, each token looked "
                               "up in the vocabulary; unknown tokens -> <unk> if present, else dropped; cut/padded "
                               f"to {int(model.text_shape[0])} ids")
        meta["vocabulary_size"] = len(vocabulary)
        meta["unknown_token"] = UNKNOWN_TOKEN if unknown_id(vocabulary) is not None else None
    return meta


def _copy_codes(src, dst):
    """Copy a run's `codes.h5` (same layout, so `read_codes` reads it), compressed."""
    import h5py

    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        fout.attrs.update(dict(fin.attrs))
        for group in fin:
            g = fout.create_group(group)
            for key, ds in fin[group].items():
                data = ds[()]
                if key == "ids":  # fixed-length UTF-8 bytes compress; variable-length strings do not
                    data = np.asarray([str(s.decode() if isinstance(s, bytes) else s).encode() for s in data])
                    if data.size == 0:
                        data = np.zeros(0, "S1")
                g.create_dataset(key, data=data, compression="gzip", shuffle=True)


def _claim_version(base, tmp, version):
    """Rename the finished `tmp` folder to `base/<version>` (next free integer if None); never overwrite."""
    if version is not None:
        require(isinstance(version, int) and version > 0, f"version must be a positive integer, got {version!r}")
        target = os.path.join(base, str(version))
        require(not os.path.exists(target), f"{target} already exists; versions are never overwritten")
        os.rename(tmp, target)
        return version
    for _ in range(100):
        version = (list_versions(base) or [0])[-1] + 1
        target = os.path.join(base, str(version))
        if os.path.exists(target):
            continue
        try:
            os.rename(tmp, target)  # fails if another export filled that version meanwhile
            return version
        except OSError:
            continue
    raise TfhashError(f"could not claim a new version folder under {base}")


def export_model(model, out, *, vocabulary=None, version=None, codes_path=None, source=None):
    """Write `model` (a `Hasher`) as `out/<version>/` for TF Serving; return the version folder.

    `vocabulary` (token id i+1 = vocabulary[i]) is required for token-sequence
    models. `codes_path` (a run's `codes.h5`) is copied into `assets.extra/`
    so `tfhash index --model` / `tfhash search --model` work from the export
    alone. `version` defaults to the next free integer.
    """
    out = os.fspath(out)
    require(not os.path.isfile(out), f"{out} is a file; --out names a folder of model versions")
    os.makedirs(out, exist_ok=True)
    clean_stale_temporaries(out)  # of an export killed earlier
    tmp = tempfile.mkdtemp(prefix=temp_prefix("export"), suffix=".tmp", dir=out)
    asset_dir = tempfile.mkdtemp(prefix=temp_prefix("export-assets"), suffix=".tmp", dir=out)
    try:
        staged = os.path.join(tmp, "model")
        archive = build_archive(model, vocabulary=vocabulary, asset_dir=asset_dir)
        archive.write_out(staged, verbose=False)
        os.makedirs(os.path.join(staged, "assets.extra"), exist_ok=True)
        if codes_path is not None:
            _copy_codes(codes_path, os.path.join(staged, CODES_FILE))
        with open(os.path.join(staged, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(_metadata(model, vocabulary, source, codes_path is not None), f, indent=2, sort_keys=True)
        final = _claim_version(out, staged, version)
        return os.path.join(out, str(final))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(asset_dir, ignore_errors=True)


def export_run(run_dir, out, *, version=None, with_codes=True):
    """`tfhash export RUN_DIR --out OUT`: the run's `model.keras` (+ vocabulary, codes) as `OUT/<version>/`."""
    run_dir = os.fspath(run_dir)
    require(os.path.isdir(run_dir), f"no run folder at {run_dir}")
    folder = RunFolder(run_dir)
    model = folder.load_model()
    vocabulary = None
    if _text_input_kind(model) == "tokens":
        require(folder.exists(VOCABULARY),
                f"{run_dir} has no vocabulary.txt, which a token-sequence model needs to take text strings")
        vocabulary = folder.read_vocabulary()
    source = {"run_dir": os.path.abspath(run_dir), "dataset": folder.read_config(required=False).get("dataset", {}).get("name")}
    report = folder.read_report(required=False)
    source.update(map_all=report.get("map_all"), database_codes=report.get("database_codes"))
    codes_path = folder.file(CODES)
    if with_codes:
        require(os.path.exists(codes_path), f"{run_dir} has no codes.h5; pass --no-codes to export the model alone")
        read_codes(codes_path)  # a damaged file is reported now, not halfway through the export
    return export_model(model, out, vocabulary=vocabulary, version=version,
                        codes_path=codes_path if with_codes else None, source=source)


# --------------------------------------------------------------------------- using an export
class ExportedModel:
    """A loaded export: its metadata, its signatures and the codes shipped with it.

    `path` is the base folder (newest version used) or one version folder.
    """

    def __init__(self, path):
        self.path = resolve_version_dir(path)
        meta_path = os.path.join(self.path, METADATA_FILE)
        require(os.path.exists(meta_path), f"{self.path} is not a tfhash export (missing {METADATA_FILE})")
        with open(meta_path, encoding="utf-8") as f:
            self.metadata = json.load(f)
        require(self.metadata.get("format") == FORMAT_NAME, f"{self.path} is not a tfhash export")
        require(int(self.metadata.get("format_version", 0)) <= FORMAT_VERSION,
                f"{self.path} was written by a newer tfhash (format {self.metadata.get('format_version')})")
        self.bits = int(self.metadata["bits"])
        self._loaded = None

    @property
    def loaded(self):
        if self._loaded is None:
            import tensorflow as tf

            self._loaded = tf.saved_model.load(self.path)
        return self._loaded

    def input_spec(self, modality):
        """{"signature", "dtype", "shape", "kind"} of the input that `encode(modality, ...)` takes."""
        return self.metadata["inputs"][modality]

    def encode(self, modality, inputs, batch_size=256):
        """Signature outputs (dict of NumPy arrays) of `inputs` through the `modality` input.

        `modality`: "image", "text" (float vectors, or strings for token
        models) or "tokens" (token models: int ids).
        """
        import tensorflow as tf

        require(modality in self.metadata["inputs"],
                f"this model has no '{modality}' input (it has: {', '.join(self.metadata['inputs'])})")
        spec = self.input_spec(modality)
        x = np.asarray(inputs)
        require(x.ndim >= 1 and len(x) > 0, f"no {modality} items to encode")
        if spec["dtype"] == "string":
            require(x.ndim == 1, f"text strings must be a 1-D list, got shape {x.shape}")
            x = x.astype(object)
        else:
            require(np.issubdtype(x.dtype, np.number), f"{modality} inputs must be numbers, got dtype {x.dtype}")
            require(tuple(x.shape[1:]) == tuple(spec["shape"]),
                    f"inputs have shape {tuple(x.shape[1:])} per item, the model's {modality} input is "
                    f"{tuple(spec['shape'])}")
            require(np.all(np.isfinite(x)), f"{modality} inputs must be finite")
            x = x.astype(spec["dtype"])
        fn = self.loaded.signatures[spec["signature"]]
        arg = {"image": "image", "text": "text", "tokens": "tokens"}[modality]
        parts = [fn(**{arg: tf.constant(x[i:i + batch_size])}) for i in range(0, max(len(x), 1), batch_size)]
        return {k: np.concatenate([p[k].numpy() for p in parts]) for k in OUTPUT_NAMES}

    def hash(self, modality, inputs, batch_size=256):
        """int8 ±1 codes of `inputs`."""
        return self.encode(modality, inputs, batch_size)["codes"]

    def shipped_codes(self):
        """The run codes exported with the model (`read_codes` layout)."""
        require(self.metadata.get("codes_file"),
                f"{self.path} was exported without codes; index items with --inputs (or --texts) instead")
        return read_codes(os.path.join(self.path, self.metadata["codes_file"]))
