"""ITQ (tfhash.methods.itq): an orthogonal rotation that lowers the quantisation error."""

import numpy as np
import pytest

from tfhash.methods.itq import itq_rotation, quantization_error, random_rotation


def _structured(n=400, dim=8, seed=0):
    """Zero-centred data with unequal variances and correlated directions (a PCA-like projection)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)) * np.linspace(3.0, 0.5, dim)
    x = x @ random_rotation(dim, rng)
    return x - x.mean(axis=0)


def _rotated_corners(n=400, dim=8, noise=0.1, seed=0):
    """Hypercube corners (+-1) plus a little noise, turned by a random rotation ITQ should undo."""
    rng = np.random.default_rng(seed)
    corners = np.where(rng.random((n, dim)) < 0.5, -1.0, 1.0) + noise * rng.normal(size=(n, dim))
    return corners @ random_rotation(dim, rng)


@pytest.mark.parametrize("dim", [4, 8, 16])
def test_rotation_is_orthogonal(dim):
    rotation = itq_rotation(_structured(dim=dim), iterations=20, seed=1)
    assert rotation.shape == (dim, dim)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(dim), atol=1e-10)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(dim), atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lowers_quantization_error_from_its_random_start(seed):
    for v, factor in ((_structured(seed=seed), 0.98), (_rotated_corners(seed=seed), 0.6)):
        start = random_rotation(v.shape[1], np.random.default_rng(seed))  # ITQ's own initial rotation
        np.testing.assert_allclose(itq_rotation(v, iterations=0, seed=seed), start)
        before = quantization_error(v, start)
        after = quantization_error(v, itq_rotation(v, iterations=50, seed=seed))
        assert after < factor * before, f"ITQ error {after:.3f} vs random start {before:.3f}"


@pytest.mark.parametrize("seed", range(5))
def test_recovers_a_rotated_square(seed):
    # Noise-free corners in 2-d: ITQ undoes the rotation exactly. (In more dimensions ITQ, a local
    # method, can stop in a local minimum with some points off their corner, so no exactness there.)
    v = _rotated_corners(dim=2, noise=0.0, seed=seed)
    assert quantization_error(v, random_rotation(2, np.random.default_rng(seed))) > 0.01
    assert quantization_error(v, itq_rotation(v, iterations=50, seed=seed)) < 1e-10


def test_quantization_error_never_increases_over_iterations():
    # Each iteration solves one block exactly (B, then R by Procrustes), so the error is monotone.
    v = _structured(seed=3)
    errors = [quantization_error(v, itq_rotation(v, iterations=k, seed=3)) for k in range(0, 12)]
    assert all(b <= a + 1e-9 for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0]


def test_beats_random_rotations_on_average():
    v = _structured(seed=4)
    learned = quantization_error(v, itq_rotation(v, iterations=50, seed=4))
    rng = np.random.default_rng(99)
    random_errors = [quantization_error(v, random_rotation(v.shape[1], rng)) for _ in range(20)]
    assert learned < min(random_errors)


def test_hand_made_case_finds_the_axis_aligned_rotation():
    # Points on the diagonals (+-1, +-1)/sqrt(2) * sqrt(2): a 45-degree rotation puts them on the corners.
    c = np.sqrt(2.0)
    v = np.array([[c, 0.0], [-c, 0.0], [0.0, c], [0.0, -c]])
    rotation = itq_rotation(v, iterations=50, seed=0)
    np.testing.assert_allclose(np.abs(v @ rotation), np.ones((4, 2)), atol=1e-6)
    assert quantization_error(v, rotation) < 1e-10
