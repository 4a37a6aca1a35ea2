"""Synthetic paired data with known structure, for tests and quick experiments.

Each pair has 1 class (or 1..3 with `multilabel`); a latent vector mixes the
class prototypes plus a little per-item variation, and each modality comes
from the latent through its own random non-linear map:

* image features: a random 2-layer tanh MLP of the latent + Gaussian noise;
* pixel images: per-class color and sinusoidal grating (frequency,
  orientation), random phase per item, averaged over the item's classes,
  plus Gaussian pixel noise;
* text: per-item word distribution = softmax of a random MLP of the latent
  (+ noise on the logits); tokens are a sequence of 2..max_tokens words from
  it (so padding varies), bag-of-words the counts of 8..32 words (non-negative).

Everything is drawn from ``numpy.random.default_rng(seed)``: same arguments,
same arrays.
"""

import numpy as np

from tfhash.data.dataset import write_dataset
from tfhash.data.protocols import hide_labels, make_custom_splits
from tfhash.errors import require

_LATENT = 16
_HIDDEN = 64


def _labels(rng, n, num_classes, multilabel):
    if not multilabel:
        return np.eye(num_classes, dtype=np.uint8)[rng.integers(num_classes, size=n)]
    counts = rng.integers(1, min(3, num_classes) + 1, size=n)
    ranks = np.argsort(np.argsort(rng.random((n, num_classes)), axis=1), axis=1)
    return (ranks < counts[:, None]).astype(np.uint8)


def _mlp(rng, z, out_dim):
    w1 = rng.normal(size=(z.shape[1], _HIDDEN)) / np.sqrt(z.shape[1])
    b1 = rng.normal(scale=0.5, size=_HIDDEN)
    w2 = rng.normal(size=(_HIDDEN, out_dim)) / np.sqrt(_HIDDEN)
    out = np.tanh(z @ w1 + b1) @ w2
    return (out - out.mean(axis=0)) / (out.std(axis=0) + 1e-8)


def _words(rng, probs, lengths):
    """One word-id sequence (0-based) per row of `probs`, of the given lengths."""
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    u = rng.random((probs.shape[0], int(lengths.max())))
    seqs = np.stack([np.searchsorted(cdf[i], u[i], side="right") for i in range(probs.shape[0])])
    return np.minimum(seqs, probs.shape[1] - 1)


def _word_probs(rng, z, vocab, noise):
    logits = 2.5 * _mlp(rng, z, vocab) + noise * rng.normal(size=(z.shape[0], vocab))
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _pixels(rng, labels, size, noise):
    n, num_classes = labels.shape
    colors = rng.uniform(0.15, 1.0, size=(num_classes, 3))
    freqs = rng.uniform(1.0, 5.0, size=num_classes)
    angles = rng.uniform(0.0, np.pi, size=num_classes)
    phases = rng.uniform(0.0, 2 * np.pi, size=n)
    grid = np.linspace(0.0, 1.0, size, endpoint=False)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    # (C, H, W) class gratings; each item averages its classes' patterns.
    proj = xx[None] * np.cos(angles)[:, None, None] + yy[None] * np.sin(angles)[:, None, None]
    out = np.empty((n, size, size, 3), np.uint8)
    weights = labels / labels.sum(axis=1, keepdims=True)
    for start in range(0, n, 256):
        sl = slice(start, start + 256)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * freqs[None, :, None, None] * proj[None] + phases[sl, None, None, None])
        img = np.einsum("nc,nchw,ck->nhwk", weights[sl], wave, colors)
        img += 0.15 * noise * rng.normal(size=img.shape)
        out[sl] = np.clip(np.rint(255 * img), 0, 255).astype(np.uint8)
    return out


def make_synthetic(
    n,
    *,
    image_dim=128,
    text_dim=64,
    num_classes=10,
    multilabel=False,
    noise=0.5,
    seed=0,
    image_kind="features",
    image_size=32,
    text_kind="bow",
    max_tokens=12,
    vocab_size=200,
):
    """A dict of paired arrays (images, bow and/or tokens + vocabulary, labels, class_names, ids).

    `image_kind` is "features" ((n, image_dim) float32) or "pixels"
    ((n, image_size, image_size, 3) uint8). `text_kind` is "bow"
    ((n, text_dim) counts), "tokens" ((n, max_tokens) ids over `vocab_size`
    words) or "both" (tokens, and bow = their counts, (n, vocab_size)).
    """
    require(n > 0, f"n must be positive, got {n}")
    require(num_classes >= 2, f"need at least 2 classes, got {num_classes}")
    require(image_kind in ("features", "pixels"), f"unknown image kind '{image_kind}' (known: features, pixels)")
    require(text_kind in ("bow", "tokens", "both"), f"unknown text kind '{text_kind}' (known: bow, tokens, both)")
    require(noise >= 0, f"noise must be non-negative, got {noise}")
    require(max_tokens >= 2, f"max_tokens must be at least 2, got {max_tokens}")
    rng = np.random.default_rng(seed)
    labels = _labels(rng, n, num_classes, multilabel)
    prototypes = rng.normal(size=(num_classes, _LATENT))
    z = labels @ prototypes / np.sqrt(labels.sum(axis=1, keepdims=True)) + 0.3 * rng.normal(size=(n, _LATENT))

    out = {"labels": labels, "class_names": [f"class{k}" for k in range(num_classes)], "ids": [f"syn{i}" for i in range(n)]}
    if image_kind == "features":
        images = _mlp(rng, z, image_dim) + noise * rng.normal(size=(n, image_dim))
        out["images"] = images.astype(np.float32)
    else:
        out["images"] = _pixels(rng, labels, image_size, noise)

    if text_kind == "bow":
        probs = _word_probs(rng, z, text_dim, noise)
        lengths = rng.integers(8, 33, size=n)
        words = _words(rng, probs, lengths)
        mask = np.arange(words.shape[1])[None] < lengths[:, None]
        bow = np.zeros((n, text_dim), np.float32)
        np.add.at(bow, (np.repeat(np.arange(n), mask.sum(axis=1)), words[mask]), 1.0)
        out["bow"] = bow
    else:
        probs = _word_probs(rng, z, vocab_size, noise)
        lengths = rng.integers(2, max_tokens + 1, size=n)
        words = _words(rng, probs, np.full(n, max_tokens))
        mask = np.arange(max_tokens)[None] < lengths[:, None]
        out["tokens"] = np.where(mask, words + 1, 0).astype(np.int32)
        out["vocabulary"] = [f"w{i}" for i in range(vocab_size)]
        if text_kind == "both":
            bow = np.zeros((n, vocab_size), np.float32)
            np.add.at(bow, (np.nonzero(mask)[0], words[mask]), 1.0)
            out["bow"] = bow
    return out


def write_synthetic(path, n, *, query_size, seed=0, train_size=None, validation_size=0, labelled_size=None,
                    name="synthetic", **kw):
    """Write `make_synthetic(n, seed=seed, **kw)` with seeded custom splits (train = database by default).

    With `labelled_size`, the training pairs beyond it form the unlabelled pool (`protocols.hide_labels`).
    """
    data = make_synthetic(n, seed=seed, **kw)
    splits = make_custom_splits(
        n, query_size=query_size, train_size=train_size, validation_size=validation_size, seed=seed, labels=data["labels"]
    )
    if labelled_size is not None:
        splits = hide_labels(splits, labelled_size, seed=seed)
    return write_dataset(
        path,
        images=data["images"],
        bow=data.get("bow"),
        tokens=data.get("tokens"),
        vocabulary=data.get("vocabulary"),
        labels=data["labels"],
        class_names=data["class_names"],
        ids=data["ids"],
        splits=splits,
        split_seed=seed,
        protocol="custom",
        name=name,
    )
