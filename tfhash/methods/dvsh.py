"""DVSH: Deep Visual-Semantic Hashing (Cao, Long, Wang, Yang, Yu; KDD 2016).

Algorithm (one mini-batch of labelled image-sentence pairs, Sec. 3, eq. 10):

1. Fusion network (Sec. 3.2): a CNN maps image x_i to a feature map h^x_i;
   a 2-layer LSTM reads sentence y_i, and at every step t the second
   layer's input is h^x_i + the first layer's output; its tanh-squashed
   output is h_it. The pair's fusion code is h_i = mean of h_it over the
   valid steps (eq. 5).
2. Update the fusion network on the cosine max-margin loss over pairs,
   s_ij = +1 if i and j share a label else -1 (eq. 6, margin 0.5),
   + lambda * bitwise max-margin sum_k max(0, 0.5 - |h_ik|) (eq. 7).
3. Update the hashing networks (Sec. 3.3) on gamma * (||u_i - h_i||^2
   (eq. 8) + sum over valid t of ||v_it - h_i||^2 (eq. 9)): u_i from an
   image CNN, v_it from a 2-layer sentence LSTM. h_i is a stopped target:
   these losses never update the fusion network (Sec. 3.5).
4. Out of sample: sign(u) for an image, sign(v at the last valid step) for a
   sentence.

Ablations (Sec. 4.3) as switches: DVSH-Q = ``--bitwise-weight 0``; DVSH-I
= ``--pair-loss inner-product`` (mean of (s_ij - <h_i, h_j>/K)^2);
DVSH-H = ``--out-of-sample fusion``; DVSH-B (no binarisation) ranks the
continuous codes of a trained model, which `codes.h5` (±1 only) cannot
hold: ``scripts/bench_dvsh.py`` scores it from ``model.encode_split``.

Choices the paper leaves open, and ours:

* No pre-training. The paper fine-tunes an ImageNet AlexNet and a COCO
  language-model LSTM with SGD (momentum 0.9, cross-validated rate); we
  train from scratch, by default with Adam (``learning_rate``).
* Optimisation, the paper's as options (Sec. 4.2): ``optimizer sgd`` is
  mini-batch SGD with ``momentum`` 0.9; ``lr_schedule inv`` is Caffe's
  "inv" annealing, rate = learning_rate * (1 + lr_gamma * step)^-lr_power
  (the paper names only "the learning rate annealing strategy implemented
  in Caffe"; inv with Caffe's example gamma 1e-4 and power 0.75 is our
  reading, not a stated value); ``fc8_rate_multiplier`` 10 multiplies the
  gradient of fc8 (the image networks' feature-map layers, trained from
  scratch while the lower layers are fine-tuned). Under SGD a gradient
  multiplier is a learning-rate multiplier; under Adam it nearly cancels
  (Adam is invariant to a gradient's scale), so it only means what the
  paper means with ``optimizer sgd``. Defaults stay Adam, a constant rate
  and multiplier 1: measured on Wikipedia (dvsh-bow) with layers trained
  from scratch, where no lower layer is pre-trained for fc8 to outpace. Pixel images go through
  the shared AlexNet-style trunk (`tfhash.layers.backbones.image_backbone`)
  then fc6-fc7 (``image_hidden``, dropout); feature vectors (e.g. SIFT)
  through fc6-fc7 alone. Both end in a linear feature map (the paper's new
  fc8).
* Activation scale, which pre-trained weights would give: the trunk's
  output is layer-normalised (a from-scratch AlexNet's top is ~0.02 and the
  fusion code then collapses to one code), word embeddings start at N(0, 1)
  rather than Keras' U(-0.05, 0.05), and feature vectors and BoW inputs are
  standardised with the training split's mean and std (``standardize``).
* Widths: h^x is K-dimensional (Sec. 3.2) and is added to the first LSTM
  layer's output, so that layer is K wide too; ``fusion_width`` = 0 keeps
  this, any other value sets both widths. The fusion layer has K units;
  its LSTM output o * tanh(c) is the squashed h_it. The sentence hashing
  network is the same 2-layer LSTM without the image, then a per-step
  tanh hash layer of K units; the image one ends in a tanh hash layer.
  Word inputs go through a learned embedding (``embedding_dim``; the
  paper's one-hot inputs are its identity case). The fusion and hashing
  networks share no weights (the paper copies, not ties, them).
* Masking: steps whose token id is 0 never count (the LSTMs carry their
  state over them; means and the last step are over valid steps only), so
  padding never changes a code. An all-padding sentence has h_i = 0, and
  its text code is the hash layer at step 0 (the LSTMs' initial state).
* The token vocabulary is the dataset's; ``vocabulary_size`` (len + 1, id
  0 = padding) is a constructor argument, kept in `get_config`.
* Normalisation: each term is a mean over what it sums: eq. 6 over the
  pairs i != j of the batch (of each replica's share under
  MirroredStrategy), eq. 7 over items and bits, eq. 8 over items, eq. 9
  over valid (item, step) pairs. So lambda means the same at any batch or
  code length. gamma scales the hashing networks' loss alone (their own
  optimizer), which Adam makes nearly moot; it is kept for fidelity.
* The two updates use one forward pass (the joint SGD step of eq. 10).
* DVSH-H with one modality: the missing one contributes zero to the sum
  of eq. 4 (an image alone is one step with a zero first-layer output; a
  sentence alone has h^x = 0).

Departure: ``dvsh-bow`` replaces both LSTMs by bag-of-words MLPs so DVSH
runs on datasets with BoW text only (the bundled Wikipedia set's 10-d LDA
topics). It is not the paper's model: a text is a single "step", the
fusion layer is Dense(K, tanh) on h^x + MLP(bow), and v = MLP(bow).
"""

import dataclasses

import keras
import tensorflow as tf

from tfhash.errors import require
from tfhash.layers.dense import Dense
from tfhash.layers.normalization import Standardize
from tfhash.layers.text import bow_encoder, last_valid_step, lstm_encoder, masked_lstm, masked_mean, token_mask
from tfhash.layers.towers import mlp
from tfhash.losses.pairwise import cosine_margin_loss, inner_product_loss, signed_label_similarity
from tfhash.losses.quantization import bitwise_margin_loss
from tfhash.methods.base import Hasher
from tfhash.methods.optimizers import Adam
from tfhash.methods.registry import register_method
from tfhash.methods.config import HasherConfig, ImageBackboneSettings, option


class CaffeInvDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Caffe's "inv" learning-rate policy: base_rate * (1 + gamma * step)^(-power)."""

    def __init__(self, base_rate, gamma, power):
        self.base_rate, self.gamma, self.power = base_rate, gamma, power

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return self.base_rate * tf.pow(1.0 + self.gamma * step, -self.power)

    def get_config(self):
        return {"base_rate": self.base_rate, "gamma": self.gamma, "power": self.power}


def _word_init():
    """Word embeddings start at unit scale (not Keras' U(-0.05, 0.05)), so words move the LSTMs from the start."""
    return keras.initializers.RandomNormal(stddev=1.0)


@dataclasses.dataclass
class _DVSHSettings(ImageBackboneSettings, HasherConfig):
    """Settings of both text encoders (LSTM: `dvsh`, bag of words: `dvsh-bow`)."""

    epochs: int = option(60, "Training epochs (the paper does not say).")
    batch_size: int = option(50, "Mini-batch size (Sec. 4.2: 50).")
    learning_rate: float = option(1e-3, "Adam learning rate of both networks (paper: SGD, rate cross-validated).")
    cosine_margin: float = option(0.5, "Margin mu_c of the cosine max-margin loss (eq. 6: 0.5).")
    bitwise_margin: float = option(0.5, "Margin mu_b of the bitwise max-margin loss (eq. 7: 0.5).")
    bitwise_weight: float = option(0.1, "lambda, weight of the bitwise loss (eq. 10: 0.1); 0 = DVSH-Q.")
    hashing_weight: float = option(1.0, "gamma, weight of the hashing networks' squared losses (eq. 10: 1).")
    pair_loss: str = option("cosine", "cosine (eq. 6) or inner-product (the DVSH-I ablation).",
                            choices=("cosine", "inner-product"))
    out_of_sample: str = option("hashing", "Codes from the hashing networks, or the fusion network (DVSH-H).",
                                choices=("hashing", "fusion"))
    fusion_width: int = option(0, "Width of h^x and of the LSTM / text layers under the K-unit fusion layer; "
                                  "0 = K (Sec. 3.2).")
    image_hidden: tuple[int, ...] = option((1024, 1024), "Fully connected layers fc6-fc7 of the image networks "
                                           "(AlexNet: 4096, 4096), on the CNN trunk or on feature vectors.")
    dropout: float = option(0.5, "Dropout after fc6 and fc7 (AlexNet: 0.5).")
    standardize: bool = option(True, "Standardise feature-vector images and BoW texts by their training mean/std.")
    optimizer: str = option("adam", "adam, or sgd (the paper: mini-batch SGD with momentum).", choices=("adam", "sgd"))
    momentum: float = option(0.9, "Momentum of --optimizer sgd (Sec. 4.2: 0.9).")
    lr_schedule: str = option("constant", "constant, or inv: Caffe's annealing lr (1 + lr_gamma step)^-lr_power "
                                          "(Sec. 4.2: 'the annealing strategy implemented in Caffe').",
                              choices=("constant", "inv"))
    lr_gamma: float = option(1e-4, "gamma of the inv schedule (Caffe's example value; the paper gives none).")
    lr_power: float = option(0.75, "power of the inv schedule (Caffe's example value; the paper gives none).")
    fc8_rate_multiplier: float = option(1.0, "Gradient multiplier of fc8, the image networks' feature maps "
                                             "(Sec. 4.2: 10 over fine-tuned lower layers; a rate multiplier under sgd).")

    def validate(self):
        super().validate()
        require(self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}")
        require(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        require(self.lr_gamma >= 0 and self.lr_power >= 0, "lr_gamma and lr_power must be >= 0")
        require(self.fc8_rate_multiplier > 0, f"fc8_rate_multiplier must be positive, got {self.fc8_rate_multiplier}")
        require(self.bitwise_weight >= 0, f"bitwise_weight must be >= 0, got {self.bitwise_weight}")
        require(self.hashing_weight > 0, f"hashing_weight must be positive, got {self.hashing_weight}")
        require(self.fusion_width >= 0, f"fusion_width must be >= 0, got {self.fusion_width}")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        return self


@dataclasses.dataclass
class DVSHConfig(_DVSHSettings):
    embedding_dim: int = option(128, "Word embedding width (the paper feeds one-hot words to the LSTM).")

    test_settings = {"image_hidden": (32,), "fusion_width": 16, "embedding_dim": 8, "batch_size": 40}


@dataclasses.dataclass
class DVSHBowConfig(_DVSHSettings):
    text_hidden: tuple[int, ...] = option((1024,), "Hidden layers of the bag-of-words MLPs (replacing the LSTMs).")

    test_settings = {"image_hidden": (32,), "text_hidden": (32,), "batch_size": 40}


@register_method("dvsh")
class DVSH(Hasher):
    """Deep visual-semantic hashing: CNN + LSTM fusion codes, distilled into image and sentence hash networks."""

    config_class = DVSHConfig
    text_field = "tokens"
    needs_labels = True

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        width = cfg.fusion_width or cfg.bits
        # Input standardisation, shared by the fusion and hashing networks of a modality (fitted in `prepare`).
        self.image_standardize = self._standardizer("image") if len(self.image_shape) == 1 else None
        self.text_standardize = self._standardizer("text") if type(self).text_field == "bow" else None
        # Fusion network (Sec. 3.2): CNN -> h^x; text layer one; fusion layer two over (h^x + layer one).
        self.fusion_image = self._image_network(width, None, "fusion_image")
        self.fusion_text, self.fusion_top = self._fusion_text_layers(width)
        # Hashing networks (Sec. 3.3).
        self.image_hashing = self._image_network(cfg.bits, "tanh", "image_hashing")
        self.text_hashing = self._sentence_hashing_network(width)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("pair_loss", "bitwise_loss", "image_loss", "text_loss")}

    # --- sub-networks -----------------------------------------------------------------
    def _image_network(self, output_dim, activation, name):
        """The CNN (pixels) or MLP (features) body, then a Dense map to `output_dim` (fc8)."""
        cfg = self.config
        images = keras.Input(shape=self.image_shape, name=f"{name}_input")
        if len(self.image_shape) == 3:
            x = self.image_backbone_network(f"{name}_cnn")(images)
            x = keras.layers.LayerNormalization(name=f"{name}_trunk_norm")(x)
        else:
            x = images if self.image_standardize is None else self.image_standardize(images)
        x = mlp(x.shape[-1], cfg.image_hidden, output_activation="relu", dropout=cfg.dropout, name=f"{name}_fc")(x)
        outputs = Dense(output_dim, activation=activation, name=f"{name}_map")(x)
        return keras.Model(images, outputs, name=name)

    def _fusion_text_layers(self, width):
        """Layer one (tokens -> LSTM steps) and the fusion layer ([steps, mask] -> h_it, K units)."""
        require(self.vocabulary_size is not None,
                "dvsh reads token sequences and needs vocabulary_size (len(vocabulary) + 1)")
        one = lstm_encoder(self.vocabulary_size, embedding_dim=self.config.embedding_dim, units=(width,),
                           embeddings_initializer=_word_init(), name="fusion_text")
        return one, masked_lstm(width, self.config.bits, name="fusion_top")

    def _sentence_hashing_network(self, width):
        """tokens -> 2-layer LSTM -> per-step tanh hash layer v_it."""
        return lstm_encoder(self.vocabulary_size, embedding_dim=self.config.embedding_dim, units=(width, width),
                            output_dim=self.config.bits, output_activation="tanh", embeddings_initializer=_word_init(),
                            name="text_hashing")

    def _standardizer(self, modality):
        return Standardize(name=f"{modality}_standardize") if self.config.standardize else None

    def prepare(self, train):
        """Fit the input standardisation (feature vectors, bag-of-words) on the training split."""
        if self.image_standardize is not None:
            self.image_standardize.fit(train.rows_of("images"))
        if self.text_standardize is not None:
            self.text_standardize.fit(train.rows_of("texts"))

    # --- text steps (the bag-of-words variant overrides these four) ------------------------
    def _text_mask(self, texts):
        """(batch, T) bool: the steps that count."""
        return token_mask(texts)

    def _layer_one(self, texts, training):
        return self.fusion_text(texts, training=training)

    def _fusion_layer(self, steps, mask, training):
        return self.fusion_top([steps, mask], training=training)

    def _sentence_steps(self, texts, training):
        return self.text_hashing(texts, training=training)

    # --- the fusion code h_i (eqs. 4-5) -------------------------------------------------
    def _fusion_steps(self, hx, layer_one, mask, training):
        """Eq. 4: h_it = the fusion layer over h^x + the first layer's output, at every step."""
        return self._fusion_layer(layer_one + hx[:, None, :], mask, training)

    def fusion_codes(self, images, texts, training=False):
        """h_i of image-sentence pairs: mean over the valid steps (eq. 5)."""
        mask = self._text_mask(texts)
        hx = self.fusion_image(images, training=training)
        return masked_mean(self._fusion_steps(hx, self._layer_one(texts, training), mask, training), mask)

    # --- encoding ------------------------------------------------------------------------
    def encode_image(self, images, training=False):
        if self.config.out_of_sample == "fusion":  # DVSH-H: one step without a sentence (zero first layer)
            hx = self.fusion_image(images, training=training)
            mask = tf.ones((tf.shape(hx)[0], 1), tf.bool)
            return self._fusion_steps(hx, tf.zeros_like(hx)[:, None, :], mask, training)[:, 0]
        return self.image_hashing(images, training=training)

    def encode_text(self, texts, training=False):
        mask = self._text_mask(texts)
        if self.config.out_of_sample == "fusion":  # DVSH-H: the sentence without an image (h^x = 0)
            layer_one = self._layer_one(texts, training)
            return masked_mean(self._fusion_steps(tf.zeros_like(layer_one[:, 0]), layer_one, mask, training), mask)
        return last_valid_step(self._sentence_steps(texts, training), mask)

    # --- training ------------------------------------------------------------------------
    @property
    def fusion_variables(self):
        return self.fusion_image.trainable_variables + self.fusion_text.trainable_variables + \
            self.fusion_top.trainable_variables

    @property
    def hashing_variables(self):
        return self.image_hashing.trainable_variables + self.text_hashing.trainable_variables

    def _optimizer(self):
        cfg = self.config
        rate = cfg.learning_rate
        if cfg.lr_schedule == "inv":
            rate = CaffeInvDecay(cfg.learning_rate, cfg.lr_gamma, cfg.lr_power)
        if cfg.optimizer == "sgd":
            return keras.optimizers.SGD(rate, momentum=cfg.momentum)
        return Adam(rate)

    def _multipliers(self, variables, fc8_layers):
        """fc8_rate_multiplier on the variables of `fc8_layers`, 1 elsewhere (one per variable)."""
        fc8 = {id(v) for layer in fc8_layers for v in layer.trainable_variables}
        return tuple(self.config.fc8_rate_multiplier if id(v) in fc8 else 1.0 for v in variables)

    def build_optimizers(self):
        fusion, hashing = self.fusion_variables, self.hashing_variables
        fc8 = [net.get_layer(f"{net.name}_map") for net in (self.fusion_image, self.image_hashing)]
        return {"fusion": (self._optimizer(), fusion, self._multipliers(fusion, fc8)),
                "hashing": (self._optimizer(), hashing, self._multipliers(hashing, fc8))}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _fusion_step(self, images, texts, labels):
        """Eqs. 6-7 on the fusion network; returns h_i (before the update)."""
        cfg = self.config
        with tf.GradientTape() as tape:
            h = self.fusion_codes(images, texts, training=True)
            s = signed_label_similarity(labels)
            if cfg.pair_loss == "cosine":
                pair = cosine_margin_loss(h, s, cfg.cosine_margin)
            else:
                pair = inner_product_loss(h, s)
            bitwise = bitwise_margin_loss(h, cfg.bitwise_margin) / cfg.bits
            loss = pair + cfg.bitwise_weight * bitwise
        self.step("fusion", loss, tape)
        self.trackers["pair_loss"].update_state(pair)
        self.trackers["bitwise_loss"].update_state(bitwise)
        return h

    def _hashing_step(self, images, texts, target):
        """Eqs. 8-9 on the hashing networks, regressing onto the stopped fusion codes."""
        target = tf.stop_gradient(target)
        mask = tf.cast(self._text_mask(texts), target.dtype)
        with tf.GradientTape() as tape:
            u = self.image_hashing(images, training=True)
            image_loss = tf.reduce_mean(tf.reduce_sum(tf.square(u - target), axis=-1))
            v = self._sentence_steps(texts, training=True)
            per_step = tf.reduce_sum(tf.square(v - target[:, None, :]), axis=-1)
            text_loss = tf.reduce_sum(per_step * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)
            loss = self.config.hashing_weight * (image_loss + text_loss)
        self.step("hashing", loss, tape)
        self.trackers["image_loss"].update_state(image_loss)
        self.trackers["text_loss"].update_state(text_loss)

    def train_step(self, data):
        images, texts = data["image"], data["text"]
        h = self._fusion_step(images, texts, data["label"])
        self._hashing_step(images, texts, h)
        return {m.name: m.result() for m in self.metrics}


@register_method("dvsh-bow")
class DVSHBow(DVSH):
    """DVSH with bag-of-words MLPs in place of the LSTMs (not in the paper; for BoW-only text such as Wikipedia)."""

    config_class = DVSHBowConfig
    text_field = "bow"

    def _bow_network(self, widths, output_activation, name):
        """[standardise ->] bag-of-words MLP `widths`."""
        texts = keras.Input(shape=self.text_shape, name=f"{name}_input")
        x = texts if self.text_standardize is None else self.text_standardize(texts)
        x = bow_encoder(self.text_shape[0], widths, output_activation=output_activation, name=f"{name}_mlp")(x)
        return keras.Model(texts, x, name=name)

    def _fusion_text_layers(self, width):
        cfg = self.config
        one = self._bow_network(tuple(cfg.text_hidden) + (width,), None, "fusion_text")
        return one, mlp(width, (cfg.bits,), output_activation="tanh", name="fusion_top")

    def _sentence_hashing_network(self, width):
        cfg = self.config
        return self._bow_network(tuple(cfg.text_hidden) + (width, cfg.bits), "tanh", "text_hashing")

    def _text_mask(self, texts):
        return tf.ones((tf.shape(texts)[0], 1), tf.bool)  # one step per text

    def _layer_one(self, texts, training):
        return self.fusion_text(texts, training=training)[:, None, :]

    def _fusion_layer(self, steps, mask, training):
        return self.fusion_top(steps[:, 0], training=training)[:, None, :]

    def _sentence_steps(self, texts, training):
        return self.text_hashing(texts, training=training)[:, None, :]
