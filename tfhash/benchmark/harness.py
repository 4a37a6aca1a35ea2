"""Plan and run a benchmark grid (dataset x method x bits x seed), one cached run folder each.

Layout of the output folder DIR::

    DIR/runs/<dataset>/<method>-<bits>b-seed<s>/   a `tfhash train` run folder, plus FINISHED last
    DIR/datasets/<name>-split<s>.h5                 custom-protocol datasets re-split with seed s
    DIR/datasets/<name>-validation.h5               --validation: the split carved from the training pairs
    DIR/results.json, DIR/table.md, DIR/*.png       written by `run_benchmark`

A run counts as finished only when its FINISHED file exists; it is written
(atomically) after the report, and holds the settings it was trained with.
A finished run with the same settings is reused; an unfinished one is
resumed from its newest checkpoint, or, with none, deleted and started
again; a run folder holding other settings stops the benchmark before any
training, with one error line.
"""

import dataclasses
import json
import logging
import os
import shlex
import shutil
import time

from tfhash.atomic import write_text
from tfhash.benchmark import plots, table
from tfhash.data.dataset import PairedDataset
from tfhash.data.resplit import VALIDATION_SEED, reseeded_split, validation_split
from tfhash.errors import TfhashError, require
from tfhash.eval.report import DEFAULT_R
from tfhash.methods.registry import get_method
from tfhash.training.checkpoint import latest_checkpoint
from tfhash.training.run import train
from tfhash.training.run_folder import RunFolder

MARKER = "FINISHED"
R = DEFAULT_R  # MAP@50 and MAP@500 (SDCH, DVSH and TUCH report MAP@500)
HARNESS_SETTINGS = ("bits", "seed")  # set by the grid, not by --set


@dataclasses.dataclass
class DatasetPlan:
    """One `--dataset`: its name, the file each seed trains on, and how the split relates to the seed."""

    name: str
    source: str
    files: dict  # seed -> dataset file
    split: str  # human-readable: fixed, or re-drawn per seed
    reseeded: bool


@dataclasses.dataclass
class Run:
    """One cell of the grid: a method at a code length and seed, on one dataset file."""

    dataset: str
    dataset_path: str
    name: str  # the method's label in the tables (the registry name unless given as LABEL=METHOD)
    method: str
    bits: int
    seed: int
    config: object
    run_dir: str
    dataset_identity: dict

    def settings(self):
        """What FINISHED records and a reuse must match: method, every config value, which data and split.

        The dataset is identified by name, size and split (not by path), so a
        benchmark folder stays reusable when it or the package moves.
        """
        return {"method": self.method, "config": json.loads(json.dumps(self.config.to_dict())),
                "dataset": self.dataset_identity}

    def label(self):
        return f"{self.dataset} {self.name} {self.bits}b seed {self.seed}"


def prepare_datasets(paths, seeds, out, *, validation=False, validation_queries=None):
    """A `DatasetPlan` per dataset path, writing the re-split and validation files it needs under out/datasets."""
    plans, names = [], set()
    for path in paths:
        with PairedDataset(path) as data:
            name, protocol, sizes = data.name, data.protocol, {k: int(v.size) for k, v in data.splits.items()}
        require(name not in names, f"two datasets are both named '{name}'; give each file its own name")
        names.add(name)
        folder = os.path.join(out, "datasets")
        reseeded = protocol == "custom"
        if reseeded:
            files = {s: reseeded_split(path, os.path.join(folder, f"{name}-split{s}.h5"), s) for s in seeds}
            split = (f"custom protocol, re-drawn for each seed (seed s draws the split with seed s and initialises "
                     f"the model with seed s); sizes {_sizes(sizes)}")
        else:
            files = {s: os.path.abspath(path) for s in seeds}
            split = (f"fixed ({protocol}; {_sizes(sizes)}): every seed trains on the same split, the seed sets only "
                     f"the model's initialisation and data order")
        if validation:
            for s, source in files.items():
                tag = f"{name}-split{s}" if reseeded else name
                files[s] = validation_split(source, os.path.join(folder, f"{tag}-validation.h5"),
                                            query_size=validation_queries)
            with PairedDataset(files[seeds[0]]) as data:
                vsizes = {k: int(v.size) for k, v in data.splits.items()}
            split = (f"validation split carved from the training pairs only (seed {VALIDATION_SEED}; {_sizes(vsizes)}) "
                     f"of a {split}")
            name = f"{name}-validation"
        plans.append(DatasetPlan(name, os.path.abspath(path), files, split, reseeded))
    return plans


IDENTITY = ("name", "num_pairs", "protocol", "split_seed", "split_sizes")


def dataset_identity(path):
    """The part of `PairedDataset.describe()` that says which data and split a run saw."""
    with PairedDataset(path) as data:
        info = data.describe()
    return {k: info[k] for k in IDENTITY}


def _sizes(sizes):
    return ", ".join(f"{k} {sizes[k]:,}" for k in ("query", "database", "train", "validation") if k in sizes)


def parse_methods(entries):
    """{label: registered method} from entries "METHOD" or "LABEL=METHOD" (e.g. "baseline=ugach"), in order."""
    out = {}
    for entry in entries:
        label, _, method = str(entry).strip().rpartition("=")
        label, method = (label or method).strip(), method.strip()
        require(label and method, f"--methods takes METHOD or LABEL=METHOD entries, got {entry!r}")
        require(label not in out, f"'{label}' is listed twice in --methods")
        get_method(method)  # unknown names: one error line before anything is written
        out[label] = method
    require(out, "no methods given")
    return out


def plan_runs(datasets, methods, bits, seeds, out, settings=None):
    """Every `Run` of the grid, in the order they train (dataset, method, bits, seed).

    `methods` maps a label to a registered method (`parse_methods`);
    `settings` maps a label to {setting: value}.
    """
    settings = settings or {}
    require(methods, "no methods given")
    require(bits, "no code lengths given")
    require(seeds, "no seeds given")
    unknown = sorted(set(settings) - set(methods))
    require(not unknown, f"--set names {', '.join(unknown)}, which is not among the benchmarked methods")
    for method, values in settings.items():
        for name in sorted(set(values) & set(HARNESS_SETTINGS)):
            raise TfhashError(f"{method}.{name} is set by the benchmark grid (--bits, --seeds), not by --set")
    runs = []
    for ds in datasets:
        identities = {s: dataset_identity(ds.files[s]) for s in seeds}
        for label, method in methods.items():
            config_class = get_method(method).config_class
            for b in bits:
                for s in seeds:
                    config = config_class.from_dict({**settings.get(label, {}), "bits": int(b), "seed": int(s)})
                    run_dir = os.path.join(out, "runs", ds.name, f"{label}-{b}b-seed{s}")
                    runs.append(Run(ds.name, ds.files[s], label, method, int(b), int(s), config, run_dir,
                                    identities[s]))
    return runs


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _saved_settings(run_dir):
    """The settings a run folder holds (FINISHED, else config.json), or None for an empty/new folder."""
    marker = os.path.join(run_dir, MARKER)
    if os.path.exists(marker):
        return _read_json(marker)["settings"]
    saved = RunFolder(run_dir).read_config(required=False)
    if saved:
        return {"method": saved["method"], "config": saved["config"],
                "dataset": {k: saved["dataset"].get(k) for k in IDENTITY}}
    return None


def check_runs(runs):
    """Refuse, before any training, a run folder that holds a run of other settings."""
    for run in runs:
        saved = _saved_settings(run.run_dir)
        require(saved is None or saved == run.settings(),
                f"{run.run_dir} holds a {run.name} run with other settings (or on other data); "
                f"remove it or choose another --out")


def run_one(run, *, verbose=0):
    """Train, resume or reuse one run; returns (status, seconds, report). Status: reused, resumed or trained."""
    marker = os.path.join(run.run_dir, MARKER)
    if os.path.exists(marker):
        saved = _read_json(marker)
        require(saved["settings"] == run.settings(), f"{run.run_dir} holds a run with other settings")
        return "reused", saved["seconds"], RunFolder(run.run_dir).read_report()
    folder = RunFolder(run.run_dir)
    resume = folder.exists("config.json") and latest_checkpoint(folder.checkpoints) is not None
    if not resume and os.path.exists(run.run_dir):  # killed before its first checkpoint: nothing worth keeping
        shutil.rmtree(run.run_dir)
    start = time.perf_counter()
    tf_log = logging.getLogger("tensorflow")
    level = tf_log.level
    # A grid retraces the same encoders on purpose; its output is one progress line per run.
    tf_log.setLevel(logging.ERROR)
    try:
        train(run.method, run.config, dataset_path=run.dataset_path, run_dir=run.run_dir, resume=resume, R=R,
              verbose=verbose)
    finally:
        tf_log.setLevel(level)
    seconds = round(time.perf_counter() - start, 1)
    # Written last: only a run that got this far is ever reused.
    write_text(marker, json.dumps({"settings": run.settings(), "seconds": seconds, "resumed": resume}, indent=2))
    return ("resumed" if resume else "trained"), seconds, folder.read_report()


def unified_report(run_dir, seed=0):
    """MAP of a run's query codes against its learned database codes B (the unified protocol), or None.

    None for methods that learn no B (e.g. CCA-ITQ). Computed from codes.h5,
    nothing written: the run folder stays as `train` left it. `seed` draws
    the random-codes baseline.
    """
    from tfhash.eval.report import cross_modal_report
    codes = RunFolder(run_dir).read_codes()
    if "database_unified" not in codes:
        return None
    return cross_modal_report(codes, R=R, seed=seed, tasks=("i2t", "t2i"), database_protocol="unified")


def run_benchmark(dataset_paths, methods, bits, seeds, out, *, settings=None, validation=False,
                  validation_queries=None, reference=None, pr_bits=None, unified=False, command=None,
                  echo=print):
    """Run (or reuse) the whole grid, then write out/results.json, out/table.md and the plots; returns the table.

    `methods` are entries "METHOD" or "LABEL=METHOD" (the same method under
    several labels, each with its own settings). `seeds` is a count (seeds
    0..n-1) or a list. `settings` maps a label to {setting: value} applied
    to every one of its runs. `reference` (default:
    cca-itq when benchmarked, else the first method) is what paired
    differences are taken against. With `unified`, methods that learn
    database codes B are also scored with B as the database (a separate
    table). `echo` gets one progress line per run.
    """
    seeds = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    require(seeds, "--seeds must be at least 1")
    kinds, bits = parse_methods(methods), sorted(int(b) for b in bits)
    methods = list(kinds)
    reference = reference or ("cca-itq" if "cca-itq" in methods else methods[0])
    require(reference in methods, f"reference method '{reference}' is not among --methods")
    pr_bits = pr_bits or bits[-1]
    require(pr_bits in bits, f"PR curves at {pr_bits} bits, which is not among --bits")
    os.makedirs(out, exist_ok=True)
    datasets = prepare_datasets(dataset_paths, seeds, out, validation=validation,
                                validation_queries=validation_queries)
    runs = plan_runs(datasets, kinds, bits, seeds, out, settings)
    check_runs(runs)

    records = []
    for i, run in enumerate(runs, 1):
        status, seconds, report = run_one(run)
        echo(f"[{i}/{len(runs)}] {run.label()}: " + ("reused" if status == "reused" else
                                                    f"{status} in {seconds:.0f} s"))
        records.append({"dataset": run.dataset, "method": run.name, "trains": run.method, "bits": run.bits,
                        "seed": run.seed,
                        "run_dir": run.run_dir, "dataset_file": run.dataset_path, "status": status,
                        "seconds": seconds, "config": run.config.to_dict(), "report": report})
        if unified:
            records[-1]["unified_report"] = unified_report(run.run_dir, seed=run.seed)

    spec = {"datasets": [dataclasses.asdict(d) for d in datasets], "methods": kinds, "bits": bits, "seeds": seeds,
            "reference": reference, "validation": validation, "unified": unified, "R": R, "settings": settings or {},
            "command": command}
    write_text(os.path.join(out, "results.json"), json.dumps({**spec, "runs": records}, indent=2) + "\n")
    images = plots.write_plots(records, datasets, methods, bits, pr_bits, out)
    markdown = table.benchmark_markdown(records, datasets, methods, bits, seeds, reference, command=command,
                                        images=images)
    write_text(os.path.join(out, "table.md"), markdown)
    return markdown


def parse_bits(text):
    """Code lengths from "16,32,64"; one error line for anything else."""
    try:
        bits = [int(b) for b in str(text).split(",") if b.strip()]
    except ValueError:
        raise TfhashError(f"--bits takes comma-separated integers, got {text!r}") from None
    require(bits and all(b > 0 for b in bits), f"--bits takes positive code lengths, got {text!r}")
    require(len(set(bits)) == len(bits), f"--bits repeats a code length: {text!r}")
    return sorted(bits)


def benchmark_command(datasets, methods, bits, seeds, out, sets=(), validation=False, reference=None,
                      unified=False):
    """The `tfhash benchmark` command line that reproduces a table (written under it)."""
    parts = ["tfhash benchmark"] + [f"--dataset {shlex.quote(d)}" for d in datasets]
    parts += [f"--methods {','.join(map(str, methods))}", f"--bits {','.join(map(str, bits))}", f"--seeds {seeds}"]
    parts += [f"--set {shlex.quote(s)}" for s in sets]
    parts += ["--validation"] if validation else []
    parts += ["--unified"] if unified else []
    parts += [f"--reference {reference}"] if reference else []
    return " ".join(parts + [f"--out {shlex.quote(out)}"])


def load_records(out):
    """The records of an earlier `run_benchmark` (its results.json)."""
    path = os.path.join(out, "results.json")
    if not os.path.exists(path):
        raise TfhashError(f"no benchmark results in {out} (results.json missing)")
    return _read_json(path)
