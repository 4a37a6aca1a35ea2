"""The search service without HTTP: a request body -> per query the k nearest items of the other modality.

Request (TF Serving's REST "row" format plus tfhash's fields)::

    {"modality": "text", "instances": [...], "k": 10, "signature_name": "encode_text"}

`modality` is the queries' modality (text queries search the image index,
image queries the text index); it may be left out when `signature_name`
names it (`encode_image`/`serving_default`: image, `encode_text`,
`encode_tokens`: text). `k` defaults to 10 and is at most the searched
index's size and the server's `max_k`. Each instance is one query:

- a list of numbers: the model's input for the modality (features, a bag of
  words, token ids for `encode_tokens`), of the input's exact shape;
- a string: text for models that take strings, or for bag-of-words models
  when the server has a vocabulary (see `items.BagOfWords`);
- `{"b64": "..."}`: image file bytes (JPEG, PNG), for exports that take pixels;
- `{"item": "ID"}`: an indexed item of the query modality, searched with its
  code from that modality's index (how the page searches with a shipped
  picture when the model takes features, not pixels);
- `{"image": ...}` / `{"text": ...}` / `{"tokens": ...}`: any of the above under
  the input's name (TF Serving's named-input form).

Response: ``{"predictions": [{"ids": [...], "distances": [...], "items": [...]}, ...]}``,
one per instance, ranked by Hamming distance then index position (exactly
`tfhash search`'s order); "items" holds each id's `--items` record (or null).
"""

import base64
import io
import os

import numpy as np

from tfhash.errors import TfhashError, require

MODALITIES = ("image", "text")
OTHER = {"image": "text", "text": "image"}
SIGNATURE_MODALITY = {"serving_default": "image", "encode_image": "image", "encode_text": "text",
                      "encode_tokens": "text"}
DEFAULT_K = 10


class SearchService:
    """An exported model, its indexes (by the modality of the items they hold), items and limits.

    Args:
        model: an `ExportedModel`.
        indexes: {"image": WatchedIndex, "text": WatchedIndex} (either may be absent).
        items: an `items.Items` (may be empty).
        bag_of_words: an `items.BagOfWords` for typed text on BoW models, or None.
        max_k: the largest k a request may ask for.
        max_instances: the most queries one request may hold.
    """

    def __init__(self, model, indexes, items, bag_of_words=None, *, max_k=100, max_instances=256):
        require(indexes, "give at least one index to search")
        self.model, self.indexes, self.items = model, dict(indexes), items
        self.bag_of_words = bag_of_words
        self.max_k, self.max_instances = int(max_k), int(max_instances)

    # ------------------------------------------------------------------ describing
    def accepts_strings(self, modality):
        """Whether text strings are queries of `modality`."""
        if modality != "text":
            return False
        return self.model.input_spec("text")["dtype"] == "string" or self.bag_of_words is not None

    def describe(self):
        """What /v1/models returns: the model, its signatures and inputs, the indexes, the limits."""
        meta = self.model.metadata
        return {
            "model": {"path": os.path.abspath(self.model.path), "version": _version(self.model.path),
                      "method": meta["method"],
                      "bits": self.model.bits, "signatures": meta["signatures"], "inputs": meta["inputs"],
                      "source": meta.get("source", {})},
            "indexes": {m: dict(w.current().describe(), serves=f"{OTHER[m]} queries")
                        for m, w in sorted(self.indexes.items())},
            "queries": {OTHER[m]: {"searches": m, "strings": self.accepts_strings(OTHER[m]),
                                   "pixels": OTHER[m] == "image" and meta["inputs"]["image"]["kind"] == "pixels"}
                        for m in self.indexes},
            "items": len(self.items),
            "limits": {"max_k": self.max_k, "max_instances": self.max_instances},
        }

    # ------------------------------------------------------------------ requests
    def parse(self, body):
        """A request body -> (modality, k, snapshot of the searched index, queries).

        Each query is ("code", ±1 codes (1, bits)) or (input name, array of one row).
        `TfhashError` (a 400) for anything malformed.
        """
        require(isinstance(body, dict), "the request body must be a JSON object")
        unknown = set(body) - {"modality", "instances", "k", "signature_name"}
        require(not unknown, f"unknown request fields: {', '.join(sorted(unknown))}")
        signature = body.get("signature_name")
        modality = body.get("modality")
        if signature is not None:
            require(signature in SIGNATURE_MODALITY and signature in self.model.metadata["signatures"],
                    f"unknown signature_name {signature!r} (this model has: "
                    f"{', '.join(self.model.metadata['signatures'])})")
            require(modality in (None, SIGNATURE_MODALITY[signature]),
                    f"signature_name {signature} takes {SIGNATURE_MODALITY[signature]} queries, not {modality}")
            modality = SIGNATURE_MODALITY[signature]
        require(modality in MODALITIES, f"\"modality\" must be \"image\" or \"text\", got {modality!r}")
        target = OTHER[modality]
        require(target in self.indexes,
                f"no {target} index is loaded, so {modality} queries cannot be answered "
                f"(loaded: {', '.join(f'{m} index' for m in self.indexes)})")
        snapshot = self.indexes[target].current()
        k = body.get("k", DEFAULT_K)
        require(isinstance(k, int) and not isinstance(k, bool) and k >= 1,
                f"\"k\" must be a positive integer, got {k!r}")
        limit = min(self.max_k, snapshot.index.ntotal)
        require(k <= limit, f"k = {k} is too large: at most {limit} (the {target} index holds "
                            f"{snapshot.index.ntotal} items, the server's max_k is {self.max_k})")
        instances = body.get("instances")
        require(isinstance(instances, list) and instances, "\"instances\" must be a non-empty list of queries")
        require(len(instances) <= self.max_instances,
                f"{len(instances)} instances in one request; at most {self.max_instances}")
        input_name = "tokens" if signature == "encode_tokens" else modality
        queries = [self._query(modality, input_name, x, i) for i, x in enumerate(instances)]
        return modality, k, snapshot, queries

    def _query(self, modality, input_name, x, i):
        where = f"instance {i}"
        if isinstance(x, dict) and len(x) == 1 and next(iter(x)) in ("image", "text", "tokens"):
            name, x = next(iter(x.items()))
            require(name == input_name or (name == "tokens" and input_name == "text"),
                    f"{where}: a {name!r} input in a {modality} query")
            input_name = name
        if isinstance(x, dict) and set(x) == {"item"}:
            return "code", self._item_code(modality, x["item"], where)
        if isinstance(x, dict) and set(x) == {"b64"}:
            return input_name, self._pixels(input_name, x["b64"], where)
        if isinstance(x, str):
            if input_name == "text" and self.model.input_spec("text")["dtype"] == "string":
                return "text", np.array([x], dtype=object)
            require(self.bag_of_words is not None and input_name == "text",
                    f"{where}: this model's {input_name} input takes "
                    f"{self.model.input_spec(input_name)['kind']}, not text strings"
                    + (" (start the server with --bow-vocabulary to type text)" if input_name == "text" else ""))
            return "text", self.bag_of_words.vector(x)[None]
        require(input_name in self.model.metadata["inputs"], f"{where}: this model has no {input_name!r} input")
        spec = self.model.input_spec(input_name)
        require(spec["dtype"] != "string", f"{where}: this model's text input takes strings")
        require(isinstance(x, list), f"{where}: expected a list of numbers, a string, {{\"b64\": ...}} or "
                                     f"{{\"item\": ...}}, got {type(x).__name__}")
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise TfhashError(f"{where}: the {input_name} input must be a (nested) list of numbers of shape "
                              f"{tuple(spec['shape'])}") from None
        require(arr.shape == tuple(spec["shape"]),
                f"{where}: the {input_name} input has shape {arr.shape}; the model's is {tuple(spec['shape'])}")
        require(bool(np.all(np.isfinite(arr))), f"{where}: the {input_name} input must hold finite numbers")
        if spec["dtype"] == "int32":
            require(bool(np.all(arr == np.round(arr))) and arr.min() >= 0, f"{where}: token ids are integers >= 0")
        return input_name, arr.astype(spec["dtype"])[None]

    def _item_code(self, modality, item, where):
        require(isinstance(item, str), f"{where}: \"item\" must be an item id (a string)")
        require(modality in self.indexes, f"{where}: item queries look the item up in the {modality} index, "
                                          f"which is not loaded")
        snapshot = self.indexes[modality].current()
        require(item in snapshot.positions, f"{where}: no item {item!r} in the {modality} index")
        return snapshot.index.codes_at([snapshot.positions[item]])

    def _pixels(self, input_name, data, where):
        spec = self.model.input_spec(input_name)
        require(input_name == "image" and spec["kind"] == "pixels",
                f"{where}: this model's {input_name} input takes {spec['kind']}, not image bytes")
        require(isinstance(data, str), f"{where}: \"b64\" must be a base64 string")
        from PIL import Image, UnidentifiedImageError

        try:
            raw = base64.b64decode(data, validate=True)
            with Image.open(io.BytesIO(raw)) as im:
                im = im.convert("RGB").resize((spec["shape"][1], spec["shape"][0]), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.float32)[None]  # [0, 255], as training saw
        except (ValueError, UnidentifiedImageError, OSError) as err:
            raise TfhashError(f"{where}: cannot read the image bytes ({err})") from None

    def respond(self, snapshot, k, codes):
        """Search `codes` (Q, bits) in `snapshot` exactly as `tfhash search` does; the predictions."""
        predictions = []
        for hits in snapshot.index.search_ids(codes, k):
            predictions.append({"ids": [h[0] for h in hits], "distances": [h[1] for h in hits],
                                "items": [self.items.get(h[0]) for h in hits]})
        return {"predictions": predictions}

    def items_page(self, modality, offset, limit):
        """Ids (with records) of the `modality` index from `offset`: what the page offers to pick."""
        require(modality in self.indexes, f"no {modality} index is loaded")
        ids = self.indexes[modality].current().index.ids
        chosen = ids[offset:offset + limit]
        return {"modality": modality, "total": len(ids), "offset": offset,
                "items": [self.items.get(i) or {"id": i} for i in chosen]}


def _version(path):
    name = os.path.basename(os.path.normpath(path))
    return int(name) if name.isdigit() else None
