"""Build the packaged Wikipedia dataset: tfhash/data/bundled/wikipedia.h5.

    python scripts/build_bundled_wikipedia.py [--data-dir ../shared/data] [--out tfhash/data/bundled/wikipedia.h5]

Runs the Wikipedia importer, then rewrites every array gzip-compressed
(about a third of the size; `PairedDataset` reads it unchanged).
"""

import argparse
import os
import sys

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tfhash.atomic import atomic_path  # noqa: E402
from tfhash.data.dataset import PairedDataset  # noqa: E402
from tfhash.data.importers.wikipedia import import_wikipedia  # noqa: E402


def compress(path):
    """Rewrite the HDF5 file at `path` with gzip-compressed datasets, atomically."""
    with atomic_path(path) as tmp, h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        dst.attrs.update(src.attrs)

        def copy(name, node):
            if isinstance(node, h5py.Group):
                dst.require_group(name).attrs.update(node.attrs)
                return
            kw = {"compression": "gzip", "compression_opts": 9, "shuffle": True} if node.ndim > 1 or node.size > 64 else {}
            dst.create_dataset(name, data=node[()], dtype=node.dtype, chunks=node.chunks if kw else None, **kw)

        src.visititems(copy)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data"),
                        help="folder holding wikipedia/ (default: ../shared/data)")
    parser.add_argument("--out", default=os.path.join(ROOT, "tfhash", "data", "bundled", "wikipedia.h5"))
    args = parser.parse_args(argv)
    folder = os.path.join(args.data_dir, "wikipedia")
    if not os.path.isdir(folder):
        folder = args.data_dir  # also accept the wikipedia folder itself
    import_wikipedia(folder, args.out)
    compress(args.out)
    with PairedDataset(args.out) as ds:
        info = ds.describe()
    print(f"wrote {args.out}: {info['num_pairs']} pairs, {os.path.getsize(args.out) / 1e6:.2f} MB, splits {info['split_sizes']}")


if __name__ == "__main__":
    main()
