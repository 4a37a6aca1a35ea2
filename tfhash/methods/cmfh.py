"""CMFH: Collective Matrix Factorization Hashing (Ding, Guo, Zhou, CVPR 2014), a published unsupervised reference.

Both modalities of a training pair are factorised with one shared latent
vector; its sign is the pair's unified code. Columns of X1 (d1 x N) and X2
(d2 x N) are the centred image and text features of the N training pairs:

    min  lambda ||X1 - U1 V||^2 + (1 - lambda) ||X2 - U2 V||^2              (collective factorisation)
       + mu (||V - P1 X1||^2 + ||V - P2 X2||^2)                             (linear hash functions)
       + gamma (||U1||^2 + ||U2||^2 + ||P1||^2 + ||P2||^2 + ||V||^2)

Each block has a closed-form minimiser, so alternating them never raises
the objective (recorded per iteration in `objective_history`):

    U1 = X1 V' (V V' + gamma/lambda I)^-1,   U2 = X2 V' (V V' + gamma/(1 - lambda) I)^-1
    V  = (lambda U1'U1 + (1 - lambda) U2'U2 + (2 mu + gamma) I)^-1 (lambda U1'X1 + (1 - lambda) U2'X2 + mu (P1 X1 + P2 X2))
    P1 = V X1' (X1 X1' + gamma/mu I)^-1,     P2 = V X2' (X2 X2' + gamma/mu I)^-1

in that order (U, then V, then P), from a random start. The unified codes
of the training pairs are sign(V) (V has zero mean per bit: it is linear in
centred data; the mean is still subtracted so rounding cannot tip a bit);
a new item of either modality gets sign(P x) of its centred features.
Defaults are the paper's and its authors' demo: lambda = 0.5, mu = 100,
gamma = 0.01; features centred with the training mean, not scaled.

Choice where the paper is terse: the regularisers of U and P above are the
exact minimisers of the stated objective (gamma/lambda, gamma/mu); the
authors' released MATLAB uses gamma for both, a difference of a factor 2
(U) and 100 (P) in a term that is tiny next to X X' and V V' here.
"""

import dataclasses

import numpy as np

from tfhash.errors import require
from tfhash.methods.linear import LinearHasher, input_stats
from tfhash.methods.config import HasherConfig, option
from tfhash.methods.registry import register_method


@dataclasses.dataclass
class CMFHConfig(HasherConfig):
    epochs: int = option(1, "Unused (closed form); kept for a uniform CLI.")
    modality_weight: float = option(0.5, "lambda: weight of the image factorisation; text gets 1 - lambda (paper: 0.5).")
    projection_weight: float = option(100.0, "mu: weight of the linear hash functions P1, P2 (paper: 100).")
    regularization: float = option(0.01, "gamma: Frobenius regulariser of U, P and V (paper: 0.01).")
    iterations: int = option(100, "At most this many alternating rounds (U, V, P).")
    tolerance: float = option(1e-6, "Stop once a round lowers the objective by less than this fraction of it.")
    standardize: bool = option(False, "Also scale features to unit variance (paper: centring only).")

    def validate(self):
        super().validate()
        require(0.0 < self.modality_weight < 1.0, f"modality_weight must lie in (0, 1), got {self.modality_weight}")
        require(self.projection_weight > 0, f"projection_weight must be positive, got {self.projection_weight}")
        require(self.regularization > 0, f"regularization must be positive, got {self.regularization}")
        require(self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}")
        require(self.tolerance >= 0, f"tolerance must be >= 0, got {self.tolerance}")
        return self


def cmfh_objective(x1, x2, u1, u2, p1, p2, v, lam, mu, gamma):
    """The CMFH objective (squared Frobenius norms); data matrices are (d, N), V is (bits, N)."""
    sq = lambda a: float(np.sum(a * a))  # noqa: E731
    return (lam * sq(x1 - u1 @ v) + (1 - lam) * sq(x2 - u2 @ v)
            + mu * (sq(v - p1 @ x1) + sq(v - p2 @ x2))
            + gamma * (sq(u1) + sq(u2) + sq(p1) + sq(p2) + sq(v)))


def solve_cmfh(x1, x2, bits, *, lam=0.5, mu=100.0, gamma=0.01, iterations=100, tolerance=1e-6, seed=0):
    """Alternate CMFH's closed-form block updates on centred data x1 (d1, N), x2 (d2, N).

    Returns a dict with U1 (d1, bits), U2 (d2, bits), P1 (bits, d1),
    P2 (bits, d2), V (bits, N) and `objective_history` (one value per round).
    """
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    require(x1.shape[1] == x2.shape[1], f"x1 and x2 must have the same number of columns: {x1.shape}, {x2.shape}")
    d1, d2, n = x1.shape[0], x2.shape[0], x1.shape[1]
    rng = np.random.default_rng(seed)
    # Random start, as the authors' code (uniform [0, 1)); P enters the first V update, so it is drawn too.
    v = rng.random((bits, n))
    p1, p2 = rng.random((bits, d1)), rng.random((bits, d2))
    eye = np.eye(bits)
    # X X' + gamma/mu I never changes: factor it once.
    g1 = np.linalg.inv(x1 @ x1.T + gamma / mu * np.eye(d1))
    g2 = np.linalg.inv(x2 @ x2.T + gamma / mu * np.eye(d2))
    history = []
    for _ in range(iterations):
        vv = v @ v.T
        u1 = np.linalg.solve(vv + gamma / lam * eye, v @ x1.T).T  # U1 (A) = X1 V' with A symmetric
        u2 = np.linalg.solve(vv + gamma / (1 - lam) * eye, v @ x2.T).T
        lhs = lam * u1.T @ u1 + (1 - lam) * u2.T @ u2 + (2 * mu + gamma) * eye
        v = np.linalg.solve(lhs, lam * u1.T @ x1 + (1 - lam) * u2.T @ x2 + mu * (p1 @ x1 + p2 @ x2))
        p1, p2 = v @ x1.T @ g1, v @ x2.T @ g2
        history.append(cmfh_objective(x1, x2, u1, u2, p1, p2, v, lam, mu, gamma))
        if len(history) > 1 and history[-2] - history[-1] <= tolerance * abs(history[-2]):
            break
    return {"U1": u1, "U2": u2, "P1": p1, "P2": p2, "V": v, "objective_history": history}


@register_method("cmfh")
class CMFH(LinearHasher):
    """Closed-form CMFH: unified codes of the training pairs by collective matrix factorisation, linear hash functions."""

    config_class = CMFHConfig

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        require(self.train_size is not None, "cmfh learns a code per training pair and needs train_size")
        state = self.build_linear_maps()  # P1', P2' are the projections
        self.codes = state("codes", (self.train_size, self.config.bits))  # sign(V)', one unified code per pair

    def unified_codes(self):
        return self.codes.numpy()

    def fit_closed_form(self, train):
        cfg = self.config
        x, y = self.image_vectors(train.images()), train.texts().astype(np.float64)
        require(len(x) == self.train_size, f"cmfh was built for {self.train_size} training pairs, got {len(x)}")

        (mx, sx), (my, sy) = input_stats(x, cfg.standardize), input_stats(y, cfg.standardize)
        solution = solve_cmfh(((x - mx) / sx).T, ((y - my) / sy).T, cfg.bits, lam=cfg.modality_weight,
                              mu=cfg.projection_weight, gamma=cfg.regularization, iterations=cfg.iterations,
                              tolerance=cfg.tolerance, seed=cfg.seed)
        v = solution["V"].T
        self.objective_history = solution["objective_history"]
        self.set_linear_maps((mx, sx, solution["P1"].T), (my, sy, solution["P2"].T))
        self.codes.assign(np.where(v - v.mean(0) >= 0, 1.0, -1.0).astype(np.float32))
        return self
