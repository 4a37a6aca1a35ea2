"""Memory and epoch time of UCH, UGACH and SDCH on a NUS-WIDE-sized synthetic set.

    python scripts/bench_nuswide_scale.py --dir /tmp/numem      # 190,000 pairs, 4096-d features, 1000-d BoW

The dataset (190,000 pairs: 2,000 queries, 188,000 train = database; 4096-d
float32 image features, 1000-d bag-of-words counts, 21 multi-label classes)
is generated a chunk of rows at a time by a child process and written in
the repo's dataset layout by `write_dataset` (about 3.9 GB; the 3.1 GB of
image features alone are larger than the 1 GiB under which `PairedDataset`
loads a file into memory, so every run reads it lazily from HDF5). Its
structure follows `tfhash.data.synthetic` (class prototypes -> latent ->
random non-linear map + noise per modality) with the maps drawn once, so
the classes are shared by all chunks; retrieval quality is not measured here.

Each method then trains for one epoch (otherwise default settings) through
`tfhash.training.run.train` (`evaluate=False`), in its own child process,
so the peak resident memory (VmHWM) is that of one whole `tfhash train`:
input checks, `prepare`, the epoch, the epoch-end update, saving the model
and encoding query and database codes. A thread samples VmRSS every 0.2 s
and keeps the largest value per stage. `--steps METHOD=N` caps a method's
epoch at N steps (time of a partial epoch; the data, `prepare` and the
epoch-end pass stay full size). Writes the `nuswide-scale` section of
BENCHMARKS.md; delete the data with `--clean`. Runs that take too long on
a busy machine can be recorded unfinished: `--snapshot` (from another
shell) saves the peak so far (VmHWM) of each run still going and the stage
its run folder shows, and reports them as such.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks_md import peak_resident_mb, resident_mb, run_facts, write_section  # noqa: E402

IMAGE_DIM, TEXT_DIM, CLASSES, QUERIES = 4096, 1000, 21, 2000
_LATENT, _HIDDEN = 16, 64
STAGES = ("checks", "prepare", "epoch", "end_epoch", "save_export")


def _chunk(rng, maps, rows):
    """One block of pairs: multi-hot labels (1..3 classes), image features, bag-of-words counts."""
    prototypes, (w1, b1), image_out, (u1, c1), text_out = maps
    counts = rng.integers(1, 4, size=rows)
    ranks = np.argsort(np.argsort(rng.random((rows, CLASSES)), axis=1), axis=1)
    labels = (ranks < counts[:, None]).astype(np.uint8)
    z = labels @ prototypes / np.sqrt(labels.sum(axis=1, keepdims=True)) + 0.3 * rng.normal(size=(rows, _LATENT))
    images = (np.tanh(z @ w1 + b1) @ image_out + 0.5 * rng.normal(size=(rows, IMAGE_DIM))).astype(np.float32)
    logits = 2.5 * np.tanh(z @ u1 + c1) @ text_out + 0.5 * rng.normal(size=(rows, TEXT_DIM))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    bow = rng.multinomial(rng.integers(8, 33, size=rows), probs).astype(np.float32)
    return labels, images, bow


def make_data(path, pairs, seed=0, chunk=8192):
    """Write the synthetic set to `path` (raw blocks to a scratch HDF5 file, then `write_dataset`)."""
    import h5py

    from tfhash.data.dataset import write_dataset
    from tfhash.data.protocols import make_custom_splits

    rng = np.random.default_rng(seed)
    maps = (rng.normal(size=(CLASSES, _LATENT)),
            (rng.normal(size=(_LATENT, _HIDDEN)) / 4.0, rng.normal(scale=0.5, size=_HIDDEN)),
            rng.normal(size=(_HIDDEN, IMAGE_DIM)) / 8.0,
            (rng.normal(size=(_LATENT, _HIDDEN)) / 4.0, rng.normal(scale=0.5, size=_HIDDEN)),
            rng.normal(size=(_HIDDEN, TEXT_DIM)) / 8.0)
    scratch = path + ".raw"
    with h5py.File(scratch, "w") as f:
        labels = f.create_dataset("labels", (pairs, CLASSES), np.uint8)
        images = f.create_dataset("images", (pairs, IMAGE_DIM), np.float32, chunks=(256, IMAGE_DIM))
        bow = f.create_dataset("bow", (pairs, TEXT_DIM), np.float32, chunks=(1024, TEXT_DIM))
        for start in range(0, pairs, chunk):
            rows = min(chunk, pairs - start)
            block = _chunk(np.random.default_rng([seed, start]), maps, rows)
            for ds, values in zip((labels, images, bow), block):
                ds[start : start + rows] = values
            print(f"generated {start + rows:,} / {pairs:,} pairs", flush=True)
    try:
        with h5py.File(scratch, "r") as f:
            all_labels = f["labels"][()]
            splits = make_custom_splits(pairs, query_size=QUERIES, seed=seed, labels=all_labels)
            write_dataset(path, images=f["images"], bow=f["bow"], labels=all_labels,
                          class_names=[f"class{k}" for k in range(CLASSES)], ids=[f"nus{i}" for i in range(pairs)],
                          splits=splits, split_seed=seed, protocol="custom", name="nuswide-shaped")
    finally:
        os.remove(scratch)


class StageMemory:
    """The largest VmRSS seen per stage, sampled by a daemon thread every `interval` seconds."""

    def __init__(self, interval=0.2):
        self.stage = "checks"
        self.peak = {}
        self.seconds = {}
        self._since = time.perf_counter()
        self._interval = interval
        threading.Thread(target=self._run, daemon=True).start()

    def _sample(self):
        self.peak[self.stage] = max(self.peak.get(self.stage, 0.0), resident_mb())

    def _run(self):
        while True:
            self._sample()
            time.sleep(self._interval)

    def enter(self, stage):
        self._sample()
        now = time.perf_counter()
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self._since
        self.stage, self._since = stage, now
        self._sample()


def child(method, data, out, steps, settings):
    """Train `method` for one epoch on `data` into `out` (a child process); print its measurements as JSON."""
    memory = StageMemory()
    from tfhash.data import pipeline
    from tfhash.methods.callbacks import MethodSchedule
    from tfhash.methods.registry import get_method
    from tfhash.training import run

    cls = get_method(method)
    steps_run = []

    def staged(stage, fn):
        def wrapper(*args, **kwargs):
            memory.enter(stage)
            return fn(*args, **kwargs)
        return wrapper

    cls.prepare = staged("prepare", cls.prepare)
    cls.end_epoch = staged("end_epoch", cls.end_epoch)
    MethodSchedule.on_epoch_begin = staged("epoch", MethodSchedule.on_epoch_begin)
    save_model = run.RunFolder.save_model
    run.RunFolder.save_model = staged("save_export", save_model)
    make_pipeline = pipeline.make_pipeline

    def capped_pipeline(*args, **kwargs):
        ds, n = make_pipeline(*args, **kwargs)
        if kwargs.get("shuffle") and steps:  # the training pipeline only
            n = min(n, steps)
        if kwargs.get("shuffle"):
            steps_run.append(n)
        return ds, n

    pipeline.make_pipeline = capped_pipeline
    config = cls.config_class.from_dict({"epochs": 1, **json.loads(settings)})
    run.train(method, config, dataset_path=data, run_dir=out, evaluate=False, verbose=0)
    memory.enter("done")
    print(json.dumps({"method": method, "settings": json.loads(settings), "seconds": memory.seconds,
                      "stage_peak_mb": memory.peak,
                      "peak_mb": peak_resident_mb(), "steps": steps_run[0], "config": config.to_dict()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/numem", help="folder of the data file and the runs")
    parser.add_argument("--pairs", type=int, default=190000)
    parser.add_argument("--methods", nargs="+", default=["uch", "ugach", "sdch"],
                        help="methods, or LABEL=METHOD for a second run of one (its --set/--steps use LABEL)")
    parser.add_argument("--steps", action="append", default=[], metavar="METHOD=N",
                        help="cap METHOD's epoch at N steps (e.g. sdch=300)")
    parser.add_argument("--set", action="append", default=[], metavar="METHOD=JSON",
                        help='settings other than the defaults, e.g. sdch=\'{"image_hidden": [1024, 1024]}\'')
    parser.add_argument("--note", default="", help="a last paragraph for the section (e.g. how the runs were started)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update BENCHMARKS.md")
    parser.add_argument("--clean", action="store_true", help="delete the data file and runs at the end")
    parser.add_argument("--snapshot", action="store_true",
                        help="save the peak memory so far of the runs still going (unfinished results), then report")
    parser.add_argument("--report-only", action="store_true",
                        help="write the section from the results saved in --dir by earlier runs of --methods")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # METHOD DATA OUT STEPS [SETTINGS]
    args = parser.parse_args()
    if args.child:
        method, data, out, steps, settings = (args.child + ["{}"])[:5]
        return child(method, data, out, int(steps), settings)

    facts = run_facts()
    os.makedirs(args.dir, exist_ok=True)
    data = os.path.join(args.dir, f"nuswide_shaped_{args.pairs}.h5")
    if not os.path.exists(data):
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--make-data-child", data, str(args.pairs)], check=True)
        print(f"data written in {time.perf_counter() - start:.0f} s", flush=True)
    caps = dict(item.split("=") for item in args.steps)
    settings = dict(item.split("=", 1) for item in args.set)
    results = []
    if args.snapshot:
        snapshot(args.dir)
    labels = [spec.split("=", 1)[0] for spec in args.methods]
    for spec in [] if args.report_only or args.snapshot else args.methods:
        label, method = (spec.split("=", 1) * 2)[:2]
        out = os.path.join(args.dir, f"run-{label}-{time.strftime('%H%M%S')}")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", method, data, out, caps.get(label, "0"),
                               settings.get(label, "{}")],
                              stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            print(f"{label} failed (exit {proc.returncode})", flush=True)
            continue
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["method"] = label
        result["wall"] = time.perf_counter() - start
        result["load"] = os.getloadavg()
        print(json.dumps(result), flush=True)
        with open(os.path.join(args.dir, f"result-{label}.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
    for method in labels:  # this run's results, or earlier ones (runs of different methods may overlap)
        path = os.path.join(args.dir, f"result-{method}.json")
        if not os.path.exists(path):
            path = os.path.join(args.dir, f"result-{method}-unfinished.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                results.append(json.load(f))
    if results:
        report(results, data, facts, args.no_write, args.note)
    if args.clean:
        subprocess.run(["rm", "-rf", data] + [os.path.join(args.dir, d) for d in os.listdir(args.dir)
                                               if d.startswith("run-")], check=False)


# What a run folder holds once a stage has begun (`tfhash.training.run.train`), latest first.
_FOLDER_STAGES = (("codes.h5", "save_export"), ("model.keras", "save_export"), ("checkpoints", "end_epoch"),
                  ("logs", "epoch"), ("config.json", "checks or prepare"))


def snapshot(directory):
    """Record VmHWM/VmRSS of each child still running, and the stage its run folder shows, as unfinished results."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode() for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if "--child" not in argv or not any(a.endswith("bench_nuswide_scale.py") for a in argv):
            continue
        method, data, out, steps, settings = (argv[argv.index("--child") + 1:] + ["{}"])[:5]
        stage = next((name for marker, name in _FOLDER_STAGES if os.path.exists(os.path.join(out, marker))), "?")
        started = os.path.getmtime(os.path.join(out, "config.json"))
        result = {"method": method, "settings": json.loads(settings), "unfinished": stage,
                  "peak_mb": peak_resident_mb(pid), "rss_mb": resident_mb(pid), "elapsed": time.time() - started,
                  "steps": int(steps), "load": os.getloadavg()}
        with open(os.path.join(directory, f"result-{method}-unfinished.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
        print(json.dumps(result), flush=True)


def report(results, data, facts, no_write, note=""):
    from tfhash.data.dataset import PairedDataset

    with PairedDataset(data) as ds:
        train = ds.split("train").size
        n, dim, bow = ds.num_pairs, ds.image_shape[0], ds.bow_dim
    train_gb = train * (dim + bow) * 4 / 2**30
    budget_mb = train_gb * 1024 + 2048
    lines = [
        f"{n:,} pairs ({train:,} train = database, {QUERIES:,} queries), {dim}-d float32 image features, "
        f"{bow}-d BoW, {CLASSES} labels; file {os.path.getsize(data) / 2**30:.2f} GiB, read lazily from HDF5. "
        f"Training features (train split, images + BoW, float32): {train_gb:.2f} GiB, so the target "
        f"peak (training features + 2 GiB) is {budget_mb:,.0f} MiB. One epoch each (where the settings "
        "column sets `epochs`, that many, and the epoch column is their sum) through "
        "`tfhash.training.run.train` (no evaluation), every setting but those in the settings column at its "
        "default; "
        "peak = VmHWM of the run's own process. Stage columns: largest VmRSS sampled in that stage (MiB) "
        "and its seconds.",
        "",
        "| method | settings | bits | batch | steps run / per epoch | checks s | prepare s | epoch s | end-of-epoch s "
        "| save + codes s | peak RSS MiB | within target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "unfinished" in r:
            changed = ", ".join(f"{k} {v}" for k, v in r["settings"].items()) or "defaults"
            lines.append(f"| {r['method']} | {changed} | unfinished after {r['elapsed'] / 60:.0f} min, in stage "
                         f"{r['unfinished']} (VmRSS then {r['rss_mb']:,.0f}) | | | | | | | | "
                         f"{r['peak_mb']:,.0f} so far | {'yes' if r['peak_mb'] < budget_mb else 'no'}, so far |")
            continue
        cfg, s = r["config"], r["seconds"]
        per_epoch = -(-train // cfg["batch_size"])
        changed = ", ".join(f"{k} {v}" for k, v in r.get("settings", {}).items()) or "defaults"
        lines.append(f"| {r['method']} | {changed} | {cfg['bits']} | {cfg['batch_size']} | "
                     f"{r['steps']:,} / {per_epoch:,} | "
                     + " | ".join(f"{s.get(k, 0):.0f}" for k in STAGES)
                     + f" | {r['peak_mb']:,.0f} | {'yes' if r['peak_mb'] < budget_mb else 'no'} |")
    finished = [r for r in results if "unfinished" not in r]
    if finished:
        lines += ["", "Largest VmRSS per stage (MiB):", "",
                  "| method | " + " | ".join(STAGES) + " |", "|---|" + "---:|" * len(STAGES)]
    for r in finished:
        lines.append(f"| {r['method']} | " + " | ".join(f"{r['stage_peak_mb'].get(k, 0):,.0f}" for k in STAGES)
                     + " |")
    lines += ["", "Load average (1/5/15 min) when each result was recorded: "
              + "; ".join(f"{r['method']} {a:.1f} / {b:.1f} / {c:.1f}" for r, (a, b, c) in
                          ((r, r["load"]) for r in results))
              + " (2 shared cores; times on an idle machine are shorter)."]
    lines += ["", note] if note else []
    text = "\n".join(lines)
    print(text)
    if not no_write:
        write_section("nuswide-scale", "Memory at NUS-WIDE size: UCH, UGACH, SDCH on a synthetic 190,000-pair set",
                      text, facts)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--make-data-child":
        make_data(sys.argv[2], int(sys.argv[3]))
    else:
        main()
