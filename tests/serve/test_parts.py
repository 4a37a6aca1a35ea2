"""The serve parts without a server: the encoding queue, index reloading, items, typed text -> bag of words."""

import json
import os
import threading

import numpy as np
import pytest

from tfhash.errors import TfhashError
from tfhash.index.binary import BinaryIndex
from tfhash.serve.batching import EncodeBatcher, QueueFull
from tfhash.serve.indexes import WatchedIndex
from tfhash.serve.items import BagOfWords, Items


def test_batcher_encodes_waiting_jobs_together_and_splits_results():
    calls, gate = [], threading.Event()

    def encode(key, x):
        calls.append((key, x.shape[0]))
        if len(calls) == 1:
            gate.wait(10)  # hold the worker so the next jobs queue up behind the first
        return x * 10

    batcher = EncodeBatcher(encode, max_batch=100, max_wait=0.5)
    first = batcher.submit("image", np.array([[1.0]]))
    while not calls:  # the worker took the first job
        threading.Event().wait(0.01)
    rest = [batcher.submit("image", np.array([[float(i)], [float(i) + 0.5]])) for i in range(2, 5)]
    text = batcher.submit("text", np.array([[7.0]]))
    gate.set()
    assert first.result(10).tolist() == [[10.0]]
    # Jobs 2..4 (two rows each) went through one call; the text job through its own, in the same batch.
    assert [r.result(10).tolist() for r in rest] == [[[20.0], [25.0]], [[30.0], [35.0]], [[40.0], [45.0]]]
    assert text.result(10).tolist() == [[70.0]]
    assert calls == [("image", 1), ("image", 6), ("text", 1)]
    batcher.close()


def test_batcher_failure_reaches_only_the_bad_job():
    def encode(key, x):
        if np.any(x < 0):
            raise ValueError("negative input")
        return x

    gate = threading.Event()
    batcher = EncodeBatcher(lambda k, x: (gate.wait(10), encode(k, x))[1], max_batch=100, max_wait=0.5)
    hold = batcher.submit("image", np.array([[0.0]]))
    good, bad = batcher.submit("image", np.array([[1.0]])), batcher.submit("image", np.array([[-1.0]]))
    gate.set()
    assert hold.result(10).tolist() == [[0.0]] and good.result(10).tolist() == [[1.0]]
    with pytest.raises(ValueError, match="negative input"):
        bad.result(10)
    batcher.close()


def test_batcher_queue_is_bounded():
    gate = threading.Event()
    batcher = EncodeBatcher(lambda k, x: (gate.wait(10), x)[1], max_batch=1, max_wait=0, max_queue=2)
    futures = [batcher.submit("image", np.zeros((1, 1)))]
    while len(futures) < 3:  # the worker holds one job; two more fill the queue
        try:
            futures.append(batcher.submit("image", np.zeros((1, 1))))
        except QueueFull:
            threading.Event().wait(0.01)
    with pytest.raises(QueueFull):
        batcher.submit("image", np.zeros((1, 1)))
    gate.set()
    assert all(f.result(10).shape == (1, 1) for f in futures)
    batcher.close()


def _index(path, codes, ids):
    BinaryIndex.build(np.asarray(codes, np.int8), ids=ids).save(path)


def test_watched_index_reloads_a_replaced_file_and_keeps_the_old_on_a_bad_one(tmp_path):
    path = str(tmp_path / "index.h5")
    _index(path, [[1] * 8, [-1] * 8], ["a", "b"])
    watched = WatchedIndex(path, 8)
    old = watched.current()
    assert old.index.ids == ["a", "b"] and old.positions == {"a": 0, "b": 1}
    staged = str(tmp_path / "staged.h5")
    _index(staged, [[1] * 8, [-1] * 8, [1, -1] * 4], ["x", "y", "z"])
    os.replace(staged, path)
    new = watched.current()
    assert new.index.ids == ["x", "y", "z"] and watched.reloads == 1
    assert old.index.ids == ["a", "b"]  # a request holding the old snapshot still has all of it
    with open(staged, "w") as f:
        f.write("not an index")
    os.replace(staged, path)
    assert watched.current() is new and watched.reloads == 1  # kept, with a warning
    _index(staged, [[1] * 16], ["w"])  # wrong code length for this model
    os.replace(staged, path)
    assert watched.current() is new
    with pytest.raises(TfhashError, match="16-bit codes but the model makes 8-bit"):
        WatchedIndex(path, 8)


def test_items_json_jsonl_and_image_paths(tmp_path):
    (tmp_path / "pics").mkdir()
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text('{"id": "a b", "tags": ["sky"], "image": "pics/a.jpg"}\n\n'
                     '{"id": 7, "text": "seven", "image": "https://example.org/7.jpg"}\n', encoding="utf-8")
    items = Items(str(jsonl))
    assert items.get("a b") == {"id": "a b", "tags": ["sky"], "image_url": "/v1/items/a%20b/image"}
    assert items.images["a b"] == str(tmp_path / "pics" / "a.jpg")
    assert items.get("7") == {"id": "7", "text": "seven", "image_url": "https://example.org/7.jpg"}
    assert items.get("nope") is None and len(items) == 2
    as_object = tmp_path / "items.json"
    as_object.write_text(json.dumps({"q": {"text": "q text"}}), encoding="utf-8")
    assert Items(str(as_object)).get("q") == {"text": "q text", "id": "q"}
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(TfhashError, match="must be a JSON object"):
        Items(str(bad))


def test_bag_of_words_of_typed_text(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("sky\nsea\nSunset\nsky\n", encoding="utf-8")
    bag = BagOfWords(str(vocab), 4)
    # Lowercased, split on commas and spaces, repeated words counted once, unknown words dropped;
    # "sky" is column 0 (its first occurrence), "sunset" column 2.
    assert bag.vector("SUNSET,sky  sky unknown").tolist() == [1, 0, 1, 0]
    with pytest.raises(TfhashError, match="none of the words"):
        bag.vector("nothing here")
    with pytest.raises(TfhashError, match="has 4 words but the model's text input is 5-d"):
        BagOfWords(str(vocab), 5)


class _PixelModel:
    """Stand-in export metadata: 8x8 RGB pixel images, 3-d bag-of-words texts, 8 bits."""

    bits = 8
    path = "/models/pixels/1"
    metadata = {"method": "stand-in", "signatures": ["serving_default", "encode_image", "encode_text"],
                "inputs": {"image": {"signature": "encode_image", "dtype": "float32", "shape": [8, 8, 3],
                                     "kind": "pixels"},
                           "text": {"signature": "encode_text", "dtype": "float32", "shape": [3], "kind": "bow"}}}

    def input_spec(self, modality):
        return self.metadata["inputs"][modality]


class _Fixed:
    def __init__(self, index):
        from tfhash.serve.indexes import IndexSnapshot

        self.snapshot = IndexSnapshot("/i.h5", index, None)

    def current(self):
        return self.snapshot


def test_parse_image_bytes_named_inputs_and_item_codes():
    import base64
    import io

    from PIL import Image

    from tfhash.serve.service import SearchService

    texts = BinaryIndex.build(np.array([[1] * 8, [-1] * 8], np.int8), ids=["t0", "t1"])
    images = BinaryIndex.build(np.array([[1, -1] * 4], np.int8), ids=["pic"])
    service = SearchService(_PixelModel(), {"text": _Fixed(texts), "image": _Fixed(images)}, Items())
    png = io.BytesIO()
    Image.new("RGB", (16, 16), (255, 0, 0)).save(png, "PNG")
    b64 = base64.b64encode(png.getvalue()).decode()
    modality, k, snapshot, queries = service.parse(
        {"modality": "image", "k": 2, "instances": [{"b64": b64}, {"image": {"item": "pic"}}]})
    assert (modality, k, snapshot.index.ids) == ("image", 2, ["t0", "t1"])
    (kind0, pixels), (kind1, code) = queries
    # Resized to the model's 8x8, values 0..255 as training saw them.
    assert kind0 == "image" and pixels.shape == (1, 8, 8, 3) and pixels.dtype == np.float32
    assert pixels[0, :, :, 0].min() == 255 and pixels[..., 1:].max() == 0
    assert kind1 == "code" and code.tolist() == [[1, -1] * 4]
    _, _, _, [(kind, bow)] = service.parse({"signature_name": "encode_text", "instances": [{"text": [0, 1, 1]}],
                                            "k": 1})
    assert kind == "text" and bow.tolist() == [[0, 1, 1]] and bow.dtype == np.float32
    with pytest.raises(TfhashError, match="cannot read the image bytes"):
        service.parse({"modality": "image", "k": 1, "instances": [{"b64": "bm90IGFuIGltYWdl"}]})
    with pytest.raises(TfhashError, match="takes bow, not text strings"):
        service.parse({"modality": "text", "k": 1, "instances": ["sky"]})


def test_token_model_text_strings_answer_as_tfhash_search_texts(tmp_path):
    """A model trained on token sequences takes text strings: the service answers as `tfhash search --texts`."""
    from tests.export.support import WORDS, build_fitted, shipped_methods
    from tfhash.data.dataset import write_dataset
    from tfhash.data.synthetic import make_synthetic
    from tfhash.export.saved_model import ExportedModel, export_model
    from tfhash.methods.registry import get_method
    from tfhash.search import query_codes_for, search_index
    from tfhash.serve.service import SearchService

    token_methods = [n for n in shipped_methods() if get_method(n).text_field == "tokens"]
    if not token_methods:
        pytest.skip("no token-sequence method is registered")
    data = make_synthetic(48, seed=0, image_dim=12, num_classes=4, text_kind="tokens", vocab_size=30, max_tokens=6)
    rows = np.arange(48)
    path = str(tmp_path / "tags.h5")
    write_dataset(path, images=data["images"], tokens=data["tokens"], labels=data["labels"],
                  vocabulary=WORDS + data["vocabulary"][len(WORDS):],
                  splits={"train": rows[12:], "database": rows[12:], "query": rows[:12]})
    model, dataset = build_fitted(token_methods[0], path)
    export = export_model(model, tmp_path / "tags", vocabulary=dataset.vocabulary)
    exported = ExportedModel(export)
    index_path = str(tmp_path / "index-image.h5")
    BinaryIndex.build(exported.hash("image", data["images"]), ids=[f"i{n}" for n in range(48)]).save(index_path)
    service = SearchService(exported, {"image": WatchedIndex(index_path, exported.bits)}, Items())

    texts = ["Sky, clouds sunset", "dog beach", "notaword sky"]
    _, k, snapshot, queries = service.parse({"modality": "text", "instances": texts, "k": 5})
    assert [kind for kind, _ in queries] == ["text"] * 3
    codes = np.concatenate([exported.hash(kind, x) for kind, x in queries])
    got = [list(zip(p["ids"], p["distances"])) for p in service.respond(snapshot, k, codes)["predictions"]]
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    expected = search_index(index_path, query_codes_for(model=str(tmp_path / "tags"), texts=str(tmp_path / "texts.txt"),
                                                        modality="text"), 5)
    assert got == expected
