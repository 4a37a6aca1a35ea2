"""UCH: unsupervised coupled cycle GAN hashing (Li et al., AAAI 2019); see the `UCH` docstring."""

import dataclasses

import keras
import tensorflow as tf

from tfhash.errors import require
from tfhash.layers.hashing import binarize
from tfhash.layers.normalization import Standardize
from tfhash.layers.towers import mlp
from tfhash.losses.adversarial import discriminator_loss, generator_loss
from tfhash.losses.quantization import bit_balance_loss, bit_decorrelation_loss, quantization_loss
from tfhash.methods.base import Hasher
from tfhash.methods.state import write_rows
from tfhash.methods.optimizers import Adam
from tfhash.methods.registry import register_method
from tfhash.methods.config import SPARSE_HELP, HasherConfig, ImageBackboneSettings, option


@dataclasses.dataclass
class UCHConfig(ImageBackboneSettings, HasherConfig):
    epochs: int = option(20, "Training epochs (paper: not given; chosen on a Wikipedia validation split).")
    image_learning_rate: float = option(1e-3, "Adam rate of the image-side networks (paper: 1e-4, Impl. details).")
    text_learning_rate: float = option(1e-3, "Adam rate of the text-side networks (paper: 1e-2, Impl. details).")
    weight_decay: float = option(0.0, "Decoupled weight decay of every optimizer (paper: 0.1; 0 = off).")
    generator_adversarial: bool = option(
        True, "Generators also minimise -log D(fake) in (17) and (19), as L_f (8) and L_z (14) say.")
    similarity_target: str = option(
        "codes", "Eq. 13 against the epoch's codes B (codes: ||H^I-B||^2+||H^T-B||^2) or literally (pair).",
        choices=("codes", "pair"))
    batch_norm: bool = option(True, "Batch-normalise Z and the hashing pre-activations (no scale/shift).")
    text_embedding: int = option(300, "Width of the E^T embedding F^T (paper: 300).")
    scale_widths: bool = option(False, "Shrink F^T and the D_f widths for small inputs (rule in the docstring).")
    standardize: bool = option(True, "Standardise feature and BoW inputs per dimension (training split).")
    standardize_sparse: bool = option(False, SPARSE_HELP)
    code_update: str = option(
        "epoch", "When B = sign(H^I + H^T) is refreshed: after every epoch over all pairs (epoch) or, as "
        "Algorithm 1, every iteration for the batch's rows (batch).", choices=("epoch", "batch"))
    decorrelation_weight: float = option(
        100.0, "Weight of a bit decorrelation term mean((H'H/n - I)^2) on each hashing layer in (19); "
        "not in the paper (0 = the paper; 100 chosen on a validation split of the training pairs).")
    balance_weight: float = option(
        1.0, "Weight of a bit balance term ||1'H||^2/n^2 on each hashing layer in (19); not in the paper "
        "(0 = the paper; 1 chosen with decorrelation_weight).")

    test_settings = {"text_embedding": 32}

    def validate(self):
        super().validate()
        require(self.decorrelation_weight >= 0 and self.balance_weight >= 0,
                "decorrelation_weight and balance_weight must be >= 0")
        require(self.image_learning_rate > 0 and self.text_learning_rate > 0, "learning rates must be positive")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(self.text_embedding > 0, f"text_embedding must be positive, got {self.text_embedding}")
        return self


def _squared_error(a, b):
    """Batch mean of the per-item squared L2 distance (the paper's ||.||_2^2 terms)."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(a - b), axis=-1))


def translator(d_in, hidden, d_middle, d_out, *, middle_activation, output_activation=None, batch_norm, name):
    """A UCH generator d_in -> hidden -> d_middle -> hidden -> d_out returning [middle, output].

    The middle layer (Z for G_f, the hashing layer H for G_z) is optionally
    batch-normalised (no scale/shift) before its activation.
    """
    inputs = keras.Input((d_in,), name=f"{name}_input")
    middle = mlp(d_in, [hidden, d_middle], name=f"{name}_in")(inputs)
    if batch_norm:
        middle = keras.layers.BatchNormalization(center=False, scale=False, name=f"{name}_bn")(middle)
    middle = keras.layers.Activation(middle_activation, name=f"{name}_middle")(middle)
    output = mlp(d_middle, [hidden, d_out], output_activation=output_activation, name=f"{name}_out")(middle)
    return keras.Model(inputs, [middle, output], name=name)


@register_method("uch")
class UCH(Hasher):
    """Unsupervised coupled cycle GAN hashing (outer cycle: features, inner cycle: hash codes).

    Two coupled cycle GANs. The outer cycle translates image features F^I and
    text features F^T into each other (G_f^{I->T}, G_f^{T->I}); the 256-unit
    middle layers of its generators are the common representations Z^I, Z^T.
    The inner cycle translates Z^I and Z^T into each other (G_z^{I->T},
    G_z^{T->I}); the K-unit middle layers of its generators are the hashing
    layers H^I, H^T. Algorithm 1, per batch: D_f (eq. 16), then E and G_f
    (17), then D_z (18), then G_z (19); after each epoch
    B = sign(H^I + H^T) for every training pair. Query codes are out of
    sample: sign(H^I) for an image, sign(H^T) for a text.

    Choices the paper leaves open, and what this module does:

    * Generators' adversarial terms. L_f (8) and L_z (14) contain the
      adversarial losses, but the update rules (17) and (19) list only
      reconstruction and similarity. ``generator_adversarial=True`` (default)
      adds the non-saturating generator loss -log D(fake) to (17) and (19);
      ``False`` follows (17)/(19) literally (the discriminators are then
      trained but never feed back).
    * Eq. 13 and B. In the paper B is an output only. With
      ``similarity_target="codes"`` (default) eq. 13 is
      ||H^I - B_i||^2 + ||H^T - B_i||^2, B_i the rows of the batch in the
      current B (gathered by the batch's ``index``). This equals
      1/2 ||H^I - H^T||^2 + 2 ||(H^I + H^T)/2 - B_i||^2: eq. 13 plus a pull of
      the hashing layers towards the codes of Algorithm 1. ``"pair"`` is eq. 13
      literally. Eq. 7 compares 256-d representations Z, where the K-bit B has
      no counterpart, so it stays literal. B starts as sign(H^I + H^T) of the
      initial networks (`prepare`).
    * Normalisation (``batch_norm``, default on). Eqs. 7 and 13 are
      scale-dependent: unnormalised, G_f meets (7) by shrinking Z, and the
      hashing layer collapses to one code for every item under the B target
      (measured on Wikipedia: every bit constant after 10 epochs). Z and the
      hashing pre-activations are therefore batch-normalised, without learned
      scale or shift (per-unit zero mean and unit variance; bits balanced).
      ``--no-batch-norm`` is the paper's plain architecture.
    * When B is refreshed (``code_update``). Algorithm 1 sets
      B = sign(H^I + H^T) every iteration; ``"batch"`` writes the batch's
      rows of B after each step, from the H of that step's G_z forward pass
      (training mode, before G_z's update), and nothing at epoch end.
      ``"epoch"`` (default) refreshes every row after each epoch in inference
      mode. Both start from B of the initial networks.
    * Collapse of the hashing layer, and an optional departure. Batch norm
      without scale and shift balances each bit but does not decorrelate
      them, and the pull towards B drags every bit to the most shared
      direction: on a Wikipedia validation split (64 bits) the top principal
      component of the codes holds 73-83% of their variance (`report.json`,
      `code_diagnostics`). ``decorrelation_weight`` adds
      w * mean((H'H/n - I)^2) and ``balance_weight`` w * ||1'H||^2 / n^2 for
      each hashing layer over the batch to (19) (not in the paper). Chosen on
      a validation split carved from Wikipedia's training pairs (473 queries,
      1,700 train; 64 bits, seed 0; CCA-ITQ there 0.243 / 0.243):
      weights 0 (paper) 0.208 / 0.179, 1 0.208 / 0.179, 10 0.217 / 0.201,
      100 0.242 / 0.248 (top principal component down from 73-83% to
      25-33%); balance 10 instead of 1: 0.237 / 0.248. Defaults 100 and 1;
      ``--decorrelation-weight 0 --balance-weight 0`` is the paper. The
      per-iteration B update measured 0.195 / 0.173 alone (epoch: 0.208 /
      0.179) and 0.236 / 0.253 with the decorrelation term, so B stays
      refreshed per epoch by default.
    * Losses are per-item squared L2 norms (the paper's sums) averaged over the
      batch; every term has weight 1, as in (8) and (14).
    * Activations: ReLU in hidden layers and at Z, tanh at the hashing layers,
      a linear E^T embedding and linear G_f outputs (features are real valued),
      ReLU at the G_z outputs (they imitate Z).
    * Optimiser: Adam (the paper names none), one per update step of
      Algorithm 1 and per modality side. A network is on the side of the
      modality it reads or judges (E^I, G_f^{I->T}, G_z^{I->T}, D_f^I, D_z^I:
      image side). The paper's rates (1e-4 image, 1e-2 text) are for its
      fine-tuned CNN-F and from-scratch text network; here every network but a
      pretrained backbone starts from scratch, and on a validation split carved
      from Wikipedia's training pairs the paper's rates gave MAP I->T 0.17,
      T->I 0.13 against 0.21 / 0.18 with 1e-3 on both sides (64 bits), so
      both default to 1e-3.
      ``weight_decay`` (paper: 0.1, off by default as the paper does not say
      whether it is an L2 weight or a learning-rate decay) is Adam's decoupled
      weight decay.
    * Inputs. Paper: CNN-F fc7 (4096-d) and raw bag-of-words. Feature
      vectors and bags of words are standardised per dimension with
      training-split statistics (``standardize``), because the
      squared-L2 terms depend on scale (Wikipedia's features are histograms
      summing to 1). Sparse inputs (at least 90% zero entries, such as
      MIRFlickr's 1,386-d tag bags) are fed raw, as the paper's bag-of-words
      (``standardize_sparse`` off): per-dimension scaling makes a tag seen on
      a share p of items worth about 1/sqrt(p), so the rarest tags dominate;
      on the MIRFlickr validation split raw tags gave 0.553 / 0.517 against
      0.535 / 0.504 (32 bits, 2 seeds). Wikipedia's inputs are dense, so
      nothing changes there. With ``image_backbone`` E^I is a shared CNN
      (`tfhash.layers.backbones`: AlexNet-style or a `keras.applications`
      network, pixels rescaled to [-1, 1], global average pooling),
      randomly initialised or loaded from ``backbone_weights`` (a local
      file), and fine-tuned in step (17) at the image-side rate.
    * Width rule for small inputs (``scale_widths``, off by default). The
      paper's sizes are for 4096-d images and >= 1386-d bags of words. The
      rule: with d_T the text input width, F^T = min(300, 4 d_T), and each
      D_f's first hidden layer is at most as wide as its input (D_f^I:
      min(256, d_I), D_f^T: min(256, F^T)); generators keep 512-256-512 and
      128-K-128, since their middle layers (Z, H) do not depend on the input
      width. Wikipedia (d_I = 128, d_T = 10): F^T = 40, D_f^I 128-128-32-1,
      D_f^T 40-40-32-1; MIRFlickr-sized inputs are unchanged. Measured on the
      validation split (3 seeds, 64 bits), the paper's sizes do better on
      Wikipedia (MAP I->T 0.21 vs 0.20, unified T->I 0.31 vs 0.28): an
      over-complete 300-d embedding of 10 topics costs nothing here, so the
      default keeps the paper's sizes for every input.
    """

    config_class = UCHConfig
    text_field = "bow"

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        require(len(self.text_shape) == 1, "uch reads bag-of-words text vectors")
        require(self.train_size is not None, "uch keeps codes B for the training pairs; pass train_size")
        self.pixels = len(self.image_shape) == 3

        # E^I: identity on features, or a CNN on pixels. E^T: one dense embedding layer.
        if self.pixels:
            self.image_encoder = self.image_backbone_network("E_I")
            d_image = int(self.image_encoder.output.shape[-1])
        else:
            self.image_encoder, d_image = None, int(self.image_shape[0])
        d_text = int(self.text_shape[0])
        d_embed = min(cfg.text_embedding, 4 * d_text) if cfg.scale_widths else cfg.text_embedding
        d_disc = (lambda d: min(256, d)) if cfg.scale_widths else (lambda d: 256)
        self.text_encoder = mlp(d_text, [d_embed], name="E_T")

        # Outer cycle: G_f d_I-512-256(Z)-512-F^T and back; D_f d-256-32-1 (Impl. details).
        outer = dict(middle_activation="relu", batch_norm=cfg.batch_norm)
        self.gf_i2t = translator(d_image, 512, 256, d_embed, name="Gf_I2T", **outer)
        self.gf_t2i = translator(d_embed, 512, 256, d_image, name="Gf_T2I", **outer)
        self.df_image = mlp(d_image, [d_disc(d_image), 32, 1], name="Df_I")
        self.df_text = mlp(d_embed, [d_disc(d_embed), 32, 1], name="Df_T")

        # Inner cycle: G_z 256-128-K(H)-128-256; D_z 256-128-32-1.
        inner = dict(middle_activation="tanh", output_activation="relu", batch_norm=cfg.batch_norm)
        self.gz_i2t = translator(256, 128, cfg.bits, 256, name="Gz_I2T", **inner)
        self.gz_t2i = translator(256, 128, cfg.bits, 256, name="Gz_T2I", **inner)
        self.dz_image = mlp(256, [128, 32, 1], name="Dz_I")
        self.dz_text = mlp(256, [128, 32, 1], name="Dz_T")

        # Input standardisation (identity until `prepare` fits it; features only, a CNN reads pixels).
        self.image_standardize = None if self.pixels else Standardize(name="image_standardize")
        self.text_standardize = Standardize(name="text_standardize")
        if self.image_standardize is not None:
            self.image_standardize.build((None, d_image))
        self.text_standardize.build((None, d_text))
        # B of Algorithm 1 (written by every replica's rows with code_update="batch": see `write_rows`)
        self.codes = self.add_weight(name="codes", shape=(self.train_size, cfg.bits), initializer="zeros",
                                     trainable=False, aggregation="only_first_replica")
        self._code_fn = None

        self.trackers = {name: keras.metrics.Mean(name=name) for name in (
            "outer_d_loss", "outer_rec", "outer_sim", "outer_adv",
            "inner_d_loss", "inner_rec", "inner_sim", "inner_adv")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- optimizers: one per update step of Algorithm 1 and modality side --------------------------
    def _sides(self):
        image_encoder = self.image_encoder.trainable_variables if self.image_encoder is not None else []
        return {
            "outer_discriminator": (self.df_image.trainable_variables, self.df_text.trainable_variables),
            "outer_generator": (image_encoder + self.gf_i2t.trainable_variables,
                                self.text_encoder.trainable_variables + self.gf_t2i.trainable_variables),
            "inner_discriminator": (self.dz_image.trainable_variables, self.dz_text.trainable_variables),
            "inner_generator": (self.gz_i2t.trainable_variables, self.gz_t2i.trainable_variables),
        }

    def build_optimizers(self):
        cfg = self.config
        decay = cfg.weight_decay or None
        out = {}
        for step, (image_vars, text_vars) in self._sides().items():
            out[f"{step}_image"] = (Adam(cfg.image_learning_rate, weight_decay=decay), image_vars)
            out[f"{step}_text"] = (Adam(cfg.text_learning_rate, weight_decay=decay), text_vars)
        return out

    def _update(self, step, loss, tape):
        """Update step `step` of Algorithm 1: its image-side and text-side players."""
        self.step(f"{step}_image", loss, tape)
        self.step(f"{step}_text", loss, tape)

    # --- encoders ----------------------------------------------------------------------------------
    def _image_features(self, images, training=False):
        """F_real^I = E^I(v): the standardised features, or the CNN's pooled output on pixels."""
        if self.pixels:
            return self.image_encoder(tf.cast(images, tf.float32), training=training)
        return self.image_standardize(images)

    def _text_features(self, texts, training=False):
        """F_real^T = E^T(t): the embedding of the standardised bag of words."""
        return self.text_encoder(self.text_standardize(texts), training=training)

    def encode_image(self, images, training=False):
        """H^I: E^I, G_f^{I->T} up to Z^I, G_z^{I->T} up to its hashing layer."""
        z_image, _ = self.gf_i2t(self._image_features(images, training), training=training)
        return self.gz_i2t(z_image, training=training)[0]

    def encode_text(self, texts, training=False):
        """H^T: E^T, G_f^{T->I} up to Z^T, G_z^{T->I} up to its hashing layer."""
        z_text, _ = self.gf_t2i(self._text_features(texts, training), training=training)
        return self.gz_t2i(z_text, training=training)[0]

    # --- Algorithm 1 (every forward pass in a training step runs in training mode) -----------------
    def _outer_forward(self, images, texts):
        """Eq. 2: F_real, Z_real and F_fake = G_f(F_real) of both modalities."""
        f_image, f_text = self._image_features(images, True), self._text_features(texts, True)
        z_image, fake_text = self.gf_i2t(f_image, training=True)
        z_text, fake_image = self.gf_t2i(f_text, training=True)
        return f_image, f_text, z_image, z_text, fake_image, fake_text

    def _outer_discriminator_step(self, images, texts):
        """Eq. 16: D_f^I, D_f^T maximise L_adv-f (4-5): real features vs translated ones."""
        f_image, f_text, _, _, fake_image, fake_text = self._outer_forward(images, texts)
        with tf.GradientTape(persistent=True) as tape:
            loss = (discriminator_loss(self.df_image(f_image, training=True), self.df_image(fake_image, training=True))
                    + discriminator_loss(self.df_text(f_text, training=True), self.df_text(fake_text, training=True)))
        self._update("outer_discriminator", loss, tape)
        self.trackers["outer_d_loss"].update_state(loss)

    def _outer_generator_step(self, images, texts):
        """Eq. 17: E, G_f minimise L_rec-f (6) + L_sim-f (7) [+ their part of L_adv-f]."""
        with tf.GradientTape(persistent=True) as tape:
            f_image, f_text, z_image, z_text, fake_image, fake_text = self._outer_forward(images, texts)
            rec = (_squared_error(f_image, self.gf_t2i(fake_text, training=True)[1])
                   + _squared_error(f_text, self.gf_i2t(fake_image, training=True)[1]))
            sim = _squared_error(z_image, z_text)
            adv = (generator_loss(self.df_image(fake_image, training=True))
                   + generator_loss(self.df_text(fake_text, training=True)))
            loss = rec + sim + (adv if self.config.generator_adversarial else 0.0)
        self._update("outer_generator", loss, tape)
        for name, value in (("outer_rec", rec), ("outer_sim", sim), ("outer_adv", adv)):
            self.trackers[name].update_state(value)

    def _inner_forward(self, z_image, z_text):
        """Eq. 9: H and Z_fake = G_z(Z_real) of both modalities."""
        h_image, fake_z_text = self.gz_i2t(z_image, training=True)
        h_text, fake_z_image = self.gz_t2i(z_text, training=True)
        return h_image, h_text, fake_z_image, fake_z_text

    def _inner_discriminator_step(self, z_image, z_text):
        """Eq. 18: D_z^I, D_z^T maximise L_adv-z (10-11)."""
        _, _, fake_z_image, fake_z_text = self._inner_forward(z_image, z_text)
        with tf.GradientTape(persistent=True) as tape:
            loss = (discriminator_loss(self.dz_image(z_image, training=True),
                                       self.dz_image(fake_z_image, training=True))
                    + discriminator_loss(self.dz_text(z_text, training=True), self.dz_text(fake_z_text, training=True)))
        self._update("inner_discriminator", loss, tape)
        self.trackers["inner_d_loss"].update_state(loss)

    def _inner_generator_step(self, z_image, z_text, index):
        """Eq. 19: G_z minimise L_rec-z (12) + L_sim-z (13) [+ their part of L_adv-z]."""
        with tf.GradientTape(persistent=True) as tape:
            h_image, h_text, fake_z_image, fake_z_text = self._inner_forward(z_image, z_text)
            rec = (_squared_error(z_image, self.gz_t2i(fake_z_text, training=True)[1])
                   + _squared_error(z_text, self.gz_i2t(fake_z_image, training=True)[1]))
            if self.config.similarity_target == "codes":
                b = tf.gather(self.codes, index)
                sim = quantization_loss(h_image, b) + quantization_loss(h_text, b)
            else:
                sim = _squared_error(h_image, h_text)
            adv = (generator_loss(self.dz_image(fake_z_image, training=True))
                   + generator_loss(self.dz_text(fake_z_text, training=True)))
            loss = rec + sim + (adv if self.config.generator_adversarial else 0.0) + self._spread_loss(h_image, h_text)
        self._update("inner_generator", loss, tape)
        for name, value in (("inner_rec", rec), ("inner_sim", sim), ("inner_adv", adv)):
            self.trackers[name].update_state(value)
        return h_image, h_text

    def _spread_loss(self, h_image, h_text):
        """The optional departure: decorrelate and balance the bits of each hashing layer over the batch."""
        cfg, loss = self.config, 0.0
        for h in (h_image, h_text):
            if cfg.decorrelation_weight:
                loss += cfg.decorrelation_weight * bit_decorrelation_loss(h)
            if cfg.balance_weight:
                loss += cfg.balance_weight * bit_balance_loss(h)
        return loss

    def train_step(self, data):
        images, texts = data["image"], data["text"]
        self._outer_discriminator_step(images, texts)  # (16)
        self._outer_generator_step(images, texts)  # (17)
        _, _, z_image, z_text, _, _ = self._outer_forward(images, texts)  # Z_real of the updated outer cycle
        z_image, z_text = tf.stop_gradient(z_image), tf.stop_gradient(z_text)
        self._inner_discriminator_step(z_image, z_text)  # (18)
        h_image, h_text = self._inner_generator_step(z_image, z_text, data["index"])  # (19)
        if self.config.code_update == "batch":  # Algorithm 1: B = sign(H^I + H^T), here the batch's rows
            write_rows(self.codes, data["index"], binarize(tf.stop_gradient(h_image + h_text)))
        return {m.name: m.result() for m in self.metrics}

    # --- input statistics and B ---------------------------------------------------------------------
    def prepare(self, train):
        """Input statistics of the training split, then B of the initial networks."""
        if self.config.standardize:
            if not self.pixels:
                self.image_standardize.fit(train.rows_of("images"), self.config.standardize_sparse)
            self.text_standardize.fit(train.rows_of("texts"), self.config.standardize_sparse)
        self.update_codes(train)

    def end_epoch(self, epoch, train):
        if self.config.code_update == "epoch":
            self.update_codes(train)

    def update_codes(self, train):
        """Algorithm 1's last line: B = sign(H^I + H^T) over the whole training split, in split order."""
        if self._code_fn is None:  # one graph for all epochs (encode_split would retrace every call)
            self._code_fn = tf.function(
                lambda batch: binarize(self.encode_image(batch["image"]) + self.encode_text(batch["text"])),
                reduce_retracing=True, autograph=False)  # straight-line; see Hasher._split_encoder
        self.codes.assign(tf.concat([self._code_fn(batch) for batch in train.batches(1024)], axis=0))

    def unified_codes(self):
        return keras.ops.convert_to_numpy(self.codes)
