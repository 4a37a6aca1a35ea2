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


@pytest.mark.parametrize("code_update", ["batch", "epoch"])
def test_batch_code_update_writes_the_batch_rows_only(dataset, code_update):
    """code_update="batch": after a step, B's batch rows are sign(H^I + H^T) of that batch; other rows untouched."""
    import tensorflow as tf

    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.methods.uch import UCH, UCHConfig
    from tfhash.training.run import build_model, seed_everything

    seed_everything(0)
    data = PairedDataset(dataset)
    # Rates of 1e-12: the step leaves the weights as they were, so H after the step is the H that wrote B.
    config = UCHConfig(bits=16, code_update=code_update, image_learning_rate=1e-12,
                       text_learning_rate=1e-12).validate()
    model = build_model(UCH, config, data)
    model.configure()
    train = SplitView(data, "train")
    model.prepare(train)
    model.begin_epoch(0)
    model.codes.assign(tf.ones_like(model.codes))  # a B that no sign of H can be: every bit +1
    batch = next(iter(train.batches(16)))
    index = np.arange(3, 19)  # the batch's rows are rows 3..18 of B
    batch = dict(batch, index=tf.constant(index))
    model.train_step(batch)
    b = model.unified_codes()
    if code_update == "epoch":
        assert (b == 1).all()  # B changes only at the end of an epoch
        return
    # The batch's H^I + H^T in training mode (batch statistics), as the step computed it.
    _, _, z_image, z_text, _, _ = model._outer_forward(batch["image"], batch["text"])
    h_image, h_text, _, _ = model._inner_forward(z_image, z_text)
    expected = np.where((h_image + h_text).numpy() >= 0, 1.0, -1.0)
    assert (expected == -1).any()  # the check can fail: the written rows differ from the all-ones start
    np.testing.assert_array_equal(b[index], expected)
    rest = np.setdiff1d(np.arange(len(b)), index)
    assert (b[rest] == 1).all()


def test_spread_terms_enter_the_hashing_loss(dataset):
    """decorrelation_weight / balance_weight add mean((H'H/n - I)^2) and ||1'H||^2/n^2 per hashing layer."""
    from tfhash.data.dataset import PairedDataset
    from tfhash.methods.uch import UCH, UCHConfig
    from tfhash.training.run import build_model

    data = PairedDataset(dataset)
    model = build_model(UCH, UCHConfig(bits=2, decorrelation_weight=2.0, balance_weight=3.0).validate(), data)
    same = np.array([[1.0, 1.0], [1.0, 1.0]], np.float32)  # Gram [[1, 1], [1, 1]]: decorrelation 0.5; balance (4+4)/4 = 2
    square = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], np.float32)  # both terms 0
    assert float(model._spread_loss(same, same)) == pytest.approx(2 * (2.0 * 0.5 + 3.0 * 2.0))
    assert float(model._spread_loss(square, square)) == pytest.approx(0.0)
    off = build_model(UCH, UCHConfig(bits=2, decorrelation_weight=0.0, balance_weight=0.0).validate(), data)
    assert float(off._spread_loss(same, same)) == 0.0  # the paper's setting: no extra term


def test_epoch_end_code_update_reuses_one_graph(dataset):
    """B's update after every epoch runs the graph traced in `prepare`: no new trace (and its memory) per epoch."""
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.methods.uch import UCH, UCHConfig
    from tfhash.training.run import build_model, seed_everything

    seed_everything(0)
    data = PairedDataset(dataset)
    model = build_model(UCH, UCHConfig(bits=16).validate(), data)
    model.configure()
    train = SplitView(data, "train")
    model.prepare(train)
    traces = model._code_fn.experimental_get_tracing_count()
    assert traces >= 1
    for epoch in range(3):
        model.end_epoch(epoch, train)
    assert model._code_fn.experimental_get_tracing_count() == traces


def test_sparse_text_is_fed_raw_unless_asked(tmp_path):
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.methods.uch import UCH, UCHConfig
    from tfhash.training.run import build_model

    # 400-word bags of 8-32 words: about 96% zeros, a sparse input; the 32-d image features are dense.
    sparse = structured_dataset(tmp_path, n=200, query_size=40, image_dim=32, text_dim=400, num_classes=5)
    data = PairedDataset(sparse)
    for flag in (False, True):
        model = build_model(UCH, UCHConfig(**dict(SETTINGS, standardize_sparse=flag)), data)
        model.configure()
        model.prepare(SplitView(data, "train"))
        assert np.abs(model.image_standardize.scale.numpy() - 1).max() > 0.01  # dense: fitted either way
        text_scale = model.text_standardize.scale.numpy()
        assert np.array_equal(text_scale, np.ones_like(text_scale)) != flag
