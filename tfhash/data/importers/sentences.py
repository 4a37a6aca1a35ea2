"""Shared pieces of the image-sentence importers (IAPR TC-12, MS-COCO).

One pair per image. Its sentences become (a) a token sequence and (b) a
bag of words:

* ``caption="first"`` (default): the token sequence is the image's first
  sentence in file order. DVSH (KDD 2016, Sec. 5.1) pairs an image with one
  sentence at a time (410,600 pairs from 82,120 COCO images; 33,447 from
  18,715 IAPR images), and TUCH (IJCAI 2017, Sec. 4.1) feeds a sentence to
  its text encoder; one sentence per pair is what their networks read.
  The one-pair-per-image layout cannot repeat an image for each of its
  sentences, so the first one stands for the image.
* ``caption="all"``: all of the image's sentences, in file order, joined
  into one sequence.

``max_tokens`` truncates each sequence (DVSH: 20 words on COCO, 25 on
IAPR TC-12, after [Karpathy and Fei-Fei]); the bag of words counts the
``bow_size`` most frequent words over all sentences of the image (the
shallow baselines' input in DVSH Sec. 5.1), whatever `caption` says.

Words: lower-cased runs of letters, digits and apostrophes. Vocabulary:
every word occurring at least ``min_count`` times in the chosen sequences,
most frequent first (ties alphabetical); id j+1 is vocabulary[j], 0 is
padding, and the last id is ``<unk>``.
"""

import collections
import contextlib
import re

import numpy as np

from tfhash.data.importers.arrays import open_source
from tfhash.data.importers.mirflickr import token_matrix
from tfhash.errors import require

UNKNOWN = "<unk>"
CAPTION_CHOICES = ("first", "all")
_WORD = re.compile(r"[a-z0-9']+")


def words(sentence):
    """Lower-cased word list of one sentence."""
    return _WORD.findall(sentence.lower())


def choose_text(sentences, caption):
    """The words of the sentence(s) that form an image's token sequence (see module doc)."""
    require(caption in CAPTION_CHOICES, f"caption must be one of {', '.join(CAPTION_CHOICES)}, got {caption!r}")
    if not sentences:
        return []
    chosen = sentences[:1] if caption == "first" else sentences
    return [w for s in chosen for w in words(s)]


def encode_sentences(sentence_lists, *, caption="first", max_tokens=None, min_count=1, bow_size=2000):
    """Token ids, vocabulary and bag of words of each image's sentences.

    `sentence_lists[i]` is image i's sentences in file order. Returns
    {"tokens" (N, L) int32, "vocabulary" (list, last = <unk>), "bow" (N, V) float32}.
    """
    require(len(sentence_lists) > 0, "no images with sentences to import")
    require(min_count >= 1, f"min_count must be at least 1, got {min_count}")
    require(bow_size >= 1, f"bow_size must be at least 1, got {bow_size}")
    sequences = [choose_text(s, caption) for s in sentence_lists]
    counts = collections.Counter(w for seq in sequences for w in seq)
    vocabulary = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
    tokens = token_matrix(sequences, vocabulary, max_tokens)

    all_words = [[w for s in sentences for w in words(s)] for sentences in sentence_lists]
    bow_counts = collections.Counter(w for ws in all_words for w in ws)
    bow_words = [w for w, _ in sorted(bow_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:bow_size]]
    bow_index = {w: j for j, w in enumerate(bow_words)}
    bow = np.zeros((len(sentence_lists), max(1, len(bow_words))), dtype=np.float32)
    for i, ws in enumerate(all_words):
        for w in ws:
            if w in bow_index:
                bow[i, bow_index[w]] += 1
    return {"tokens": tokens, "vocabulary": vocabulary + [UNKNOWN], "bow": bow, "bow_words": bow_words}


def read_features(features, feature_ids, wanted_ids):
    """Rows of a features file (any `open_source` form) for `wanted_ids`, by the ids file's order.

    `feature_ids` is a text file with one image id per line, line i naming row i.
    """
    with open(feature_ids, encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    with contextlib.ExitStack() as stack:
        array = open_source(features, stack, "features")
        require(len(array.shape) == 2, f"features must be (N, D), got shape {tuple(array.shape)}")
        require(array.shape[0] == len(ids),
                f"mismatched counts: {array.shape[0]} feature rows but {len(ids)} ids in {feature_ids}")
        row = {image_id: i for i, image_id in enumerate(ids)}
        missing = [i for i in wanted_ids if i not in row]
        require(not missing, f"{len(missing)} images have no feature row (first: {missing[0] if missing else ''})")
        index = np.asarray([row[i] for i in wanted_ids], dtype=np.int64)
        order = np.argsort(index)
        out = np.empty((index.size, array.shape[1]), np.float32)
        out[order] = np.asarray(array[index[order]], dtype=np.float32)  # increasing rows, as HDF5 wants
        return out
