"""Supervised methods against the supervised reference SCM (and CCA-ITQ), over seeds; MAP@all, MAP@50, MAP@500.

Datasets: the bundled Wikipedia (fixed split; a seed changes only the
method's own randomness) and the MIRFlickr real-feature set: the 730
MIRFlickr-25K pairs with an image, as EfficientNet-Lite2 features
(`../shared/data/mirflickr25k/features/`) with the 1,386-d tag BoW and the
24 labels; per seed a fresh split (130 queries, the other 600 train =
database), the raw-image subset's protocol.

    python scripts/bench_supervised.py --work /tmp/sup --methods scm,cca-itq --bits 32,64 --seeds 0,1,2,3,4

Runs are cached in WORK (`bench_runs.run`); the table is printed as Markdown.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfhash.data.dataset import write_dataset  # noqa: E402
from tfhash.data.protocols import make_custom_splits  # noqa: E402

RS = (50, 500)
TASKS = ("i2t", "t2i")


def mirflickr_features(folder, work, seed):
    """The 730-pair MIRFlickr real-feature dataset with the split of `seed`; returns its path."""
    from tfhash.data.importers.dcmh_mat import open_dcmh

    path = os.path.join(work, f"mirflickr-features-seed{seed}.h5")
    if os.path.exists(path):
        return path
    features = np.load(os.path.join(folder, "features", "efficientnet-lite2.npy"))
    with open(os.path.join(folder, "features", "efficientnet-lite2.rows.txt"), encoding="utf-8") as f:
        rows = np.asarray([int(line.split("\t")[0]) for line in f if line.strip()])
    with open_dcmh(os.path.join(folder, "mirflickr25k-lall.mat"), os.path.join(folder, "mirflickr25k-yall.mat")) as data:
        labels, bow = np.asarray(data["labels"])[rows], np.asarray(data["bow"])[rows].astype(np.float32)
    splits = make_custom_splits(rows.size, query_size=130, seed=seed, labels=labels)
    write_dataset(path, images=features, bow=bow, labels=labels, ids=[f"im{r + 1}" for r in rows], splits=splits,
                  split_seed=seed, protocol="custom", name="mirflickr-features")
    return path


def train_once(method, dataset, run_dir, settings):
    """Train (or reuse) one run with MAP@50 and MAP@500; returns its report."""
    from tfhash.methods.registry import get_method
    from tfhash.training.run import train

    report_path = os.path.join(run_dir, "report.json")
    if not os.path.exists(report_path):
        config = get_method(method).config_class.from_dict(settings)
        start = time.time()
        train(method, config, dataset_path=dataset, run_dir=run_dir, R=RS, verbose=0)
        with open(os.path.join(run_dir, "bench_seconds.txt"), "w", encoding="utf-8") as f:
            f.write(f"{time.time() - start:.0f}\n")
    with open(report_path, encoding="utf-8") as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--methods", default="scm,cca-itq")
    parser.add_argument("--bits", default="32,64")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--datasets", default="wikipedia,mirflickr-features")
    parser.add_argument("--settings", default="{}", help='JSON {method: {setting: value}} beyond the defaults')
    parser.add_argument("--data-dir", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    args = parser.parse_args()
    from tfhash.data.bundled import default_dataset_path

    os.makedirs(args.work, exist_ok=True)
    extra = json.loads(args.settings)
    seeds = [int(s) for s in args.seeds.split(",")]
    bits_list = [int(b) for b in args.bits.split(",")]
    for name in args.datasets.split(","):
        print(f"\n### {name}\n")
        header = ["method", "bits"] + [f"{t} MAP@{k}" for k in ("all",) + RS for t in TASKS]
        print("| " + " | ".join(header) + " | seeds |")
        print("|---|---:|" + "---:|" * (len(header) - 2) + "---|")
        for bits in bits_list:
            for method in args.methods.split(","):
                values = []
                for seed in seeds:
                    dataset = (default_dataset_path() if name == "wikipedia"
                               else mirflickr_features(os.path.join(args.data_dir, "mirflickr25k"), args.work, seed))
                    settings = dict(extra.get(method, {}), bits=bits, seed=seed)
                    tag = f"{name}-{method}-{bits}b-seed{seed}"
                    rep = train_once(method, dataset, os.path.join(args.work, tag), settings)
                    values.append([rep["map_all"][t] for t in TASKS]
                                  + [rep["map_at_rs"][str(r)][t] for r in RS for t in TASKS])
                mean = np.mean(values, axis=0)
                std = np.std(values, axis=0, ddof=1) if len(values) > 1 else np.zeros(len(mean))
                cells = " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in zip(mean, std))
                print(f"| {method} | {bits} | {cells} | {len(seeds)} |", flush=True)


if __name__ == "__main__":
    main()
