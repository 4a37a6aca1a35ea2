"""SDCH: Semantic Deep Cross-modal Hashing (Yan, Bai, Wang, Zhou, Hancock; Neurocomputing, accepted manuscript).

Algorithm 1 of the paper, one mini-batch of labelled image-text pairs:

1. Forward propagation: image pipeline (an AlexNet-style CNN for raw
   images, an MLP for feature vectors) and text pipeline (BoW MLP), both
   ending in a k-d feature layer (img-fc3 / txt-fc3, k = 256, Table 1); the
   batch's features replace their rows of the stored training-set features.
2. Update Theta_h (fc4, shared by both modalities: features -> Z) on L_h,
   eq. (7), with the features and B fixed:
   ||Z^T Z / r - S^h||^2 + beta1 ||Z - B||^2 + beta2 (independence) +
   beta3 (balance), S^h in {-1, +1} over pairs within and across
   modalities.
3. Update Theta_f (both pipelines) on L = L_f + gamma L_h, eq. (8), with the
   new Theta_h and B fixed; L_f is the cross-modal logistic likelihood of
   eq. (4) with S^f in {0, 1} from the labels.
4. After each epoch: forward the whole training set and set B = sign(Z),
   eq. (10). B is initialised by ITQ on Z (Gong et al.) before the first
   epoch (Algorithm 1). Epoch 1 trains Theta_f only (Theta_h frozen),
   epoch 2 Theta_h only (Theta_f frozen), then both (Sec. 4.2; `phase`).

Query codes: sign(fc4(pipeline(x))) of each modality.

Choices the paper leaves open, and ours:

* Whole training set in every step (as DCMH does): the features F_x, F_y of
  every training pair, B and the labels live in non-trainable weights. The
  pairwise terms compare the batch with all N stored items, so every step
  sees its rows of the full S^f and S^h; the stored items' codes are fc4 of
  their stored features at the current Theta_h (one matmul), so they are
  never stale with respect to fc4. The stored features are refreshed at the
  batch rows in each step and for the whole set after each epoch.
* One code per pair: the paper keeps m + n codes; with paired data we tie
  the image and text code of pair i (B is N x r, the unified codes). Eq. (9)
  with a shared b_i is max (z_xi + z_yi)^T b_i, so eq. (10) becomes
  B = sign(Z_x + Z_y); ITQ's initial B is likewise the sign of the rotated
  sum.
* Normalisation (`normalization`): by default ("mean") every squared norm
  of eq. (7) is divided by its number of entries, so beta1..beta3 and gamma
  weigh per-entry means whatever N, r or the batch size; L_f is the mean
  over pairs. That is not eq. (7)'s weighting: its sums have M^2 entries
  (M = 2N codes, both modalities) in the similarity term, M r in the
  quantisation term and r^2 in the independence term, so with per-entry
  means beta1 = 1 equals a literal beta1 of M / r = 2N / r (68 on Wikipedia
  at 64 bits, 313 at N = 10,000) and beta2 = 1 a literal M^2 / r^2.
  "sum" weighs the terms as eq. (7)'s sums do (all divided by M^2, so the
  similarity term keeps its scale and the learning rates their meaning):
  quantisation x r / M, independence x r^2 / M^2; then beta1 = 1 is the
  paper's beta1 = 1 as printed, and the quantisation term is 2N/r times
  weaker than under "mean". The balance term is the same under both. The independence term
  ||Z Z^T / r - I||^2 compares an r x r Gram matrix of N items with I, which
  only makes sense as Z Z^T / N (bits uncorrelated with unit variance); we
  use 1/N. The balance term beta3/r ||Z||^2 is, as written, a norm penalty
  that would pull codes to 0 against the quantisation term; we implement
  the standard balance (each bit's sum over the training set, i.e. the
  column sums of the N x r code matrix) with the paper's 1/r:
  beta3/r * ||1^T Z||^2 / N^2 (`bit_balance_loss`). Independence and
  balance are taken over the stored set with the batch rows live.
* ITQ again after epoch 1. Sec. 4.2 lists, in this order: epoch 1 trains
  Theta_f only; "for B, we used ITQ with z_i as the input"; epoch 2 fits
  Theta_h to B "to ensure Theta_h have good initial values". After epoch 1
  fc4 is still random, so sign(Z) would hand epoch 2 an arbitrary target;
  we re-run ITQ on the new Z there (and use sign(Z) after every later
  epoch). ITQ centres Z, so this B is balanced.
* Centred fc4 input, no fc4 bias (departure). Eq. (4) has no intercept,
  so with mostly dissimilar pairs the pipelines learn a large shared
  offset (image and text offsets with a negative inner product act as the
  missing bias): on Wikipedia with 4096-wide layers the per-modality mean
  is ~4x the spread of the features after epoch 1. A shared fc4 then maps
  nearly all images (and, oppositely, all texts) to one code, and with
  B = sign(Z) training collapsed to a single code (MAP = chance). fc4
  therefore reads each modality's features minus their mean over the
  stored training features (recomputed whenever the store changes; kept as
  weights for encoding, like batch-norm statistics) and has no bias: on
  centred input a bias can only unbalance the bits, and with one it drifted
  (mean |bit mean| of B 0.8 by epoch 4) before recovering.
  `--no-center-features` restores the paper's literal fc4 (with bias).
* fc4 is linear (Sec. 3.2 lists ReLU only for the earlier layers).
* Freezing. The paper sets the frozen part's learning rate to 0. Here the
  frozen part is not stepped at all (the epoch's `Phase` leaves its player
  out): under Adam a zero rate would still move the moments and the step
  count, so the part would not come back from its frozen epoch as it left.
* No pre-trained weights: the paper starts the first seven image layers
  from ImageNet AlexNet and gives them 0.1x the feature learning rate. We
  train every layer from scratch at the feature rate (1e-3): a layer that
  is not pre-trained has nothing to preserve.
* Optimiser: Adam for both parts (the paper gives only the rates); input
  feature vectors and BoW are standardised by training statistics; no
  dropout by default (Table 1 lists none).
* Sparse inputs (tag bags): standardised like the rest by default
  (`standardize_sparse` on), unlike UCH and UGACH, which feed them raw. On
  the MIRFlickr validation split (32 bits, 2 seeds, 1024-wide layers) raw
  tags traded one direction for the other: I->T 0.684, T->I 0.692 against
  0.774 / 0.603 standardised (SCM 0.763 / 0.632), so the default stays.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfhash.errors import require
from tfhash.layers.hashing import binarize
from tfhash.layers.dense import Dense
from tfhash.layers.normalization import Standardize
from tfhash.layers.towers import mlp
from tfhash.losses.pairwise import inner_product_loss, label_similarity, logistic_pair_loss, signed_label_similarity
from tfhash.losses.quantization import bit_balance_loss, bit_decorrelation_loss, quantization_loss
from tfhash.methods.base import Hasher, Phase
from tfhash.methods.state import write_rows
from tfhash.methods.itq import itq_rotation
from tfhash.methods.optimizers import Adam
from tfhash.methods.registry import register_method
from tfhash.methods.config import SPARSE_HELP, HasherConfig, ImageBackboneSettings, option


@dataclasses.dataclass
class SDCHConfig(ImageBackboneSettings, HasherConfig):
    epochs: int = option(50, "Training epochs (Sec. 4.2: max-epoch 50).")
    batch_size: int = option(64, "Mini-batch size (Algorithm 1: 64).")
    feature_dim: int = option(256, "k, width of the feature layers img-fc3 / txt-fc3 (Sec. 3.2: 256).")
    image_hidden: tuple[int, ...] = option((4096, 4096), "img-fc1, img-fc2 widths (Table 1: 4096, 4096).")
    text_hidden: tuple[int, ...] = option((4096, 4096), "txt-fc1, txt-fc2 widths (Table 1: 4096, 4096).")
    gamma: float = option(0.01, "gamma, weight of L_h in L = L_f + gamma L_h (eq. 8, Sec. 4.2: 0.01).")
    beta1: float = option(1.0, "beta1, weight of the quantisation term ||Z - B||^2 (eq. 7, Sec. 4.2: 1).")
    beta2: float = option(1.0, "beta2, weight of the bit-independence term (eq. 7, Sec. 4.2: 1).")
    beta3: float = option(0.1, "beta3, weight of the bit-balance term (eq. 7, Sec. 4.2: 0.1).")
    feature_learning_rate: float = option(1e-3, "Learning rate of Theta_f, the two pipelines (Sec. 4.2: 1e-3).")
    hash_learning_rate: float = option(1e-2, "Learning rate of Theta_h, the hash layer fc4 (Sec. 4.2: 1e-2).")
    dropout: float = option(0.0, "Dropout after the hidden fc layers of both pipelines (paper: none listed).")
    standardize: bool = option(True, "Standardise feature-vector images and BoW texts by training mean/std.")
    standardize_sparse: bool = option(True, SPARSE_HELP)
    center_features: bool = option(True, "fc4 reads each modality's features minus their training-set mean "
                                         "(not in the paper; see the module docstring).")
    itq_iterations: int = option(50, "ITQ iterations for the initial B (Algorithm 1; Gong et al.: 50).")
    normalization: str = option("mean", "Weighting of eq. (7)'s terms: per-entry means (mean) or eq. (7)'s sums "
                                        "(sum: beta1 as printed; under mean, beta1 = 1 is a literal beta1 of 2N/r).",
                                choices=("mean", "sum"))

    test_settings = {"image_hidden": (32,), "text_hidden": (32,), "feature_dim": 16}

    def validate(self):
        super().validate()
        require(self.feature_dim > 0, f"feature_dim must be positive, got {self.feature_dim}")
        require(min(self.gamma, self.beta1, self.beta2, self.beta3) >= 0, "gamma and beta1..beta3 must be >= 0")
        require(self.feature_learning_rate > 0 and self.hash_learning_rate > 0, "feature_learning_rate and hash_learning_rate must be positive")
        require(0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}")
        return self


def term_weights(normalization, bits, codes):
    """Factors on eq. (7)'s per-entry-mean quantisation and independence terms: 1, 1 for "mean";
    for "sum", r / M and r^2 / M^2 (their sums' entry counts M r and r^2 over the similarity term's M^2),
    with M = `codes` (2N: both modalities' codes) and r = `bits`."""
    if normalization == "mean":
        return 1.0, 1.0
    return bits / codes, (bits / codes) ** 2


@register_method("sdch")
class SDCH(Hasher):
    """Semantic deep cross-modal hashing: feature pipelines + shared hash layer, alternating Theta_h / Theta_f / B."""

    config_class = SDCHConfig
    text_field = "bow"
    needs_labels = True

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        require(self.train_size is not None, "sdch keeps per-item state and needs train_size")
        require(self.num_classes is not None, "sdch is supervised and needs num_classes")
        features = len(self.image_shape) == 1
        self.image_standardize = Standardize(name="image_standardize") if features and cfg.standardize else None
        self.text_standardize = Standardize(name="text_standardize") if cfg.standardize else None
        # Theta_f: the two feature pipelines (Table 1); Theta_h: fc4, shared by both (Sec. 3.3).
        self.image_net = self._pipeline(self.image_shape, cfg.image_hidden, self.image_standardize, "image_net")
        self.text_net = self._pipeline(self.text_shape, cfg.text_hidden, self.text_standardize, "text_net")
        fc4_input = keras.Input(shape=(cfg.feature_dim,), name="fc4_input")
        fc4 = Dense(cfg.bits, use_bias=not cfg.center_features, name="fc4")  # centred input: no bias
        self.hash_layer = keras.Model(fc4_input, fc4(fc4_input), name="hash_layer")

        def state(name, shape, dtype="float32"):
            return self.add_weight(name=name, shape=shape, initializer="zeros", dtype=dtype, trainable=False,
                                   aggregation="only_first_replica")

        n = self.train_size
        self.train_labels = state("train_labels", (n, self.num_classes))
        self.image_features = state("image_features", (n, cfg.feature_dim))  # F_x of every training pair
        self.text_features = state("text_features", (n, cfg.feature_dim))  # F_y
        self.image_center = state("image_center", (cfg.feature_dim,))  # mean of F_x (stays 0 without centring)
        self.text_center = state("text_center", (cfg.feature_dim,))
        self.codes = state("codes", (n, cfg.bits))  # B, one code per pair
        self.trackers = [keras.metrics.Mean(name=name) for name in ("loss", "feature_loss", "hash_loss")]
        self._forward_fn = None

    # --- sub-networks -----------------------------------------------------------------
    def _pipeline(self, input_shape, hidden, standardize, name):
        """Input -> (CNN) -> fc1 -> fc2 (ReLU) -> fc3 (k, linear): one modality's feature network."""
        cfg = self.config
        inputs = keras.Input(shape=input_shape, name=f"{name}_input")
        if len(input_shape) == 3:
            x = self.image_backbone_network(f"{name}_cnn")(inputs)
        else:
            x = inputs if standardize is None else standardize(inputs)
        x = mlp(int(x.shape[-1]), tuple(hidden) + (cfg.feature_dim,), dropout=cfg.dropout, name=f"{name}_fc")(x)
        return keras.Model(inputs, x, name=name)

    @property
    def _feature_variables(self):
        return self.image_net.trainable_variables + self.text_net.trainable_variables

    def build_optimizers(self):
        cfg = self.config
        return {
            "hash": (Adam(cfg.hash_learning_rate), self.hash_layer.trainable_variables),
            "features": (Adam(cfg.feature_learning_rate), self._feature_variables),
        }

    def phase(self, epoch):
        """Sec. 4.2: Theta_h is frozen in the first epoch, Theta_f in the second; then both, in turn, every step."""
        if epoch == 0:
            return Phase("features-only", ("features",))
        if epoch == 1:
            return Phase("hash-only", ("hash",))
        return Phase("alternating", ("hash", "features"))

    @property
    def metrics(self):
        return self.trackers

    # --- encoding -----------------------------------------------------------------------
    def encode_image(self, images, training=False):
        return self.hash_layer(self.image_net(images, training=training) - self.image_center, training=training)

    def encode_text(self, texts, training=False):
        return self.hash_layer(self.text_net(texts, training=training) - self.text_center, training=training)

    def unified_codes(self):
        return keras.ops.convert_to_numpy(self.codes.value)

    # --- losses ---------------------------------------------------------------------------
    def _stored_codes(self, features, center, index, batch_codes):
        """fc4 of the stored features of every training item, with the batch rows live."""
        return tf.tensor_scatter_nd_update(self.hash_layer(features.value - center), index[:, None], batch_codes)

    def _hash_loss(self, fx, fy, labels, index):
        """L_h, eq. (7): batch rows (both modalities) against every stored item of both modalities."""
        cfg = self.config
        zx, zy = self.hash_layer(fx - self.image_center), self.hash_layer(fy - self.text_center)
        z = tf.concat([zx, zy], axis=0)
        z_all = tf.concat([self._stored_codes(self.image_features, self.image_center, index, zx),
                           self._stored_codes(self.text_features, self.text_center, index, zy)], axis=0)
        s_h = tf.tile(signed_label_similarity(labels, self.train_labels.value), [2, 2])
        b = tf.gather(self.codes.value, index)
        bits = float(cfg.bits)
        # Per-entry means; "sum" restores eq. (7)'s relative weights (see the module docstring).
        quantization_weight, independence_weight = term_weights(cfg.normalization, bits, 2.0 * self.train_size)
        return (inner_product_loss(z, s_h, other=z_all)
                + cfg.beta1 * quantization_weight * quantization_loss(z, tf.concat([b, b], axis=0)) / bits
                + cfg.beta2 * independence_weight * bit_decorrelation_loss(z_all)
                + cfg.beta3 * bit_balance_loss(z_all) / bits)

    def _feature_loss(self, fx, fy, labels):
        """L_f, eq. (4): each modality's batch features against the other modality's stored features."""
        s_f = label_similarity(labels, self.train_labels.value)
        return 0.5 * (logistic_pair_loss(fx, s_f, other=self.text_features.value)
                      + logistic_pair_loss(fy, s_f, other=self.image_features.value))

    # --- Algorithm 1 --------------------------------------------------------------------
    def _refresh_features(self, index, fx, fy):
        """Write the batch's features into the stored training-set features."""
        write_rows(self.image_features, index, tf.stop_gradient(fx))
        write_rows(self.text_features, index, tf.stop_gradient(fy))
        self._update_centers()

    def _update_centers(self):
        """Centre of each modality's stored features, which fc4 subtracts (see `center_features`)."""
        if self.config.center_features:
            self.image_center.assign(tf.reduce_mean(self.image_features.value, axis=0))
            self.text_center.assign(tf.reduce_mean(self.text_features.value, axis=0))

    def _hash_step(self, fx, fy, labels, index):
        """Update Theta_h on L_h with the features and B fixed."""
        fx, fy = tf.stop_gradient(fx), tf.stop_gradient(fy)
        with tf.GradientTape() as tape:
            loss = self._hash_loss(fx, fy, labels, index)
        self.step("hash", loss, tape)
        return loss

    def train_step(self, data):
        labels, index = data["label"], tf.cast(data["index"], tf.int32)
        loss_tracker, feature_tracker, hash_tracker = self.trackers
        with tf.GradientTape() as tape:
            # Forward propagation of the batch.
            fx = self.image_net(data["image"], training=True)
            fy = self.text_net(data["text"], training=True)
            with tape.stop_recording():
                self._refresh_features(index, fx, fy)
                if self.active("hash"):
                    hash_tracker.update_state(self._hash_step(fx, fy, labels, index))
            if self.active("features"):
                # Then Theta_f on L = L_f + gamma L_h, with the updated Theta_h and B fixed.
                feature_loss = self._feature_loss(fx, fy, labels)
                loss = feature_loss + self.config.gamma * self._hash_loss(fx, fy, labels, index)
        if self.active("features"):
            self.step("features", loss, tape)
            loss_tracker.update_state(loss)
            feature_tracker.update_state(feature_loss)
        return {m.name: m.result() for m in self.metrics}

    # --- outside gradient descent: initial B (ITQ) and the epoch-end B = sign(Z) ---------------
    def _training_features(self, train):
        """Features F_x, F_y of the whole training split, in split order (inference mode)."""
        if self._forward_fn is None:  # traced once, reused after every epoch
            self._forward_fn = tf.function(lambda x, y: (self.image_net(x, training=False),
                                                         self.text_net(y, training=False)), reduce_retracing=True,
                                           autograph=False)  # straight-line; see Hasher._split_encoder
        fx, fy = [], []
        for batch in train.batches(256):
            x, y = self._forward_fn(batch["image"], batch["text"])
            fx.append(x.numpy())
            fy.append(y.numpy())
        fx, fy = np.concatenate(fx), np.concatenate(fy)
        self.image_features.assign(fx)
        self.text_features.assign(fy)
        self._update_centers()
        return (self.hash_layer(fx - self.image_center.value).numpy(),
                self.hash_layer(fy - self.text_center.value).numpy())

    def prepare(self, train):
        """Fit the input standardisation, store the labels, and initialise B by ITQ on Z (Algorithm 1)."""
        if self.image_standardize is not None:
            self.image_standardize.fit(train.rows_of("images"), self.config.standardize_sparse)
        if self.text_standardize is not None:
            self.text_standardize.fit(train.rows_of("texts"), self.config.standardize_sparse)
        self.train_labels.assign(train.labels().astype(np.float32))
        self.codes.assign(self._itq_codes(*self._training_features(train)))

    def _itq_codes(self, zx, zy):
        """B by ITQ on Z: centre Z of both modalities, rotate (Gong et al.), sign of each pair's rotated sum."""
        z = np.concatenate([zx, zy]).astype(np.float64)
        center = z.mean(axis=0)
        rotation = itq_rotation(z - center, iterations=self.config.itq_iterations, seed=self.config.seed)
        return binarize(((zx - center) + (zy - center)) @ rotation)

    def end_epoch(self, epoch, train):
        """B = sign(Z) for every training pair after `epoch` (eq. 10, tied codes: sign(Z_x + Z_y)).

        After the first epoch, which trains Theta_f only, fc4 is still at its random initialisation, and
        B is initialised by ITQ on the new Z instead (Sec. 4.2), for the second epoch to fit Theta_h to.
        """
        zx, zy = self._training_features(train)
        self.codes.assign(self._itq_codes(zx, zy) if epoch == 0 else binarize(zx + zy))
