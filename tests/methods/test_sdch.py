"""SDCH: bit decorrelation by hand, batch losses against the whole stored set, the epoch schedule
of Algorithm 1, B = sign(Z), learning on structured data (default strategy, and `train` under mirrored)."""

import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import assert_beats_random, codes_map, structured_dataset, train_run
from tfhash.data.dataset import PairedDataset
from tfhash.data.split import SplitView
from tfhash.losses.quantization import bit_decorrelation_loss
from tfhash.methods.sdch import SDCH, SDCHConfig, term_weights
from tfhash.training.run import build_model, fit_method

SMALL = dict(bits=16, feature_dim=32, image_hidden=(64,), text_hidden=(64,))


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("sdch_data"), n=400, query_size=100)


def _train_view(path):
    return SplitView(PairedDataset(path), "train", text_field="bow", with_labels=True)


# ------------------------------------------- hand-made losses (the shared ones: tests/losses/test_pairwise.py)
def test_bit_decorrelation_by_hand():
    square = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], np.float32)  # uncorrelated, unit variance
    assert float(bit_decorrelation_loss(square)) == pytest.approx(0.0)
    same = np.array([[1, 1], [1, 1]], np.float32)  # Gram [[1, 1], [1, 1]]: off-diagonals 1
    assert float(bit_decorrelation_loss(same)) == pytest.approx(0.5)


# ------------------------------------------------------- a batch against the whole stored set
def _reference_losses(model, fx, fy, index, cfg):
    """Eqs. (4) and (7) with explicit loops over every stored item (batch rows replaced by the batch)."""
    labels = model.train_labels.numpy()
    fx_all, fy_all = model.image_features.numpy(), model.text_features.numpy()
    fx_all[index], fy_all[index] = fx, fy
    codes = model.codes.numpy()
    w, *bias = (v.numpy().astype(np.float64) for v in model.hash_layer.weights)
    c = bias[0] if bias else 0.0  # fc4 has no bias when its input is centred
    r, n = cfg.bits, labels.shape[0]
    similar = lambda i, j: float(labels[i] @ labels[j] > 0)  # noqa: E731

    def nll(theta, s):
        return math.log1p(math.exp(theta)) - s * theta

    lf_x = np.mean([nll(fx[a] @ fy_all[j], similar(i, j)) for a, i in enumerate(index) for j in range(n)])
    lf_y = np.mean([nll(fy[a] @ fx_all[j], similar(i, j)) for a, i in enumerate(index) for j in range(n)])
    # Z over both modalities: rows (item, modality); S^h = +1 / -1 whatever the modalities. fc4 reads
    # features minus their modality's mean over the stored set.
    mx, my = fx_all.mean(axis=0), fy_all.mean(axis=0)
    z_all = [(j, (fx_all[j] - mx) @ w + c) for j in range(n)] + [(j, (fy_all[j] - my) @ w + c) for j in range(n)]
    z_batch = [(i, (fx[a] - mx) @ w + c, codes[i]) for a, i in enumerate(index)] + \
              [(i, (fy[a] - my) @ w + c, codes[i]) for a, i in enumerate(index)]
    pair = np.mean([(za @ zj / r - (2 * similar(i, j) - 1)) ** 2 for i, za, _ in z_batch for j, zj in z_all])
    quant = np.mean([(za - b) ** 2 for _, za, b in z_batch])
    stacked = np.stack([z for _, z in z_all])
    indep = np.mean((stacked.T @ stacked / (2 * n) - np.eye(r)) ** 2)
    if cfg.normalization == "sum":
        # Eq. (7)'s sums, over the similarity term's count of entries (batch rows x M codes, M = 2n):
        # the quantisation sum over the batch's codes, the independence sum over r^2 against M^2.
        m = 2 * n
        quant = np.sum([(za - b) ** 2 for _, za, b in z_batch]) / (len(z_batch) * m)
        indep = np.sum((stacked.T @ stacked / m - np.eye(r)) ** 2) / m**2
    balance = np.sum(stacked.mean(axis=0) ** 2) / r
    lh = pair + cfg.beta1 * quant + cfg.beta2 * indep + cfg.beta3 * balance
    return (lf_x + lf_y) / 2, lh


@pytest.mark.parametrize("normalization", ["mean", "sum"])
def test_batch_losses_see_the_whole_stored_training_set(normalization):
    cfg = SDCHConfig(bits=4, feature_dim=3, image_hidden=(5,), text_hidden=(5,), beta1=0.7, beta2=1.3, beta3=0.4,
                     normalization=normalization)
    model = SDCH(cfg, image_shape=(6,), text_shape=(7,), num_classes=3, train_size=6)
    rng = np.random.default_rng(0)
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 0], [1, 1, 0]], np.float32)
    model.train_labels.assign(labels)
    model.image_features.assign(rng.normal(size=(6, 3)))
    model.text_features.assign(rng.normal(size=(6, 3)))
    model.codes.assign(np.where(rng.random((6, 4)) < 0.5, -1.0, 1.0))
    index = np.array([4, 1], np.int32)
    fx, fy = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 3)).astype(np.float32)

    expected_f, expected_h = _reference_losses(model, fx, fy, index, cfg)
    model._refresh_features(tf.constant(index), fx, fy)
    np.testing.assert_allclose(model.image_features.numpy()[index], fx)
    np.testing.assert_allclose(model.text_features.numpy()[index], fy)
    got_f = float(model._feature_loss(fx, fy, labels[index]))
    got_h = float(model._hash_loss(fx, fy, labels[index], tf.constant(index)))
    assert got_f == pytest.approx(expected_f, rel=1e-5)
    assert got_h == pytest.approx(expected_h, rel=1e-5)
    # A label of an item outside the batch changes the loss: the full S is seen.
    model.train_labels.assign(np.concatenate([labels[:3], [[1, 0, 0]], labels[4:]]).astype(np.float32))
    assert float(model._feature_loss(fx, fy, labels[index])) != pytest.approx(got_f, rel=1e-6)


def test_sum_normalization_is_mean_with_beta1_times_r_over_2n():
    # 64 bits, N = 2,173 (Wikipedia): M = 4,346 codes; the quantisation weight r / M = 64 / 4346.
    assert term_weights("mean", 64.0, 4346.0) == (1.0, 1.0)
    q, i = term_weights("sum", 64.0, 4346.0)
    assert q == pytest.approx(64 / 4346) and i == pytest.approx((64 / 4346) ** 2)
    assert 1 / q == pytest.approx(67.9, abs=0.05)  # mean-form beta1 = 1 is a literal beta1 of 2N/r = 67.9


# ------------------------------------------- Algorithm 1's schedule, learning, B = sign(Z)
def _weights(model):
    return {name: [v.numpy().copy() for v in net.trainable_variables]
            for name, net in (("hash", model.hash_layer), ("features", model.image_net))}


def _changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after))


def _assert_codes_are_sign_of_z(model, dataset_path):
    z = model.encode_split(_train_view(dataset_path))
    total = z["image"] + z["text"]
    expected = np.where(total >= 0, 1.0, -1.0)
    clear = np.abs(total) > 1e-4  # float noise may flip a sign right at 0
    b = model.unified_codes()
    assert b.shape == expected.shape and set(np.unique(b)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(b[clear], expected[clear])
    assert clear.mean() > 0.99


def test_schedule_learning_and_b_is_sign_of_z(dataset_path, tmp_path):
    dataset = PairedDataset(dataset_path)
    config = SDCHConfig(epochs=1, **SMALL)
    model = build_model(SDCH, config, dataset).configure()
    view = _train_view(dataset_path)
    model.prepare(view)
    snapshots = [_weights(model)]
    steps = []
    for epochs in (1, 2, 3):  # fit epoch by epoch, as a resumed run would
        fit_method(model, dataset, view, config.replace(epochs=epochs), str(tmp_path), epochs - 1, verbose=0)
        snapshots.append(_weights(model))
        steps.append({name: int(opt.iterations.numpy()) for name, opt in model.optimizers.items()})
        assert int(model.epoch_clock.numpy()) == epochs - 1
    # Frozen means not stepped: the frozen part's optimizer state (step count, Adam moments) does not move.
    assert steps[0]["hash"] == 0 and steps[0]["features"] > 0
    assert steps[1]["features"] == steps[0]["features"] and steps[1]["hash"] > 0
    (w0, w1, w2, w3) = snapshots
    assert not _changed(w0["hash"], w1["hash"]) and _changed(w0["features"], w1["features"])  # epoch 1: Theta_f
    assert _changed(w1["hash"], w2["hash"]) and not _changed(w1["features"], w2["features"])  # epoch 2: Theta_h
    assert _changed(w2["hash"], w3["hash"]) and _changed(w2["features"], w3["features"])  # then both

    fit_method(model, dataset, view, config.replace(epochs=6), str(tmp_path), 3, verbose=0)
    _assert_codes_are_sign_of_z(model, dataset_path)
    query = SplitView(dataset, "query", text_field="bow", with_labels=True)
    database = SplitView(dataset, "database", text_field="bow", with_labels=True)
    q, db = model.encode_split(query, binary=True), model.encode_split(database, binary=True)
    labels = (query.labels(), database.labels())
    chance = codes_map(np.where(np.random.default_rng(0).random(q["image"].shape) < 0.5, 1, -1),
                       np.where(np.random.default_rng(1).random(db["text"].shape) < 0.5, 1, -1), *labels)
    for task, (a, b) in {"i2t": (q["image"], db["text"]), "t2i": (q["text"], db["image"])}.items():
        learned = codes_map(a, b, *labels)
        assert learned > chance + 0.15, f"{task}: learned MAP {learned:.3f} vs random {chance:.3f}"


# ------------------------------------------------- the standard path under MirroredStrategy
def test_runs_under_mirrored(dataset_path, tmp_path):
    assert len(tf.config.list_logical_devices("CPU")) >= 2
    run_dir, report = train_run("sdch", tmp_path, dataset_path, strategy="mirrored", epochs=5, **SMALL)
    assert report["config"]["bits"] == SMALL["bits"]
    assert_beats_random(report)
    _assert_codes_are_sign_of_z(keras.models.load_model(os.path.join(run_dir, "model.keras")), dataset_path)
