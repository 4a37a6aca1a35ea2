"""The base class of every hashing method: a Keras model with two encoders, players and a schedule."""

import collections.abc
import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf

from tfhash.errors import require
from tfhash.layers.backbones import image_backbone
from tfhash.layers.hashing import binarize
from tfhash.layers.precision import dtype_policy_scope, float32_outputs
from tfhash.methods.config import HasherConfig
from tfhash.methods.state import across_workers, average_across_replicas


def _scaled(gradient, scale):
    """`gradient * scale`, keeping an embedding's sparse (IndexedSlices) gradient sparse."""
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values * scale, gradient.indices, gradient.dense_shape)
    return gradient * scale


def _finite_on_every_replica_or_none(grads):
    """`grads`, or all NaN on every replica if any replica's gradient holds a NaN or inf.

    Keras' `LossScaleOptimizer` under a distribution strategy decides whether
    to skip a step from the first replica's gradients alone, before they are
    summed: a step that overflowed on another replica only was applied, and
    its inf reached the weights (float16, two replicas, sparse raw inputs).
    With one verdict for all replicas every replica skips that step.
    """
    bad = tf.add_n([tf.reduce_sum(tf.cast(tf.logical_not(tf.math.is_finite(g)), tf.float32))
                    for g in grads if g is not None])
    context = tf.distribute.get_replica_context()
    if context is not None:
        bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad)
    return [None if g is None else tf.where(bad > 0, tf.constant(float("nan"), g.dtype), g) for g in grads]


def _built_in_precision(init):
    """Wrap a `Hasher` subclass's `__init__`: build its layers under the config's `mixed_precision` policy.

    The policy is global in Keras while layers are made, so it is set for
    the constructor only (`dtype_policy_scope`) and restored after; then
    every sub-network the method's code calls returns float32 (see
    `Hasher._keep_outputs_float32`). Loading a `.keras` file rebuilds the
    model through the same constructor, so the loaded layers get the same
    policies.
    """

    @functools.wraps(init)
    def wrapped(self, config=None, **kwargs):  # no *args: Keras reads the signature for its auto config
        cls = type(self)
        if config is None:
            config = cls.config_class()
        elif isinstance(config, dict):
            config = cls.config_class.from_dict(config)
        config.validate()
        with dtype_policy_scope(config.mixed_precision):
            init(self, config, **kwargs)
        if config.mixed_precision != "none":
            self._keep_outputs_float32()

    return wrapped


@dataclasses.dataclass(frozen=True)
class Phase:
    """What one epoch trains: the players (optimizers) that step, their learning rates, the split it reads.

    A player left out of `players` is frozen for the epoch: the train
    function of the phase never computes its gradients and never touches
    its optimizer (weights and optimizer state stay as they are).
    """

    name: str
    players: tuple
    learning_rates: tuple = ()  # ((player, rate), ...) set at the epoch's start; () = the optimizer's own
    split: str = "train"


@dataclasses.dataclass(frozen=True)
class Player:
    """An optimizer and the variables it updates, paired once when the model is configured.

    `multipliers` (optional, one float per variable) scales each variable's
    gradient: per-layer learning-rate multipliers for fine-tuning (e.g. 0.1
    on pretrained layers, 10 on a new last layer).
    """

    optimizer: object
    variables: list
    multipliers: tuple = ()

class OptimizerSet(collections.abc.Mapping):
    """The method's optimizers by name (read-only; `Hasher.configure` fills it).

    Not a dict on purpose: Keras' `.keras` saving walks every list, tuple and
    dict attribute of a model and writes what it finds, and optimizer state
    belongs in training checkpoints, not in the inference model file (for
    SDCH at its paper widths, Adam's moments were 290 of model.keras' 440 MB).
    """

    def __init__(self):
        self._optimizers = {}

    def __getitem__(self, name):
        return self._optimizers[name]

    def __iter__(self):
        return iter(self._optimizers)

    def __len__(self):
        return len(self._optimizers)

    def add(self, name, optimizer):
        """Register player `name`'s optimizer."""
        self._optimizers[name] = optimizer


class Hasher(keras.Model):
    """A cross-modal hashing method.

    Subclasses build their sub-networks in `__init__` from `keras.Input`
    (so every variable exists before `fit`, as `MirroredStrategy` needs),
    implement `encode_image` / `encode_text` (continuous codes, shape
    `(batch, bits)`), `build_optimizers`, and `train_step`.

    Args:
        config: the method's config dataclass (or its dict form).
        image_shape: shape of one image input, e.g. `(128,)` or `(64, 64, 3)`.
        text_shape: shape of one text input, e.g. `(1386,)` (BoW) or `(25,)` (tokens).
        num_classes: label width (supervised methods).
        vocabulary_size: number of token ids incl. padding 0 (token-sequence methods).
        train_size: number of training pairs (methods with per-item state).
    """

    config_class = HasherConfig
    #: which text input the method reads: "bow" or "tokens"
    text_field = "bow"
    needs_labels = False
    #: closed-form methods implement `fit_closed_form` instead of `train_step`
    closed_form = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:  # each constructor that makes layers runs under the run's dtype policy
            cls.__init__ = _built_in_precision(cls.__dict__["__init__"])

    def __init__(self, config=None, *, image_shape, text_shape, num_classes=None, vocabulary_size=None,
                 train_size=None, restoring=False, **kwargs):
        super().__init__(**kwargs)
        if config is None:
            config = self.config_class()
        elif isinstance(config, dict):
            config = self.config_class.from_dict(config)
        self.config = config.validate()
        self.image_shape = tuple(image_shape)
        self.text_shape = tuple(text_shape)
        self.num_classes = num_classes
        self.vocabulary_size = vocabulary_size
        self.train_size = train_size
        self._optimizer_set = OptimizerSet()
        self._players = {}
        self._backbones = []  # CNNs built by `image_backbone_network` (their layers get the backbone multiplier)
        self._restoring = bool(restoring)  # rebuilt by `from_config`: the saved weights replace the backbone's
        self._phase = None  # the Phase the train function is traced for (set by `begin_epoch`)
        # Epochs begun: a model variable, so checkpoints hold it and graph code may read it.
        self.epoch_clock = self.add_weight(name="epoch_clock", shape=(), dtype="int32", initializer="zeros",
                                           trainable=False)

    def _keep_outputs_float32(self):
        """Mixed precision ends at the sub-networks' outputs: they, and layers the method calls directly, give float32.

        The last layer of each tower (its hash layer, or e.g. a
        discriminator's logit) computes in float32, so losses, the codes B,
        graphs and ITQ, all computed from those outputs, are float32 too.
        """
        for layer in self._flatten_layers(include_self=False, recursive=False):
            float32_outputs(layer)
        self.dtype_policy = "float32"  # `model(inputs)` passes float32 inputs on unchanged

    # --- serialisation ----------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "config": self.config.to_dict(),
            "image_shape": list(self.image_shape),
            "text_shape": list(self.text_shape),
            "num_classes": self.num_classes,
            "vocabulary_size": self.vocabulary_size,
            "train_size": self.train_size,
        }

    @classmethod
    def from_config(cls, config):
        """Rebuild a saved model; its backbone starts random, since the file's weights replace it anyway."""
        return cls(**config, restoring=True)

    # --- encoding -----------------------------------------------------------
    @property
    def bits(self):
        return self.config.bits

    def encode_image(self, images, training=False):
        """Continuous codes (batch, bits) of image inputs."""
        raise NotImplementedError

    def encode_text(self, texts, training=False):
        """Continuous codes (batch, bits) of text inputs."""
        raise NotImplementedError

    def hash_image(self, images):
        """±1 codes (float) of image inputs; sign(0) = +1."""
        return binarize(self.encode_image(images, training=False))

    def hash_text(self, texts):
        """±1 codes (float) of text inputs; sign(0) = +1."""
        return binarize(self.encode_text(texts, training=False))

    def call(self, inputs, training=False):
        return {
            "image": self.encode_image(inputs["image"], training=training),
            "text": self.encode_text(inputs["text"], training=training),
        }

    # --- shared sub-networks -------------------------------------------------------------------
    def image_backbone_network(self, name):
        """The configured CNN for raw pixels (`ImageBackboneSettings`), with its `backbone_weights`.

        `auto` is ImageNet for the networks that have such weights and random
        for the AlexNet kinds; a failed ImageNet download is a one-line error.
        A file holds that network's own weights (e.g. Keras' ``*_notop.h5``).
        A model rebuilt from a saved file starts random: loading it must work
        offline and after the weights file has gone.
        """
        cfg = self.config
        weights = "none" if self._restoring else cfg.backbone_weights
        if weights == "auto":
            weights = "none" if cfg.image_backbone.startswith("alexnet") else "imagenet"
        net = image_backbone(self.image_shape, kind=cfg.image_backbone, filters=cfg.conv_filters, weights=weights,
                             name=name)
        self._backbones.append(net)
        return net

    # --- players and schedule -------------------------------------------------------------
    def build_optimizers(self):
        """{player: (optimizer, variables[, multipliers])}; called once inside the strategy scope."""
        return {}

    def configure(self):
        """Create the players (optimizer + its variables), build each optimizer, and compile (inside `strategy.scope()`)."""
        for name, spec in self.build_optimizers().items():
            player = Player(*spec)
            require(player.variables, f"player '{name}' of {type(self).__name__} has no variables")
            require(not player.multipliers or len(player.multipliers) == len(player.variables),
                    f"player '{name}': one learning-rate multiplier per variable")
            player = self._with_backbone_multiplier(player)
            if self.config.mixed_precision == "float16":  # float16 gradients underflow without loss scaling
                player = dataclasses.replace(player, optimizer=keras.optimizers.LossScaleOptimizer(player.optimizer))
            player.optimizer.build(player.variables)
            self._players[name] = player
            self._optimizer_set.add(name, player.optimizer)
        self.compile(optimizer=None)  # the method's own optimizers update the weights
        self.built = True  # every variable exists since __init__
        return self

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' pre-`fit` build, without a data batch: every variable exists since `__init__`.

        Keras' own version first averages the first batch across replicas
        (`strategy.reduce`), which `MultiWorkerMirroredStrategy` cannot do for
        dict elements (keras-team/keras#20329: two workers fail with "Attempt
        to convert a value ({'image': PerReplica...}) ... to a Tensor"). The
        batch is only needed to build unbuilt layers, which a `Hasher` has not.
        """
        if self._distribute_strategy is None or not all(layer.built for layer in self._flatten_layers()):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=None)

    def make_train_function(self, force=False):
        """Keras' train function; across several workers, over a `train_step` whose logs have a batch axis.

        Keras averages each log of a multi-worker step with
        `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar
        logs every method returns ("Invalid reduction dimension 0 for input
        with 0 dimensions", tensorflow/tensorflow#72388); as shape-(1,)
        tensors they average to the same scalar across workers.
        """
        if not across_workers(self.distribute_strategy):
            return super().make_train_function(force)
        if self.train_function is not None and not force:
            return self.train_function

        def step(data):
            return {name: tf.reshape(value, [1]) for name, value in self.train_step(data).items()}

        self.train_function = self._make_function(step)
        return self.train_function

    def _with_backbone_multiplier(self, player):
        """`player` with `backbone_learning_rate_multiplier` folded into the multipliers of backbone variables."""
        factor = getattr(self.config, "backbone_learning_rate_multiplier", 1.0)
        backbone = {id(v) for net in self._backbones for v in net.trainable_variables}
        if factor == 1.0 or not any(id(v) in backbone for v in player.variables):
            return player
        base = player.multipliers or (1.0,) * len(player.variables)
        multipliers = tuple(m * factor if id(v) in backbone else m for m, v in zip(base, player.variables))
        return dataclasses.replace(player, multipliers=multipliers)

    @property
    def optimizers(self):
        """The method's optimizers by player name (after `configure`)."""
        return self._optimizer_set

    def phase(self, epoch):
        """The `Phase` of 0-based `epoch`: the method's schedule, stated once. Default: every player, every epoch."""
        return Phase("train", tuple(self._players))

    @property
    def current_phase(self):
        """The phase of the epoch being trained (what `train_step` is traced for)."""
        return self._phase if self._phase is not None else self.phase(0)

    def active(self, player):
        """Whether `player` steps in the current phase (read at trace time: a frozen player's step is not traced)."""
        return player in self.current_phase.players

    def begin_epoch(self, epoch):
        """Enter `epoch`: advance the clock, set the phase's learning rates, retrace `train_step` on a new phase."""
        phase = self.phase(epoch)
        self.epoch_clock.assign(epoch)
        for player, rate in phase.learning_rates:
            self._players[player].optimizer.learning_rate = rate
        retrace = self._phase is None or (phase.name, phase.players) != (self._phase.name, self._phase.players)
        self._phase = phase
        if retrace and self.train_function is not None:  # the new phase's steps, and only those, get traced
            self.make_train_function(force=True)

    def sync_replicas(self):
        """Make the state each replica updates on its own equal on every worker (called at each epoch's end).

        BatchNormalization's moving statistics are such state: each replica
        folds in the statistics of its own part of the batch. One process
        reads only its first replica's copy, but each of several workers
        would keep, encode with and checkpoint its own; they get the mean of
        all copies instead. Nothing to do on one worker.
        """
        strategy = self.distribute_strategy
        if across_workers(strategy):
            local = [v for v in self.non_trainable_variables
                     if v.aggregation == "none" and tf.as_dtype(v.dtype).is_floating]
            average_across_replicas(strategy, local)

    def end_epoch(self, epoch, train):
        """Work after `epoch`'s last step, outside gradient descent (e.g. UCH's and SDCH's B update); default none."""

    def prepare(self, train):
        """Work before the first epoch (graphs, code initialisation); `train` is a `SplitView`."""

    def unified_codes(self):
        """±1 codes B learned for the training items, or None."""
        return None

    def fit_closed_form(self, train):
        """Solve a closed-form method on the training split (`closed_form = True` only)."""
        raise NotImplementedError

    # --- evaluation hooks -----------------------------------------------------
    @classmethod
    def has_visualisations(cls, dataset_info):
        """Whether `write_visualisations` has anything to draw for a run on this dataset.

        `dataset_info` is the dataset summary of the run's config.json
        (`PairedDataset.describe()`: image_kind, image_shape, ...). Asked
        before the model file is loaded, so a method without figures costs
        evaluation nothing; default: no figures.
        """
        return False

    def write_visualisations(self, run_dir, dataset):
        """Write method-specific figures into `run_dir` after scoring; return {name: path} of what was written.

        Called by `evaluate_run` (`tfhash evaluate`, `tfhash train ... --evaluate`)
        with the trained model and the run's `PairedDataset`, only when
        `has_visualisations` said yes. Write files atomically. Default: nothing.
        """
        return {}

    # --- helpers for subclasses ---------------------------------------------
    def step(self, player, loss, tape):
        """One gradient step of `player` on its own variables, from a per-replica `loss` recorded on `tape`.

        The loss is scaled so that MirroredStrategy's gradient all-reduce (a
        SUM) yields the global mean; a player frozen in the current phase
        cannot step (an error when `train_step` is traced). Under float16
        the optimizer is a `LossScaleOptimizer`: the gradient is that of
        loss x its dynamic scale (float16 gradients would underflow), which
        the optimizer divides out; it skips a step with non-finite gradients
        and halves the scale.
        """
        require(self.active(player), f"player '{player}' is frozen in phase '{self.current_phase.name}'")
        spec = self._players[player]
        scale = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        if isinstance(spec.optimizer, keras.optimizers.LossScaleOptimizer):
            # d(s * loss) without recording the product on the tape (which the caller has closed)
            seed = tf.ones_like(loss) * tf.cast(spec.optimizer.dynamic_scale, loss.dtype)
            grads = tape.gradient(loss, spec.variables, output_gradients=seed)
            # its finite check and unscaling take dense tensors (an embedding's gradient is sparse)
            grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
            grads = _finite_on_every_replica_or_none(grads)
        else:
            grads = tape.gradient(loss, spec.variables)
        multipliers = spec.multipliers or (1.0,) * len(spec.variables)
        pairs = [(_scaled(g, scale * m), v) for g, v, m in zip(grads, spec.variables, multipliers) if g is not None]
        require(pairs, f"the loss of player '{player}' does not depend on its variables")
        spec.optimizer.apply_gradients(pairs)

    def _split_encoder(self, modality, binary):
        """A `tf.function` of one encoder, made once per model: each call of `encode_split` reuses its graphs."""
        fns = self.__dict__.setdefault("_split_encoders", {})  # via __dict__: not a tracked Keras attribute
        if (modality, binary) not in fns:
            fn = {("image", False): self.encode_image, ("image", True): self.hash_image,
                  ("text", False): self.encode_text, ("text", True): self.hash_text}[(modality, binary)]
            # No AutoGraph: encoders are straight-line graphs, and AutoGraph's conversion cache once handed a
            # long pixel-mode TUCH run another method's converted function here (`_text_targets` for
            # `encode_image`: "unexpected keyword argument 'training'") when it saved its codes.
            fns[(modality, binary)] = tf.function(fn, reduce_retracing=True, autograph=False)
        return fns[(modality, binary)]

    def encode_split(self, split_view, batch_size=256, modality="both", binary=False):
        """Encode a whole split in order; returns {"image": array, "text": array} (float32)."""
        image_fn = self._split_encoder("image", binary)
        text_fn = self._split_encoder("text", binary)
        out = {"image": [], "text": []}
        for batch in split_view.batches(batch_size):
            if modality in ("both", "image"):
                out["image"].append(image_fn(batch["image"]).numpy())
            if modality in ("both", "text"):
                out["text"].append(text_fn(batch["text"]).numpy())
        return {k: np.concatenate(v).astype(np.float32) for k, v in out.items() if v}
