"""TUCH: Turning cross-view hashing into single-view hashing (Zhao, Ding, Guo, Han, Gao; IJCAI 2017).

A text-to-image GAN moves texts into the image domain, where one image
hashing network codes both views:

* T: text encoder, t = T(text) (Kt dims); an MLP on bag-of-words (`tuch`)
  or an LSTM over tokens (`tuch-seq`), from `tfhash.layers.text`.
* G(z, t): generator; DCGAN deconvolutions for pixel datasets, an MLP for
  feature datasets (`tfhash.layers.generators`).
* H: the discriminative hashing network. Image branch (on pixels the
  paper's ImageNet ResNet-18: keras-hub's `ResNetBackbone` through the
  shared `image_backbone` / `backbone_weights` settings; an MLP on
  features) -> FC-I -> r (K dims) -> discrete layer h = sign(r) with
  the straight-through estimator of eq. 8 (`SignSTE`) -> phi = W_h h, the
  semantic embedding with the label loss of eq. 3. Text branch: FC on t.
  H_D(x, t): [FC-I, text branch] concatenated -> discriminator logit.

Retrieval (Fig. 1b): image code = sign(r(x)); text code = sign(r(G(z, t))).

Training (Sec. 5.3, Algorithm 1) runs three stages, by epoch:

1. `text_epochs`: T pre-trained without labels on all training texts.
2. `gan_epochs`: unsupervised matching-aware GAN, G + H's discriminative
   sub-network (eqs. 4-5 without the semantic loss).
3. the rest: hashing layer and semantic loss added, supervised (eqs. 6-7).
   Per batch: z ~ N(0, 1), fake = G(z, t), update H on L_H, then G on L_G.

Data of the stages (Sec. 5.3): stages 1-2 read "all the sentence-image
pairs ... except for query set", stage 3 "a small labelled training set".
When the dataset holds an unlabelled pool (`--labelled-size` at import),
stages 1-2 read the labelled training pairs and the pool (split
"train+unlabelled", no labels read), stage 3 the labelled ones only; the
feature standardisation is fitted on the same pairs as stages 1-2.
`pretrain_on_pool=False` (or a dataset without a pool) trains every stage
on the labelled pairs.

Each stage is a `Phase` of the base class (`phase(epoch)`): its own
traced train step, in which the players of the other stages are frozen
(the text autoencoder after stage 1, G and H during it).

Choices the paper leaves open (or gets wrong), and what this does:

* Eq. 4 as printed has "1 - log H_D(x_hat, t)"; the GAN-CLS loss it comes
  from (eq. 2, Reed et al.) has log(1 - H_D(x_hat, t)). Implemented in the
  minimised, correct form: H minimises -log H_D(x, t) - lambda1 log(1 -
  H_D(x_hat, t)) - lambda2 log(1 - H_D(G(z, t), t)); G minimises the
  non-saturating -log H_D(G(z, t), t) (eq. 5 read as G's goal).
* Stage 1 objective ("unsupervised text encoding model", Reed et al.'s
  char-CNN-RNN is not specified further): an autoencoder that reconstructs
  the text's word distribution (softmax cross-entropy) from t; T is then
  frozen (default) or fine-tuned with H (`finetune_text`).
* Mismatched image x_hat: another image of the batch; in stage 3 one that
  shares no label with the text (the paper's "irrelevant"), in the
  unlabelled stage 2 any other one.
* L_S({x, x_hat, G(z, t)}): x_hat are the batch's own real images, so the
  term is the mean of eq. 3 over the real batch and the fakes (the fakes
  carry their text's labels); eq. 3's sum over items is a batch mean.
* H_D: [r, text branch] -> dense (leaky ReLU) -> logit; a linear logit on
  the concatenation could not judge whether x and t match.
* Features (datasets of image vectors) are standardised with training
  statistics; pixels are scaled to [-1, 1], G's tanh range, and mapped
  back to [0, 255] in front of the backbone, which applies its own ImageNet
  preprocessing. `backbone_weights auto` loads keras-hub's
  `resnet_18_imagenet` preset (downloaded once; offline this is a one-line
  error): pass a local weights file of the network or `none` (random
  initialisation, trained from scratch with H).
* Optimiser: Adam (2e-4, beta_1 0.5) for G and H as in Reed et al./DCGAN
  (the paper only says mini-batch SGD); Adam 1e-3 for the text autoencoder.
* Text codes at inference: `text_code="zero"` uses z = 0; `"vote"` takes
  the sign of the mean of h over `text_code_samples` fixed z draws (stored
  in the model). Both were measured on training data (docs/methods/tuch.md).

Evaluation (`tfhash evaluate`, `tfhash train ... --evaluate`) also writes
RUN_DIR/generated_images.png in pixel mode (`write_visualisations`): the
first query texts, columns real image, G(0, t), G(z_i, t) for 2 fixed z_i.
Feature mode writes nothing: generated feature vectors are no pictures.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from tfhash.data.dataset import POOL
from tfhash.data.split import SplitView
from tfhash.errors import require
from tfhash.layers.backbones import BACKBONES
from tfhash.layers.dense import Dense
from tfhash.layers.generators import conditional_generator, save_image_grid, to_uint8
from tfhash.layers.hashing import SignSTE
from tfhash.layers.normalization import Standardize
from tfhash.layers.text import bow_encoder, lstm_encoder
from tfhash.layers.towers import mlp
from tfhash.losses.adversarial import generator_loss
from tfhash.losses.conditional_gan import matching_aware_discriminator_loss
from tfhash.methods.base import Hasher, Phase
from tfhash.methods.optimizers import Adam
from tfhash.methods.registry import register_method
from tfhash.methods.config import HasherConfig, ImageBackboneSettings, option

#: the figure `tfhash evaluate` writes into a pixel-mode run folder, and its number of query texts (rows)
EVALUATION_GRID, EVALUATION_GRID_ROWS = "generated_images.png", 8
#: the training stages of Sec. 5.3, in order (phase names)
TEXT, GAN, HASHING = "text", "gan", "hashing"
#: the losses each stage reports
STAGE_METRICS = {
    TEXT: ("text_loss",),
    GAN: ("h_loss", "g_loss", "d_match", "d_fake"),
    HASHING: ("h_loss", "h_adv_loss", "h_semantic_loss", "g_loss", "g_adv_loss", "g_semantic_loss",
              "d_match", "d_fake"),
}


@dataclasses.dataclass
class TUCHConfig(ImageBackboneSettings, HasherConfig):
    epochs: int = option(240, "Total epochs of the three stages (the paper gives none; chosen on validation splits).")
    batch_size: int = option(64, "Mini-batch size (Reed et al.: 64).")
    text_epochs: int = option(100, "Stage 1 (Sec. 5.3): epochs of unsupervised text-encoder pre-training (chosen on "
                                   "validation splits; 10 left MIRFlickr's 600 pairs near random).")
    gan_epochs: int = option(20, "Stage 2 (Sec. 5.3): epochs of the unsupervised GAN (G + H's discriminative part).")
    text_dim: int = option(128, "Kt, the text encoding width (Sec. 4.2).")
    text_hidden: tuple[int, ...] = option((256,), "Hidden widths of the text encoder (MLP layers, or LSTM layers' "
                                          "units) and of its decoder.")
    finetune_text: bool = option(False, "Fine-tune T with H's loss after stage 1 (default: frozen, as Reed et al.).")
    noise_dim: int = option(100, "Z, the noise width of G (Reed et al., DCGAN: 100).")
    text_projection: int = option(128, "G's compression of t before concatenating z (Reed et al.: 128).")
    generator_width: int = option(64, "Pixel mode: DCGAN width (64 -> 512 maps at 4x4).")
    generator_hidden: tuple[int, ...] = option((512, 512), "Feature mode: G's hidden widths.")
    image_backbone: str = option("resnet18", "Pixel mode: CNN of H's image branch (tfhash.layers.backbones; the "
                                 "paper's ResNet-18 = keras-hub's ResNetBackbone); unused on feature vectors.",
                                 choices=BACKBONES)
    image_hidden: tuple[int, ...] = option((512, 512), "Feature mode: hidden widths of H's image branch.")
    text_branch_dim: int = option(128, "Width of H's fully-connected text branch (Sec. 4.2).")
    discriminator_hidden: int = option(256, "Hidden width on [FC-I, text branch] before the H_D logit.")
    lambda1: float = option(0.5, "Eq. 4: weight of real mismatching pairs.")
    lambda2: float = option(0.5, "Eq. 4: weight of fake pairs.")
    lambda_h: float = option(0.01, "Eq. 6: weight of H's discriminative loss.")
    lambda_g: float = option(0.01, "Eq. 7: weight of G's discriminative loss.")
    learning_rate: float = option(2e-4, "Adam learning rate of G and H (Reed et al.).")
    adam_beta_1: float = option(0.5, "Adam beta_1 of G and H (Reed et al.).")
    text_learning_rate: float = option(1e-3, "Adam learning rate of the stage-1 text autoencoder.")
    text_code: str = option("zero", "Text code noise at inference: zero (z = 0) or vote (sign of mean h over fixed z).",
                            choices=("zero", "vote"))
    text_code_samples: int = option(15, "Fixed z draws for text_code=vote (odd: no ties).")
    pretrain_on_pool: bool = option(True, "Stages 1-2 also read the dataset's unlabelled pool, if it has one "
                                          "(Sec. 5.3: all non-query pairs); stage 3 reads the labelled pairs only.")

    test_settings = {"text_dim": 16, "text_hidden": (32,), "text_projection": 16, "noise_dim": 8,
                     "generator_hidden": (32,), "image_hidden": (32,), "text_branch_dim": 16,
                     "discriminator_hidden": 16, "text_epochs": 1, "gan_epochs": 1, "backbone_weights": "none"}

    def validate(self):
        super().validate()
        require(min(self.text_epochs, self.gan_epochs) >= 0, "text_epochs and gan_epochs must be >= 0")
        require(self.text_epochs + self.gan_epochs < self.epochs,
                f"tuch needs epochs > text_epochs + gan_epochs (= {self.text_epochs} + {self.gan_epochs}) "
                "to reach the supervised hashing stage")
        require(min(self.lambda1, self.lambda2, self.lambda_h, self.lambda_g) >= 0, "the lambdas must be >= 0")
        require(self.text_code_samples >= 1, "text_code_samples must be >= 1")
        return self


@dataclasses.dataclass
class TUCHSeqConfig(TUCHConfig):
    # The stage lengths of the sentence model stay where they were: 100 text epochs were chosen for the
    # bag-of-words encoder, and were not validated for the LSTM, whose stage 1 costs far more per epoch.
    epochs: int = option(150, "Total epochs of the three stages (the paper gives none).")
    text_epochs: int = option(10, "Stage 1 (Sec. 5.3): epochs of unsupervised text-encoder pre-training.")
    embedding_dim: int = option(128, "Word embedding width of the LSTM text encoder.")

    test_settings = dict(TUCHConfig.test_settings, embedding_dim=8)


def semantic_embedding_loss(phi, labels):
    """Eq. 3: sigmoid cross-entropy of phi = W_h h against the 0/1 label vector, summed over labels, mean over items."""
    ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, phi.dtype), logits=phi)
    return tf.reduce_mean(tf.reduce_sum(ce, axis=-1))


@register_method("tuch")
class TUCH(Hasher):
    """TUCH (IJCAI 2017): a text-to-image GAN turns cross-view hashing into image hashing (BoW text)."""

    config_class = TUCHConfig
    text_field = "bow"
    needs_labels = True

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        require(self.num_classes, "tuch is supervised (eq. 3) and needs a labelled dataset")
        self.pixels = len(self.image_shape) == 3
        self.text_encoder, self.text_decoder = self._build_text_autoencoder()
        self.generator = conditional_generator(self.image_shape, cfg.noise_dim, cfg.text_dim,
                                               width=cfg.generator_width, widths=cfg.generator_hidden,
                                               text_projection=cfg.text_projection, name="generator")
        # H: image branch -> FC-I (r); discrete layer; semantic embedding W_h; text branch; H_D head.
        image = keras.Input(shape=self.image_shape, name="h_image")
        if self.pixels:
            # H reads G's tanh space [-1, 1] (real images are scaled there too); the backbone takes [0, 255] pixels.
            pixels = keras.layers.Rescaling(127.5, offset=127.5, name="h_pixels")(image)
            features = self.image_backbone_network("h_cnn")(pixels)
        else:
            features = mlp(self.image_shape[0], cfg.image_hidden, activation="leaky_relu",
                           output_activation="leaky_relu", name="h_image_mlp")(image)
        self.image_branch = keras.Model(image, Dense(cfg.bits, name="fc_i")(features), name="h_image")
        self.discrete = SignSTE(name="discrete")
        self.semantic = Dense(self.num_classes, use_bias=False, name="w_h")  # phi = W_h h (eq. 3)
        self.semantic.build((None, cfg.bits))
        self.text_branch = mlp(cfg.text_dim, (cfg.text_branch_dim,), output_activation="leaky_relu", name="h_text")
        r_in = keras.Input(shape=(cfg.bits,), name="h_d_fc_i")
        e_in = keras.Input(shape=(cfg.text_branch_dim,), name="h_d_text")
        joint = keras.layers.Concatenate()([r_in, e_in])
        joint = Dense(cfg.discriminator_hidden, activation="leaky_relu", name="h_d_hidden")(joint)
        self.discriminator_head = keras.Model([r_in, e_in], Dense(1, name="h_d_logit")(joint),
                                              name="h_d")

        def state(name, shape, initializer="zeros", dtype="float32"):
            return self.add_weight(name=name, shape=shape, initializer=initializer, dtype=dtype, trainable=False)

        self.image_standardize = None
        if not self.pixels:  # G makes standardised features; fitted on the training split in `prepare`
            self.image_standardize = Standardize(name="image_standardize")
            self.image_standardize.build((None,) + tuple(self.image_shape))
        self.code_noise = state("code_noise", (cfg.text_code_samples, cfg.noise_dim),
                                keras.initializers.RandomNormal(seed=cfg.seed))
        self.seed_generator = keras.random.SeedGenerator(cfg.seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in STAGE_METRICS[TEXT] + STAGE_METRICS[HASHING]}

    def _build_text_autoencoder(self):
        cfg = self.config
        encoder = bow_encoder(self.text_shape[0], tuple(cfg.text_hidden) + (cfg.text_dim,), output_activation="tanh",
                              name="text_encoder")
        return encoder, mlp(cfg.text_dim, tuple(cfg.text_hidden) + (self.text_shape[0],), name="text_decoder")

    # --- sub-network groups and optimisers ------------------------------------------
    @property
    def hashing_variables(self):
        parts = [self.image_branch, self.semantic, self.text_branch, self.discriminator_head]
        if self.config.finetune_text:
            parts.append(self.text_encoder)
        return [v for p in parts for v in p.trainable_variables]

    def build_optimizers(self):
        cfg = self.config
        return {
            "text": (Adam(cfg.text_learning_rate),
                     self.text_encoder.trainable_variables + self.text_decoder.trainable_variables),
            "hashing": (Adam(cfg.learning_rate, beta_1=cfg.adam_beta_1), self.hashing_variables),
            "generator": (Adam(cfg.learning_rate, beta_1=cfg.adam_beta_1),
                          self.generator.trainable_variables),
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- stages -------------------------------------------------------------------------
    def phase(self, epoch):
        """Sec. 5.3: the text autoencoder alone, then the unsupervised GAN, then supervised hashing."""
        cfg = self.config
        unlabelled = getattr(self, "_unlabelled_split", "train")
        if epoch < cfg.text_epochs:
            return Phase(TEXT, ("text",), split=unlabelled)
        if epoch < cfg.text_epochs + cfg.gan_epochs:
            return Phase(GAN, ("hashing", "generator"), split=unlabelled)
        return Phase(HASHING, ("hashing", "generator"))

    def prepare(self, train):
        """Choose the stages' data (labelled pairs, plus the pool if there is one) and fit the standardisation on it."""
        has_pool = POOL in getattr(train.dataset, "splits", {})
        self._unlabelled_split = f"train+{POOL}" if self.config.pretrain_on_pool and has_pool else "train"
        if self.image_standardize is not None:
            images = train.images() if self._unlabelled_split == "train" else SplitView(
                train.dataset, self._unlabelled_split, text_field=self.text_field).images()
            self.image_standardize.fit(images)

    # --- inputs ---------------------------------------------------------------------------
    def _images(self, images):
        """Real images in G's output space: pixels -> [-1, 1]; features -> standardised."""
        images = tf.cast(images, tf.float32)
        if self.pixels:
            return images / 127.5 - 1.0
        return self.image_standardize(images)

    def _text_input(self, texts):
        bow = tf.cast(texts, tf.float32)
        return bow / tf.maximum(tf.reduce_sum(bow, axis=-1, keepdims=True), 1e-8)  # word distribution

    def _text_targets(self, texts):
        """The word distribution the stage-1 autoencoder reconstructs."""
        return self._text_input(texts)

    def text_encoding(self, texts, training=False):
        """t = T(text)."""
        return self.text_encoder(self._text_input(texts), training=training)

    # --- encoding -------------------------------------------------------------------------
    def encode_image(self, images, training=False):
        return self.image_branch(self._images(images), training=training)

    def text_codes(self, texts, mode=None):
        """Continuous text codes r(G(z, t)) with z = 0 ("zero"), or the mean of h over the fixed z ("vote")."""
        t = self.text_encoding(texts)
        if (mode or self.config.text_code) == "zero":
            return self.image_branch(self.generator([tf.zeros((tf.shape(t)[0], self.config.noise_dim)), t]))
        s = self.config.text_code_samples
        z = tf.tile(tf.convert_to_tensor(self.code_noise), [tf.shape(t)[0], 1])
        h = self.discrete(self.image_branch(self.generator([z, tf.repeat(t, s, axis=0)])))
        return tf.reduce_mean(tf.reshape(h, (-1, s, self.config.bits)), axis=1)

    def encode_text(self, texts, training=False):
        return self.text_codes(texts)

    # --- Algorithm 1 ---------------------------------------------------------------------
    def train_step(self, data):
        stage = self.current_phase.name
        if stage == TEXT:
            self._text_encoder_step(data["text"])
        else:
            labels = data["label"] if stage == HASHING else None
            x = self._images(data["image"])
            t = self.text_encoding(data["text"])
            z = keras.random.normal((tf.shape(t)[0], self.config.noise_dim), seed=self.seed_generator)
            mismatch = self._mismatch_index(tf.shape(t)[0], labels)
            with tf.GradientTape() as g_tape:  # G's forward, reused by its own step after H's
                fake = self.generator([z, t], training=True)
            self._hashing_network_step(x, fake, data["text"], t, mismatch, labels)  # lines 6-7
            self._generator_step(g_tape, x, fake, t, labels)  # lines 8-9
        return {name: self.trackers[name].result() for name in STAGE_METRICS[stage]}

    def _text_encoder_step(self, texts):
        """Stage 1: reconstruct the text's word distribution from t (no labels)."""
        with tf.GradientTape() as tape:
            logits = self.text_decoder(self.text_encoding(texts, training=True), training=True)
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=self._text_targets(texts),
                                                                          logits=logits))
        self.step("text", loss, tape)
        self.trackers["text_loss"].update_state(loss)

    def _mismatch_index(self, n, labels):
        """For each text, a random other image of the batch; with labels, one sharing none of its labels."""
        allowed = tf.logical_not(tf.eye(n, dtype=tf.bool))
        if labels is not None:
            disjoint = tf.logical_and(allowed, tf.matmul(labels, labels, transpose_b=True) <= 0)
            has = tf.reduce_any(disjoint, axis=1, keepdims=True)
            allowed = tf.where(has, disjoint, allowed)
        scores = keras.random.uniform((n, n), seed=self.seed_generator)
        return tf.argmax(tf.where(allowed, scores, -1.0), axis=1, output_type=tf.int32)

    def _discriminate(self, r, e):
        return tf.squeeze(self.discriminator_head([r, e], training=True), -1)

    def _hashing_network_step(self, x, fake, texts, t, mismatch, labels):
        """H <- H - grad L_H, L_H = L_S({x, x_hat, G(z, t)}) + lambda_H L^D_H (eq. 6; stage 2: L^D_H only)."""
        cfg = self.config
        n = tf.shape(x)[0]
        with tf.GradientTape() as tape:
            if cfg.finetune_text:
                t = self.text_encoding(texts, training=True)
            r = self.image_branch(tf.concat([x, tf.stop_gradient(fake)], 0), training=True)
            r_real, r_fake = r[:n], r[n:]
            e = self.text_branch(t, training=True)
            # H_D on the three kinds of pairs at once: (x, t), (x_hat, t), (G(z, t), t)
            logits = self._discriminate(tf.concat([r_real, tf.gather(r_real, mismatch), r_fake], 0),
                                        tf.concat([e, e, e], 0))
            match, mismatch_logits, fake_logits = tf.split(logits, 3)
            adv = matching_aware_discriminator_loss(match, mismatch_logits, fake_logits,
                                                    mismatch_weight=cfg.lambda1, fake_weight=cfg.lambda2)
            if labels is None:
                semantic, loss = tf.zeros(()), adv
            else:
                semantic = semantic_embedding_loss(self.semantic(self.discrete(r)), tf.concat([labels, labels], 0))
                loss = semantic + cfg.lambda_h * adv
        self.step("hashing", loss, tape)
        for name, value in (("h_loss", loss), ("h_adv_loss", adv), ("h_semantic_loss", semantic),
                            ("d_match", tf.reduce_mean(tf.sigmoid(match))),
                            ("d_fake", tf.reduce_mean(tf.sigmoid(fake_logits)))):
            self.trackers[name].update_state(value)

    def _generator_step(self, tape, x, fake, t, labels):
        """G <- G - grad L_G, L_G = L_S({G(z, t)}) + lambda_G L^D_G (eq. 7; stage 2: L^D_G only)."""
        cfg = self.config
        with tape:
            # Real images ride along so H's batch normalisation sees the same mix as in H's step.
            r_fake = self.image_branch(tf.concat([x, fake], 0), training=True)[tf.shape(x)[0]:]
            adv = generator_loss(self._discriminate(r_fake, self.text_branch(t, training=True)))
            if labels is None:
                semantic, loss = tf.zeros(()), adv
            else:
                semantic = semantic_embedding_loss(self.semantic(self.discrete(r_fake)), labels)
                loss = semantic + cfg.lambda_g * adv
        self.step("generator", loss, tape)
        for name, value in (("g_loss", loss), ("g_adv_loss", adv), ("g_semantic_loss", semantic)):
            self.trackers[name].update_state(value)

    # --- looking at the generator ----------------------------------------------------------
    def generate_images(self, texts, z=None):
        """G(z, T(texts)) as uint8 images (pixel mode); z defaults to 0 (the `zero` text code's input)."""
        require(self.pixels, "this tuch model generates image feature vectors, not pictures")
        t = self.text_encoding(tf.convert_to_tensor(texts))
        if z is None:
            z = tf.zeros((tf.shape(t)[0], self.config.noise_dim))
        return to_uint8(keras.ops.convert_to_numpy(self.generator([tf.cast(z, tf.float32), t], training=False)))

    def save_sample_grid(self, view, path, *, count=8, noise_samples=3):
        """A PNG with one row per item of `view` (a SplitView): the real image, G(0, t), G(z_i, t) for fixed z_i."""
        count = min(int(count), view.size)
        positions = np.arange(count)
        texts = view.texts(positions)
        rows = [np.asarray(view.images(positions)).clip(0, 255).astype(np.uint8), self.generate_images(texts)]
        for z in keras.ops.convert_to_numpy(self.code_noise)[:noise_samples]:
            rows.append(self.generate_images(texts, np.tile(z, (count, 1))))
        grid = np.stack(rows, axis=1).reshape((-1,) + tuple(rows[0].shape[1:]))
        return save_image_grid(grid, path, columns=len(rows))

    # --- evaluation figures (`tfhash evaluate`) ----------------------------------------------
    @classmethod
    def has_visualisations(cls, dataset_info):
        """Pixel datasets only: generated feature vectors are nothing to look at."""
        return len(dataset_info.get("image_shape") or ()) == 3

    def write_visualisations(self, run_dir, dataset):
        """RUN_DIR/generated_images.png: first query texts; columns real image, G(0, t), G(z_i, t) for 2 fixed z_i."""
        if not self.pixels:
            return {}
        from tfhash.data.split import SplitView

        view = SplitView(dataset, "query", text_field=self.text_field)
        path = os.path.join(os.fspath(run_dir), EVALUATION_GRID)
        self.save_sample_grid(view, path, count=EVALUATION_GRID_ROWS, noise_samples=2)
        return {"generated_images": path}


@register_method("tuch-seq")
class TUCHSeq(TUCH):
    """TUCH with an LSTM text encoder over token sequences (sentences, tag lists)."""

    config_class = TUCHSeqConfig
    text_field = "tokens"

    def _build_text_autoencoder(self):
        cfg = self.config
        encoder = lstm_encoder(self.vocabulary_size, embedding_dim=cfg.embedding_dim, units=tuple(cfg.text_hidden),
                               output_dim=cfg.text_dim, output_activation="tanh", pooling="last",
                               max_length=self.text_shape[0], name="text_encoder")
        return encoder, mlp(cfg.text_dim, tuple(cfg.text_hidden) + (self.vocabulary_size,), name="text_decoder")

    def _text_input(self, texts):
        return tf.cast(texts, tf.int32)

    def _text_targets(self, texts):
        """The bag of the sentence's words (padding 0 excluded), as a distribution."""
        tokens = tf.cast(texts, tf.int32)
        counts = tf.reduce_sum(tf.one_hot(tokens, self.vocabulary_size), axis=1)
        counts = counts * tf.cast(tf.range(self.vocabulary_size) > 0, counts.dtype)
        return counts / tf.maximum(tf.reduce_sum(counts, axis=-1, keepdims=True), 1.0)
