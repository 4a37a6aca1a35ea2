"""The request examples of docs/export.md, run against exported SavedModels' signatures.

TF Serving itself cannot be installed here: `serving_emulator.Server` applies
its documented REST and gRPC rules to the SavedModel's signatures. The gRPC
example runs as written, with only the network stub swapped for the emulator.
"""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.export.support import build_fitted, quiet_env
from tests.export.serving_emulator import Server, ServingError
from tfhash.index.binary import pack_codes

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "export.md")
numpy = keras.ops.convert_to_numpy


def doc_block(name):
    """The fenced block after `<!-- export-doc-test: NAME -->` in docs/export.md."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    match = re.search(rf"<!-- export-doc-test: {name} -->\s*```\w*\n(.*?)```", text, re.S)
    assert match, f"docs/export.md has no '{name}' example"
    return match.group(1)


@pytest.fixture(scope="module")
def wiki_model(wikipedia_shaped_dataset, tmp_path_factory):
    """A 64-bit model with the shipped models' input shapes, exported as the docs' "sdch"."""
    from tfhash.export.saved_model import export_model

    model, _ = build_fitted("cca-itq", wikipedia_shaped_dataset, bits=64)
    return model, export_model(model, tmp_path_factory.mktemp("serving") / "sdch")


def test_rest_text_example(wiki_model):
    model, version_dir = wiki_model
    body = doc_block("rest-text")
    answer = Server({"sdch": version_dir}).rest_predict("sdch", body)
    texts = np.asarray(json.loads(body)["instances"], np.float32)
    expected = numpy(model.hash_text(texts)).astype(np.int8)
    predictions = answer["predictions"]
    assert len(predictions) == 2 and set(predictions[0]) == {"codes", "bits", "logits"}
    np.testing.assert_array_equal([p["codes"] for p in predictions], expected)
    np.testing.assert_array_equal([p["bits"] for p in predictions], pack_codes(expected))
    assert len(predictions[0]["bits"]) == 8


def test_rest_image_without_signature_name_is_serving_default(wiki_model):
    model, version_dir = wiki_model
    images = np.random.default_rng(1).random((3, 128), dtype=np.float32)
    answer = Server({"sdch": version_dir}).rest_predict("sdch", json.dumps({"instances": images.tolist()}))
    np.testing.assert_array_equal([p["codes"] for p in answer["predictions"]],
                                  numpy(model.hash_image(images)).astype(np.int8))


def test_rest_bodies_of_the_wrong_shape_are_refused(wiki_model):
    _, version_dir = wiki_model
    server = Server({"sdch": version_dir})
    with pytest.raises(ServingError, match="shape"):
        server.rest_predict("sdch", json.dumps({"signature_name": "encode_text", "instances": [[0.1] * 9]}))
    with pytest.raises(ServingError, match="not found"):
        server.rest_predict("sdch", json.dumps({"signature_name": "encode_txt", "instances": [[0.1] * 10]}))


def test_rest_strings_example(tags_model):
    model, _, version_dir = tags_model
    answer = Server({"tags": version_dir}).rest_predict("tags", doc_block("rest-strings"))
    length = model.text_shape[0]
    ids = np.zeros((2, length), np.int32)
    ids[0, :3] = [1, 2, 3]  # "sky, clouds, sunset"
    ids[1, :2] = [4, 5]  # "Dog beach"
    expected = numpy(model.hash_text(ids)).astype(np.int8)
    np.testing.assert_array_equal([p["codes"] for p in answer["predictions"]], expected)


def test_grpc_example(wiki_model, monkeypatch):
    pytest.importorskip("tensorflow_serving.apis", reason="pip install tensorflow-serving-api (the test extra)")
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    model, version_dir = wiki_model
    server = Server({"sdch": version_dir})
    monkeypatch.setattr(prediction_service_pb2_grpc, "PredictionServiceStub", server.grpc_stub)
    scope = {}
    exec(compile(doc_block("grpc"), "docs/export.md[grpc]", "exec"), scope)  # noqa: S102  (our own docs)
    expected = numpy(model.hash_image(scope["images"])).astype(np.int8)
    assert scope["codes"].dtype == np.int8 and scope["codes"].shape == (2, 64)
    np.testing.assert_array_equal(scope["codes"], expected)
    np.testing.assert_array_equal(scope["bits"], pack_codes(expected))


def test_grpc_refuses_a_wrong_dtype(wiki_model):
    pytest.importorskip("tensorflow_serving.apis", reason="pip install tensorflow-serving-api (the test extra)")
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    _, version_dir = wiki_model
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "sdch"
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 128), np.float64)))
    with pytest.raises(ServingError, match="dtype"):
        Server({"sdch": version_dir}).grpc_stub().Predict(request)


def test_saved_model_cli_lists_the_signatures(wiki_model):
    _, version_dir = wiki_model
    proc = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                           str(version_dir), "--all"], capture_output=True, text=True, env=quiet_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for name in ("serving_default", "encode_image", "encode_text"):
        assert f"signature_def['{name}']" in out
    text_sig = out.split("signature_def['encode_text']")[1].split("signature_def[")[0]
    assert re.search(r"inputs\['text'\] tensor_info:\s+dtype: DT_FLOAT\s+shape: \(-1, 10\)", text_sig)
    assert re.search(r"outputs\['codes'\] tensor_info:\s+dtype: DT_INT8\s+shape: \(-1, 64\)", text_sig)
    assert re.search(r"outputs\['bits'\] tensor_info:\s+dtype: DT_UINT8\s+shape: \(-1, 8\)", text_sig)
    image_sig = out.split("signature_def['serving_default']")[1].split("signature_def[")[0]
    assert re.search(r"inputs\['image'\] tensor_info:\s+dtype: DT_FLOAT\s+shape: \(-1, 128\)", image_sig)
