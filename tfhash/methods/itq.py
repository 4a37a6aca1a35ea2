"""Closed-form pieces shared by methods: CCA and the ITQ rotation (NumPy)."""

import contextlib

import numpy as np
from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def single_threaded_blas():
    """Run the enclosed NumPy linear algebra on one BLAS thread.

    For loops of small products and SVDs (ITQ's 50 Procrustes steps, SCM's
    per-bit updates): OpenBLAS spreads even a 64 x 64 SVD over every core,
    and when the cores are busy (TensorFlow's pool, other jobs) its spinning
    threads make such a loop 60x slower (ITQ on 4,346 x 64 at load 9: 26.7 s
    against 0.44 s on one thread; README, Benchmarks).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def inverse_sqrt(matrix, eps=1e-12):
    """Symmetric inverse square root of a positive definite matrix."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors / np.sqrt(np.maximum(values, eps))) @ vectors.T


def cca(x, y, dim, reg=1e-4):
    """Canonical correlation analysis of centred `x` (n, dx) and `y` (n, dy).

    Returns projections `(px (dx, dim), py (dy, dim), correlations (dim,))`;
    `reg` is added to each covariance's diagonal, relative to its trace.
    """
    n = x.shape[0]
    cxx = x.T @ x / n
    cyy = y.T @ y / n
    cxx += reg * np.trace(cxx) / cxx.shape[0] * np.eye(cxx.shape[0])
    cyy += reg * np.trace(cyy) / cyy.shape[0] * np.eye(cyy.shape[0])
    wx, wy = inverse_sqrt(cxx), inverse_sqrt(cyy)
    u, s, vt = np.linalg.svd(wx @ (x.T @ y / n) @ wy, full_matrices=False)
    return wx @ u[:, :dim], wy @ vt.T[:, :dim], s[:dim]


def random_rotation(dim, rng):
    """A random orthogonal (dim, dim) matrix."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def quantization_error(v, rotation):
    """||sign(V R) - V R||_F^2 / n."""
    vr = v @ rotation
    b = np.where(vr >= 0, 1.0, -1.0)
    return float(np.sum((b - vr) ** 2) / v.shape[0])


def itq_rotation(v, iterations=50, seed=0, bits=None):
    """Iterative quantisation (Gong et al.): orthogonal R minimising ||sign(VR) - VR||_F.

    `v` is (n, c) zero-centred data; returns R (c, bits), bits = c by
    default (a rotation). With bits > c, R has orthonormal rows (R R^T = I):
    the same Procrustes step, solved with a thin SVD, spreads c directions
    over more bits.
    """
    c = v.shape[1]
    bits = bits or c
    rng = np.random.default_rng(seed)
    if bits == c:
        rotation = random_rotation(c, rng)
    else:
        if bits < c:
            raise ValueError(f"itq_rotation: bits ({bits}) < dims ({c}); project to {bits} dims first")
        rotation = np.linalg.qr(rng.standard_normal((bits, c)))[0].T
    with single_threaded_blas():
        for _ in range(iterations):
            b = np.where(v @ rotation >= 0, 1.0, -1.0)
            # Fix B, solve the orthogonal Procrustes problem max tr(R^T V^T B).
            u, _, wt = np.linalg.svd(v.T @ b, full_matrices=False)
            rotation = u @ wt
    return rotation
