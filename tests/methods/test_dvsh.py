"""DVSH: padding never changes a code, text and fusion poolings, learning on structured data (LSTM under mirrored,
BoW variant). The shared losses and text helpers are tested by hand in tests/losses and tests/layers."""

import os

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import assert_beats_random, structured_dataset, train_run
from tfhash.errors import TfhashError
from tfhash.layers.text import masked_mean
from tfhash.methods.registry import get_method
from tfhash.training.run_folder import read_codes


def _model(name="dvsh", **settings):
    cls = get_method(name)
    text_shape = (6,) if cls.text_field == "tokens" else (12,)
    return cls(cls.config_class(bits=8, **settings), image_shape=(10,), text_shape=text_shape, num_classes=3,
               vocabulary_size=20, train_size=4)


TOKENS = np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0], [2, 9, 9, 9, 1, 6]], np.int32)


@pytest.mark.parametrize("out_of_sample", ["hashing", "fusion"])
def test_padding_never_changes_a_code(out_of_sample):
    model = _model(out_of_sample=out_of_sample)
    images = np.random.default_rng(0).normal(size=(3, 10)).astype(np.float32)
    longer = np.pad(TOKENS, ((0, 0), (0, 9)))  # same sentences, 9 more padding steps
    np.testing.assert_allclose(model.encode_text(TOKENS), model.encode_text(longer), atol=1e-6)
    np.testing.assert_allclose(model.fusion_codes(images, TOKENS), model.fusion_codes(images, longer), atol=1e-6)
    # ... while a word in place of padding does change it (the check can fail).
    extended = TOKENS.copy()
    extended[0, 3] = 8
    assert not np.allclose(model.encode_text(TOKENS)[0], model.encode_text(extended)[0], atol=1e-6)
    assert not np.allclose(model.fusion_codes(images, TOKENS)[0], model.fusion_codes(images, extended)[0], atol=1e-6)
    codes = model.encode_image(images)
    assert codes.shape == (3, 8) and np.all(np.abs(codes) <= 1)


def test_text_code_is_the_last_valid_step_and_fusion_code_the_mean():
    model = _model()
    mask = TOKENS != 0
    steps = model.text_hashing(TOKENS).numpy()
    np.testing.assert_allclose(model.encode_text(TOKENS), steps[[0, 1, 2], [2, 0, 5]], atol=1e-6)
    np.testing.assert_allclose(masked_mean(tf.constant(steps), tf.constant(mask)),
                               [steps[i][mask[i]].mean(0) for i in range(3)], atol=1e-6)


def test_fusion_update_leaves_hashing_networks_alone_and_vice_versa():
    model = _model(epochs=1)
    model.configure()
    images = np.random.default_rng(1).normal(size=(3, 10)).astype(np.float32)
    labels = tf.constant([[1, 0, 0], [1, 1, 0], [0, 0, 1]], tf.float32)
    hashing_before = [v.numpy() for v in model.hashing_variables]
    fusion_before = [v.numpy() for v in model.fusion_variables]
    h = model._fusion_step(images, TOKENS, labels)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(hashing_before, model.hashing_variables))
    assert not all(np.array_equal(a, v.numpy()) for a, v in zip(fusion_before, model.fusion_variables))
    fusion_after = [v.numpy() for v in model.fusion_variables]
    model._hashing_step(images, TOKENS, h)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(fusion_after, model.fusion_variables))
    assert not all(np.array_equal(a, v.numpy()) for a, v in zip(hashing_before, model.hashing_variables))


def test_reports_vocabulary_size_and_needs_it():
    assert _model().get_config()["vocabulary_size"] == 20
    with pytest.raises(TfhashError, match="vocabulary_size"):
        get_method("dvsh")(None, image_shape=(10,), text_shape=(6,), num_classes=3)


def test_lstm_dvsh_learns_under_mirrored_strategy(tmp_path):
    path = structured_dataset(tmp_path, n=500, text_kind="tokens", image_dim=32, num_classes=5)
    _, report = train_run("dvsh", tmp_path, path, strategy="mirrored", bits=16, epochs=4, batch_size=40)
    assert_beats_random(report, margin=0.3)  # measured: ~0.72 vs ~0.21


def test_bow_variant_learns_and_the_saved_model_gives_the_codes(tmp_path):
    path = structured_dataset(tmp_path, n=500, text_kind="bow", image_dim=32, text_dim=40, num_classes=5)
    run_dir, report = train_run("dvsh-bow", tmp_path, path, bits=16, epochs=4, batch_size=40)
    assert_beats_random(report, margin=0.4)  # measured: ~0.95 vs ~0.21
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    with h5py.File(path) as f:
        rows = f["splits/query"][()]
        bow = f["bow"][()][rows]
    np.testing.assert_array_equal(np.asarray(model.hash_text(bow)).astype(np.int8), codes["query_text"])


def test_pixel_images_go_through_the_cnn_trunk():
    cls = get_method("dvsh")
    model = cls(cls.config_class(bits=8, conv_filters=(8, 8, 8, 8, 8), image_hidden=(16,)), image_shape=(32, 32, 3),
                text_shape=(6,), num_classes=3, vocabulary_size=20)
    model.configure()
    images = np.random.default_rng(2).uniform(0, 255, size=(3, 32, 32, 3)).astype(np.float32)
    assert model.encode_image(images).shape == (3, 8)
    h = model._fusion_step(images, TOKENS, tf.constant([[1, 0, 0], [1, 1, 0], [0, 0, 1]], tf.float32))
    assert h.shape == (3, 8) and np.all(np.isfinite(h))


def test_paper_optimisation_options():
    # Caffe's inv policy: 0.1 * (1 + 1e-4 * 10,000)^-0.75 = 0.1 * 2^-0.75 = 0.05946.
    from tfhash.methods.dvsh import CaffeInvDecay

    assert float(CaffeInvDecay(0.1, 1e-4, 0.75)(10_000)) == pytest.approx(0.1 * 2**-0.75, rel=1e-6)
    assert float(CaffeInvDecay(0.1, 1e-4, 0.75)(0)) == pytest.approx(0.1)
    images = np.random.default_rng(1).normal(size=(3, 10)).astype(np.float32)
    labels = tf.constant([[1, 0, 0], [1, 1, 0], [0, 0, 1]], tf.float32)
    deltas = {}
    for multiplier in (1.0, 10.0):
        keras.utils.set_random_seed(0)  # the same initial weights for both models
        model = _model(epochs=1, optimizer="sgd", momentum=0.9, learning_rate=0.01, dropout=0.0,
                       fc8_rate_multiplier=multiplier, lr_schedule="inv")
        model.configure()
        assert isinstance(model.optimizers["fusion"], keras.optimizers.SGD)
        before = [v.numpy() for v in model.fusion_variables]
        model._fusion_step(images, TOKENS, labels)
        deltas[multiplier] = {v.path: v.numpy() - b for v, b in zip(model.fusion_variables, before)}
    fc8 = [p for p in deltas[1.0] if "fusion_image_map" in p]
    assert len(fc8) == 2  # fc8's kernel and bias
    for path, delta in deltas[1.0].items():
        # The first SGD step is -rate * multiplier * gradient (momentum starts at 0): fc8 moves 10x as far.
        factor = 10.0 if path in fc8 else 1.0
        np.testing.assert_allclose(deltas[10.0][path], factor * delta, rtol=1e-4, atol=1e-7)  # float32 w + dw - w
    assert any(np.abs(deltas[1.0][p]).max() > 0 for p in fc8)
