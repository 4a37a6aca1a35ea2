"""Write BENCHMARKS.md's `mixed-precision` section: each method trained under --mixed-precision none / bfloat16 / float16.

One run per (method, precision) on one dataset, every other setting the
method's default (plus --set overrides), seed 0: MAP@all of both tasks, the
share of query code bits equal to the float32 run's, and the wall time. The
runs are cached in --out (a finished run is not trained again), so a rerun
re-renders the section.

Usage (from the repository root; the section's command adds --cached-only and its --note):
    python scripts/bench_mixed.py --dataset /tmp/mixed/mirflickr-features.h5 --out /tmp/mixed/runs \\
        --methods uch,ugach,sdch,dvsh-bow,tuch --bits 32 --precisions none,bfloat16,float16 \\
        --set sdch.image_hidden=1024,1024 --set sdch.text_hidden=1024,1024
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import run_facts, write_section  # noqa: E402
from tfhash.cli.quiet import import_tensorflow  # noqa: E402


def train_one(method, precision, bits, dataset, out, settings):
    """Train (or reuse) the run of `method` under `precision`; returns {"run": dir, "seconds": float or None}."""
    from tfhash.methods.registry import get_method
    from tfhash.training.run import train
    from tfhash.training.run_folder import RunFolder

    run_dir = os.path.join(out, f"{method}-{bits}b-{precision}")
    timing = os.path.join(run_dir, "bench_seconds.json")
    if RunFolder(run_dir).exists("report.json") and os.path.exists(timing):
        with open(timing, encoding="utf-8") as f:
            return {"run": run_dir, "seconds": json.load(f)["seconds"]}
    config = get_method(method).config_class(**{**settings.get(method, {}), "bits": bits, "seed": 0,
                                                "mixed_precision": precision})
    start = time.time()
    train(method, config, dataset_path=dataset, run_dir=run_dir, verbose=0)
    seconds = time.time() - start
    with open(timing, "w", encoding="utf-8") as f:
        json.dump({"seconds": seconds}, f)
    return {"run": run_dir, "seconds": seconds}


def same_bits(run_a, run_b):
    """Share of query code bits (both modalities) that two runs agree on."""
    import numpy as np

    from tfhash.training.run_folder import RunFolder

    a, b = RunFolder(run_a).read_codes(), RunFolder(run_b).read_codes()
    return float(np.mean(np.concatenate([(a[k] == b[k]).ravel() for k in ("query_image", "query_text")])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True, help="folder of the cached runs")
    parser.add_argument("--methods", default="uch,ugach,sdch,dvsh-bow,tuch")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--precisions", default="none,bfloat16,float16")
    parser.add_argument("--set", action="append", default=[], metavar="METHOD.SETTING=VALUE")
    parser.add_argument("--no-write", action="store_true", help="train and print only")
    parser.add_argument("--cached-only", action="store_true",
                        help="train nothing: render the finished runs, listing the missing ones as not run")
    parser.add_argument("--note", default="", help="a sentence added under the table (e.g. the load seen by `uptime`)")
    args = parser.parse_args(argv)

    import_tensorflow()
    from tfhash.cli.options import parse_settings
    from tfhash.methods.registry import get_method
    from tfhash.training.run_folder import RunFolder

    facts = run_facts()  # the load average as the runs start
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    settings = parse_settings(args.set, lambda m: get_method(m).config_class)
    loads = [os.getloadavg()[0]]
    rows, missing = [], []
    for method in methods:
        runs = {}
        for precision in precisions:
            if args.cached_only and not os.path.exists(
                    os.path.join(args.out, f"{method}-{args.bits}b-{precision}", "bench_seconds.json")):
                missing.append(f"{method} {precision}")
                continue
            runs[precision] = train_one(method, precision, args.bits, args.dataset, args.out, settings)
            loads.append(os.getloadavg()[0])
            report = RunFolder(runs[precision]["run"]).read_report()
            row = {"method": method, "precision": precision, "i2t": report["map_all"]["i2t"],
                   "t2i": report["map_all"]["t2i"], "seconds": runs[precision]["seconds"],
                   "same_bits": same_bits(runs["none"]["run"], runs[precision]["run"]) if "none" in runs else None}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.no_write:
        return
    with open(os.path.join(args.out, "bench_mixed_rows.json"), "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=1)
    lines = [
        f"{len(methods)} methods at {args.bits} bits, seed 0, on `{os.path.basename(args.dataset)}` (MIRFlickr-25K "
        "real features: 1280-d EfficientNet-Lite2 images, 1,386-d tag BoW; 600 train = database, 130 queries). "
        "One run per row; every setting the method's default"
        + (f" except {', '.join('`--set ' + s + '`' for s in args.set)}" if args.set else "") + ". "
        "MAP@all by Hamming ranking, out-of-sample database codes. `same bits`: share of the query codes' bits "
        "(image and text) equal to the float32 (`none`) run's. `train s`: wall seconds of the run (training, "
        "encoding, scoring) on a shared 2-core CPU: mixed precision is for GPUs, and CPU times say nothing "
        "about its speed there.",
        "",
        (f"Load average (1 min) seen between runs by this script: {min(loads):.1f} to {max(loads):.1f}; the "
         if not args.cached_only else "The ") + "machine was shared with other jobs, so the times are noisy.",
        "",
        "| method | mixed precision | I→T MAP@all | T→I MAP@all | same bits | train s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        same = "—" if r["precision"] == "none" or r["same_bits"] is None else f"{r['same_bits']:.3f}"
        lines.append(f"| {r['method']} | {r['precision']} | {r['i2t']:.4f} | {r['t2i']:.4f} | {same} | "
                     f"{r['seconds']:.0f} |")
    if missing:
        lines += ["", f"Not run (out of time on the shared machine): {', '.join(missing)}."]
    if args.note:
        lines += ["", args.note]
    write_section("mixed-precision", "Mixed precision (--mixed-precision) vs float32, MIRFlickr real features",
                  "\n".join(lines), facts)


if __name__ == "__main__":
    main()
