"""Issue 14's measurements: UCH's and UGACH's options on a validation split, test-set and MIRFlickr runs.

    python scripts/bench_issue14.py uch-validation VARIANT...     # 64 bits on a split of the training pairs
    python scripts/bench_issue14.py ugach-validation VARIANT...
    python scripts/bench_issue14.py uch-test BITS/SEED...         # bundled Wikipedia test queries, both protocols
    python scripts/bench_issue14.py mirflickr METHOD BITS SEEDS   # MIRFlickr real features (run `--import` once)

Runs go through `bench_runs.run` (cached in --workdir); each prints MAP@all
I->T / T->I and the code diagnostics. The validation split is
`tfhash.data.resplit.validation_split` of the bundled set (473 queries),
never the test queries. The numbers on docs/methods/uch.md and ugach.md were
measured with the same variants by /tmp drivers on the split of the former
`bench_runs.validation_split` (seed 1, 473 queries, since replaced by the
library function), so a rerun here may differ by a split.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_runs  # noqa: E402

UCH = {"paper": {"decorrelation_weight": 0.0, "balance_weight": 0.0},
       "paper-batchB": {"decorrelation_weight": 0.0, "balance_weight": 0.0, "code_update": "batch"},
       "decor1": {"decorrelation_weight": 1.0}, "decor10": {"decorrelation_weight": 10.0},
       "decor1-batchB": {"decorrelation_weight": 1.0, "code_update": "batch"},
       "default": {}, "decor100-bal10": {"balance_weight": 10.0},
       "default-batchB": {"code_update": "batch"}, "decor1000": {"decorrelation_weight": 1000.0}}
UGACH = {"ugach": {}, "ugach-sig": {"reward": "sigmoid"},
         "ugach-sig-rej": {"reward": "sigmoid", "reject_neighbours": True},
         "ugach-sig-rej-g2": {"reward": "sigmoid", "reject_neighbours": True, "generator_epochs": 2, "epochs": 59},
         "baseline-gan-sig": {"variant": "baseline-gan", "reward": "sigmoid"},
         "baseline-matched": {"variant": "baseline", "baseline_schedule": "matched"},
         "baseline-matched-g2": {"variant": "baseline", "baseline_schedule": "matched", "generator_epochs": 2,
                                 "epochs": 59}}
MIRFLICKR = "/work/shared/data/mirflickr25k"


def show(name, report):
    d = report["code_diagnostics"]
    print(name, "top PC / mean|r|:", {k: (round(v["top_pc_share"], 3), round(v["mean_abs_correlation"], 3))
                                      for k, v in d.items()}, flush=True)


def import_mirflickr(work, seeds):
    """The 730 pairs with real CNN features: EfficientNet-Lite2 images, YAll tags, LAll labels; 130 queries."""
    import numpy as np
    import scipy.io

    feats = os.path.join(MIRFLICKR, "features")
    with open(os.path.join(feats, "efficientnet-lite2.rows.txt"), encoding="utf-8") as f:
        rows = [int(line.split("\t")[0]) for line in f if line.strip()]
    arrays = {"images": np.load(os.path.join(feats, "efficientnet-lite2.npy")).astype(np.float32),
              "texts": scipy.io.loadmat(os.path.join(MIRFLICKR, "mirflickr25k-yall.mat"))["YAll"][rows].astype(np.float32),
              "labels": scipy.io.loadmat(os.path.join(MIRFLICKR, "mirflickr25k-lall.mat"))["LAll"][rows].astype(np.uint8)}
    for name, value in arrays.items():
        np.save(os.path.join(work, f"{name}.npy"), value)
    for seed in seeds:
        os.system(f"{sys.executable} -m tfhash data import arrays --images {work}/images.npy --texts {work}/texts.npy "
                  f"--labels {work}/labels.npy --query-size 130 --seed {seed} --out {work}/mir-s{seed}.h5")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("uch-validation", "ugach-validation", "uch-test", "mirflickr"))
    parser.add_argument("args", nargs="*")
    parser.add_argument("--workdir", default="/tmp/tfhash-bench-issue14")
    parser.add_argument("--import", dest="do_import", action="store_true")
    a = parser.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    from tfhash.data.bundled import default_dataset_path
    from tfhash.data.resplit import validation_split

    if a.what.endswith("validation"):
        val = os.path.join(a.workdir, "wiki-val.h5")
        if not os.path.exists(val):
            validation_split(default_dataset_path(), val, query_size=473, seed=1)
        method, table = ("uch", UCH) if a.what == "uch-validation" else ("ugach", UGACH)
        for name in a.args:
            _, rep = bench_runs.run(method, val, a.workdir, f"{method}-val-{name}", bits=64, seed=0, **table[name])
            show(name, rep)
    elif a.what == "uch-test":
        for spec in a.args:
            bits, seed = map(int, spec.split("/"))
            run_dir, rep = bench_runs.run("uch", default_dataset_path(), a.workdir, f"uch-{bits}-s{seed}",
                                          bits=bits, seed=seed)
            u = bench_runs.unified_report(run_dir)
            print("unified", bits, seed, round(u["map_all"]["i2t"], 4), round(u["map_all"]["t2i"], 4), flush=True)
    else:
        method, bits_list, seeds = a.args[0], a.args[1].split(","), [int(s) for s in a.args[2].split(",")]
        if a.do_import:
            import_mirflickr(a.workdir, seeds)
        for bits in bits_list:
            for seed in seeds:
                bench_runs.run(method, os.path.join(a.workdir, f"mir-s{seed}.h5"), a.workdir,
                               f"mir-{method}-{bits}-s{seed}", bits=int(bits), seed=seed)


if __name__ == "__main__":
    main()
