"""Code diagnostics: does a model use its bits, or did its codes collapse onto a few directions?

Plain NumPy over arrays. `code_diagnostics` reads ±1 codes (N, bits);
`output_diagnostics` reads a model's continuous outputs (N, bits) before the
sign. Both give JSON-ready dicts; `format_diagnostics` turns a report's
diagnostics into the few lines `tfhash train` and `tfhash evaluate` print.

How to read them: independent balanced bits have per-bit means near 0, mean
|correlation| near 0 and a top principal component holding about 1/bits of
the variance; collapsed codes (every bit a copy of one direction) have a top
component near 1, mean |correlation| near 1 and few distinct codes.

Constant bits (every item the same sign, or a constant output) have no
correlation with anything: pairs that involve one are left out of the mean
|correlation| and counted under `constant_bits` instead (their balance of ±1
already shows them). With fewer than two non-constant bits the mean is None.
"""

import math

import numpy as np

from tfhash.errors import require

# A top principal component holding this share of the variance or more is
# flagged: half of all variance on one direction of 16+ bits is far from the
# ~1/bits of independent bits.
COLLAPSE_TOP_PC_SHARE = 0.5


def _matrix(values, what):
    values = np.asarray(values)
    require(values.ndim == 2 and values.shape[0] > 0 and values.shape[1] > 0,
            f"{what} must be a non-empty (N, bits) matrix; got shape {values.shape}")
    values = values.astype(np.float64)
    require(np.all(np.isfinite(values)), f"{what} holds NaN or infinite values")
    return values


def _spread(values):
    """(mean |correlation| over pairs of non-constant columns or None, constant columns, top-PC share or None)."""
    centred = values - values.mean(axis=0)
    std = np.sqrt((centred ** 2).mean(axis=0))
    # Relative tolerance: float outputs that are constant up to rounding count as constant.
    live = std > 1e-12 * max(1.0, float(np.abs(values).max()))
    mean_abs_corr = None
    if live.sum() >= 2:
        z = centred[:, live] / std[live]
        corr = z.T @ z / len(values)
        upper = np.triu_indices(int(live.sum()), k=1)
        mean_abs_corr = float(np.abs(corr[upper]).mean())
    # Eigenvalues of the covariance = squared singular values of the centred matrix / N.
    variance = np.linalg.svd(centred, compute_uv=False) ** 2
    top_share = float(variance[0] / variance.sum()) if variance.sum() > 0 else None
    return mean_abs_corr, int((~live).sum()), top_share


def code_diagnostics(codes):
    """Diagnostics of ±1 codes (N, bits): balance per bit, bit correlation, top-PC share, distinct codes, entropy.

    Returns a dict: `balance` (mean of each bit, in [-1, 1]),
    `max_abs_balance` and `mean_abs_balance`, `mean_abs_correlation` (Pearson,
    over pairs of non-constant bits), `constant_bits`, `top_pc_share` (largest
    eigenvalue of the codes' covariance over its trace; None if every bit is
    constant), `distinct_codes`, `entropy_bits` (empirical entropy of the code
    distribution, log2) and `max_entropy_bits` (log2 min(N, 2^bits): all
    codes distinct), `num_codes`, `bits`.
    """
    codes = _matrix(codes, "codes")
    require(np.all(np.abs(codes) == 1), "codes must hold only -1 and +1")
    n, bits = codes.shape
    balance = codes.mean(axis=0)
    mean_abs_corr, constant, top_share = _spread(codes)
    _, counts = np.unique(codes > 0, axis=0, return_counts=True)
    p = counts / n
    return {
        "num_codes": int(n),
        "bits": int(bits),
        "balance": [float(b) for b in balance],
        "max_abs_balance": float(np.abs(balance).max()),
        "mean_abs_balance": float(np.abs(balance).mean()),
        "mean_abs_correlation": mean_abs_corr,
        "constant_bits": constant,
        "top_pc_share": top_share,
        "distinct_codes": int(len(counts)),
        "entropy_bits": float(max(0.0, -(p * np.log2(p)).sum())),  # max(): -0.0 for a single code
        "max_entropy_bits": float(min(math.log2(n), bits)),
    }


def output_diagnostics(outputs):
    """Diagnostics of continuous outputs (N, bits) before the sign: mean |correlation|, constant outputs, top-PC share."""
    outputs = _matrix(outputs, "outputs")
    mean_abs_corr, constant, top_share = _spread(outputs)
    return {
        "num_items": int(outputs.shape[0]),
        "bits": int(outputs.shape[1]),
        "mean_abs_correlation": mean_abs_corr,
        "constant_outputs": constant,
        "top_pc_share": top_share,
    }


def _cell(value, fmt):
    return "n/a" if value is None else format(value, fmt)


def format_diagnostics(code_diags, output_diags=None):
    """Plain-text lines: one row per code set ({name: code_diagnostics}), then the continuous outputs, then warnings."""
    header = f"{'codes':<16}{'max|bal|':>9}{'mean|r|':>9}{'top PC':>8}{'distinct':>10}{'entropy':>13}"
    lines = [header]
    warnings = []
    for name, d in code_diags.items():
        entropy = f"{d['entropy_bits']:.1f}/{d['max_entropy_bits']:.1f}"
        lines.append(f"{name:<16}{d['max_abs_balance']:>9.3f}{_cell(d['mean_abs_correlation'], '.3f'):>9}"
                     f"{_cell(d['top_pc_share'], '.3f'):>8}{d['distinct_codes']:>10}{entropy:>13}")
        if d["top_pc_share"] is not None and d["top_pc_share"] >= COLLAPSE_TOP_PC_SHARE:
            warnings.append(f"warning: {name} codes look collapsed: the top principal component holds "
                            f"{d['top_pc_share']:.0%} of their variance")
        if d["constant_bits"]:
            warnings.append(f"warning: {name} codes have {d['constant_bits']} constant bit(s)")
    for name, d in (output_diags or {}).items():
        lines.append(f"{name + ' (outputs)':<16}{'':>9}{_cell(d['mean_abs_correlation'], '.3f'):>9}"
                     f"{_cell(d['top_pc_share'], '.3f'):>8}")
        if d["top_pc_share"] is not None and d["top_pc_share"] >= COLLAPSE_TOP_PC_SHARE:
            warnings.append(f"warning: {name} outputs look collapsed: the top principal component holds "
                            f"{d['top_pc_share']:.0%} of their variance")
    return "\n".join(lines + warnings)
