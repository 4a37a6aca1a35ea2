"""UCH: learns on structured data, runs mirrored, resumes exactly, encodes raw pixels."""

import os

import numpy as np
import pytest

from tests.helpers import assert_beats_random, structured_dataset, train_run

SETTINGS = dict(bits=32, epochs=4, batch_size=64)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("uch"), n=600, query_size=100)


def test_beats_random_both_protocols(dataset, tmp_path):
    """Out of sample and with the learned B as the database (resuming is the contract test's)."""
    from tfhash.training.run import evaluate_run

    run_a, report = train_run("uch", tmp_path, dataset, run_name="a", **SETTINGS)
    assert_beats_random(report, margin=0.2)
    unified = evaluate_run(run_a, database_codes="unified")
    assert_beats_random(unified, margin=0.2)


def test_codes_are_sign_of_summed_hash_layers(dataset, tmp_path):
    """Algorithm 1's last line, B = sign(H^I + H^T), and the run exports B as the unified database codes."""
    import keras

    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.training.run_folder import read_codes

    run_dir, _ = train_run("uch", tmp_path, dataset, strategy="mirrored", **dict(SETTINGS, epochs=2))
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    train_view = SplitView(PairedDataset(dataset), "train")
    h = model.encode_split(train_view)
    b = model.unified_codes()
    assert set(np.unique(b)) <= {-1.0, 1.0}
    np.testing.assert_array_equal(b, np.where(h["image"] + h["text"] >= 0, 1.0, -1.0))
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    np.testing.assert_array_equal(codes["database_unified"], b.astype(np.int8))  # train = database here


def test_raw_pixels_through_a_keras_applications_backbone(tmp_path):
    """E^I as a keras.applications CNN on pixels: builds, encodes, and loads a local weights file."""
    import keras

    from tfhash.data.dataset import PairedDataset
    from tfhash.data.synthetic import write_synthetic
    from tfhash.methods.uch import UCH, UCHConfig

    path = os.path.join(str(tmp_path), "pixels.h5")
    write_synthetic(path, 40, query_size=8, image_kind="pixels", image_size=32, text_dim=20)
    data = PairedDataset(path)
    model = UCH(UCHConfig(bits=16, image_backbone="mobilenetv2", backbone_weights="none"), image_shape=data.image_shape,
                text_shape=data.text_shape("bow"), train_size=data.split("train").size)
    images = data.read("images", data.split("query")).astype(np.float32)
    codes = model.hash_image(images).numpy()
    assert codes.shape == (8, 16) and set(np.unique(codes)) <= {-1.0, 1.0}
    image_side = {id(v) for v in model._sides()["outer_generator"][0]}  # E^I is fine-tuned in step (17)
    assert model.image_encoder.trainable_variables
    assert all(id(v) in image_side for v in model.image_encoder.trainable_variables)

    # Without a choice, pixels go through the default CNN (like SDCH and DVSH): no flag needed for raw images.
    default = UCH(UCHConfig(bits=16), image_shape=data.image_shape, text_shape=data.text_shape("bow"),
                  train_size=data.split("train").size)
    assert default.image_encoder is not None and default.hash_image(images).shape == (8, 16)

    # A local weights file of the keras.applications network (what Keras' *_notop.h5 files hold).
    weights = os.path.join(str(tmp_path), "mobilenetv2.weights.h5")
    application = [layer for layer in model.image_encoder.layers if isinstance(layer, keras.Model)][0]
    application.save_weights(weights)
    loaded = UCH(UCHConfig(bits=16, image_backbone="mobilenetv2", backbone_weights=weights), image_shape=data.image_shape,
                 text_shape=data.text_shape("bow"), train_size=data.split("train").size).image_encoder
    np.testing.assert_allclose(loaded(images), model.image_encoder(images), rtol=1e-5, atol=1e-6)
