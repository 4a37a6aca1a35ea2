"""TensorFlow Serving's Predict API, emulated on a SavedModel's signatures (the server is not installable here).

Follows TF Serving's documented rules:

* REST `:predict`: a JSON body with ``signature_name`` (default
  ``serving_default``) and either ``instances`` (row format: one entry per
  item; a bare value when the signature has one input, else an object keyed
  by input name) or ``inputs`` (columnar). JSON numbers and strings are read
  as the signature's declared dtype; the batch must fit the declared shape.
  The answer is ``{"predictions": [...]}``: per item an object keyed by
  output name (several outputs) or the bare value (one output).
* gRPC `PredictionService.Predict`: a `PredictRequest` whose
  ``model_spec.signature_name`` picks the signature and whose ``inputs``
  are TensorProtos that must match the declared input names, dtypes and
  shapes exactly (gRPC does not convert); requests and responses cross a
  serialisation round trip, as on the wire.
"""

import json

import numpy as np
import tensorflow as tf


class ServingError(ValueError):
    """What TF Serving would answer with an error status."""


def _signature(loaded, name):
    name = name or "serving_default"
    if name not in loaded.signatures:
        raise ServingError(f"Serving signature name: \"{name}\" not found in signature def")
    fn = loaded.signatures[name]
    _, specs = fn.structured_input_signature
    return fn, specs


def _check_shape(spec, value, key):
    if not spec.shape.is_compatible_with(value.shape):
        raise ServingError(f"input '{key}' has shape {value.shape}, the signature expects {spec.shape}")


class Server:
    """Models by name (as `--model_name`), each a SavedModel version folder."""

    def __init__(self, models):
        self.models = {name: tf.saved_model.load(path) for name, path in models.items()}

    def rest_predict(self, model_name, body):
        """POST /v1/models/{model_name}:predict with JSON `body` -> the decoded JSON answer."""
        request = json.loads(body)
        fn, specs = _signature(self.models[model_name], request.get("signature_name"))
        if "instances" in request:
            rows = request["instances"]
            if len(specs) == 1:
                (key,) = specs
                columns = {key: [r[key] if isinstance(r, dict) else r for r in rows]}
            else:
                columns = {key: [r[key] for r in rows] for key in specs}
        else:
            columns = request["inputs"]
            if not isinstance(columns, dict):
                columns = {next(iter(specs)): columns}
        if set(columns) != set(specs):
            raise ServingError(f"inputs {sorted(columns)} do not match the signature's {sorted(specs)}")
        tensors = {}
        for key, values in columns.items():
            spec = specs[key]
            value = np.asarray(values, dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype)
            _check_shape(spec, value, key)
            tensors[key] = tf.constant(value, dtype=spec.dtype)
        outputs = {k: v.numpy() for k, v in fn(**tensors).items()}
        n = len(next(iter(outputs.values())))
        if len(outputs) == 1:
            predictions = next(iter(outputs.values())).tolist()
        else:
            predictions = [{k: v[i].tolist() for k, v in outputs.items()} for i in range(n)]
        return json.loads(json.dumps({"predictions": predictions}))

    def grpc_stub(self, channel=None):
        """A stand-in for `prediction_service_pb2_grpc.PredictionServiceStub(channel)`."""
        return _Stub(self)


class _Stub:
    def __init__(self, server):
        self.server = server

    def Predict(self, request, timeout=None):  # noqa: N802  (the gRPC method name)
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
        if request.model_spec.name not in self.server.models:
            raise ServingError(f"Servable not found for request: Latest({request.model_spec.name})")
        fn, specs = _signature(self.server.models[request.model_spec.name], request.model_spec.signature_name)
        if set(request.inputs) != set(specs):
            raise ServingError(f"inputs {sorted(request.inputs)} do not match the signature's {sorted(specs)}")
        tensors = {}
        for key, proto in request.inputs.items():
            spec = specs[key]
            if proto.dtype != spec.dtype.as_datatype_enum:
                raise ServingError(f"input '{key}' has dtype {tf.dtypes.as_dtype(proto.dtype).name}, "
                                   f"the signature expects {spec.dtype.name}")
            value = tf.make_ndarray(proto)
            _check_shape(spec, value, key)
            tensors[key] = tf.constant(value, dtype=spec.dtype)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for key, value in fn(**tensors).items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return predict_pb2.PredictResponse.FromString(response.SerializeToString())
