"""Issue 14's model selection: UCH's and UGACH's options on a validation split of the training pairs.

    python scripts/bench_issue14.py uch-validation VARIANT...     # 64 bits on a split of the training pairs
    python scripts/bench_issue14.py ugach-validation VARIANT...

Test-query and MIRFlickr comparisons over seeds are `tfhash benchmark`'s
(BENCHMARKS.md `harness-unsupervised`, `harness-unsupervised-mirflickr`).
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


def show(name, report):
    d = report["code_diagnostics"]
    print(name, "top PC / mean|r|:", {k: (round(v["top_pc_share"], 3), round(v["mean_abs_correlation"], 3))
                                      for k, v in d.items()}, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("uch-validation", "ugach-validation"))
    parser.add_argument("args", nargs="*")
    parser.add_argument("--workdir", default="/tmp/tfhash-bench-issue14")
    a = parser.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    from tfhash.data.bundled import default_dataset_path
    from tfhash.data.resplit import validation_split

    val = os.path.join(a.workdir, "wiki-val.h5")
    if not os.path.exists(val):
        validation_split(default_dataset_path(), val, query_size=473, seed=1)
    method, table = ("uch", UCH) if a.what == "uch-validation" else ("ugach", UGACH)
    for name in a.args:
        _, rep = bench_runs.run(method, val, a.workdir, f"{method}-val-{name}", bits=64, seed=0, **table[name])
        show(name, rep)


if __name__ == "__main__":
    main()
