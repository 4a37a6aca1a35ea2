"""For every registered method: the SavedModel and the `.keras` file, reloaded in a fresh process,
give the in-memory model's codes bit for bit; the TF Serving layout and signatures are as documented."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.export.support import BITS, build_fitted, quiet_env, shipped_methods, texts_of
from tfhash.index.binary import pack_codes

numpy = keras.ops.convert_to_numpy

METHODS = shipped_methods()
HERE = os.path.dirname(os.path.abspath(__file__))


def _export_one(name, dataset_path, root):
    """Build, export twice (versions 1 and 2) and save `.keras`; write the inputs and the in-memory codes."""
    from tfhash.data.split import SplitView
    from tfhash.export.saved_model import export_model
    from tfhash.training.run_folder import to_int8_codes
    from tfhash.training.run_folder import save_model_file

    model, dataset = build_fitted(name, dataset_path)
    out = os.path.join(root, name)
    os.makedirs(out)
    query = SplitView(dataset, "query", text_field=type(model).text_field)
    images, texts = query.images().astype(np.float32), query.texts()
    tokens = type(model).text_field == "tokens"
    texts = texts.astype(np.int32 if tokens else np.float32)
    base = os.path.join(out, "model")
    vocabulary = dataset.vocabulary if tokens else None
    os.makedirs(os.path.join(base, "1"))  # an older version (empty here): the export must become version 2
    export_model(model, base, vocabulary=vocabulary)
    save_model_file(model, os.path.join(out, "model.keras"))

    arrays = {"image": images, "text": texts}
    calls = [("encode_image", "image", "image"), ("serving_default", "image", "image")]
    if tokens:
        arrays["strings"] = np.asarray(texts_of(texts, dataset.vocabulary))
        calls += [("encode_text", "text", "strings"), ("encode_tokens", "tokens", "text")]
    else:
        calls += [("encode_text", "text", "text")]
    for key, value in arrays.items():
        np.save(os.path.join(out, f"{key}.npy"), value)
    expected = {
        "image_codes": to_int8_codes(numpy(model.hash_image(images))),
        "text_codes": to_int8_codes(numpy(model.hash_text(texts))),
        "image_logits": numpy(model.encode_image(images)).astype(np.float32),
        "text_logits": numpy(model.encode_text(texts)).astype(np.float32),
    }
    return {
        "manifest": {"name": name, "base": base, "keras": os.path.join(out, "model.keras"), "out": out,
                     "image": os.path.join(out, "image.npy"), "text": os.path.join(out, "text.npy"),
                     "calls": [(sig, arg, os.path.join(out, f"{key}.npy")) for sig, arg, key in calls]},
        "expected": expected,
        "tokens": tokens,
        "out": out,
    }


@pytest.fixture(scope="module")
def exports(export_dataset, tmp_path_factory):
    """Every method exported; then ONE fresh process loads them all. name -> record (or the build error)."""
    root = str(tmp_path_factory.mktemp("exports"))
    records = {}
    for name in METHODS:
        try:
            records[name] = _export_one(name, export_dataset, root)
        except Exception as err:  # reported by that method's tests, not by the others'
            records[name] = err
    manifest = [r["manifest"] for r in records.values() if isinstance(r, dict)]
    manifest_path = os.path.join(root, "manifest.json")
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    proc = subprocess.run([sys.executable, os.path.join(HERE, "load_in_fresh_process.py"), manifest_path],
                          capture_output=True, text=True, env=quiet_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(os.path.join(root, "RESULT.json"), encoding="utf-8") as f:
        fresh = json.load(f)
    for name, record in records.items():
        if isinstance(record, dict):
            record["fresh"] = fresh[name]
    return records


def _record(exports, name):
    record = exports[name]
    if isinstance(record, Exception):
        pytest.fail(f"{name} could not be built and exported: {type(record).__name__}: {record}")
    return record


def _saved(record, signature, key):
    return np.load(os.path.join(record["out"], f"saved_{signature}_{key}.npy"))


@pytest.mark.parametrize("name", METHODS)
def test_saved_model_codes_equal_in_memory_codes(exports, name):
    record = _record(exports, name)
    expected = record["expected"]
    text_signatures = ["encode_text", "encode_tokens"] if record["tokens"] else ["encode_text"]
    for modality, signatures in (("image", ["encode_image", "serving_default"]), ("text", text_signatures)):
        for signature in signatures:
            codes = _saved(record, signature, "codes")
            assert codes.dtype == np.int8
            np.testing.assert_array_equal(codes, expected[f"{modality}_codes"], err_msg=f"{name} {signature}")
            np.testing.assert_array_equal(_saved(record, signature, "bits"), pack_codes(codes))
            np.testing.assert_allclose(_saved(record, signature, "logits"), expected[f"{modality}_logits"],
                                       rtol=1e-5, atol=1e-6)
    # A model that gives every item the same code would make the comparison above hollow.
    for modality in ("image", "text"):
        codes = expected[f"{modality}_codes"]
        assert len(np.unique(codes, axis=0)) > 1, f"{name}: all {modality} codes are equal"


@pytest.mark.parametrize("name", METHODS)
def test_keras_file_codes_equal_in_memory_codes(exports, name):
    record = _record(exports, name)
    for modality in ("image", "text"):
        codes = np.load(os.path.join(record["out"], f"keras_{modality}.npy"))
        np.testing.assert_array_equal(codes.astype(np.int8), record["expected"][f"{modality}_codes"])
    assert record["fresh"]["keras_class"].startswith("tfhash.methods.")


@pytest.mark.parametrize("name", METHODS)
def test_serving_layout_and_signatures(exports, name):
    record = _record(exports, name)
    base = record["manifest"]["base"]
    assert record["fresh"]["versions"] == [1, 2]  # the fresh process loaded 2, the newest
    assert sorted(os.listdir(base)) == ["1", "2"]  # no temporary folders left behind
    for part in ("saved_model.pb", "variables/variables.index", "assets.extra/tfhash.json"):
        assert os.path.exists(os.path.join(base, "2", part)), part
    signatures = record["fresh"]["signatures"]
    expected_names = {"serving_default", "encode_image", "encode_text"}
    assert set(signatures) == expected_names | ({"encode_tokens"} if record["tokens"] else set())
    meta = json.load(open(os.path.join(base, "2", "assets.extra", "tfhash.json"), encoding="utf-8"))
    assert meta["method"] == name and meta["bits"] == BITS
    image = signatures["encode_image"]["inputs"]
    assert image == {"image": {"dtype": "float32", "shape": [None] + meta["inputs"]["image"]["shape"]}}
    assert signatures["serving_default"] == signatures["encode_image"]
    text = signatures["encode_text"]["inputs"]
    if record["tokens"]:
        assert text == {"text": {"dtype": "string", "shape": [None]}}
        assert signatures["encode_tokens"]["inputs"] == {
            "tokens": {"dtype": "int32", "shape": [None] + meta["inputs"]["tokens"]["shape"]}}
        assert os.path.exists(os.path.join(base, "2", "assets", "vocabulary.tsv"))
    else:
        assert text == {"text": {"dtype": "float32", "shape": [None] + meta["inputs"]["text"]["shape"]}}
    for signature in signatures.values():
        assert signature["outputs"] == {
            "codes": {"dtype": "int8", "shape": [None, BITS]},
            "bits": {"dtype": "uint8", "shape": [None, BITS // 8]},
            "logits": {"dtype": "float32", "shape": [None, BITS]},
        }


#: methods that take raw pixels, cheapest first; the pixel check uses the first one registered
PIXEL_METHODS = ("sdch", "dvsh-bow", "tuch", "uch")


def test_pixel_image_models_export_with_an_image_tensor_input(tmp_path_factory):
    """Raw-pixel models take float32 (N, H, W, 3) images in 0..255 (as training saw them)."""
    import tensorflow as tf

    from tests.helpers import structured_dataset
    from tfhash.data.split import SplitView
    from tfhash.export.saved_model import export_model

    name = next((m for m in PIXEL_METHODS if m in METHODS), None)
    if name is None:
        pytest.skip("no registered method takes raw pixels")
    path = structured_dataset(tmp_path_factory.mktemp("pixels"), n=40, query_size=8, image_kind="pixels",
                              image_size=32, text_dim=20, num_classes=3)
    overrides = {"image_backbone": "MobileNetV2"} if name == "uch" else {}
    model, dataset = build_fitted(name, path, **overrides)
    images = SplitView(dataset, "query").images().astype(np.float32)
    loaded = tf.saved_model.load(export_model(model, tmp_path_factory.mktemp("pixel-export") / name))
    signature = loaded.signatures["encode_image"]
    assert signature.structured_input_signature[1]["image"].shape.as_list() == [None, 32, 32, 3]
    codes = signature(image=tf.constant(images))["codes"].numpy()
    np.testing.assert_array_equal(codes, numpy(model.hash_image(images)).astype(np.int8))
    assert len(np.unique(codes, axis=0)) > 1


def test_tuch_pixel_model_with_keras_hubs_resnet18_reloads_and_exports(tmp_path_factory, monkeypatch):
    """TUCH's keras-hub ResNet-18 survives model.keras (`tfhash.load_model`) and the SavedModel with the same codes.

    Reloading reads the saved weights only: neither the backbone's weights file
    (deleted here) nor an ImageNet download is needed.
    """
    import keras_hub
    import tensorflow as tf
    from keras_hub.src.utils import preset_utils

    import tfhash
    from tests.helpers import structured_dataset
    from tfhash.data.split import SplitView
    from tfhash.export.saved_model import export_model
    from tfhash.layers.backbones import RESNET18
    from tfhash.methods.tuch import TUCHConfig
    from tfhash.training.run_folder import save_model_file

    root = tmp_path_factory.mktemp("tuch-pixels")
    weights = str(root / "resnet18.weights.h5")
    keras_hub.models.ResNetBackbone(**RESNET18, image_shape=(32, 32, 3)).save_weights(weights)
    path = structured_dataset(root, n=40, query_size=8, image_kind="pixels", image_size=32, text_dim=20,
                              num_classes=3)
    model, dataset = build_fitted("tuch", path, **{**TUCHConfig.test_settings, "backbone_weights": weights,
                                                   "generator_width": 8})
    query = SplitView(dataset, "query", text_field="bow")
    images, texts = query.images().astype(np.float32), query.texts().astype(np.float32)
    save_model_file(model, str(root / "model.keras"))
    base = export_model(model, str(root / "served"))
    os.remove(weights)

    def no_download(*args, **kwargs):
        raise AssertionError("reloading a saved model must not fetch ImageNet weights")

    monkeypatch.setattr(preset_utils.kagglehub, "model_download", no_download)
    loaded = tfhash.load_model(str(root / "model.keras"))
    assert loaded.config.image_backbone == "resnet18" and loaded.config.backbone_weights == weights
    np.testing.assert_allclose(numpy(loaded.encode_image(images)), numpy(model.encode_image(images)), atol=1e-5)
    np.testing.assert_array_equal(numpy(loaded.hash_text(texts)), numpy(model.hash_text(texts)))
    served = tf.saved_model.load(base)
    codes = served.signatures["encode_image"](image=tf.constant(images))["codes"].numpy()
    np.testing.assert_array_equal(codes, numpy(model.hash_image(images)).astype(np.int8))
    assert len(np.unique(codes, axis=0)) > 1
