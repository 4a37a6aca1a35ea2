"""`tfhash serve` as a real process on 127.0.0.1: the API, its errors, concurrency, and index replacement.

Every answer is compared with what `tfhash search` computes for the same query
(`tfhash.search.query_codes_for` + `search_index`, the functions behind it).
"""

import json
import os
import shutil
import threading

import numpy as np
import pytest

from tests.serve.conftest import MAX_BODY
from tests.serve.support import DEMO, request

K = 7


def _vocabulary():
    with open(os.path.join(DEMO, "bow-vocabulary.txt"), encoding="utf-8") as f:
        return f.read().splitlines()


def _expected(index_path, modality, inputs, k, tmp):
    """`tfhash search INDEX --model DEMO --inputs X.npy --modality M -k K` as (ids, distances) per query."""
    from tfhash.search import query_codes_for, search_index

    path = os.path.join(str(tmp), f"q-{modality}-{len(inputs)}-{abs(hash(np.asarray(inputs).tobytes()))}.npy")
    np.save(path, np.asarray(inputs, np.float32))
    codes = query_codes_for(inputs=path, modality=modality, model=DEMO)
    return [([h[0] for h in hits], [h[1] for h in hits]) for hits in search_index(index_path, codes, k)]


def _bow(words, vocabulary):
    """The 0/1 bag of words of `words`, built by hand from the vocabulary's column order."""
    x = np.zeros(len(vocabulary), np.float32)
    for w in words:
        x[vocabulary.index(w)] = 1
    return x


def _answers(status, body):
    assert status == 200, body
    return [(p["ids"], p["distances"]) for p in body["predictions"]]


def test_health_and_models(demo_server):
    base, indexes, _ = demo_server
    assert request(base + "/healthz") == (200, {"status": "ok"})
    status, info = request(base + "/v1/models")
    assert status == 200
    assert info["model"]["bits"] == 64 and info["model"]["method"] == "cca-itq" and info["model"]["version"] == 1
    assert info["model"]["signatures"] == ["serving_default", "encode_image", "encode_text"]
    assert {m: (v["size"], v["serves"]) for m, v in info["indexes"].items()} == {
        "image": (730, "text queries"), "text": (730, "image queries")}
    assert info["items"] == 730
    assert info["queries"]["text"]["strings"] is True  # the demo ships bow-vocabulary.txt
    assert info["limits"]["max_k"] == 50 and info["limits"]["max_body"] == MAX_BODY


def test_search_equals_tfhash_search(demo_server):
    base, indexes, tmp = demo_server
    rng = np.random.default_rng(0)
    images = rng.random((3, 1280)).astype(np.float32) * 2
    status, body = request(base + "/v1/search", {"modality": "image", "instances": images.tolist(), "k": K})
    assert _answers(status, body) == _expected(indexes["text"], "image", images, K, tmp)
    # The items file's records come with each id; local pictures are served.
    first = body["predictions"][0]
    assert [item["id"] for item in first["items"]] == first["ids"]
    assert first["items"][0]["image_url"] == f"/v1/items/{first['ids'][0]}/image"

    vocab = _vocabulary()
    texts = [["sunset", "beach"], ["dog"], ["sky", "clouds", "tree"]]
    typed = ["Sunset, beach", "dog  notaword", "sky,clouds tree"]
    status, body = request(base + "/v1/search", {"modality": "text", "instances": typed, "k": K})
    bows = np.stack([_bow(t, vocab) for t in texts])
    assert _answers(status, body) == _expected(indexes["image"], "text", bows, K, tmp)
    # The same bags of words sent as vectors, by signature name (TF Serving style), give the same answer.
    status, again = request(base + "/v1/search", {"signature_name": "encode_text", "instances": bows.tolist(),
                                                   "k": K})
    assert again == body


def test_item_query_searches_with_the_items_code(demo_server):
    from tfhash.index.binary import BinaryIndex
    from tfhash.search import search_index

    base, indexes, _ = demo_server
    image_index = BinaryIndex.load(indexes["image"])
    pos = image_index.ids.index("im191")
    expected = search_index(indexes["text"], image_index.codes_at([pos]), 5)[0]
    status, body = request(base + "/v1/search", {"modality": "image", "instances": [{"item": "im191"}], "k": 5})
    assert _answers(status, body) == [([h[0] for h in expected], [h[1] for h in expected])]


@pytest.mark.parametrize("body, status, words", [
    ({"modality": "image", "instances": [[0.5] * 1279], "k": 3}, 400, "shape (1279,)"),  # wrong dimension
    ({"modality": "text", "instances": [[1.0] * 10]}, 400, "shape (10,)"),
    ({"modality": "text", "instances": ["sky"], "k": 51}, 400, "k = 51 is too large: at most 50"),
    ({"modality": "text", "instances": ["sky"], "k": 0}, 400, "positive integer"),
    ({"modality": "text", "instances": ["zzzz qqqq"]}, 400, "none of the words"),
    ({"modality": "audio", "instances": ["sky"]}, 400, "\"modality\" must be"),
    ({"modality": "image", "instances": []}, 400, "non-empty list"),
    ({"modality": "image", "instances": [{"item": "im999999"}]}, 400, "no item 'im999999'"),
    ({"modality": "image", "instances": [{"b64": "AAAA"}]}, 400, "takes features, not image bytes"),
    ({"modality": "image", "instances": [[float("nan")] * 1280]}, 400, "finite numbers"),  # Python's json reads NaN
    ({"signature_name": "encode_image", "modality": "text", "instances": ["sky"]}, 400, "takes image queries"),
    ({"modality": "text", "instances": ["sky"], "topk": 3}, 400, "unknown request fields: topk"),
])
def test_bad_requests_get_400_and_one_message(demo_server, body, status, words):
    base, _, _ = demo_server
    got_status, got = request(base + "/v1/search", raw=json.dumps(body).encode())
    assert got_status == status
    assert list(got) == ["error"] and words in got["error"], got
    assert "Traceback" not in got["error"]


def _post_oversized(base, body, *, chunked):
    """POST `body` with http.client; the server may answer 413 before reading it all (a closed pipe is fine)."""
    import http.client
    import urllib.parse

    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        try:
            if chunked:
                conn.request("POST", "/v1/search", body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                             headers={"Content-Type": "application/json"}, encode_chunked=True)
            else:
                conn.request("POST", "/v1/search", body=body, headers={"Content-Type": "application/json"})
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_bad_json_and_oversized_body(demo_server):
    base, _, _ = demo_server
    status, body = request(base + "/v1/search", raw=b'{"modality": "text", "instances": ["sky"')
    assert status == 400 and body["error"].startswith("the request body is not valid JSON")
    big = json.dumps({"modality": "image", "instances": [[0.25] * 1280] * 200}).encode()
    assert len(big) > MAX_BODY
    # Refused by its Content-Length, and (chunked, no length) once the bytes read pass the limit.
    for chunked in (False, True):
        status, body = _post_oversized(base, big, chunked=chunked)
        assert status == 413 and body == {"error": f"request body larger than {MAX_BODY} bytes"}
    # The server is fine afterwards.
    assert request(base + "/v1/search", {"modality": "text", "instances": ["sky"], "k": 1})[0] == 200
    status, body = request(base + "/v1/nothing-here")
    assert status == 404 and list(body) == ["error"]


def _hammer(base, numbered, rounds, out, failures):
    """Send each (query number, body) `rounds` times; collect (number, status, body) or the exception."""
    for _ in range(rounds):
        for i, q in numbered:
            try:
                status, body = request(base + "/v1/search", q)
                out.append((i, status, body))
            except Exception as err:  # noqa: BLE001  (a failed request is what the test counts)
                failures.append(repr(err))


def _run_clients(base, numbered, clients, rounds):
    results, failures = [], []
    threads = [threading.Thread(target=_hammer, args=(base, numbered[c:] + numbered[:c], rounds, results, failures))
               for c in range(clients)]
    for t in threads:
        t.start()
    return threads, results, failures


def test_concurrent_clients_get_tfhash_search_answers(demo_server):
    base, indexes, tmp = demo_server
    rng = np.random.default_rng(1)
    images = rng.random((16, 1280)).astype(np.float32) * 2
    numbered = [(i, {"modality": "image", "instances": [row.tolist()], "k": K}) for i, row in enumerate(images)]
    expected = _expected(indexes["text"], "image", images, K, tmp)
    threads, results, failures = _run_clients(base, numbered, 16, 2)
    for t in threads:
        t.join()
    assert not failures
    assert len(results) == 16 * 16 * 2
    for i, status, body in results:
        assert _answers(status, body) == [expected[i]]


def test_index_replaced_under_load(demo_server):
    """Clients never fail while the text index file is swapped; each answer is the old or the new index's."""
    from tfhash.index.binary import BinaryIndex

    base, indexes, tmp = demo_server
    served = indexes["text"]
    old = BinaryIndex.load(served)
    keep = list(range(0, 730, 2))  # the new index: every other item, so answers differ
    new_path = os.path.join(str(tmp), "new-text.h5")
    BinaryIndex.build(old.codes_at(keep), ids=[old.ids[p] for p in keep]).save(new_path)
    rng = np.random.default_rng(2)
    images = rng.random((4, 1280)).astype(np.float32) * 2
    queries = [{"modality": "image", "instances": [row.tolist()], "k": K} for row in images]
    before = _expected(served, "image", images, K, tmp)
    after = _expected(new_path, "image", images, K, tmp)
    assert before != after

    threads, results, failures = _run_clients(base, list(enumerate(queries)), 8, 6)
    staged = served + ".staged"
    shutil.copyfile(new_path, staged)
    os.replace(staged, served)  # what `tfhash index --out` does: an atomic rename
    for t in threads:
        t.join()
    assert not failures
    assert len(results) == 8 * 6 * 4
    for i, status, body in results:
        assert status == 200, body
        got = _answers(status, body)[0]
        assert got in (before[i], after[i])
    # Once replaced, every new request sees the new index.
    for i, q in enumerate(queries):
        assert _answers(*request(base + "/v1/search", q)) == [after[i]]
    assert request(base + "/v1/models")[1]["indexes"]["text"]["size"] == 365
