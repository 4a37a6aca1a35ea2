"""TUCH: the discrete layer and +-1 codes, eq. 3 by hand, stages, learning, mirrored. The shared pieces (eq. 8's
straight-through sign, the GAN losses of eq. 4, the image grid) are tested by hand in tests/layers and tests/losses."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.helpers import assert_beats_random, run_cli, structured_dataset, train_run
from tfhash.data.dataset import PairedDataset
from tfhash.data.split import SplitView
from tfhash.data.synthetic import write_synthetic
from tfhash.errors import TfhashError
from tfhash.layers.hashing import SignSTE
from tfhash.methods.registry import get_method
from tfhash.methods.callbacks import MethodSchedule
from tfhash.methods.tuch import GAN, HASHING, TEXT, semantic_embedding_loss
from tfhash.training.run_folder import read_codes

SMALL = dict(text_dim=16, text_hidden=(32,), text_projection=16, noise_dim=8, generator_hidden=(64,), image_hidden=(64,),
             text_branch_dim=16, discriminator_hidden=32)


def _model(name="tuch", image_shape=(10,), **settings):
    cls = get_method(name)
    config = cls.config_class(**{"bits": 8, "epochs": 3, "text_epochs": 1, "gan_epochs": 1, **SMALL, **settings})
    text_shape = (6,) if cls.text_field == "tokens" else (12,)
    return cls(config, image_shape=image_shape, text_shape=text_shape, num_classes=3, vocabulary_size=20, train_size=4)


def test_discrete_layer_is_the_straight_through_sign_and_outputs_only_pm1():
    model = _model()
    assert isinstance(model.discrete, SignSTE)  # eq. 8's gradient: tests/layers/test_hashing.py
    x = np.random.default_rng(0).normal(size=(5, 10)).astype(np.float32)
    texts = np.random.default_rng(1).random((5, 12)).astype(np.float32)
    for codes in (model.hash_image(x), model.hash_text(texts), model.discrete(100 * model.encode_image(x))):
        assert set(np.unique(codes)) <= {-1.0, 1.0}


def test_semantic_embedding_loss_by_hand():
    # eq. 3 on a hand-made case: phi = W_h h = 0 costs log 2 per label.
    np.testing.assert_allclose(semantic_embedding_loss(tf.zeros((2, 3)), tf.constant([[1, 0, 1], [0, 0, 1]])),
                               3 * np.log(2), rtol=1e-6)


def test_mismatched_images_share_no_label_with_the_text():
    model = _model()
    labels = tf.constant(np.eye(3, dtype=np.float32)[[0, 0, 1, 2, 1, 0, 2, 2]])
    for _ in range(5):
        j = model._mismatch_index(8, labels).numpy()
        assert np.all(j != np.arange(8))
        assert np.all(np.sum(labels.numpy() * labels.numpy()[j], axis=1) == 0)
    assert np.all(model._mismatch_index(8, None).numpy() != np.arange(8))


def test_stages_follow_the_epochs_and_config_rejects_a_missing_hashing_stage():
    model = _model(epochs=6, text_epochs=2, gan_epochs=3)
    assert [model.phase(e).name for e in range(6)] == [TEXT, TEXT, GAN, GAN, GAN, HASHING]
    assert model.phase(0).players == ("text",) and model.phase(2).players == ("hashing", "generator")
    schedule = MethodSchedule(train=None)
    schedule.set_model(model)
    model.configure()
    schedule.on_epoch_begin(4)  # e.g. a run resumed at epoch 4
    assert model.current_phase.name == GAN and int(model.epoch_clock.numpy()) == 4
    assert not model.active("text")  # the text autoencoder is frozen after stage 1
    schedule.on_epoch_begin(5)
    assert model.current_phase.name == HASHING
    with pytest.raises(TfhashError, match="epochs > text_epochs"):
        get_method("tuch").config_class(epochs=5, text_epochs=2, gan_epochs=3).validate()


def test_text_codes_zero_and_vote_are_deterministic():
    model = _model(text_code_samples=5)
    texts = np.random.default_rng(1).random((4, 12)).astype(np.float32)
    for mode in ("zero", "vote"):
        np.testing.assert_array_equal(model.text_codes(texts, mode), model.text_codes(texts, mode))
    votes = model.text_codes(texts, "vote").numpy()
    assert votes.shape == (4, 8) and np.all(np.isin(votes * 5, np.arange(-5, 6, 2)))  # means of 5 +-1 votes


def test_pixel_mode_generates_images():
    model = _model("tuch-seq", image_shape=(16, 16, 3), backbone_weights="none", generator_width=4, embedding_dim=8)
    tokens = np.array([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0], [2, 9, 9, 9, 1, 6]], np.int32)
    images = model.generate_images(tokens)
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    assert model.encode_text(tokens).shape == (3, 8) and model.encode_image(images.astype(np.float32)).shape == (3, 8)
    with pytest.raises(TfhashError, match="feature vectors"):
        _model().generate_images(np.zeros((1, 12), np.float32))


def test_pixel_image_branch_is_keras_hubs_resnet18_fed_g_space_pixels():
    import keras_hub

    model = _model(image_shape=(32, 32, 3), backbone_weights="none", generator_width=4)
    assert model.config.image_backbone == "resnet18"  # the paper's ResNet-18 by default
    cnn = model.image_branch.get_layer("h_cnn")
    assert any(isinstance(layer, keras_hub.models.ResNetBackbone) for layer in cnn.layers)
    assert model._backbones == [cnn]  # the shared mechanism: backbone_learning_rate_multiplier reaches it
    # H reads G's tanh space: -1 and 1 are pixels 0 and 255 on the backbone's input.
    to_pixels = model.image_branch.get_layer("h_pixels")
    np.testing.assert_allclose(to_pixels(np.array([[-1.0, 0.0, 1.0]], np.float32)), [[0.0, 127.5, 255.0]])


def test_resnet18_weights_file_loads_through_tuchs_settings(tmp_path):
    """A file written from a keras-hub ResNetBackbone gives H's backbone exactly that network's pooled outputs."""
    import keras_hub

    from tfhash.layers.backbones import RESNET18

    keras.utils.set_random_seed(5)
    source = keras_hub.models.ResNetBackbone(**RESNET18, image_shape=(32, 32, 3))
    path = str(tmp_path / "resnet18.weights.h5")
    source.save_weights(path)
    keras.utils.set_random_seed(6)  # another random start: only the file can make the two agree
    model = _model(image_shape=(32, 32, 3), backbone_weights=path, generator_width=4)
    pixels = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype(np.float32)
    # keras-hub's ResNet presets normalise with the ImageNet mean and std of [0, 1] pixels
    normalised = (pixels / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    expected = np.mean(keras.ops.convert_to_numpy(source(normalised.astype(np.float32), training=False)), axis=(1, 2))
    got = keras.ops.convert_to_numpy(model.image_branch.get_layer("h_cnn")(pixels, training=False))
    assert got.shape == (3, 512) and np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    random = _model(image_shape=(32, 32, 3), backbone_weights="none", generator_width=4)
    assert np.abs(keras.ops.convert_to_numpy(random.image_branch.get_layer("h_cnn")(pixels)) - expected).max() > 1e-3


def test_offline_imagenet_default_is_one_line_error_and_writes_nothing(tmp_path, monkeypatch):
    import requests
    from keras_hub.src.utils import preset_utils

    from tests.helpers import assert_one_line_error

    def refuse(handle, path=None, **kwargs):  # what kagglehub raises without network
        raise requests.exceptions.ConnectionError("Failed to resolve 'api.kaggle.com'")

    monkeypatch.setattr(preset_utils.kagglehub, "model_download", refuse)
    path = str(tmp_path / "pixels.h5")
    write_synthetic(path, 20, query_size=5, image_kind="pixels", image_size=32, text_dim=12, num_classes=3)
    out = tmp_path / "run"
    result = run_cli("train", "tuch", "--dataset", path, "--out", out, "--epochs", 3, "--text-epochs", 1,
                     "--gan-epochs", 1)  # --backbone-weights auto = the ImageNet preset
    assert_one_line_error(result, "could not fetch ImageNet weights for resnet18 (offline?): "
                                  "pass --backbone-weights FILE or none")
    assert not out.exists()


def test_evaluate_writes_the_generated_images_grid_in_pixel_mode(tmp_path, caplog):
    path = str(tmp_path / "pixels.h5")
    write_synthetic(path, 40, query_size=10, image_kind="pixels", image_size=16, text_kind="tokens", vocab_size=30,
                    max_tokens=6, num_classes=3)
    run_dir, report = train_run("tuch-seq", tmp_path, path, bits=8, epochs=1, text_epochs=0, gan_epochs=0,
                                batch_size=10, backbone_weights="none", generator_width=4, embedding_dim=8,
                                **SMALL)
    grid = os.path.join(run_dir, "generated_images.png")
    assert report["figures"] == {"generated_images": grid}  # train's own evaluation drew it, from the live model
    os.remove(grid)
    result = run_cli("evaluate", run_dir)
    assert result.exit_code == 0, result.output
    assert f"generated images: {grid}" in result.output
    # 8 query texts (rows) x [real, G(0, t), G(z_1, t), G(z_2, t)] of 16 px cells, 2 px padding
    with Image.open(grid) as png:
        assert png.format == "PNG" and png.mode == "RGB" and png.size == (4 * 18 + 2, 8 * 18 + 2)
    # Without the dataset file evaluation still scores, and says why there is no figure.
    os.remove(grid)
    os.rename(path, path + ".moved")
    result = run_cli("evaluate", run_dir)
    assert result.exit_code == 0 and "i2t" in result.output and "generated images" not in result.output
    assert not os.path.exists(grid) and "figures of" in caplog.text and "skipped" in caplog.text


def test_learns_codes_better_than_random(tmp_path):
    path = structured_dataset(tmp_path, n=1000, query_size=100)
    run_dir, report = train_run("tuch", tmp_path, path, bits=16, epochs=12, text_epochs=1, gan_epochs=1,
                                batch_size=50, learning_rate=3e-3, **SMALL)
    assert_beats_random(report)
    # The saved model file is at its last epoch (the hashing stage) and gives the codes of codes.h5.
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    assert int(model.epoch_clock.numpy()) == 11 and model.phase(11).name == HASHING
    query = SplitView(PairedDataset(path), "query", text_field="bow")
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    for modality, hashed in (("image", model.hash_image(query.images())), ("text", model.hash_text(query.texts()))):
        np.testing.assert_array_equal(np.where(codes[f"query_{modality}"] > 0, 1, -1), hashed)
