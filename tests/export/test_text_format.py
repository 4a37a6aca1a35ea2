"""The text-string format of exported token-sequence models (docs/export.md, "Text strings")."""

import tensorflow as tf

from tfhash.export.saved_model import _StringTokenizer, lookup_keys


def ids(vocabulary, texts, length, tmp_path):
    return _StringTokenizer(vocabulary, length, str(tmp_path))(tf.constant(texts)).numpy().tolist()


def test_lowercase_split_on_commas_and_whitespace_pad_and_cut(tmp_path):
    vocabulary = ["Sky", "clouds", "été", "<unk>"]
    texts = ["sky CLOUDS", "Clouds,sky", "  ,, clouds ,", "", "sky sky sky sky", "ÉTÉ\tsky"]
    assert ids(vocabulary, texts, 3, tmp_path) == [[1, 2, 0], [2, 1, 0], [2, 0, 0], [0, 0, 0], [1, 1, 1], [3, 1, 0]]


def test_unknown_tokens_map_to_unk_or_are_dropped(tmp_path):
    assert ids(["sky", "<unk>"], ["rain, sky"], 3, tmp_path) == [[2, 1, 0]]
    (tmp_path / "other").mkdir()
    assert ids(["sky", "clouds"], ["rain, sky"], 3, tmp_path / "other") == [[1, 0, 0]]


def test_lookup_keys_first_occurrence_wins_and_unreachable_entries_are_left_out():
    assert lookup_keys(["Sky", "sky", "a b", "x,y", "", "dog"]) == [("sky", 1), ("dog", 6)]
