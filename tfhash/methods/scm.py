"""SCM: semantic correlation maximisation, the closed-form supervised reference.

Zhang and Li, "Large-Scale Supervised Multimodal Hashing with Semantic
Correlation Maximization", AAAI 2014; the sequential variant (SCM-Seq).

The algorithm box, as implemented here:

1. Centre both modalities on the training split (the paper's features
   are zero-mean; `standardize` also scales each feature to unit variance).
2. Labels -> cosine similarity: each row of L (n, c) is scaled to unit
   length, and the semantic similarity is S = 2 * Lhat Lhat^T - 1 1^T,
   in [-1, 1] (paper, Sec. "Semantic similarity"). Codes of r bits have
   inner products in [-r, r], so the target is r * S.
3. Bit by bit (SCM-Seq), for t = 1..r: with the residual
   R_t = r S - sum_{k<t} sign(X wx_k) sign(Y wy_k)^T, maximise
   wx^T X^T R_t Y wy  s.t.  wx^T (X^T X + lambda I) wx = 1 (same for wy),
   i.e. the top pair of the generalised eigenproblem
   [0 C_t; C_t^T 0] w = eta [Cxx 0; 0 Cyy] w with C_t = X^T R_t Y
   (the sign of the bit's own projections relaxed away, as in the paper).
4. Hash functions: sign(wx^T (x - mean)), sign(wy^T (y - mean)).

The paper's point about scale, kept: S is never formed. With
Lhat = L / ||L||, X^T S Y = 2 (X^T Lhat)(Y^T Lhat)^T - (X^T 1)(Y^T 1)^T,
a (dx, c)(c, dy) product, and the residual update subtracts the outer
product (X^T b_x)(Y^T b_y)^T; every step costs O(n d) time and O(d^2 + d c)
memory, so training is linear in n. The residual is held as thin factors
(rank <= c + 1 + t), so a bit's eigenproblem is two small QRs and an SVD
of (c + 1 + t)^2, not an SVD of a (dx, dy) matrix.

Choices where the paper is silent: `lambda` (the ridge on the
covariances) is relative to the mean feature variance (1e-4 by default),
so the one number works for LDA topics and for 4096-d CNN features alike.
Rows without any label (all-zero L) get Lhat = 0, so S = -1 to
everything: the paper's formula taken literally.
"""

import dataclasses

import numpy as np

from tfhash.errors import require
from tfhash.methods.linear import LinearHasher, input_stats
from tfhash.methods.itq import inverse_sqrt, single_threaded_blas
from tfhash.methods.registry import register_method
from tfhash.methods.config import HasherConfig, option


@dataclasses.dataclass
class SCMConfig(HasherConfig):
    epochs: int = option(1, "Unused (closed form); kept for a uniform CLI.")
    ridge: float = option(1e-4, "Ridge added to X^T X and Y^T Y, relative to their mean diagonal (choice; paper silent).")
    standardize: bool = option(False, "Also scale features to unit variance (the paper only centres them).")

    def validate(self):
        super().validate()
        require(self.ridge > 0, f"ridge must be positive, got {self.ridge}")
        return self


def normalized_labels(labels):
    """Rows of `labels` (n, c) scaled to unit length (all-zero rows stay zero); float64."""
    labels = np.asarray(labels, dtype=np.float64)
    norms = np.linalg.norm(labels, axis=1, keepdims=True)
    return labels / np.where(norms > 0, norms, 1.0)


def semantic_cross_covariance(x, y, labels):
    """X^T S Y for S = 2 Lhat Lhat^T - 1 1^T, without forming S: (dx, dy).

    `x` (n, dx), `y` (n, dy), `labels` (n, c) multi-hot.
    """
    lhat = normalized_labels(labels)
    return 2.0 * (x.T @ lhat) @ (y.T @ lhat).T - np.outer(x.sum(0), y.sum(0))


def _ridged(cov, ridge):
    return cov + ridge * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])


def top_singular_pair(left, right):
    """Top singular triple (u, s, v) of the low-rank product `left @ right.T` ((dx, m), (dy, m)), via two QRs."""
    qa, ra = np.linalg.qr(left)
    qb, rb = np.linalg.qr(right)
    u, s, vt = np.linalg.svd(ra @ rb.T)
    return qa @ u[:, 0], float(s[0]), qb @ vt[0]


def scm_seq(x, y, labels, bits, ridge=1e-4):
    """SCM-Seq projections of centred `x` (n, dx), `y` (n, dy) with labels (n, c).

    Returns (wx (dx, bits), wy (dy, bits), eta (bits,)), eta being each
    bit's generalised eigenvalue on its residual. The whitened residual
    Cxx^{-1/2} X^T R_t Y Cyy^{-1/2} is kept as a product of two thin
    factors (its rank is at most c + 1 + t), so each bit costs two QRs of
    (d, c + 1 + t) matrices, not an SVD of a (dx, dy) one.
    """
    wx_white = inverse_sqrt(_ridged(x.T @ x, ridge))
    wy_white = inverse_sqrt(_ridged(y.T @ y, ridge))
    lhat = normalized_labels(labels)
    # r S = 2r Lhat Lhat^T - r 1 1^T, so X^T (r S) Y = [2r X^T Lhat, -r X^T 1] [Y^T Lhat, Y^T 1]^T.
    left = [wx_white @ (2.0 * bits * (x.T @ lhat)), wx_white @ (-float(bits) * x.sum(0))[:, None]]
    right = [wy_white @ (y.T @ lhat), wy_white @ y.sum(0)[:, None]]
    wx, wy, eta = np.zeros((x.shape[1], bits)), np.zeros((y.shape[1], bits)), np.zeros(bits)
    with single_threaded_blas():  # matrix-vector products and small QR/SVDs, one bit at a time
        for t in range(bits):
            u, eta[t], v = top_singular_pair(np.concatenate(left, axis=1), np.concatenate(right, axis=1))
            wx[:, t], wy[:, t] = wx_white @ u, wy_white @ v
            bx = np.where(x @ wx[:, t] >= 0, 1.0, -1.0)
            by = np.where(y @ wy[:, t] >= 0, 1.0, -1.0)
            # R_{t+1} = R_t - bx by^T: one more pair of factor columns.
            left.append(wx_white @ (-(x.T @ bx))[:, None])
            right.append(wy_white @ (y.T @ by)[:, None])
    return wx, wy, eta


@register_method("scm")
class SCM(LinearHasher):
    """Closed-form SCM-Seq over features (image features and bag-of-words), supervised by labels."""

    config_class = SCMConfig
    needs_labels = True

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        self.build_linear_maps()

    def fit_closed_form(self, train):
        cfg = self.config
        x, y = self.image_vectors(train.images()), train.texts().astype(np.float64)
        labels = train.labels()
        stats = [input_stats(x, cfg.standardize), input_stats(y, cfg.standardize)]
        xs, ys = (x - stats[0][0]) / stats[0][1], (y - stats[1][0]) / stats[1][1]
        wx, wy, _ = scm_seq(xs, ys, labels, cfg.bits, ridge=cfg.ridge)
        self.set_linear_maps(stats[0] + (wx,), stats[1] + (wy,))
        return self
