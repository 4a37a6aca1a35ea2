"""Per-request timeout and internal errors, on a real uvicorn server (in a thread) over a stand-in model.

The stand-in encodes like a model but sleeps or fails on chosen inputs, which
a real export cannot be made to do on demand.
"""

import threading
import time

import numpy as np
import pytest

from tests.serve.support import free_port, request
from tfhash.index.binary import BinaryIndex
from tfhash.serve.items import Items
from tfhash.serve.service import SearchService


class _SlowModel:
    """4-d image features, 3-d BoW text, 8 bits: code = sign of the first 8 input columns (zero-padded)."""

    bits = 8
    path = "/models/stand-in/1"
    metadata = {"method": "stand-in", "signatures": ["serving_default", "encode_image", "encode_text"],
                "inputs": {"image": {"signature": "encode_image", "dtype": "float32", "shape": [4], "kind": "features"},
                           "text": {"signature": "encode_text", "dtype": "float32", "shape": [3], "kind": "bow"}}}

    def input_spec(self, modality):
        return self.metadata["inputs"][modality]

    def hash(self, modality, x):
        if np.any(x == 99):
            time.sleep(3)
        if np.any(x == 13):
            raise RuntimeError("secret internal detail")
        padded = np.zeros((len(x), 8), np.float32)
        padded[:, :x.shape[1]] = x
        return np.where(padded >= 0, 1, -1).astype(np.int8)


class _Watched:
    def __init__(self, index):
        from tfhash.serve.indexes import IndexSnapshot

        self.snapshot = IndexSnapshot("/indexes/text.h5", index, None)

    def current(self):
        return self.snapshot


@pytest.fixture(scope="module")
def slow_server():
    import uvicorn

    from tfhash.serve.app import create_app

    codes = np.array([[1] * 8, [-1] * 8, [1, -1] * 4], np.int8)
    service = SearchService(_SlowModel(), {"text": _Watched(BinaryIndex.build(codes, ids=["a", "b", "c"]))}, Items())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service, timeout=0.5), host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_answers_timeouts_and_internal_errors(slow_server):
    # [1, 1, 1, 1] -> code +1 everywhere: "a" at 0, "c" at 4 (every other bit differs), "b" at 8.
    status, body = request(slow_server + "/v1/search", {"modality": "image", "instances": [[1, 1, 1, 1]], "k": 3})
    assert status == 200 and body["predictions"] == [{"ids": ["a", "c", "b"], "distances": [0, 4, 8],
                                                       "items": [None, None, None]}]
    status, body = request(slow_server + "/v1/search", {"modality": "image", "instances": [[13, 1, 1, 1]], "k": 1})
    assert status == 500 and body == {"error": "internal error (see the server log)"}
    status, body = request(slow_server + "/v1/search", {"modality": "image", "instances": [[99, 1, 1, 1]], "k": 1})
    assert (status, body) == (504, {"error": "the request took longer than 0.5 s"})
    # (The encoder is still busy with the slow query for a while: later requests must not need it.)
    # Text queries search the image index, which this server does not have.
    status, body = request(slow_server + "/v1/search", {"modality": "text", "instances": [[1, 0, 1]], "k": 1})
    assert status == 400 and "no image index is loaded" in body["error"]
    assert request(slow_server + "/v1/search")[0] == 405  # GET
