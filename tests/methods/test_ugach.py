"""UGACH: a generator step raises the rewarded item (REINFORCE itself: tests/losses/test_policy_gradient.py),
graph positives, phase schedule, learning, mirrored runs."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import assert_beats_random, structured_dataset, train_run
from tfhash.data.dataset import PairedDataset
from tfhash.data.pipeline import make_pipeline
from tfhash.data.split import SplitView
from tfhash.methods.correlation_graph import correlation_graph
from tfhash.methods.callbacks import MethodSchedule
from tfhash.methods.ugach import DISCRIMINATOR, GENERATOR, PRETRAIN, UGACH, UGACHConfig
from tfhash.training.run_folder import read_codes
from tfhash.training.run import build_model

# Small but learnable: 2 pre-training epochs, then D, G, D, G.
SETTINGS = dict(bits=16, image_hidden=(64,), text_hidden=(64,), epochs=6, pretrain_epochs=2, pretrain_learning_rate=0.1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("ugach"), n=500, query_size=100, image_dim=32, text_dim=24,
                              num_classes=5)


def _prepared_model(dataset, **settings):
    keras.utils.set_random_seed(0)
    data = PairedDataset(dataset)
    model = build_model(UGACH, UGACHConfig(**dict(SETTINGS, **settings)), data)
    model.configure()
    train = SplitView(data, "train")
    model.prepare(train)
    return model, data, train


def _probabilities(logits):
    return tf.nn.softmax(logits, axis=-1).numpy()


def test_one_generator_step_raises_p_theta_of_the_rewarded_item(dataset):
    """Eq. 4 + eq. 10 through the model's own G towers and 'generator' optimizer."""
    model, _, train = _prepared_model(dataset)
    query = train.images([0])
    pool = tf.constant([3, 7, 11, 19, 23], tf.int32)
    samples = tf.constant([[1, 4]])  # G "picked" pool items 7 and 23 ...
    reward = tf.constant([[5.0, 0.0]])  # ... and D rewards only item 7.
    model.begin_epoch(model.config.pretrain_epochs + 1)  # a generator epoch: only G may step
    model.optimizers["generator"].learning_rate = 0.05  # one small step: first-order behaviour
    before = _probabilities(model._generator_logits("image", "text", query, pool))
    d_before = [v.numpy().copy() for v in model.d_image.weights]
    with tf.GradientTape() as tape:
        loss = model._policy_loss(model._generator_logits("image", "text", query, pool, training=True), samples, reward)
    model.step("generator", loss, tape)
    after = _probabilities(model._generator_logits("image", "text", query, pool))
    assert after[0, 1] > before[0, 1] + 0.01
    assert after[0, 4] < before[0, 4]  # sampled but unrewarded: pushed down with the rest
    for old, new in zip(d_before, model.d_image.weights):  # D is untouched by G's step
        np.testing.assert_array_equal(old, new.numpy())


def test_prepare_builds_the_graph_and_positives_come_from_it(dataset):
    model, data, train = _prepared_model(dataset)
    graph = correlation_graph(train.images(), train.texts(), k_image=5, k_text=5)
    np.testing.assert_array_equal(model.image_neighbours.numpy(), graph.image)
    np.testing.assert_array_equal(model.text_neighbours.numpy(), graph.text)
    index = tf.constant(np.repeat(np.arange(4), 200), tf.int32)
    drawn = model._manifold_positives(index).numpy().reshape(4, 200)
    for j in range(4):
        assert set(drawn[j].tolist()) == graph.manifold_set(j)  # every neighbour, and nothing else
    paired, _, _ = _prepared_model(dataset, variant="baseline-gan")
    np.testing.assert_array_equal(paired._manifold_positives(index).numpy(), index.numpy())
    assert not paired.image_neighbours.numpy().any()  # no graph is built for the variants without one


def test_schedule_updates_one_network_per_epoch_with_the_paper_learning_rates(dataset):
    model, data, train = _prepared_model(dataset, generator_init="discriminator")
    cfg = model.config
    assert [model.phase(e).name for e in range(6)] == [PRETRAIN, PRETRAIN, DISCRIMINATOR, GENERATOR, DISCRIMINATOR,
                                                       GENERATOR]
    rates = dict(model.phase(4).learning_rates)
    assert rates["discriminator"] == pytest.approx(0.001) and rates["generator"] == pytest.approx(0.001)  # /10 after 2

    def snapshot():
        return [v.numpy().copy() for v in model.d_text.weights], [v.numpy().copy() for v in model.g_text.weights]

    def changed(a, b):
        return any(not np.array_equal(x, y) for x, y in zip(a, b))

    def iterations():
        return {name: int(opt.iterations.numpy()) for name, opt in model.optimizers.items()}

    for epoch in range(5):
        d0, g0 = snapshot()
        steps0 = iterations()
        pipeline, steps = make_pipeline(data, "train", batch_size=cfg.batch_size, shuffle=True, first_epoch=epoch,
                                        epochs=epoch + 1)
        model.fit(pipeline, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps,
                  callbacks=[MethodSchedule(train)], verbose=0)
        d1, g1 = snapshot()
        phase = model.phase(epoch).name
        assert changed(d0, d1) == (phase != GENERATOR), epoch
        assert changed(g0, g1) == (phase == GENERATOR or epoch == cfg.pretrain_epochs), epoch
        # A frozen network's optimizer does not move either (no step, no zero-gradient step).
        moved = {name for name, n in iterations().items() if n != steps0[name]}
        assert moved == ({"generator"} if phase == GENERATOR else {"discriminator"}), epoch
        if epoch == cfg.pretrain_epochs:  # G starts as a copy of the pre-trained D
            for d_var, g_var in zip(d0, g1):
                np.testing.assert_array_equal(d_var, g_var)
        assert float(model.optimizers["discriminator"].learning_rate) == pytest.approx(
            dict(model.phase(epoch).learning_rates)["discriminator"])


def test_learns_and_beats_random_codes(dataset, tmp_path):
    _, report = train_run("ugach", tmp_path, dataset, bits=16, epochs=8, pretrain_epochs=4, image_hidden=(128,), text_hidden=(128,))
    assert_beats_random(report, margin=0.2)


def test_runs_mirrored_and_the_saved_model_gives_the_exported_codes(dataset, tmp_path):
    run_dir, report = train_run("ugach", tmp_path, dataset, strategy="mirrored", **SETTINGS)
    assert_beats_random(report, margin=0.2)
    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    query = SplitView(PairedDataset(dataset), "query")
    np.testing.assert_array_equal(np.asarray(model.hash_text(query.texts())).astype(np.int8), codes["query_text"])
    np.testing.assert_array_equal(np.asarray(model.hash_image(query.images())).astype(np.int8), codes["query_image"])


def test_variants_and_bad_settings():
    from tfhash.errors import TfhashError

    def model(**settings):
        return UGACH(UGACHConfig(**settings), image_shape=(4,), text_shape=(3,), train_size=10)

    assert model(variant="baseline").phase(40).name == PRETRAIN
    assert model(variant="baseline-gan", pretrain_epochs=3).phase(3).name == DISCRIMINATOR
    assert UGACHConfig(bits=128).margin == 16.0
    with pytest.raises(TfhashError, match="variant"):
        UGACHConfig(variant="gan").validate()
    with pytest.raises(TfhashError, match="pool_fraction"):
        UGACHConfig(pool_fraction=0.0).validate()
