"""Time `evaluate_retrieval` on a realistic size: 2,000 queries x 190,000 database codes, 64 bits.

Random ±1 codes and random multi-hot labels over 24 classes (each class on
with probability 0.1, at least one per item). Prints machine info, seconds
and peak resident memory.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import peak_rss_mb, write_section  # noqa: E402
from tfhash.eval.retrieval import evaluate_retrieval  # noqa: E402


def random_labels(rng, n, classes):
    labels = rng.random((n, classes)) < 0.1
    labels[np.arange(n), rng.integers(0, classes, n)] = True
    return labels.astype(np.uint8)


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

    write_section("eval", "Evaluation speed (MAP, PR, P@K)", f"""
| queries | database | bits | classes | memory budget | wall (s) | CPU (s) | peak RSS (MiB) |
|---:|---:|---:|---:|---:|---:|---:|---:|
| {args.queries:,} | {args.database:,} | {args.bits} | {args.classes} | {args.budget_mb} MiB | {seconds:.2f} | {cpu_seconds:.2f} | {peak_rss_mb():.0f} |

Random codes and labels (MAP@all {result.map_all:.4f}, MAP@{result.R} {result.map_at_r:.4f});
peak RSS after building the inputs alone: {rss_before:.0f} MiB.
""")


if __name__ == "__main__":
    main()
