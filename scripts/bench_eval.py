"""Time `evaluate_retrieval` on a realistic size: 2,000 queries x 190,000 database codes, 64 bits.

Random ±1 codes and random multi-hot labels over 24 classes (each class on
with probability 0.1, at least one per item). Prints machine info, seconds
and peak resident memory.
"""

import argparse
import os
import platform
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tfhash.eval.retrieval import evaluate_retrieval  # noqa: E402


def random_labels(rng, n, classes):
    labels = rng.random((n, classes)) < 0.1
    labels[np.arange(n), rng.integers(0, classes, n)] = True
    return labels.astype(np.uint8)


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def peak_rss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--database", type=int, default=190_000)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--classes", type=int, default=24)
    parser.add_argument("--budget-mb", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None, help="threads (default: CPUs available, at most 8)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    query = np.where(rng.random((args.queries, args.bits)) < 0.5, 1, -1).astype(np.int8)
    database = np.where(rng.random((args.database, args.bits)) < 0.5, 1, -1).astype(np.int8)
    query_labels = random_labels(rng, args.queries, args.classes)
    database_labels = random_labels(rng, args.database, args.classes)
    rss_before = peak_rss_mb()
    load_before = f"{os.getloadavg()[0]:.2f}"

    start, cpu_start = time.perf_counter(), time.process_time()
    result = evaluate_retrieval(
        query,
        database,
        query_labels,
        database_labels,
        memory_budget_bytes=args.budget_mb * 2**20,
        workers=args.workers,
    )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()} {platform.machine()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}")
    print(
        f"size: {args.queries} queries x {args.database} database, {args.bits} bits, "
        f"{args.classes} classes, budget {args.budget_mb} MB"
    )
    print(f"evaluate_retrieval: {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU (workers={args.workers or 'default'})")
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (after data set-up: {rss_before:.0f} MB)")
    print(
        f"map_all={result.map_all:.4f} map_at_r={result.map_at_r:.4f} (R={result.R}) "
        f"queries_without_relevant={result.queries_without_relevant}"
    )


if __name__ == "__main__":
    main()
