"""Encoding throughput of exported models (items/s at batch 1 and 256), through their SavedModel signatures.

    nice python scripts/bench_export.py                       # every model in saved_models/
    nice python scripts/bench_export.py --models saved_models/uch --seconds 5

Each model is loaded with `tf.saved_model.load` (what TF Serving runs, minus
the network and request parsing) and its `encode_image` / `encode_text`
signatures are called on random inputs of the model's shapes (strings of
vocabulary words for token models) in a loop: a few warm-up calls, then as
many calls as fit in `--seconds` (at least 5). items/s = batch / median
call time, and calls x batch / wall time; plus the median latency. The
table goes to section `export` of BENCHMARKS.md (with machine, load
average, command and date).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import ROOT, write_section  # noqa: E402
from tfhash.export.saved_model import ExportedModel  # noqa: E402

BATCHES = (1, 256)


def random_inputs(model, modality, batch, rng):
    spec = model.input_spec(modality)
    if spec["dtype"] == "string":
        words = [f"w{i}" for i in range(50)]
        return np.asarray([" ".join(rng.choice(words, size=8)) for _ in range(batch)], dtype=object)
    shape = (batch, *spec["shape"])
    if spec["kind"] == "pixels":
        return rng.integers(0, 256, size=shape).astype(np.float32)
    return rng.random(shape, dtype=np.float32)


def measure(fn, arg, x, seconds, warmup=3, min_calls=5):
    """(items/s from the median call, items/s over the wall time, median seconds per call)."""
    import tensorflow as tf

    x = tf.constant(x)
    for _ in range(warmup):
        fn(**{arg: x})["codes"].numpy()
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn(**{arg: x})["codes"].numpy()
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    median = float(np.median(times))
    return int(x.shape[0]) / median, len(times) * int(x.shape[0]) / total, median


def bench(path, seconds, rng):
    model = ExportedModel(path)
    rows = []
    for modality in ("image", "text"):
        spec = model.input_spec(modality)
        fn = model.loaded.signatures[spec["signature"]]
        result = {}
        for batch in BATCHES:
            result[batch] = measure(fn, modality, random_inputs(model, modality, batch, rng), seconds)
        rows.append((spec, result))
    return model, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="Model folders (default: every folder in saved_models/ holding a version).")
    parser.add_argument("--seconds", type=float, default=3.0, help="Timed seconds per signature and batch size.")
    args = parser.parse_args()

    if args.models is None:
        base = os.path.join(ROOT, "saved_models")
        args.models = [os.path.join(base, d) for d in sorted(os.listdir(base))
                       if os.path.isdir(os.path.join(base, d)) and not d.startswith(".")]
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()
    lines = []
    for path in args.models:
        model, rows = bench(path, args.seconds, rng)
        name = os.path.basename(os.path.normpath(path))
        for spec, result in rows:
            (med1, wall1, lat1), (med256, wall256, lat256) = result[1], result[256]
            shape = "string" if spec["dtype"] == "string" else f"{spec['dtype']} {tuple(spec['shape'])}"
            line = (f"| `{name}` | `{spec['signature']}` ({shape}) | {med1:,.0f} / {wall1:,.0f} | {lat1 * 1e3:.2f} | "
                    f"{med256:,.0f} / {wall256:,.0f} | {lat256 * 1e3:.1f} |")
            print(line, flush=True)
            lines.append(line)
    load_after = os.getloadavg()
    write_section("export", "Export: encoding throughput of the SavedModels", f"""
Items encoded per second by each model in `saved_models/` (64 bits, Wikipedia
input shapes), calling its signature in-process after `tf.saved_model.load`:
the model's own cost under TF Serving, without network and request parsing.
Random inputs of the right shapes; all outputs (`codes`, `bits`, `logits`)
are computed in every call. items/s is given two ways: batch / median call
time (the model's own cost) and items / wall time over all calls (lower when
other jobs take the CPUs mid-run); latency = median time of one call;
{args.seconds:g} s per cell. Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after.

| model | signature (input) | batch 1: items/s median / wall | batch 1: ms | batch 256: items/s median / wall | batch 256: ms |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(lines)}
""")

if __name__ == "__main__":
    main()
