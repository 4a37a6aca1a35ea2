"""CMFH (tfhash.methods.cmfh): closed-form block updates, planted structure, unified codes in a run."""

import numpy as np
import pytest

from tests.helpers import assert_beats_random, codes_map, structured_dataset, train_run
from tfhash.errors import TfhashError
from tfhash.methods.cmfh import CMFHConfig, cmfh_objective, solve_cmfh
from tfhash.training.run import evaluate_run


def _planted(n=240, classes=4, latent=6, d1=20, d2=12, noise=0.3, seed=0):
    """Two modalities generated from a per-class latent vector: x_m = A_m z_c + noise, centred; (x1, x2, labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, latent))
    c = rng.integers(0, classes, n)
    x1 = centres[c] @ rng.normal(size=(latent, d1)) + noise * rng.normal(size=(n, d1))
    x2 = centres[c] @ rng.normal(size=(latent, d2)) + noise * rng.normal(size=(n, d2))
    return x1 - x1.mean(0), x2 - x2.mean(0), np.eye(classes, dtype=np.uint8)[c]


@pytest.mark.parametrize("seed", [0, 1])
def test_objective_never_rises(seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(15, 100)), rng.normal(size=(9, 100))  # unstructured: the updates still descend
    history = solve_cmfh(x1, x2, 8, iterations=30, tolerance=0.0, seed=seed)["objective_history"]
    assert len(history) == 30
    assert all(b <= a * (1 + 1e-12) for a, b in zip(history, history[1:])), history
    assert history[-1] < 0.9 * history[0]


def test_each_block_is_its_own_minimiser():
    """P is updated last: at the returned point the objective's gradient in P1 is zero, so moving P1 only costs."""
    x1, x2, _ = _planted()
    s = solve_cmfh(x1.T, x2.T, 8, iterations=5, tolerance=0.0)
    args = (x1.T, x2.T, s["U1"], s["U2"], s["P1"], s["P2"], s["V"], 0.5, 100.0, 0.01)
    best = cmfh_objective(*args)
    step = 1e-3 * np.random.default_rng(0).normal(size=s["P1"].shape)
    for sign in (1, -1):
        moved = list(args)
        moved[4] = s["P1"] + sign * step
        assert cmfh_objective(*moved) > best


def test_planted_classes_come_back_in_the_codes():
    x1, x2, labels = _planted()
    s = solve_cmfh(x1.T, x2.T, 16, seed=0)
    unified = np.where(s["V"].T >= 0, 1, -1)
    image, text = np.where(x1 @ s["P1"].T >= 0, 1, -1), np.where(x2 @ s["P2"].T >= 0, 1, -1)
    # Four well-separated classes: codes of a class sit together (random 16-bit codes give MAP ~0.25).
    assert codes_map(unified, unified, labels, labels) > 0.9
    assert codes_map(image, unified, labels, labels) > 0.9
    assert codes_map(text, image, labels, labels) > 0.9
    # The hash functions reproduce the unified codes they were fitted to for most bits.
    assert (image == unified).mean() > 0.8 and (text == unified).mean() > 0.8


@pytest.mark.parametrize("bad", [{"modality_weight": 1.0}, {"projection_weight": 0.0}, {"iterations": 0},
                                 {"regularization": -1.0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(TfhashError):
        CMFHConfig(**bad).validate()


def test_run_scores_both_protocols(tmp_path):
    dataset = structured_dataset(tmp_path, n=400, query_size=80, image_dim=24, text_dim=16, num_classes=5)
    run_dir, report = train_run("cmfh", tmp_path, dataset, bits=16)
    assert_beats_random(report, margin=0.2)
    unified = evaluate_run(run_dir, database_codes="unified")
    assert unified["database_codes"] == "unified"
    assert unified["map_all"]["i2t"] == unified["map_all"]["i2i"]  # one database code per training pair
    assert_beats_random(unified, margin=0.2)
    assert unified["code_diagnostics"]["unified"]["num_codes"] == 320
