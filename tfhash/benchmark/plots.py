"""Benchmark figures: MAP@all against bits with error bars (± sample std), and seed-averaged PR curves."""

import os

from tfhash.atomic import atomic_path
from tfhash.benchmark.aggregate import mean_pr_curve, summarize
from tfhash.benchmark.table import TASKS


def _figure():
    # Figure + Agg canvas directly: no pyplot, no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, 2, sharey=True)


def _save(fig, path, title):
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def plot_map_vs_bits(records, dataset, methods, bits, path):
    """MAP@all against bits per method, mean with ± sample-std error bars, I→T and T→I side by side."""
    fig, axes = _figure()
    for ax, (task, name) in zip(axes, TASKS):
        summary = summarize(records, "map_all", task)
        chance = summarize(records, "map_all", task, random=True)
        for method in methods:
            cells = [(b, summary[(dataset, method, b)]) for b in bits if (dataset, method, b) in summary]
            ax.errorbar([b for b, _ in cells], [c.mean for _, c in cells], yerr=[c.std or 0.0 for _, c in cells],
                        marker="o", capsize=3, label=method)
        ref = [(b, chance[(dataset, methods[0], b)].mean) for b in bits if (dataset, methods[0], b) in chance]
        ax.plot([b for b, _ in ref], [m for _, m in ref], linestyle="--", color="grey", label="random codes")
        ax.set_xscale("log", base=2)
        ax.set_xticks(bits)
        ax.get_xaxis().set_major_formatter("{x:.0f}")
        ax.set(xlabel="bits", title=name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MAP@all")
    axes[1].legend(fontsize=8, loc="best")
    _save(fig, path, f"{dataset}: MAP@all against code length (mean ± std over seeds)")


def plot_pr_curves(records, dataset, methods, bits, path):
    """Precision-recall by Hamming radius at `bits`, averaged over seeds, one line per method."""
    fig, axes = _figure()
    for ax, (task, name) in zip(axes, TASKS):
        for method in methods:
            curve = mean_pr_curve(records, dataset, method, bits, task)
            if curve is not None:
                ax.plot(curve[0], curve[1], marker=".", label=method)
        ax.set(xlabel="recall", title=name, xlim=(0, 1.02), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("precision")
    axes[1].legend(fontsize=8, loc="best")
    _save(fig, path, f"{dataset}: PR curves by Hamming radius at {bits} bits (mean over seeds)")


def write_plots(records, datasets, methods, bits, pr_bits, out):
    """Both figures for every dataset into `out`; returns {dataset: [{"file", "title"}]} (files relative to out)."""
    images = {}
    for ds in datasets:
        map_file, pr_file = f"map-vs-bits-{ds.name}.png", f"pr-{ds.name}-{pr_bits}b.png"
        plot_map_vs_bits(records, ds.name, methods, bits, os.path.join(out, map_file))
        plot_pr_curves(records, ds.name, methods, pr_bits, os.path.join(out, pr_file))
        images[ds.name] = [{"file": map_file, "title": f"{ds.name}: MAP@all against bits"},
                           {"file": pr_file, "title": f"{ds.name}: PR curves at {pr_bits} bits"}]
    return images
