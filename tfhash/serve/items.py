"""Item metadata (`--items`) and typed text -> bag of words (`--bow-vocabulary`).

Items file: JSON (a list of records, or an object id -> record) or JSONL
(one record a line). A record is an object; in a list or JSONL it names its
item with "id". Any fields are returned as they are with each result
(e.g. "text", "tags", "labels"), except "image": a path (relative to the
items file's folder) or an http(s) URL of a picture of the item. A path is
served at /v1/items/ID/image and the result carries that as "image_url"; a
URL is passed on as "image_url".
"""

import json
import os
import re
import urllib.parse

import numpy as np

from tfhash.errors import TfhashError, require
from tfhash.export.saved_model import TOKEN_SEPARATORS, lookup_keys


class Items:
    """Item id -> public record, and the local image file of each item that has one."""

    def __init__(self, path=None):
        self.path = None if path is None else os.path.abspath(path)
        self.records, self.images = {}, {}
        if path is not None:
            self._read(self.path)

    def __len__(self):
        return len(self.records)

    def _read(self, path):
        require(os.path.isfile(path), f"items file not found: {path}")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            data = json.loads(text)
            records = list(data.items()) if isinstance(data, dict) else [(None, r) for r in data]
        except json.JSONDecodeError:
            try:
                records = [(None, json.loads(line)) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError as err:
                raise TfhashError(f"{path} is neither JSON nor JSONL: {err}") from None
        folder = os.path.dirname(path)
        for key, record in records:
            require(isinstance(record, dict), f"{path}: every item must be a JSON object, got {record!r:.60}")
            record = dict(record)
            item = key if key is not None else record.get("id")
            require(isinstance(item, (str, int)), f"{path}: an item has no \"id\": {record!r:.60}")
            item = str(item)
            record["id"] = item
            image = record.pop("image", None)
            if isinstance(image, str) and re.match(r"https?://", image):
                record["image_url"] = image
            elif isinstance(image, str):
                local = os.path.normpath(os.path.join(folder, image))
                self.images[item] = local
                record["image_url"] = "/v1/items/" + urllib.parse.quote(item, safe="") + "/image"
            self.records[item] = record

    def get(self, item):
        """The public record of `item` (None if the items file does not list it)."""
        return self.records.get(item)


class BagOfWords:
    """Typed text -> a 0/1 bag-of-words vector over a vocabulary (word i = column i), as MIRFlickr's YAll.

    The text is split as the export splits text strings (lowercased, commas
    and whitespace); words outside the vocabulary are ignored.
    """

    def __init__(self, path, dim):
        require(os.path.isfile(path), f"vocabulary file not found: {path}")
        with open(path, encoding="utf-8") as f:
            words = f.read().splitlines()
        require(len(words) == dim, f"{path} has {len(words)} words but the model's text input is {dim}-d")
        self.dim = dim
        self.columns = {key: i - 1 for key, i in lookup_keys(words)}

    def vector(self, text):
        """The 0/1 float32 vector of `text`; `TfhashError` if none of its words is known."""
        words = re.sub(f"[{TOKEN_SEPARATORS}]", " ", text.lower()).split()
        cols = sorted({self.columns[w] for w in words if w in self.columns})
        require(cols, f"none of the words of {text!r:.80} is in the model's vocabulary")
        x = np.zeros(self.dim, np.float32)
        x[cols] = 1.0
        return x
