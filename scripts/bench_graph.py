"""Benchmark: UGACH's correlation graph (FAISS kNN) at 20k and 190k items, time and peak memory.

Synthetic NUS-WIDE-shaped features: 4096-d "image" and 1000-d "text" vectors
with cluster structure (a 64-d latent drawn around 20 centres, mapped by a
random linear map, plus noise), float32. Each measurement runs in a fresh
subprocess, so its peak RSS (`resource.getrusage` ru_maxrss, via
`benchmarks_md.peak_rss_mb`) is its own; the
table also gives the RSS right after the features are made, so the graph's
own cost is the difference.

Usage:
    python scripts/bench_graph.py                    # 20k (exact and ivf) and 190k (auto = ivf)
    python scripts/bench_graph.py --sizes 20000 --stdout
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

IMAGE_DIM, TEXT_DIM, LATENT, CLUSTERS = 4096, 1000, 64, 20


def _rss_mb():
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_features(n, seed=0, chunk=8192):
    """(images (n, 4096), texts (n, 1000), cluster ids), float32, built chunk by chunk."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(CLUSTERS, LATENT))
    maps = {d: (rng.normal(size=(LATENT, d)) / np.sqrt(LATENT)).astype(np.float32) for d in (IMAGE_DIM, TEXT_DIM)}
    cluster = rng.integers(CLUSTERS, size=n)
    images = np.empty((n, IMAGE_DIM), np.float32)
    texts = np.empty((n, TEXT_DIM), np.float32)
    for s in range(0, n, chunk):
        c = cluster[s : s + chunk]
        z = (centres[c] + rng.normal(size=(c.size, LATENT))).astype(np.float32)
        images[s : s + chunk] = np.maximum(z @ maps[IMAGE_DIM] + rng.normal(size=(c.size, IMAGE_DIM)).astype(np.float32), 0)
        texts[s : s + chunk] = z @ maps[TEXT_DIM] + rng.normal(size=(c.size, TEXT_DIM)).astype(np.float32)
    return images, texts, cluster


def measure(n, index, exact_reference):
    """Runs inside the subprocess: build the graph, print one JSON line."""
    import faiss

    from benchmarks_md import peak_rss_mb
    from tfhash.methods.correlation_graph import correlation_graph

    images, texts, cluster = make_features(n)
    after_data = _rss_mb()
    start = time.perf_counter()
    graph = correlation_graph(images, texts, k_image=5, k_text=5, index=index)
    seconds = time.perf_counter() - start
    out = {
        "n": n, "index": index, "seconds": round(seconds, 1), "faiss_threads": faiss.omp_get_max_threads(),
        "data_mb": round((images.nbytes + texts.nbytes) / 2**20), "rss_after_data_mb": round(after_data),
        "peak_rss_mb": round(peak_rss_mb()), "graph_mb": round((graph.image.nbytes + graph.text.nbytes) / 2**20, 1),
        "same_cluster": round(float((cluster[graph.neighbours()[:, 1:]] == cluster[:, None]).mean()), 3),
    }
    if exact_reference:  # recall of the approximate graph against exact search on a sample of rows
        rows = np.random.default_rng(1).choice(n, size=2000, replace=False)
        recalls = []
        for x, approx in ((images, graph.image), (texts, graph.text)):
            _, exact = faiss.knn(x[rows], x, 5)
            recalls.append(np.mean([len(set(a[1:]) & set(e)) / 4 for a, e in zip(approx[rows], exact)]))
        out["recall_image"], out["recall_text"] = (round(float(r), 3) for r in recalls)
    print("RESULT " + json.dumps(out), flush=True)


def run_in_subprocess(n, index, exact_reference):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), index, str(int(exact_reference))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"measurement {n} {index} failed:\n{done.stderr[-2000:]}")


def markdown(rows):
    lines = [
        f"FAISS threads: {rows[0]['faiss_threads']}. Synthetic items, 4096-d image + 1000-d text features (float32, "
        "20 latent clusters); K = 5 image + 5 text neighbours, the item itself included. `flat` = exact brute force "
        "(chunked `faiss.knn`); `ivf` = PCA to 128-d (randomised, fitted on 10,000 rows) + `IndexIVFFlat` "
        "(4 sqrt(n) cells, nprobe 16); `auto` (what `prepare` uses) = flat up to 25,000 items, ivf above. Each row runs "
        "in a fresh process: peak RSS is that process's (features included), `RSS after data` the RSS once the "
        "features exist. Recall = share of the 4 exact nearest others found, on 2,000 sampled rows; `same cluster` = "
        "share of neighbours from the item's latent cluster.",
        "",
        "| items | search | time (s) | features (MB) | RSS after data (MB) | peak RSS (MB) | graph (MB) "
        "| recall img / txt | same cluster |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        recall = f"{r['recall_image']:.3f} / {r['recall_text']:.3f}" if "recall_image" in r else "exact"
        lines.append(f"| {r['n']:,} | {r['index']} | {r['seconds']} | {r['data_mb']:,} | {r['rss_after_data_mb']:,} | "
                     f"{r['peak_rss_mb']:,} | {r['graph_mb']} | {recall} | {r['same_cluster']} |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        measure(int(sys.argv[2]), sys.argv[3], bool(int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,190000")
    parser.add_argument("--quick", action="store_true", help="(smoke test) both searches at every size")
    parser.add_argument("--stdout", action="store_true", help="print the table instead of writing BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        plans = [("flat", False), ("ivf", True)] if n <= 25000 else [("auto", True)]
        if args.quick:
            plans = [("flat", False), ("ivf", True)]
        for index, reference in plans:
            row = run_in_subprocess(n, index, reference)
            print(json.dumps(row), flush=True)
            rows.append(row)
    text = markdown(rows)
    if args.stdout:
        print(text)
    else:
        from benchmarks_md import write_section

        write_section("ugach-graph", "UGACH correlation graph: construction time and memory", text)


if __name__ == "__main__":
    main()
