"""Cross-modal retrieval report: the four tasks, a random-code baseline, plots and report.json.

Tasks name (query modality, database modality). Under the default
"out-of-sample" protocol each task ranks the database codes of its database
modality; under "unified" both modalities rank the single `database_unified`
code set (e.g. codes learned jointly for the database items). The protocol
is written into the report as `database_codes` so numbers are never compared
across protocols by accident.
"""

import json
import math
import os

import numpy as np

from tfhash.atomic import atomic_path, write_text
from tfhash.errors import TfhashError, require
from tfhash.eval.diagnostics import code_diagnostics, format_diagnostics
from tfhash.eval.retrieval import R_values, evaluate_retrieval

#: MAP@R is reported at each of these R unless told otherwise (50: the DCMH-code convention; 500: SDCH, DVSH, TUCH)
DEFAULT_R = (50, 500)
TASKS = {"i2t": ("image", "text"), "t2i": ("text", "image"), "i2i": ("image", "image"), "t2t": ("text", "text")}
PROTOCOLS = ("out-of-sample", "unified")
_CODE_KEYS = ("query_image", "query_text", "database_image", "database_text", "database_unified")


def random_codes_like(codes, seed):
    """Random ±1 int8 codes with the shape of `codes`; `seed` is anything `np.random.default_rng` takes."""
    shape = np.shape(codes)
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, 1, -1).astype(np.int8)


def _task_codes(codes, task, protocol):
    query_mod, database_mod = TASKS[task]
    database_key = "database_unified" if protocol == "unified" else f"database_{database_mod}"
    return codes[f"query_{query_mod}"], codes[database_key]


def _check_report_inputs(codes, tasks, protocol):
    require(isinstance(codes, dict), f"codes must be a dict of arrays; got {type(codes).__name__}")
    require(protocol in PROTOCOLS, f"database_protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    tasks = tuple(tasks)
    require(len(tasks) > 0, "tasks is empty; choose from " + ", ".join(TASKS))
    unknown = [t for t in tasks if t not in TASKS]
    require(not unknown, f"unknown task(s) {', '.join(map(str, unknown))}; choose from {', '.join(TASKS)}")
    require(len(set(tasks)) == len(tasks), f"tasks repeat: {tasks}")
    needed = {"query_labels", "database_labels"}
    for task in tasks:
        query_mod, database_mod = TASKS[task]
        needed.add(f"query_{query_mod}")
        needed.add("database_unified" if protocol == "unified" else f"database_{database_mod}")
    missing = sorted(needed - set(codes))
    require(not missing, f"codes is missing {', '.join(missing)} (needed for {protocol} tasks {', '.join(tasks)})")
    bits = {key: np.shape(codes[key])[-1] for key in _CODE_KEYS if key in needed and np.ndim(codes[key]) == 2}
    require(len(set(bits.values())) <= 1, f"code arrays disagree on the number of bits: {bits}")
    return tasks, sorted(needed)


def cross_modal_report(
    codes, *, R=DEFAULT_R, top_k=None, seed=0, tasks=("i2t", "t2i", "i2i", "t2t"), database_protocol="out-of-sample"
):
    """Evaluate every task and a random-code baseline; returns a JSON-ready dict.

    Metric conventions are those of `evaluate_retrieval` (undefined means are
    None). `database_protocol` is "out-of-sample" (each task ranks the database
    codes of its database modality) or "unified" (every task ranks
    `codes["database_unified"]`); it is recorded as report["database_codes"].
    The baseline draws independent random ±1 codes of the same shapes for every
    code array used (seeded by `seed`, same protocol), so its MAP is what the
    labels alone give: the chance level.

    `R` is one int or a sequence: report["map_at_rs"][str(R)][task] for each
    (and in the baseline); report["R"] and report["map_at_r"] are the first
    R's, the shape older readers know.
    """
    tasks, needed = _check_report_inputs(codes, tasks, database_protocol)
    Rs = R_values(R)
    random_codes = {
        key: random_codes_like(codes[key], [seed, i]) for i, key in enumerate(_CODE_KEYS) if key in needed
    }
    report = {
        "map_all": {},
        "map_at_r": {},
        "R": Rs[0],
        "Rs": list(Rs),
        "map_at_rs": {str(r): {} for r in Rs},
        "bits": None,
        "random_codes_map": {"map_all": {}, "map_at_r": {}, "map_at_rs": {str(r): {} for r in Rs}},
        "queries_without_relevant": {},
        "num_queries": {},
        "pr_curve": {},
        "precision_at_k": {},
        "database_codes": database_protocol,
    }
    for task in tasks:
        query, database = _task_codes(codes, task, database_protocol)
        try:
            result = evaluate_retrieval(
                query, database, codes["query_labels"], codes["database_labels"], R=Rs, top_k=top_k
            ).to_dict()
            random_query, random_database = _task_codes(random_codes, task, database_protocol)
            chance = evaluate_retrieval(
                random_query, random_database, codes["query_labels"], codes["database_labels"], R=Rs, top_k=top_k
            ).to_dict()
        except TfhashError as err:
            raise TfhashError(f"{task}: {err}") from None
        report["R"], report["bits"] = result["R"], int(np.shape(query)[1])
        for key in ("map_all", "map_at_r", "queries_without_relevant", "num_queries"):
            report[key][task] = result[key]
        for key in ("map_all", "map_at_r"):
            report["random_codes_map"][key][task] = chance[key]
        for r in report["map_at_rs"]:
            report["map_at_rs"][r][task] = result["map_at_rs"][r]
            report["random_codes_map"]["map_at_rs"][r][task] = chance["map_at_rs"][r]
        report["pr_curve"][task] = result["pr_curve"]
        report["precision_at_k"][task] = result["precision_at_k"]
    # Every code array of the run's length, not only those the tasks ranked: a collapse shows in any of them.
    same_length = [k for k in _CODE_KEYS if k in codes and np.shape(codes[k])[-1:] == (report["bits"],)]
    report["code_diagnostics"] = code_set_diagnostics(codes, same_length)
    if codes.get("output_diagnostics"):
        report["output_diagnostics"] = codes["output_diagnostics"]
    return report


def code_set_diagnostics(codes, keys=_CODE_KEYS):
    """`code_diagnostics` per code set among `keys`: "image" and "text" (query and database codes stacked), "unified"."""
    keys = [k for k in _CODE_KEYS if k in keys and k in codes]
    sets = {
        "image": [codes[k] for k in keys if k.endswith("_image")],
        "text": [codes[k] for k in keys if k.endswith("_text")],
        "unified": [codes[k] for k in keys if k == "database_unified"],
    }
    return {name: code_diagnostics(np.concatenate(parts)) for name, parts in sets.items() if parts}


# ---------------------------------------------------------------- plots


def _new_figure():
    # Figure + Agg canvas directly: no pyplot, no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save_png(fig, path):
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _nan(values):
    return np.array([math.nan if v is None else v for v in values], dtype=float)


def _title(report, what):
    protocol = report.get("database_codes")
    return f"{what} ({report.get('bits')} bits" + (f", {protocol} database)" if protocol else ")")


def plot_pr_curves(report, path):
    """Precision-recall by Hamming radius, one line per task, written atomically as a PNG at `path`."""
    require(report.get("pr_curve"), "report has no pr_curve to plot")
    fig, ax = _new_figure()
    for task, curve in report["pr_curve"].items():
        ax.plot(_nan(curve["recall"]), _nan(curve["precision"]), marker=".", label=task)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
    ax.set_title(_title(report, "PR curve by Hamming radius"))
    ax.grid(alpha=0.3)
    ax.legend()
    _save_png(fig, path)


def plot_precision_at_k(report, path):
    """Precision@K against K (log scale), one line per task, written atomically as a PNG at `path`."""
    require(report.get("precision_at_k"), "report has no precision_at_k to plot")
    fig, ax = _new_figure()
    for task, curve in report["precision_at_k"].items():
        ax.plot(curve["k"], _nan(curve["precision"]), marker="o", label=task)
    ax.set_xscale("log")
    ax.set(xlabel="K (top-K of the Hamming ranking)", ylabel="precision@K", ylim=(0, 1.02))
    ax.set_title(_title(report, "Precision@K"))
    ax.grid(alpha=0.3)
    ax.legend()
    _save_png(fig, path)


# ---------------------------------------------------------------- files and tables


def _jsonable(value):
    """Plain JSON types; numpy scalars/arrays converted, non-finite floats become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TfhashError(f"cannot write {type(value).__name__} value {value!r} to report.json")


def write_report(report, run_dir, *, extra=None):
    """Merge `extra` into `report`, write the two plots and report.json into `run_dir`; return the final dict.

    `extra` (method, dataset, config, ...) may not change a key the report
    already has. Plot paths are recorded under "plots" as os.path.join(run_dir, name).
    """
    final = dict(report)
    for key, value in (extra or {}).items():
        require(
            key not in final or _jsonable(final[key]) == _jsonable(value),
            f"extra key {key!r} would overwrite the report's own {key!r}",
        )
        final[key] = value
    run_dir = os.fspath(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    plots = {name: os.path.join(run_dir, f"{name}.png") for name in ("pr_curve", "precision_at_k")}
    plot_pr_curves(final, plots["pr_curve"])
    plot_precision_at_k(final, plots["precision_at_k"])
    final["plots"] = plots
    final = _jsonable(final)
    write_text(os.path.join(run_dir, "report.json"), json.dumps(final, indent=2, allow_nan=False) + "\n")
    return final


def format_report_diagnostics(report):
    """The report's code diagnostics (and continuous-output diagnostics, if any) as plain-text lines; "" if none."""
    if not report.get("code_diagnostics"):
        return ""
    return format_diagnostics(report["code_diagnostics"], report.get("output_diagnostics"))
def map_at_r_values(report, random=False):
    """{R: {task: MAP@R}} of a report (or of its random-code baseline), old single-R reports included."""
    source = report.get("random_codes_map", {}) if random else report
    if source.get("map_at_rs"):
        return {int(r): values for r, values in source["map_at_rs"].items()}
    return {int(report.get("R")): source.get("map_at_r", {})}


def format_map_table(report):
    """A small plain-text table: MAP@all, MAP@R for each R and the random-code baselines per task."""
    tasks = [t for t in TASKS if t in report.get("map_all", {})]
    random_map = report.get("random_codes_map", {})
    rows = [("MAP@all", report["map_all"])]
    rows += [(f"MAP@{r}", values) for r, values in map_at_r_values(report).items()]
    rows += [("random MAP@all", random_map.get("map_all", {}))]
    rows += [(f"random MAP@{r}", values) for r, values in map_at_r_values(report, random=True).items()]

    def cell(value):
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"

    width = max(len(name) for name, _ in rows)
    lines = [" " * width + "".join(f"  {t:>7}" for t in tasks)]
    lines += [name.ljust(width) + "".join(f"  {cell(values.get(t)):>7}" for t in tasks) for name, values in rows]
    skipped = {t: n for t, n in report.get("queries_without_relevant", {}).items() if n}
    if skipped:
        counts = ", ".join(f"{t}={n}" for t, n in skipped.items())
        lines.append(f"(queries without any relevant item, left out of the means: {counts})")
    return "\n".join(lines)
