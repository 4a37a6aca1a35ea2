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
from tfhash.methods.ugach import DISCRIMINATOR, GENERATOR, PRETRAIN, UGACH, UGACHConfig, distinct_draws
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


def test_bounded_reward_by_hand(dataset):
    f = tf.constant([[0.0, 1.0], [8.0, 2.0]])
    paper, _, _ = _prepared_model(dataset, variant="baseline-gan")
    bounded, _, _ = _prepared_model(dataset, variant="baseline-gan", reward="sigmoid")
    # softplus: log 2 = 0.6931, log(1 + e) = 1.3133, 8.0003, 2.1269; sigmoid: 0.5, 0.7311, 0.99966, 0.8808.
    np.testing.assert_allclose(paper.reward_of(f).numpy(), [[0.693147, 1.313262], [8.000335, 2.126928]], rtol=1e-5)
    np.testing.assert_allclose(bounded.reward_of(f).numpy(), [[0.5, 0.731059], [0.999665, 0.880797]], rtol=1e-5)


def test_neighbour_rejection_on_a_hand_built_graph(dataset):
    model, _, _ = _prepared_model(dataset, reject_neighbours=True)
    # Hand-built graph: 2 image + 1 text neighbour lists for rows 0..2 (the rest of the table keeps its values).
    image = model.image_neighbours.numpy()
    text = model.text_neighbours.numpy()
    image[:3], text[:3] = [[0, 7, 9, 9, 9], [1, 4, 4, 4, 4], [2, 2, 2, 2, 2]], [[0, 11, 11, 11, 11], [1, 5, 5, 5, 5],
                                                                                [2, 3, 3, 3, 3]]
    model.image_neighbours.assign(image)
    model.text_neighbours.assign(text)
    index = tf.constant([0, 1, 2], tf.int32)
    picks = tf.constant([[7, 8], [5, 6], [3, 2]], tf.int32)
    # Query 0: 7 is an image neighbour, 8 is not; query 1: 5 a text neighbour, 6 not; query 2: 3 and 2 (itself) both.
    np.testing.assert_array_equal(model._neighbour_mask(index, picks).numpy(), [[0, 1], [0, 1], [0, 0]])


def test_generator_epochs_and_the_matched_control_schedule(dataset):
    model, _, _ = _prepared_model(dataset, epochs=8, generator_epochs=2)
    # Pre-training 2 epochs, then rounds of D, G, G; rates fall by 10 every round (3 epochs).
    assert [model.phase(e).name for e in range(8)] == [PRETRAIN, PRETRAIN, DISCRIMINATOR, GENERATOR, GENERATOR,
                                                       DISCRIMINATOR, GENERATOR, GENERATOR]
    assert dict(model.phase(4).learning_rates)["generator"] == pytest.approx(0.01)
    assert dict(model.phase(5).learning_rates)["discriminator"] == pytest.approx(0.001)
    control, _, _ = _prepared_model(dataset, epochs=8, generator_epochs=2, variant="baseline",
                                    baseline_schedule="matched")
    assert all(control.phase(e).name == PRETRAIN for e in range(8))
    assert [dict(control.phase(e).learning_rates)["discriminator"] for e in (1, 2, 4, 5)] == pytest.approx(
        [0.1, 0.01, 0.01, 0.001])  # pre-training rate, then D's adversarial rates epoch by epoch
    constant, _, _ = _prepared_model(dataset, epochs=8, variant="baseline")
    assert dict(constant.phase(6).learning_rates)["discriminator"] == pytest.approx(0.1)


def test_optional_steps_run(dataset, tmp_path):
    """Bounded reward, batch-mean baseline, neighbour rejection, two G epochs, per-query pools and distinct
    positives train end to end."""
    _, report = train_run("ugach", tmp_path, dataset, reward="sigmoid", reward_baseline="batch-mean",
                          reject_neighbours=True, generator_epochs=2, candidate_pool="per-query",
                          distinct_positives=True, **dict(SETTINGS, epochs=5))
    assert_beats_random(report, margin=0.1)


def test_distinct_draws_on_hand_built_lists():
    seed = keras.random.SeedGenerator(3)
    # Row 0: 4 different items, 9 listed twice; row 1: only 2 different items; row 2: all different.
    rows = np.array([[9, 1, 9, 2, 3], [5, 5, 6, 6, 5], [10, 11, 12, 13, 14]], np.int32)
    seen = [set(), set(), set()]
    for _ in range(200):
        drawn = distinct_draws(tf.constant(rows), 2, seed).numpy()
        for r in range(3):
            assert set(drawn[r]) <= set(rows[r])
            assert drawn[r, 0] != drawn[r, 1]  # two different items, also where an item is listed twice
            seen[r].add(tuple(sorted(drawn[r])))
    assert seen[1] == {(5, 6)}
    assert len(seen[0]) == 6 and len(seen[2]) == 10  # every pair of different items comes up
    ones = np.stack([distinct_draws(tf.constant(rows), 1, seed).numpy()[0, 0] for _ in range(800)])
    counts = np.array([np.sum(ones == v) for v in (9, 1, 2, 3)])
    assert counts.min() > 140  # uniform over the different items (200 expected each), 9 not favoured
    assert counts[0] < 260


def test_distinct_positives_and_per_query_pools(dataset):
    model, _, train = _prepared_model(dataset, distinct_positives=True, candidate_pool="per-query",
                                      samples_per_query=3)
    index = tf.constant(np.arange(40), tf.int32)
    positives = model._manifold_positives(index).numpy()
    assert positives.shape == (40, 3)
    neighbours = np.concatenate([model.image_neighbours.numpy(), model.text_neighbours.numpy()], axis=1)
    for j in range(40):
        assert set(positives[j]) <= set(neighbours[j]) and len(set(positives[j])) == 3
    queries = train.images(np.arange(40))
    pool = model._random_pool(queries)
    assert pool.shape == (40, model.pool_size)
    assert len({tuple(row) for row in pool.numpy()}) > 30  # each query its own pool
    # Per-query logits are each query's distances to its own pool (eq. 4), as the shared form computes them.
    logits = model._generator_logits("image", "text", queries, pool).numpy()
    for j in (0, 17):
        own = model._generator_logits("image", "text", queries[j:j + 1], pool[j]).numpy()[0]
        np.testing.assert_allclose(logits[j], own, rtol=1e-5, atol=1e-5)
    model._random_pool = lambda queries: pool  # G picks from the pools above
    picks, _, samples = model._generate("image", "text", queries)
    assert picks.shape == samples.shape == (40, 3)
    np.testing.assert_array_equal(picks.numpy(), np.take_along_axis(pool.numpy(), samples.numpy(), 1))
    f = model._relevance("image", "text", queries, positives, picks.numpy())
    assert f.shape == (40, 3)
    with pytest.raises(Exception, match="distinct_positives"):
        UGACHConfig(distinct_positives=True, samples_per_query=11).validate()


def test_sparse_text_is_fed_raw_unless_asked(tmp_path):
    # 400-word bags of 8-32 words: about 96% zeros, a sparse input; the 32-d image features are dense.
    sparse = structured_dataset(tmp_path, n=200, query_size=40, image_dim=32, text_dim=400, num_classes=5)
    model, _, _ = _prepared_model(sparse)
    (image_mean, image_scale), (text_mean, text_scale) = (
        [v.numpy() for v in model.input_stats[m]] for m in ("image", "text"))
    assert np.abs(image_mean).max() > 0.01 and np.abs(image_scale - 1).max() > 0.01  # fitted
    np.testing.assert_array_equal(text_mean, 0.0)
    np.testing.assert_array_equal(text_scale, 1.0)
    model, _, _ = _prepared_model(sparse, standardize_sparse=True)
    assert np.abs(model.input_stats["text"][1].numpy() - 1).max() > 0.01
