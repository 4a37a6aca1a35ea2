"""Throughput and memory of `tfhash data features` (VGG-19 fc7, 224 px, batch 32) on a synthetic image file.

    nice python scripts/bench_features.py                  # 3,000 images, writes section `features`
    nice python scripts/bench_features.py --images 500 --no-write

Writes a raw-pixel dataset of `--images` random 224 x 224 x 3 uint8 images
(generated and written in chunks, so the script itself never holds them),
then times `tfhash.training.features.extract_features` on it with VGG-19
and random weights: the same computation as the ImageNet weights, which
cannot be downloaded here. images/s = images / wall time of the extraction
(network build excluded, first batch's tracing included). Memory: the
process's resident size is sampled every 0.2 s during the extraction; its
value after 10% of the images and at the end shows whether it grows with
the number of images (it must not: images are read one batch at a time).
"""

import argparse
import os
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import peak_rss_mb, write_section  # noqa: E402
from tfhash.data.dataset import write_dataset  # noqa: E402


class RandomPixels:
    """Array-like (N, S, S, 3) uint8 of seeded random pixels, generated per slice (never held whole)."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, n, size):
        self.shape = (n, size, size, 3)

    def __getitem__(self, key):
        start, stop, _ = key.indices(self.shape[0])
        rng = np.random.default_rng(start)
        return rng.integers(0, 256, (stop - start,) + self.shape[1:], dtype=np.uint8)


def rss_mb():
    """Current resident memory of this process in MiB."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_input(path, n, size):
    rng = np.random.default_rng(0)
    splits = {"query": np.arange(100), "database": np.arange(100, n), "train": np.arange(100, n)}
    return write_dataset(path, images=RandomPixels(n, size), bow=rng.integers(0, 2, (n, 64)).astype(np.float32),
                         labels=np.eye(10, dtype=np.uint8)[rng.integers(0, 10, n)], splits=splits,
                         name="synthetic-pixels")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backbone", default="vgg19")
    parser.add_argument("--layer", default="fc7")
    parser.add_argument("--no-write", action="store_true", help="Print only; leave BENCHMARKS.md alone.")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from tfhash.training import features as features_module

    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        source = make_input(os.path.join(tmp, "pixels.h5"), args.images, args.size)
        source_mb = os.path.getsize(source) / 2**20
        keras.utils.set_random_seed(0)
        # Time the extraction loop only: wrap the batch loop so the network build is not counted.
        samples, timing, stop = [], {}, threading.Event()
        inner = features_module._extract

        def timed(net, images, out, batch_size, progress):
            def sample():
                while not stop.is_set():
                    samples.append((time.perf_counter(), rss_mb()))
                    time.sleep(0.2)

            thread = threading.Thread(target=sample, daemon=True)
            load = os.getloadavg()[0]
            timing["start"] = time.perf_counter()
            thread.start()
            inner(net, images, out, batch_size, progress)
            timing["end"] = time.perf_counter()
            stop.set()
            thread.join()
            timing["load"] = (load, os.getloadavg()[0])

        features_module._extract = timed
        out = features_module.extract_features(source, os.path.join(tmp, "features.h5"), backbone=args.backbone,
                                               layer=args.layer, weights="none", batch_size=args.batch_size,
                                               progress=False)
        out_mb = os.path.getsize(out) / 2**20
    seconds = timing["end"] - timing["start"]
    rate = args.images / seconds
    tenth = timing["start"] + 0.1 * seconds
    early = max(r for t, r in samples if t <= tenth)
    late = max(r for _, r in samples)
    peak = peak_rss_mb()
    load_before, load_after = timing["load"]
    print(f"{args.images} images in {seconds:.1f} s: {rate:.2f} images/s; RSS {early:.0f} MiB after 10%, "
          f"{late:.0f} MiB max during extraction, process peak {peak:.0f} MiB; input {source_mb:.0f} MiB; "
          f"load {load_before:.1f} -> {load_after:.1f}", flush=True)
    if args.no_write:
        return
    write_section("features", "Feature extraction: `tfhash data features` throughput and memory", f"""
`tfhash data features` with {args.backbone} `{args.layer}` (random weights: the
same computation as the ImageNet ones), {args.size} px input, batch
{args.batch_size}, on a synthetic raw-pixel dataset of {args.images:,} random
images ({source_mb:,.0f} MiB HDF5; output {out_mb:,.1f} MiB). TensorFlow
{tf.__version__} on the CPU, run under `nice` on a shared machine: load
average {load_before:.1f} when the extraction started, {load_after:.1f} when
it ended.

| images/s | wall time | RSS after 10% of the images | max RSS during extraction | process peak RSS |
| --- | --- | --- | --- | --- |
| {rate:.2f} | {seconds:.0f} s | {early:,.0f} MiB | {late:,.0f} MiB | {peak:,.0f} MiB |

The resident size after a tenth of the images and at its maximum differ by
{late - early:,.0f} MiB while the input file holds {source_mb:,.0f} MiB of
pixels: images are streamed one batch at a time, so memory is set by the
network ({args.backbone}'s weights) and one batch, not by the dataset size.
""")


if __name__ == "__main__":
    main()
