"""UGACH: Unsupervised Generative Adversarial Cross-modal Hashing (Zhang, Peng & Yuan, AAAI 2018).

Algorithm (paper, "The Proposed Approach" and "Implementation Details"):

    prepare:  kNN correlation graph per modality over the training items (eq. 5)
    epochs 0 .. P-1         pre-train D with the triplet ranking loss, paired positives (= "Baseline")
    epoch  P, P+2, ...      D epoch: G picks m items per query from a random pool (eq. 4); D minimises
                            eq. 8 against manifold positives drawn from the graph
    epoch  P+1, P+3, ...    G epoch: REINFORCE (eq. 10) with D's reward log(1 + exp(f)) (`reward=sigmoid`: the authors' bounded one)
    learning rate           lr0, divided by 10 every two epochs (one D + one G epoch) of adversarial training
    codes                   sign(h_D(x) - 0.5) (eq. 3); the generator is discarded

Every batch holds paired (image, text) items; each item is a query in both
directions (image -> texts and text -> images), and the two directions'
losses are summed.

Choices the paper leaves open, and what this module does:

* Graph: 5 neighbours in image space plus 5 in text space (K = 10, the pair
  itself included), as in the authors' code; Euclidean distance on the raw
  features; exact FAISS search up to `graph_exact_max_items` items, an
  approximate PCA + inverted-file index above (`correlation_graph.py`).
  A manifold positive of query j is drawn uniformly from those 10 entries.
* Margin: eq. 6 says m = 1; the authors' code uses bits / 8 (`margin_per_bit`).
* Eq. 8's manifold term: f(x^M, q) with x^G = x^M is the constant m, so only
  the generated term trains D: D minimises mean log(1 + exp(f(x^G, q))), the
  same quantity G receives as its reward.
* Pre-training (the Baseline): triplet hinge of eq. 6 averaged, with the paired
  item as positive and `samples_per_query` uniformly random training items as
  negatives, at a constant learning rate for `pretrain_epochs` epochs. With
  `variant=baseline` every epoch is a pre-training epoch.
* The generator starts from its own random initialisation, as in the
  authors' code (their D starts from the pre-trained model, their G does
  not); `generator_init=discriminator` copies the pre-trained D instead
  (IRGAN's choice). On Wikipedia the copy samples the nearest, mostly
  same-class items at once and D's first adversarial epoch pushes them away.
* Candidate pool: |train| / 50 random items, drawn once per batch and shared
  by the batch's queries (the same marginal distribution as a pool per query,
  at 1 / batch of the cost: a per-query pool of 3,700 items at NUS-WIDE size
  would be 240k forward passes per step); `candidate_pool=per-query` draws
  one per query, as the authors' code does. G samples m = 2 items per query
  with replacement. One manifold positive per query serves all m picks;
  `distinct_positives` gives each pick its own, m distinct graph neighbours
  (the authors' code pairs the first m of a shuffled neighbour list with
  the m picks).
* Inputs are standardised with training-set mean and standard deviation
  (`standardize`): the bundled Wikipedia features are histograms
  whose entries are ~0.01, on which a tanh layer trained by SGD barely moves.
  Sparse inputs (at least 90% zero entries, such as MIRFlickr's tag bags)
  are fed raw (`standardize_sparse` off), as the paper's bag-of-words:
  standardised, a tag seen on a share p of items is worth about 1/sqrt(p).
  On the MIRFlickr validation split raw tags lifted UGACH from 0.546 / 0.503
  to 0.619 / 0.588 at 16 bits and from 0.577 / 0.516 to 0.648 / 0.602 at 32
  (2 seeds); Wikipedia's inputs are dense, so nothing changes there.
* The schedule is `phase(epoch)` (one `Phase` per epoch: pre-training,
  D or G, with that epoch's SGD learning rates); each phase traces its own
  train step, so the network it does not train is frozen, not stepped.
  `begin_epoch` also copies D into G when adversarial training starts
  (``generator_init=discriminator``).
* Randomness (pool, G's samples, manifold positives, pre-training negatives)
  comes from one `SeedGenerator`; under MirroredStrategy the replicas share
  its state and so draw the same pools for their different queries.
* Options from the authors' code, off by default until measured (issue 14):
  `reward=sigmoid` (their bounded reward sigmoid(f); the paper's softplus
  grows with the margin, to 7-8 at bits/8), `reject_neighbours` (their D
  skips G's picks that are graph neighbours of the query),
  `generator_epochs=2` (their 2 G epochs per D epoch), `reward_baseline`
  (a batch-mean REINFORCE baseline), and `baseline_schedule=matched` (the
  Baseline continued at D's adversarial learning rates: the control for
  "adversarial training helps" at equal learning rates; `constant` keeps
  pre-training's 0.1). The paper's m = 1 is `margin_per_bit = 1 / bits`.
* No weight decay by default (not in the paper; `weight_decay`); no query
  labels anywhere: the model after the last epoch is the result.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfhash.errors import require
from tfhash.layers.normalization import standardization_stats
from tfhash.layers.towers import mlp
from tfhash.losses.policy_gradient import reinforce_loss, sampled_log_probs
from tfhash.losses.ranking import row_squared_distances, squared_distances, triplet_hinge
from tfhash.methods.base import Hasher, Phase
from tfhash.methods.correlation_graph import INDEX_KINDS, METRICS, correlation_graph
from tfhash.methods.registry import register_method
from tfhash.methods.config import SPARSE_HELP, HasherConfig, option

VARIANTS = ("baseline", "baseline-gan", "ugach")
# (query modality, candidate modality): image -> text and text -> image retrieval.
DIRECTIONS = (("image", "text"), ("text", "image"))
#: phase names: which network an epoch trains
PRETRAIN, DISCRIMINATOR, GENERATOR = "pretrain", "discriminator", "generator"


def distinct_draws(candidates, m, seed):
    """(batch, m) entries of each row of (batch, K) `candidates`, m different values per row, uniformly.

    A value listed twice in a row (an item in both its image and its text
    neighbour list) counts once; a row with fewer than m different values
    repeats its values.
    """
    k = candidates.shape[1]
    earlier = tf.linalg.band_part(tf.ones((k, k)), 0, -1) - tf.eye(k)  # [i, j] = 1 for i < j
    repeat = tf.reduce_any(tf.logical_and(tf.equal(candidates[:, :, None], candidates[:, None, :]),
                                          earlier[None] > 0), axis=1)  # (batch, K): an earlier entry is equal
    keys = keras.random.uniform(tf.shape(candidates), seed=seed) - tf.cast(repeat, tf.float32) * 2.0
    order = tf.math.top_k(keys, k=k).indices[:, :m]  # random order of the distinct entries first
    return tf.gather(candidates, order, batch_dims=1)


@dataclasses.dataclass
class UGACHConfig(HasherConfig):
    epochs: int = option(56, "Total epochs: pretrain_epochs of D pre-training, then alternating D and G epochs "
                         "(6 = three D/G rounds, at lr0, lr0/10 and lr0/100).")
    batch_size: int = option(64, "Mini-batch size of D and G (paper, Implementation Details).")
    variant: str = option("ugach", "baseline (pre-trained D only), baseline-gan (adversarial, paired positives) "
                          "or ugach (adversarial, graph positives); paper, Compared Methods.", choices=VARIANTS)
    image_hidden: tuple[int, ...] = option((1024,), "Widths of the image tower's tanh layers under the hashing layer "
                                           "(eq. 1: one; paper 4096, authors' code 8192; 1024 here for CPUs).")
    text_hidden: tuple[int, ...] = option((1024,), "Widths of the text tower's tanh layers (as image_hidden).")
    pretrain_epochs: int = option(50, "Epochs of triplet pre-training of D before adversarial training (not in "
                                  "the paper; chosen on a validation split of Wikipedia's training set).")
    pretrain_learning_rate: float = option(0.1, "Constant SGD learning rate of pre-training (not in the paper; "
                                           "chosen like pretrain_epochs).")
    discriminator_learning_rate: float = option(0.01, "Initial SGD learning rate of D in adversarial training "
                                                "(paper 0.01; authors' code 1e-3).")
    generator_learning_rate: float = option(0.01, "Initial SGD learning rate of G (paper and authors' code 0.01).")
    lr_decay: float = option(0.1, "Learning-rate factor applied every two adversarial epochs (paper: 1/10).")
    margin_per_bit: float = option(0.125, "Triplet margin m = margin_per_bit * bits (eq. 6; authors' code bits/8).")
    samples_per_query: int = option(2, "Items G samples per query, m in eq. 10 (authors' code: 2).")
    pool_fraction: float = option(0.02, "Candidate pool size as a fraction of the training set (authors' code 1/50).")
    image_neighbours: int = option(5, "k of the image kNN graph, the item itself included (eq. 5; authors' code 5).")
    text_neighbours: int = option(5, "k of the text kNN graph, the item itself included (authors' code 5).")
    graph_metric: str = option("l2", "Distance of the kNN graphs.", choices=METRICS)
    graph_index: str = option("auto", "FAISS search: flat (exact), ivf (PCA + inverted file, approximate) or auto.",
                              choices=INDEX_KINDS)
    graph_exact_max_items: int = option(25000, "auto uses exact search up to this many training items.")
    generator_init: str = option("random", "G's start: its own random initialisation (authors' code) or a copy "
                                 "of the pre-trained D.", choices=("random", "discriminator"))
    standardize: bool = option(True, "Standardise each input feature by training mean and std.")
    standardize_sparse: bool = option(False, SPARSE_HELP)
    weight_decay: float = option(0.0, "L2 penalty wd * sum(w^2) / 2 on the updated network's weights (not in the "
                                 "paper; the authors' code uses 0.01).")
    reward: str = option("softplus", "G's reward from D's relevance f: log(1 + exp(f)) (paper, eq. 10; grows with "
                         "the margin) or sigmoid(f) (authors' code; bounded in [0.5, 1)).",
                         choices=("softplus", "sigmoid"))
    reward_baseline: str = option("none", "REINFORCE baseline subtracted from the rewards: none (paper) or the batch "
                                  "mean of each direction's rewards.", choices=("none", "batch-mean"))
    reject_neighbours: bool = option(False, "Leave G's picks that are graph neighbours of the query out of D's "
                                     "loss (authors' code; ugach only): they are positives, not negatives.")
    generator_epochs: int = option(1, "G epochs after each D epoch in a round of adversarial training (authors' "
                                   "code: 2); learning rates fall by lr_decay every round.")
    candidate_pool: str = option("shared", "G's candidates: one random pool per batch, shared by its queries "
                                 "(the same distribution per query, at 1 / batch of the cost), or a pool per "
                                 "query (authors' code).", choices=("shared", "per-query"))
    distinct_positives: bool = option(False, "ugach: each of a query's samples_per_query picks gets its own "
                                      "manifold positive, drawn without replacement from its graph neighbours "
                                      "(authors' code: a shuffled neighbour list, its first m); off: one positive "
                                      "per query for all its picks.")
    baseline_schedule: str = option("constant", "variant=baseline after pretrain_epochs: keep the pre-training rate "
                                    "(constant) or use D's adversarial rates round by round (matched: the "
                                    "learning-rate-matched control of the adversarial epochs).",
                                    choices=("constant", "matched"))

    test_settings = {"image_hidden": (32,), "text_hidden": (32,), "pretrain_epochs": 2}

    def validate(self):
        super().validate()
        require(min(self.image_hidden + self.text_hidden, default=1) > 0, "hidden widths must be positive")
        require(self.pretrain_epochs >= 0, f"pretrain_epochs must be >= 0, got {self.pretrain_epochs}")
        require(self.samples_per_query >= 1, f"samples_per_query must be >= 1, got {self.samples_per_query}")
        require(0 < self.pool_fraction <= 1, f"pool_fraction must be in (0, 1], got {self.pool_fraction}")
        require(self.image_neighbours >= 1 and self.text_neighbours >= 1, "graph neighbour counts must be >= 1")
        require(0 < self.lr_decay <= 1, f"lr_decay must be in (0, 1], got {self.lr_decay}")
        require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        require(self.generator_epochs >= 1, f"generator_epochs must be >= 1, got {self.generator_epochs}")
        require(not self.distinct_positives or self.samples_per_query <= self.image_neighbours + self.text_neighbours,
                "distinct_positives needs samples_per_query <= image_neighbours + text_neighbours")
        return self

    @property
    def margin(self):
        return self.margin_per_bit * self.bits


class _FeatureTables:
    """The training inputs by modality, for drawing pool items and positives inside `train_step`.

    Plain non-trainable `tf.Variable`s in a plain object: not model weights
    (never saved with the model or in checkpoints; `prepare` rebuilds them).
    One copy in memory: each table is filled a chunk of rows at a time by an
    in-place scatter (`tf.constant` of a NumPy array keeps two copies, and so
    does a sliced assign, measured), so the split is never held twice.
    """

    def __init__(self, train, chunk_bytes=2**26):
        self.tables = {}
        for modality, field in (("image", "images"), ("text", "texts")):
            rows = train.rows_of(field)
            table = tf.Variable(lambda: tf.zeros(rows.shape, tf.float32), trainable=False, name=f"{modality}_table")
            step = max(1, chunk_bytes // (4 * int(np.prod(rows.shape[1:]))))
            for start in range(0, len(rows), step):
                block = np.asarray(rows[start : start + step], np.float32)
                table.scatter_update(tf.IndexedSlices(block, tf.range(start, start + block.shape[0])))
            self.tables[modality] = table

    def __getitem__(self, modality):
        return self.tables[modality]


@register_method("ugach")
class UGACH(Hasher):
    """UGACH: a generator that picks items by REINFORCE against a kNN-graph-guided discriminator."""

    config_class = UGACHConfig
    text_field = "bow"

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        require(len(self.image_shape) == 1, "ugach needs image feature vectors, not raw pixels")
        require(self.train_size, "ugach needs the training-set size (for its graph)")
        cfg = self.config
        dx, dy = self.image_shape[0], self.text_shape[0]

        def tower(dim, hidden, name):  # eq. 1 (tanh common representation) and eq. 2 (sigmoid hashing layer)
            return mlp(dim, tuple(hidden) + (cfg.bits,), activation="tanh", output_activation="sigmoid", name=name)

        self.d_image, self.d_text = tower(dx, cfg.image_hidden, "d_image"), tower(dy, cfg.text_hidden, "d_text")
        self.g_image, self.g_text = tower(dx, cfg.image_hidden, "g_image"), tower(dy, cfg.text_hidden, "g_text")

        def state(name, shape, dtype="float32", init="zeros"):
            return self.add_weight(name=name, shape=shape, dtype=dtype, initializer=init, trainable=False)

        self.input_stats = {"image": (state("image_mean", (dx,)), state("image_scale", (dx,), init="ones")),
                            "text": (state("text_mean", (dy,)), state("text_scale", (dy,), init="ones"))}
        # Correlation graph (eq. 5) as neighbour lists, not an n x n matrix.
        self.image_neighbours = state("image_neighbours", (self.train_size, cfg.image_neighbours), "int32")
        self.text_neighbours = state("text_neighbours", (self.train_size, cfg.text_neighbours), "int32")
        self.seed_generator = keras.random.SeedGenerator(cfg.seed)
        self.pool_size = max(cfg.samples_per_query, int(round(self.train_size * cfg.pool_fraction)))
        self._features = None  # training inputs by modality, set by prepare() (not saved with the model)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.reward_tracker = keras.metrics.Mean(name="reward")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.reward_tracker]

    def _d_variables(self):
        return self.d_image.trainable_variables + self.d_text.trainable_variables

    def _g_variables(self):
        return self.g_image.trainable_variables + self.g_text.trainable_variables

    def build_optimizers(self):
        # Plain SGD (paper); each epoch's phase sets the learning rates.
        return {"discriminator": (keras.optimizers.SGD(self.config.pretrain_learning_rate), self._d_variables()),
                "generator": (keras.optimizers.SGD(self.config.generator_learning_rate), self._g_variables())}

    # --- schedule --------------------------------------------------------------------
    def phase(self, epoch):
        """Pre-training of D at a constant rate, then rounds of one D epoch and `generator_epochs` G epochs.

        Both rates fall by `lr_decay` every round (with one G epoch: every two
        epochs, as the paper). `variant=baseline` with
        `baseline_schedule=matched` keeps pre-training after
        `pretrain_epochs` at the rates D would have in those epochs: the
        control that differs from baseline-gan/ugach only by the adversary.
        """
        cfg = self.config
        if epoch < cfg.pretrain_epochs or (cfg.variant == "baseline" and cfg.baseline_schedule == "constant"):
            return Phase(PRETRAIN, ("discriminator",), (("discriminator", cfg.pretrain_learning_rate),))
        round_length = 1 + cfg.generator_epochs
        adversarial = epoch - cfg.pretrain_epochs
        factor = cfg.lr_decay ** (adversarial // round_length)
        rates = (("discriminator", cfg.discriminator_learning_rate * factor),
                 ("generator", cfg.generator_learning_rate * factor))
        if cfg.variant == "baseline":
            return Phase(PRETRAIN, ("discriminator",), rates[:1])
        return Phase(DISCRIMINATOR, ("discriminator",), rates) if adversarial % round_length == 0 else \
            Phase(GENERATOR, ("generator",), rates)

    def begin_epoch(self, epoch):
        super().begin_epoch(epoch)
        cfg = self.config
        if cfg.generator_init == "discriminator" and epoch == cfg.pretrain_epochs and cfg.variant != "baseline":
            for d_net, g_net in ((self.d_image, self.g_image), (self.d_text, self.g_text)):
                for d_var, g_var in zip(d_net.weights, g_net.weights):
                    g_var.assign(d_var)

    # --- networks ------------------------------------------------------------------
    def _h(self, nets, modality, x, training=False):
        """h(x) in (0, 1)^bits (eq. 2) of D's or G's `modality` pathway."""
        mean, scale = self.input_stats[modality]
        return nets[modality]((tf.cast(x, tf.float32) - mean) / scale, training=training)

    def _d(self, modality, x, training=False):
        return self._h({"image": self.d_image, "text": self.d_text}, modality, x, training)

    def _g(self, modality, x, training=False):
        return self._h({"image": self.g_image, "text": self.g_text}, modality, x, training)

    def encode_image(self, images, training=False):
        return self._d("image", images, training) - 0.5  # sign(h - 0.5), eq. 3

    def encode_text(self, texts, training=False):
        return self._d("text", texts, training) - 0.5

    # --- before the first epoch ----------------------------------------------------------
    def prepare(self, train):
        """Input statistics, the correlation graph, and the training inputs G and D draw items from.

        Statistics are taken a chunk of rows at a time; the graph needs both
        modalities whole, which are dropped before the tables are filled, so
        the training split is never in memory twice.
        """
        cfg = self.config
        if cfg.standardize:
            for modality, field in (("image", "images"), ("text", "texts")):
                mean, scale = standardization_stats(train.rows_of(field), cfg.standardize_sparse)
                self.input_stats[modality][0].assign(mean)
                self.input_stats[modality][1].assign(scale)
        if cfg.variant == "ugach":
            graph = correlation_graph(np.asarray(train.images(), np.float32), np.asarray(train.texts(), np.float32),
                                      k_image=cfg.image_neighbours, k_text=cfg.text_neighbours,
                                      metric=cfg.graph_metric, index=cfg.graph_index,
                                      exact_max_items=cfg.graph_exact_max_items, seed=cfg.seed)
            self.image_neighbours.assign(graph.image)
            self.text_neighbours.assign(graph.text)
        self._features = None  # a second prepare() drops the old tables before filling new ones
        self._features = _FeatureTables(train)

    # --- sampling ------------------------------------------------------------------------
    def _manifold_positives(self, index):
        """x^M per query: a uniform draw from its K graph neighbours (eq. 5; ugach), else the paired item.

        (batch,) item indices; with `distinct_positives` (ugach), (batch, m):
        m different items of the query's neighbour lists.
        """
        cfg = self.config
        k = cfg.image_neighbours + cfg.text_neighbours
        if cfg.distinct_positives and cfg.variant == "ugach":
            return distinct_draws(self._neighbours(index), cfg.samples_per_query, self.seed_generator)
        # Drawn for every variant, so baseline-gan and ugach see the same pools and samples.
        pick = keras.random.randint((tf.shape(index)[0], 1), 0, k, seed=self.seed_generator)
        if cfg.variant != "ugach":
            return index
        return tf.gather(self._neighbours(index), pick, axis=1, batch_dims=1)[:, 0]

    def _neighbours(self, index):
        """(batch, K): the image-graph then the text-graph neighbour lists of items `index`."""
        return tf.concat([tf.gather(self.image_neighbours, index), tf.gather(self.text_neighbours, index)], 1)

    def _generator_logits(self, query_mod, item_mod, queries, pool, training=False):
        """log of the unnormalised p_theta(x | q) over the pool: -||h(q) - h(x)||^2 (eq. 4).

        `pool`: (P,) items shared by the queries, or (batch, P), a pool per query; -> (batch, P).
        """
        h_q = self._g(query_mod, queries, training)
        h_x = self._g(item_mod, tf.gather(self._features[item_mod], tf.reshape(pool, [-1])), training)
        if len(pool.shape) == 1:
            return -squared_distances(h_q, h_x)
        return -row_squared_distances(h_q, tf.reshape(h_x, [tf.shape(pool)[0], tf.shape(pool)[1], self.bits]))

    def _random_pool(self, queries):
        """Candidate items: (P,) for the batch, or (batch, P) with `candidate_pool=per-query`."""
        shape = (self.pool_size,)
        if self.config.candidate_pool == "per-query":
            shape = (tf.shape(queries)[0], self.pool_size)
        return keras.random.randint(shape, 0, self.train_size, seed=self.seed_generator)

    def _relevance(self, query_mod, item_mod, queries, positives, negatives, training=False):
        """D's relevance f(x^G, q) of eq. 6 for (batch,) or (batch, m) positive and (batch, m) negative items."""
        table = self._features[item_mod]
        h_q = self._d(query_mod, queries, training)

        def h(items):  # (batch[, m]) item indices -> (batch[, m], bits)
            out = self._d(item_mod, tf.gather(table, tf.reshape(items, [-1])), training)
            return out if len(items.shape) == 1 else tf.reshape(out, [tf.shape(h_q)[0], -1, self.bits])

        return triplet_hinge(h_q, h(positives), h(negatives), self.config.margin)

    def _generate(self, query_mod, item_mod, queries):
        """G's picks: m pool positions per query drawn from p_theta (eq. 4), the items they are, and the logits."""
        pool = self._random_pool(queries)
        logits = self._generator_logits(query_mod, item_mod, queries, pool, training=True)
        samples = keras.random.categorical(tf.stop_gradient(logits), self.config.samples_per_query,
                                           seed=self.seed_generator, dtype="int32")
        picks = tf.gather(pool, samples) if len(pool.shape) == 1 else tf.gather(pool, samples, batch_dims=1)
        return picks, logits, samples

    def _update(self, player, loss_fn, variables):
        """One SGD step of `player` on `loss_fn()` (+ the optional L2 penalty on `variables`); returns (loss, aux)."""
        with tf.GradientTape() as tape:
            loss, aux = loss_fn()
            if self.config.weight_decay:
                loss += self.config.weight_decay * tf.add_n([tf.nn.l2_loss(v) for v in variables])
        self.step(player, loss, tape)
        return loss, aux

    # --- one update per phase, in the paper's order ------------------------------------
    def _pretrain_step(self, data):
        """The Baseline: triplet ranking loss (eq. 6) with the paired item as positive, random negatives."""
        batch, m = tf.shape(data["index"])[0], self.config.samples_per_query

        def loss_fn():
            total = 0.0
            for query_mod, item_mod in DIRECTIONS:
                negatives = keras.random.randint((batch, m), 0, self.train_size, seed=self.seed_generator)
                f = self._relevance(query_mod, item_mod, data[query_mod], data["index"], negatives, training=True)
                total += tf.reduce_mean(f)
            return total, tf.constant(0.0)

        loss, _ = self._update("discriminator", loss_fn, self._d_variables())
        self.d_loss_tracker.update_state(loss)

    def _neighbour_mask(self, index, negatives):
        """(batch, m) 1.0 where G's pick is not among the query's graph neighbours (image or text list), else 0.0."""
        hit = tf.reduce_any(tf.equal(negatives[:, :, None], self._neighbours(index)[:, None, :]), axis=-1)
        return 1.0 - tf.cast(hit, tf.float32)

    def _discriminator_step(self, data):
        """D's side of eq. 8: -log(1 - sigmoid(f)) pushes G's picks behind the manifold positives by m.

        With `reject_neighbours` (ugach), picks that are graph neighbours of
        the query are left out of the mean: D is not taught to push them away.
        """
        reject = self.config.reject_neighbours and self.config.variant == "ugach"

        def loss_fn():
            total = 0.0
            for query_mod, item_mod in DIRECTIONS:
                negatives, _, _ = self._generate(query_mod, item_mod, data[query_mod])
                positives = self._manifold_positives(data["index"])
                f = self._relevance(query_mod, item_mod, data[query_mod], positives, negatives, training=True)
                if reject:
                    keep = self._neighbour_mask(data["index"], negatives)
                    total += tf.reduce_sum(tf.math.softplus(f) * keep) / tf.maximum(tf.reduce_sum(keep), 1.0)
                else:
                    total += tf.reduce_mean(tf.math.softplus(f))
            return total, tf.constant(0.0)

        loss, _ = self._update("discriminator", loss_fn, self._d_variables())
        self.d_loss_tracker.update_state(loss)

    def reward_of(self, f):
        """G's reward for relevance f (>= 0): softplus(f) (paper) or sigmoid(f) (authors' code, bounded)."""
        return tf.math.sigmoid(f) if self.config.reward == "sigmoid" else tf.math.softplus(f)

    def _generator_step(self, data):
        """REINFORCE (eq. 10): G's picks are rewarded by D's log(1 + exp(f)), D held fixed."""

        def loss_fn():
            total, reward_sum = 0.0, 0.0
            for query_mod, item_mod in DIRECTIONS:
                picks, logits, samples = self._generate(query_mod, item_mod, data[query_mod])
                positives = self._manifold_positives(data["index"])
                f = self._relevance(query_mod, item_mod, data[query_mod], positives, picks)
                reward = self.reward_of(f)
                baseline = tf.reduce_mean(reward) if self.config.reward_baseline == "batch-mean" else None
                total += self._policy_loss(logits, samples, reward, baseline)
                reward_sum += tf.reduce_mean(reward)
            return total, reward_sum / len(DIRECTIONS)

        loss, reward = self._update("generator", loss_fn, self._g_variables())
        self.g_loss_tracker.update_state(loss)
        self.reward_tracker.update_state(reward)

    @staticmethod
    def _policy_loss(logits, samples, reward, baseline=None):
        """The REINFORCE surrogate of eq. 10 for (batch, pool) logits, (batch, m) samples and rewards."""
        return reinforce_loss(sampled_log_probs(logits, samples), reward, baseline)

    def train_step(self, data):
        require(self._features is not None, "ugach: call prepare(train) before fit (tfhash.training.run does)")
        data = dict(data, index=tf.cast(data["index"], tf.int32))
        step = {PRETRAIN: self._pretrain_step, DISCRIMINATOR: self._discriminator_step,
                GENERATOR: self._generator_step}[self.current_phase.name]
        step(data)
        return {m.name: m.result() for m in self.metrics}
