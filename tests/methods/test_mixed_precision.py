"""`mixed_precision`: every method trains under bfloat16 and float16, with float32 codes, losses and state.

The networks compute in 16 bits inside; their outputs (the hash layers),
losses and the discrete state stay float32; float16 steps go through a
loss-scaling optimizer; the run records the setting and a reloaded model
(or its SavedModel export) gives the run's codes. CPU only: bfloat16 is
fast enough here, float16 just has to run.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import assert_beats_random, structured_dataset, train_run
from tfhash.errors import TfhashError
from tfhash.layers.precision import compute_dtypes, dtype_policy_scope, float32_outputs
from tfhash.methods.base import Hasher
from tfhash.methods.config import HasherConfig
from tfhash.methods.registry import get_method, method_names

METHODS = method_names()
PRECISIONS = ("bfloat16", "float16")
BITS = 8


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return structured_dataset(tmp_path_factory.mktemp("mixed"), n=240, query_size=40, image_dim=16, text_dim=20,
                              text_kind="both", num_classes=4)


def _config(method, precision):
    """The method's test settings with the fewest epochs (2, else 3, 4) its schedule accepts."""
    cls = get_method(method).config_class
    for epochs in (2, 3, 4):
        try:
            return cls(**{"bits": BITS, "epochs": epochs, **cls.test_settings, "mixed_precision": precision}).validate()
        except TfhashError:
            continue
    raise AssertionError(f"{method} accepts none of 2-4 epochs")


@pytest.fixture(scope="module")
def mixed_runs(dataset, tmp_path_factory):
    """(method, precision) -> folder of a finished run (made on first use)."""
    from tfhash.training.run import train

    root, runs = tmp_path_factory.mktemp("mixed-runs"), {}

    def run(method, precision):
        if (method, precision) not in runs:
            runs[method, precision] = train(method, _config(method, precision), dataset_path=dataset,
                                            run_dir=str(root / f"{method}-{precision}"), evaluate=False, verbose=0)
        return runs[method, precision]

    return run


# --- the policy helpers ------------------------------------------------------------------------------------------
def test_scope_sets_the_policy_for_the_block_only():
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError):
        with dtype_policy_scope("bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            assert keras.layers.Dense(2).compute_dtype == "bfloat16"
            raise RuntimeError("the policy is restored on errors too")
    assert keras.config.dtype_policy().name == before == "float32"
    assert keras.layers.Dense(2).compute_dtype == "float32"


def test_a_tower_computes_in_16_bits_and_returns_float32():
    from tfhash.layers.towers import mlp

    with dtype_policy_scope("bfloat16"):
        net = mlp(4, (8, 3), output_activation="tanh", name="tower")
    float32_outputs(net)
    first, last = net.get_layer("tower_dense0"), net.get_layer("tower_dense1")
    assert (first.compute_dtype, first.variable_dtype) == ("bfloat16", "float32")  # 16-bit math, float32 weights
    assert (last.compute_dtype, last.variable_dtype) == ("float32", "float32")  # the code layer: float32
    out = net(np.ones((2, 4), np.float32))
    assert out.dtype == "float32"
    # Same weights in float32 throughout: the outputs differ by bfloat16 rounding only (8-bit mantissa).
    reference = mlp(4, (8, 3), output_activation="tanh", name="reference")
    reference.set_weights(net.get_weights())
    np.testing.assert_allclose(out, reference(np.ones((2, 4), np.float32)), atol=0.05)


def test_outputs_made_by_ops_take_the_float32_of_the_layers_below():
    """An output computed by keras.ops (no layer of its own) is float32 once the layers feeding it are."""
    with dtype_policy_scope("float16"):
        x = keras.Input((4,))
        hidden = keras.layers.Dense(8, name="hidden")(x)
        top = keras.layers.Dense(3, name="top")(hidden)
        net = keras.Model(x, keras.ops.sum(top, axis=-1, keepdims=True))
    float32_outputs(net)
    assert net.get_layer("hidden").compute_dtype == "float16"
    assert net.get_layer("top").compute_dtype == "float32"
    assert net(np.ones((2, 4), np.float32)).dtype == "float32"


class _Toy(Hasher):
    """One weight vector w, one player stepping it by plain SGD at rate 1 (w <- w - grad)."""

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        self.w = self.add_weight(name="w", shape=(2,), initializer="ones")

    def build_optimizers(self):
        return {"sgd": (keras.optimizers.SGD(1.0), [self.w])}


def test_float16_steps_are_loss_scaled_and_unscaled():
    """The gradient is that of scale * loss, divided by the scale again; a non-finite one skips the step."""
    model = _Toy(HasherConfig(mixed_precision="float16"), image_shape=(2,), text_shape=(2,)).configure()
    optimizer = model.optimizers["sgd"]
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(optimizer.dynamic_scale) == 2.0 ** 15
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model.w * x)  # d loss / d w = x
    model.step("sgd", loss, tape)
    np.testing.assert_array_equal(model.w.numpy(), [0.0, -1.0])  # 1 - x: unscaled (scaled would be 1 - 32768 x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model.w * tf.constant([np.inf, 1.0]))
    model.step("sgd", loss, tape)
    np.testing.assert_array_equal(model.w.numpy(), [0.0, -1.0])  # skipped
    assert float(optimizer.dynamic_scale) == 2.0 ** 14  # and the scale halved


def test_float32_and_bfloat16_runs_keep_the_plain_optimizer():
    for precision in ("none", "bfloat16"):
        model = _Toy(HasherConfig(mixed_precision=precision), image_shape=(2,), text_shape=(2,)).configure()
        assert isinstance(model.optimizers["sgd"], keras.optimizers.SGD)


# --- every method ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_reloads_under_mixed_precision(method, precision, mixed_runs, dataset):
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.training.run_folder import RunFolder, load_model

    run_dir = mixed_runs(method, precision)
    assert keras.config.dtype_policy().name == "float32"  # nothing leaks out of the run
    folder = RunFolder(run_dir)
    assert folder.read_config()["config"]["mixed_precision"] == precision
    codes = folder.read_codes()

    model = load_model(run_dir)
    assert model.config.mixed_precision == precision
    dtypes = compute_dtypes(model)
    if not get_method(method).closed_form:  # the closed-form references have no networks to run in 16 bits
        assert dtypes.get(precision, 0) > 0, dtypes
    data = PairedDataset(dataset)
    query = SplitView(data, "query", text_field=get_method(method).text_field)
    batch = next(iter(query.batches(64)))
    for modality, encode in (("image", model.encode_image), ("text", model.encode_text)):
        outputs = encode(batch[modality])
        assert outputs.dtype == tf.float32  # the hash layer's output
        assert np.all(np.isfinite(outputs.numpy())), modality
    reloaded = model.encode_split(query, binary=True)
    for modality in ("image", "text"):
        assert set(np.unique(reloaded[modality])) <= {-1.0, 1.0}
        np.testing.assert_array_equal(reloaded[modality].astype(np.int8), codes[f"query_{modality}"])


def test_resume_refuses_another_precision(mixed_runs, dataset):
    from tfhash.training.run import train

    run_dir = mixed_runs("uch", "bfloat16")
    with pytest.raises(TfhashError, match="other settings"):
        train("uch", _config("uch", "none"), dataset_path=dataset, run_dir=run_dir, resume=True, evaluate=False,
              verbose=0)


def test_saved_model_takes_and_returns_float32(mixed_runs, dataset, tmp_path):
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.export.saved_model import ExportedModel, export_run
    from tfhash.training.run_folder import RunFolder

    run_dir = mixed_runs("uch", "bfloat16")
    exported = ExportedModel(export_run(run_dir, str(tmp_path / "export")))
    for name in ("encode_image", "encode_text"):
        signature = exported.loaded.signatures[name]
        (spec,) = signature.structured_input_signature[1].values()
        assert spec.dtype == tf.float32
        assert signature.structured_outputs["logits"].dtype == tf.float32
    codes = RunFolder(run_dir).read_codes()
    query = SplitView(PairedDataset(dataset), "query", text_field="bow")
    np.testing.assert_array_equal(exported.hash("image", query.images()), codes["query_image"])


def test_uch_learns_under_bfloat16(tmp_path):
    """The learning check of test_uch.py (same data, settings and margin) under mixed_bfloat16."""
    data = structured_dataset(tmp_path, n=600, query_size=100)
    _, report = train_run("uch", tmp_path, data, bits=32, epochs=4, batch_size=64, mixed_precision="bfloat16")
    assert report["config"]["mixed_precision"] == "bfloat16"
    assert_beats_random(report, margin=0.2)


@pytest.mark.parametrize("method, precision", [("uch", "bfloat16"), ("uch", "float16"), ("dvsh", "float16")])
def test_trains_under_mirrored_with_mixed_precision(method, precision, dataset, tmp_path):
    """Two logical CPUs: loss scaling inside the replicas' all-reduce (dvsh: sparse embedding gradients)."""
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.training.run import train
    from tfhash.training.run_folder import RunFolder, load_model

    run_dir = train(method, _config(method, precision), dataset_path=dataset, run_dir=str(tmp_path / "run"),
                    strategy="mirrored", evaluate=False, verbose=0)
    assert RunFolder(run_dir).read_config()["replicas"] == 2
    query = SplitView(PairedDataset(dataset), "query", text_field=get_method(method).text_field)
    outputs = load_model(run_dir).encode_split(query)
    assert all(np.all(np.isfinite(v)) for v in outputs.values())
    assert RunFolder(run_dir).read_codes()["query_image"].shape == (40, BITS)


def test_cli_flag_and_benchmark_setting():
    """`--mixed-precision` is a flag of every `tfhash train METHOD`, and a `--set` setting of `tfhash benchmark`."""
    from tests.helpers import assert_one_line_error, run_cli
    from tfhash.cli.options import parse_settings

    assert "--mixed-precision [none|float16|bfloat16]" in run_cli("train", "ugach", "--help").output
    assert_one_line_error(run_cli("train", "uch", "--mixed-precision", "float8"), "float8")
    settings = parse_settings(["uch.mixed_precision=bfloat16"], lambda m: get_method(m).config_class)
    assert get_method("uch").config_class.from_dict(settings["uch"]).mixed_precision == "bfloat16"
    with pytest.raises(TfhashError, match="mixed_precision must be one of none, float16, bfloat16"):
        get_method("uch").config_class.from_dict({"mixed_precision": "float8"})


def test_a_step_that_overflowed_on_one_replica_only_is_skipped_on_every_replica():
    """Keras' LossScaleOptimizer reads the first replica's gradients only: the verdict is shared first."""
    from tfhash.methods.base import _finite_on_every_replica_or_none
    from tfhash.training.distribute import make_strategy

    strategy = make_strategy("mirrored")  # what training uses: reductions through the host, no collective keys
    assert strategy.num_replicas_in_sync == 2

    def replica_grads(overflow_on):
        def fn():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            value = tf.where(tf.equal(replica, overflow_on), tf.constant(np.inf, tf.float16), tf.constant(1.0, tf.float16))
            return _finite_on_every_replica_or_none([tf.fill([3], value), None])
        return [strategy.experimental_local_results(g) for g in strategy.run(fn) if g is not None]

    for overflow_on in (0, 1):  # the second replica's overflow is the case Keras missed
        (per_replica,) = replica_grads(overflow_on)
        assert len(per_replica) == 2 and all(np.isnan(np.asarray(g)).all() for g in per_replica)
    (per_replica,) = replica_grads(-1)  # no overflow: the gradients pass unchanged
    assert all(np.array_equal(np.asarray(g), [1.0, 1.0, 1.0]) for g in per_replica)
