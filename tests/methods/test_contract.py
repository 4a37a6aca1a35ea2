"""The method contract, checked for every registered method (a new method is tested by registering it).

Each method trains with its config's own `test_settings` on a tiny
structured dataset, and must: give ±1 codes for every query and database
item; resume after a kill (right after the checkpoint of epoch 2, which lies
inside each schedule: UGACH between D pre-training and the adversarial
epochs, SDCH after its freezing epochs, TUCH between its GAN and hashing
stages) and end bit for bit where the uninterrupted run ends; train under
`mirrored` on two logical CPUs; and reload from `model.keras` and from its
SavedModel export with the run's codes.
"""

import os

import numpy as np
import pytest

from tests.helpers import assert_same_h5, structured_dataset
from tfhash.methods.registry import get_method, method_names

EPOCHS, KILLED_AFTER, BITS = 4, 2, 8
METHODS = method_names()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("contract"), n=240, query_size=40, image_dim=16, text_dim=20,
                              text_kind="both", num_classes=4)


def _config(method, **changes):
    cls = get_method(method).config_class
    return cls(**{"bits": BITS, "epochs": EPOCHS, **cls.test_settings, **changes})


@pytest.fixture(scope="module")
def whole_runs(dataset, tmp_path_factory):
    """method -> folder of an uninterrupted run (made on first use, shared by the tests below)."""
    from tfhash.training.run import train

    root, runs = tmp_path_factory.mktemp("whole"), {}

    def run(method):
        if method not in runs:
            runs[method] = train(method, _config(method), dataset_path=dataset, run_dir=str(root / method),
                                 evaluate=False, verbose=0)
        return runs[method]

    return run


@pytest.mark.parametrize("method", METHODS)
def test_codes_are_plus_minus_one_for_every_item(method, whole_runs, dataset):
    from tfhash.data.dataset import PairedDataset
    from tfhash.training.run_folder import RunFolder

    codes = RunFolder(whole_runs(method)).read_codes()
    data = PairedDataset(dataset)
    for split in ("query", "database"):
        for modality in ("image", "text"):
            values = codes[f"{split}_{modality}"]
            assert values.shape == (data.split(split).size, BITS), (split, modality)
            assert set(np.unique(values)) <= {-1, 1}
            assert len(np.unique(values, axis=0)) > 1, f"{split} {modality}: every item has the same code"


@pytest.mark.parametrize("method", METHODS)
def test_resumed_run_ends_where_an_uninterrupted_run_ends(method, whole_runs, dataset, tmp_path, monkeypatch):
    from tfhash.training import checkpoint
    from tfhash.training.run import train

    if get_method(method).closed_form:
        pytest.skip(f"{method} is closed form: no epochs to resume")
    whole = whole_runs(method)
    original = checkpoint.EpochCheckpoint.on_epoch_end

    def killed(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 == KILLED_AFTER:
            raise KeyboardInterrupt

    resumed = str(tmp_path / "resumed")
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint.EpochCheckpoint, "on_epoch_end", killed)
        with pytest.raises(KeyboardInterrupt):
            train(method, _config(method), dataset_path=dataset, run_dir=resumed, evaluate=False, verbose=0)
    assert checkpoint.latest_checkpoint(os.path.join(resumed, "checkpoints")).endswith(f"ckpt-{KILLED_AFTER:05d}.h5")
    train(method, _config(method), dataset_path=dataset, run_dir=resumed, resume=True, evaluate=False, verbose=0)

    final = os.path.join("checkpoints", f"ckpt-{EPOCHS:05d}.h5")
    assert_same_h5(os.path.join(whole, final), os.path.join(resumed, final))
    assert_same_h5(os.path.join(whole, "codes.h5"), os.path.join(resumed, "codes.h5"))


@pytest.mark.parametrize("method", METHODS)
def test_trains_under_mirrored_on_two_logical_cpus(method, dataset, tmp_path):
    from tfhash.training.run import train
    from tfhash.training.run_folder import RunFolder

    run_dir = train(method, _config(method, epochs=3), dataset_path=dataset, run_dir=str(tmp_path / "mirrored"),
                    strategy="mirrored", evaluate=False, verbose=0)
    folder = RunFolder(run_dir)
    assert folder.read_config()["replicas"] == 2
    codes = folder.read_codes()
    assert set(np.unique(codes["query_image"])) <= {-1, 1} and set(np.unique(codes["query_text"])) <= {-1, 1}


@pytest.mark.parametrize("method", METHODS)
def test_model_file_and_saved_model_give_the_run_codes(method, whole_runs, dataset, tmp_path):
    import keras

    from tests.export.support import texts_of
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.export import ExportedModel, export_run
    from tfhash.training.run_folder import RunFolder

    run_dir = whole_runs(method)
    codes = RunFolder(run_dir).read_codes()
    cls = get_method(method)
    data = PairedDataset(dataset)
    query = SplitView(data, "query", text_field=cls.text_field)
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))  # `import tfhash` registered it
    np.testing.assert_array_equal(np.asarray(model.hash_image(query.images())).astype(np.int8), codes["query_image"])
    np.testing.assert_array_equal(np.asarray(model.hash_text(query.texts())).astype(np.int8), codes["query_text"])

    exported = ExportedModel(export_run(run_dir, str(tmp_path / "export")))
    np.testing.assert_array_equal(exported.hash("image", query.images()), codes["query_image"])
    texts = texts_of(query.texts(), data.vocabulary) if cls.text_field == "tokens" else query.texts()
    np.testing.assert_array_equal(exported.hash("text", texts), codes["query_text"])


def test_backbone_learning_rate_multiplier_scales_only_the_backbone_step():
    """One SGD step: backbone variables move by multiplier x what they move at 1; the other layers as at 1."""
    import keras
    import tensorflow as tf

    from tfhash.methods.sdch import SDCH, SDCHConfig

    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)

    def moves(multiplier):
        keras.utils.set_random_seed(0)
        model = SDCH(SDCHConfig(bits=8, image_hidden=(8,), text_hidden=(8,), feature_dim=8, conv_filters=(4,) * 5,
                                backbone_learning_rate_multiplier=multiplier),
                     image_shape=(32, 32, 3), text_shape=(5,), num_classes=2, train_size=4)
        model.configure()
        sgd = keras.optimizers.SGD(0.1)  # plain SGD: the step is rate x gradient
        spec = model._players["features"]
        model._players["features"] = type(spec)(sgd, spec.variables, spec.multipliers)  # `step` uses the player's
        sgd.build(spec.variables)
        model.begin_epoch(0)  # features-only phase
        before = [v.numpy().copy() for v in spec.variables]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model.image_net(images)))
        model.step("features", loss, tape)
        cnn = {id(v) for v in model.image_net.get_layer("image_net_cnn").trainable_variables}
        return [(id(v) in cnn, v.numpy() - b) for v, b in zip(spec.variables, before)]

    for (in_cnn, one), (_, tenth) in zip(moves(1.0), moves(0.1)):
        np.testing.assert_allclose(tenth, one * (0.1 if in_cnn else 1.0), rtol=1e-4, atol=1e-7)
