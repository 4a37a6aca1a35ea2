"""Helpers of the export tests: small, untrained (but fitted) models of each method, text strings."""

import os

import numpy as np

from tfhash.methods.registry import get_method, method_names

#: Per-method settings that keep a test model small; a method absent here is built with its defaults.
SMALL_SETTINGS = {
    "sdch": {"image_hidden": (64,), "text_hidden": (64,)},  # default 4096 x 4096 (Table 1): 140 MB
}
BITS = 16
#: the words of docs/export.md's string examples, ids 1..5 of the token test model
WORDS = ["sky", "clouds", "sunset", "dog", "beach"]


def shipped_methods():
    """Every registered method that ships with tfhash (not test-only ones such as toy-test)."""
    return [n for n in method_names() if get_method(n).__module__.startswith("tfhash.")]


def build_fitted(name, dataset_path, bits=BITS, **overrides):
    """A method's model for `dataset_path`, with `prepare` (or the closed-form fit) run on its train split.

    The networks keep their random initial weights: no epochs. Returns (model, dataset).
    """
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.training.run import build_model, seed_everything

    cls = get_method(name)
    config = cls.config_class(**{"bits": bits, **SMALL_SETTINGS.get(name, {}), **overrides})
    dataset = PairedDataset(dataset_path)
    seed_everything(0)
    model = build_model(cls, config, dataset)
    model.configure()
    train = SplitView(dataset, "train", text_field=cls.text_field, with_labels=cls.needs_labels)
    if cls.closed_form:
        model.fit_closed_form(train)
    else:
        model.prepare(train)
    return model, dataset


def texts_of(token_rows, vocabulary, seed=0):
    """Text strings that the export's tokenizer turns back into `token_rows`.

    Mixed case, commas and runs of whitespace as separators, and an unknown
    word here and there (dropped: the synthetic vocabulary has no <unk>).
    """
    rng = np.random.default_rng(seed)
    out = []
    for row in token_rows:
        words = []
        for t in row[row > 0]:
            word = vocabulary[t - 1]
            words.append(word.upper() if rng.random() < 0.3 else word)
            if rng.random() < 0.2:
                words.append("NotAWord")
        seps = rng.choice([", ", " ", ",", " ,  "], size=max(len(words) - 1, 0))
        out.append("".join(w + (seps[i] if i < len(seps) else "") for i, w in enumerate(words)))
    return out


def quiet_env():
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env
