"""Train/query/database split protocols: the published presets and custom splits.

Every seeded protocol draws from ``numpy.random.default_rng(seed)``, so a
(protocol, n, seed) triple always gives the same splits; importers store the
seed in the dataset file (``split_seed``). Index arrays are sorted, so reads
from disk are in file order (pipelines shuffle on their own).

Conventions shared by all seeded protocols:

* query and database are disjoint and together cover every pair;
* train (and validation) are drawn from the database, never from query;
* validation, when asked for, is disjoint from train (it stays in the
  database, so evaluate validation queries against train, not database);
* pairs whose label row is all zero never become queries (they could have
  no relevant item), when labels are given. They stay in the database.

Presets (sizes as published; the dataset sizes they expect are in brackets):

=================  ========  ===============  ===================================
name               queries   train            source
=================  ========  ===============  ===================================
mirflickr-dcmh     2,000     10,000 of db     DCMH (Jiang & Li, CVPR 2017) [20,015]
nuswide-dcmh       2,100     10,500 of db     DCMH, 21 most frequent concepts [190,421 / 195,834]
iapr-dcmh          2,000     10,000 of db     DCMH [20,000]
coco-dcmh          5,000     10,000 of db     common in later DCMH-style work [122,218];
                                              some papers use 2,000 queries: pass query_size
wikipedia-standard 693       2,173 (= db)     Rasiwasia et al. 2010; fixed, not seeded
iapr-dvsh          100/class 5,000 of db      DVSH (Cao et al., KDD 2016) Sec. 5.1, +1,000
                                              validation [18,715 images, 22 concepts]
coco-dvsh          5,000     25,000 of db     DVSH Sec. 5.1, +5,000 validation [82,120]
iapr-tuch          100/class 5,000 of db      TUCH (Zhao et al., IJCAI 2017) Sec. 5.2, +1,000
                                              validation [18,673 images, 22 concepts]
coco-tuch          1,000     5,000 of db      TUCH Sec. 5.2, +1,000 validation [82,081]
=================  ========  ===============  ===================================

The DVSH and TUCH presets: DVSH's sizes count image-sentence pairs (each
COCO image appears once per sentence); here one pair is one image, so the
sizes count images. "100/class" draws, for each class in turn, 100 random
images carrying it that are not queries yet (2,200 queries for 22
concepts). TUCH's text says both "5000 query images from the validation
set" and "1000 images ... as query set" for COCO; the preset follows the
split paragraph (1,000 random queries). Validation pairs are drawn from the
database and kept out of train, as everywhere here.

``train_size="all"`` makes train the whole database (the usual choice for
unsupervised methods); for ``custom`` that is the default.

Unlabelled pool (``labelled_size``, any protocol): of the training pairs the
protocol chose, ``labelled_size`` drawn at random stay in ``train`` (the
labelled training split) and the others form the ``unlabelled`` split:
non-query pairs a method may read images and texts of, never labels
(TUCH's Sec. 5.3 pre-trains on all non-query pairs, hashes on a labelled
subset). The pool stays in the database, so retrieval is scored as before.
The draw uses ``default_rng([seed, 1])``, independent of the split draw, so
the same seed gives the same query/database/train union with and without a
pool.
"""

import numpy as np

from tfhash.errors import require


def _nonempty_rows(labels, n):
    if labels is None:
        return np.arange(n)
    labels = np.asarray(labels)
    require(labels.shape[0] == n, f"mismatched pair counts: {n} pairs but {labels.shape[0]} label rows")
    return np.flatnonzero(labels.reshape(n, -1).sum(axis=1) > 0)


def make_custom_splits(n, *, query_size, train_size=None, validation_size=0, seed=0, labels=None):
    """Random splits of `n` pairs: `query_size` queries, the rest database.

    Train is `train_size` pairs drawn from the database (all of it minus
    validation when None or "all"); validation is `validation_size` database pairs
    kept out of train. Pairs with an all-zero row in `labels` are never queries.
    """
    require(n > 0, "the dataset has no pairs")
    require(query_size is not None, "custom splits need a query size (--query-size)")
    query_size = int(query_size)
    validation_size = int(validation_size or 0)
    require(query_size > 0, f"query size must be positive, got {query_size}")
    require(validation_size >= 0, f"validation size must be non-negative, got {validation_size}")
    eligible = _nonempty_rows(labels, n)
    require(
        query_size < eligible.size,
        f"query size {query_size} leaves no database: only {eligible.size} of {n} pairs can be queries",
    )
    rng = np.random.default_rng(seed)
    query = np.sort(rng.choice(eligible, size=query_size, replace=False))
    database = np.setdiff1d(np.arange(n), query)
    pool = rng.permutation(database)
    require(
        validation_size < pool.size,
        f"validation size {validation_size} leaves no training pairs in a database of {pool.size}",
    )
    validation, pool = pool[:validation_size], pool[validation_size:]
    if train_size is None or train_size == "all":
        train = pool
    else:
        train_size = int(train_size)
        require(train_size > 0, f"train size must be positive, got {train_size}")
        require(
            train_size <= pool.size,
            f"train size {train_size} exceeds the {pool.size} database pairs available for training",
        )
        train = pool[:train_size]
    splits = {"train": np.sort(train), "query": query, "database": database}
    if validation_size:
        splits["validation"] = np.sort(validation)
    return splits


def make_per_class_splits(n, *, labels, per_class, train_size, validation_size=0, seed=0):
    """Splits with `per_class` queries per class: for each class in column order, that many random
    images carrying it that are not queries yet (fewer if the class has fewer left); the rest is the
    database, train and validation drawn from it as in `make_custom_splits`."""
    require(labels is not None, "per-class query sampling needs labels")
    labels = np.asarray(labels).reshape(n, -1)
    require(per_class > 0, f"queries per class must be positive, got {per_class}")
    rng = np.random.default_rng(seed)
    taken = np.zeros(n, dtype=bool)
    for c in range(labels.shape[1]):
        candidates = np.flatnonzero((labels[:, c] > 0) & ~taken)
        taken[rng.choice(candidates, size=min(per_class, candidates.size), replace=False)] = True
    query = np.flatnonzero(taken)
    database = np.flatnonzero(~taken)
    require(database.size > 0, "per-class queries leave no database")
    pool = rng.permutation(database)
    validation_size = int(validation_size or 0)
    require(validation_size < pool.size, f"validation size {validation_size} leaves no training pairs")
    validation, pool = pool[:validation_size], pool[validation_size:]
    if train_size is not None and train_size != "all":
        require(0 < int(train_size) <= pool.size,
                f"train size {train_size} exceeds the {pool.size} database pairs available for training")
        pool = pool[: int(train_size)]
    splits = {"train": np.sort(pool), "query": query, "database": database}
    if validation_size:
        splits["validation"] = np.sort(validation)
    return splits


def _per_class_preset(per_class, train_size, validation_size):
    def make(n, *, seed=0, per_class=per_class, train_size=train_size, validation_size=validation_size,
             labels=None):
        return make_per_class_splits(n, labels=labels, per_class=per_class, train_size=train_size,
                                     validation_size=validation_size, seed=seed)

    return make


def _preset(query_size, train_size, validation_size=0):
    def make(n, *, seed=0, query_size=query_size, train_size=train_size, validation_size=validation_size, labels=None):
        return make_custom_splits(
            n, query_size=query_size, train_size=train_size, validation_size=validation_size, seed=seed, labels=labels
        )

    return make


mirflickr_dcmh = _preset(2000, 10000)
mirflickr_dcmh.__doc__ = "MIRFlickr-25K as in DCMH: 2,000 random queries, rest database, 10,000 train."
nuswide_dcmh = _preset(2100, 10500)
nuswide_dcmh.__doc__ = "NUS-WIDE as in DCMH: 2,100 random queries, rest database, 10,500 train."
iapr_dcmh = _preset(2000, 10000)
iapr_dcmh.__doc__ = "IAPR TC-12 as in DCMH: 2,000 random queries, rest database, 10,000 train."
coco_dcmh = _preset(5000, 10000)
coco_dcmh.__doc__ = "MS-COCO: 5,000 random queries, rest database, 10,000 train."
iapr_dvsh = _per_class_preset(100, 5000, 1000)
iapr_dvsh.__doc__ = "IAPR TC-12 as in DVSH: 100 queries per class, 5,000 train and 1,000 validation from the rest."
coco_dvsh = _preset(5000, 25000, 5000)
coco_dvsh.__doc__ = "MS-COCO as in DVSH: 5,000 random queries, 25,000 train and 5,000 validation from the rest."
iapr_tuch = _per_class_preset(100, 5000, 1000)
iapr_tuch.__doc__ = "IAPR TC-12 as in TUCH: 100 queries per class, 5,000 train and 1,000 validation from the rest."
coco_tuch = _preset(1000, 5000, 1000)
coco_tuch.__doc__ = "MS-COCO as in TUCH: 1,000 random queries, 5,000 train and 1,000 validation from the rest."


def wikipedia_standard(n, *, seed=None, num_train=2173, labels=None):
    """Wikipedia's fixed split: rows 0..num_train-1 are train = database, the rest query."""
    require(
        0 < num_train < n,
        f"wikipedia-standard needs the {num_train} train pairs first, then the test pairs; got {n} pairs",
    )
    train = np.arange(num_train)
    return {"train": train, "database": train.copy(), "query": np.arange(num_train, n)}


def custom(n, *, seed=0, query_size=None, train_size=None, validation_size=0, labels=None):
    """Random splits of the given sizes (see `make_custom_splits`)."""
    return make_custom_splits(
        n, query_size=query_size, train_size=train_size, validation_size=validation_size, seed=seed, labels=labels
    )


PROTOCOLS = {
    "custom": custom,
    "mirflickr-dcmh": mirflickr_dcmh,
    "nuswide-dcmh": nuswide_dcmh,
    "iapr-dcmh": iapr_dcmh,
    "coco-dcmh": coco_dcmh,
    "wikipedia-standard": wikipedia_standard,
    "iapr-dvsh": iapr_dvsh,
    "coco-dvsh": coco_dvsh,
    "iapr-tuch": iapr_tuch,
    "coco-tuch": coco_tuch,
}
FIXED_PROTOCOLS = frozenset({"wikipedia-standard"})
PER_CLASS_PROTOCOLS = frozenset({"iapr-dvsh", "iapr-tuch"})


def hide_labels(splits, labelled_size, seed=0):
    """Move all but `labelled_size` random training pairs of `splits` to an ``unlabelled`` split; returns new splits."""
    train = np.asarray(splits["train"])
    labelled_size = int(labelled_size)
    require(labelled_size > 0, f"labelled size must be positive, got {labelled_size}")
    require(labelled_size < train.size,
            f"labelled size {labelled_size} leaves no unlabelled pairs among the {train.size} training pairs")
    order = np.random.default_rng([int(seed), 1]).permutation(train)
    out = dict(splits)
    out["train"], out["unlabelled"] = np.sort(order[:labelled_size]), np.sort(order[labelled_size:])
    return out


def make_splits(protocol, n, seed=0, labelled_size=None, **kw):
    """Splits of `n` pairs under the named `protocol` (kwargs override preset sizes).

    Keyword arguments left as None fall back to the preset's value; pass
    ``train_size="all"`` to train on the whole database. With
    `labelled_size`, the training pairs beyond it go to the ``unlabelled``
    pool (`hide_labels`).
    """
    require(
        protocol in PROTOCOLS,
        f"unknown protocol '{protocol}' (known: {', '.join(sorted(PROTOCOLS))})",
    )
    kw = {k: v for k, v in kw.items() if v is not None}
    if protocol in FIXED_PROTOCOLS:
        extra = sorted(set(kw) - {"labels", "num_train"})
        require(not extra, f"protocol '{protocol}' is a fixed split; it takes no {', '.join(extra)}")
    if protocol in PER_CLASS_PROTOCOLS:
        require("query_size" not in kw, f"protocol '{protocol}' draws 100 queries per class; it takes no query size")
    splits = PROTOCOLS[protocol](n, seed=seed if seed is not None else 0, **kw)
    if labelled_size is not None:
        splits = hide_labels(splits, labelled_size, seed=seed if seed is not None else 0)
    return splits


def split_seed(protocol, seed, labelled_size=None):
    """The seed to record in the file: None for a fixed protocol (unless a seeded pool was drawn)."""
    return None if protocol in FIXED_PROTOCOLS and labelled_size is None else seed
