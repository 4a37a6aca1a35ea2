"""Shared by the benchmark scripts: machine facts, peak memory, and BENCHMARKS.md sections.

Each script owns one section of BENCHMARKS.md, delimited by
`<!-- begin NAME -->` / `<!-- end NAME -->`, and rewrites only that section.
"""

import datetime
import os
import platform
import re
import resource
import shlex
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tfhash.atomic import write_text  # noqa: E402

BENCHMARKS = os.path.join(ROOT, "BENCHMARKS.md")
HEADER = """# Benchmarks

Measured by the scripts in `scripts/`, each rewriting its own section below.
Wall-clock numbers depend on what else the machine was doing; each section
says the load average it saw. Rerun a script to refresh its section.
Sections written by `scripts/bench_harness.py` come from `tfhash benchmark`
(mean ± std over seeds, cached runs: README, Benchmarks); the others are
single runs.
"""


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def resident_mb(pid="self"):
    """Current resident memory (VmRSS) of process `pid` (default: this one), in MiB; Linux only (else NaN)."""
    return _status_kb(pid, "VmRSS") / 1024


def peak_resident_mb(pid="self"):
    """Peak resident memory (VmHWM) of process `pid` so far, in MiB; Linux only (else NaN)."""
    return _status_kb(pid, "VmHWM") / 1024


def _status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return next(float(line.split()[1]) for line in f if line.startswith(key + ":"))
    except (OSError, StopIteration):
        return float("nan")


def machine():
    """One markdown line describing the machine and software."""
    parts = [f"{cpu_model()}, {os.cpu_count()} CPUs, no GPU" if not _gpus() else f"{cpu_model()}, GPUs: {_gpus()}",
             f"{platform.system()} {platform.release()}", f"Python {platform.python_version()}"]
    try:
        import numpy

        parts.append(f"NumPy {numpy.__version__}")
        if "tensorflow" in sys.modules:
            import tensorflow as tf

            parts.append(f"TensorFlow {tf.__version__}")
    except ImportError:
        pass
    return ", ".join(parts) + f"; load average {os.getloadavg()[0]:.1f}"


def _gpus():
    if "tensorflow" not in sys.modules:
        return ""
    import tensorflow as tf

    return ", ".join(d.name for d in tf.config.list_physical_devices("GPU"))


def command_line():
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])


def run_facts():
    """Machine, command and date of this run (a script that re-renders stored results keeps the original ones)."""
    return {"machine": machine(), "command": command_line(), "date": datetime.date.today().isoformat()}


def write_section(name, title, body, facts=None):
    """Replace (or append) section `name` of BENCHMARKS.md with `title` + machine, command, date + `body`."""
    facts = facts or run_facts()
    write_raw_section(name, f"## {title}\n\n- machine: {facts['machine']}\n- command: `{facts['command']}`\n"
                            f"- date: {facts['date']}\n\n{body.strip()}")


def write_raw_section(name, markdown):
    """Replace (or append) section `name` of BENCHMARKS.md with `markdown` as it is."""
    block = f"<!-- begin {name} -->\n{markdown.strip()}\n<!-- end {name} -->\n"
    text = open(BENCHMARKS, encoding="utf-8").read() if os.path.exists(BENCHMARKS) else HEADER
    pattern = re.compile(rf"<!-- begin {re.escape(name)} -->.*?<!-- end {re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    write_text(BENCHMARKS, text)
    print(block)


def plot_map_vs_bits(name, series, title, chance=None):
    """Plot MAP@all against code length, I->T and T->I side by side, into docs/benchmarks/NAME.png.

    `series` maps a method label to {bits: (i2t, t2i)}; `chance` (optional) is
    {bits: (i2t, t2i)} of random codes, drawn dashed. Returns the markdown
    image line to put under the table.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from tfhash.atomic import atomic_path

    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, task, label in zip(axes, (0, 1), ("image → text", "text → image")):
        for method, points in series.items():
            bits = sorted(points)
            ax.plot(bits, [points[b][task] for b in bits], marker="o", label=method)
        if chance:
            bits = sorted(chance)
            ax.plot(bits, [chance[b][task] for b in bits], linestyle="--", color="grey", label="random codes")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({b for points in series.values() for b in points}))
        ax.get_xaxis().set_major_formatter("{x:.0f}")
        ax.set_xlabel("bits")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MAP@all")
    axes[1].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = os.path.join(ROOT, "docs", "benchmarks", f"{name}.png")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return f"![{title}](docs/benchmarks/{name}.png)"
