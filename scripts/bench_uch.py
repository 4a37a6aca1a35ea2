"""UCH's ablations at 64 bits on a validation split of Wikipedia's training pairs.

    python scripts/bench_uch.py      # variants, on a validation split of the training pairs

UCH against CCA-ITQ over code lengths and seeds is `tfhash benchmark`'s
(BENCHMARKS.md `harness-unsupervised`, `harness-unsupervised-mirflickr`).
Runs go through `tfhash.training.run.train` (reused from `--workdir` when
they exist with the same settings); the section `uch-ablation` of
BENCHMARKS.md gets machine, command, date and numbers. The ablation never
touches the query set: it carves 473 validation queries out of the 2,173
training pairs and trains on the other 1,700; each variant scores MAP@all
and MAP@50 with out-of-sample and unified database codes.
"""

import argparse
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_runs  # noqa: E402
from tfhash.benchmark.harness import unified_report  # noqa: E402
from benchmarks_md import write_section  # noqa: E402
from tfhash.data.resplit import validation_split  # noqa: E402

TASKS = ("i2t", "t2i")
ABLATIONS = {
    "default": {},
    "default, seed 1 (run-to-run spread)": {"seed": 1},
    "default, seed 2 (run-to-run spread)": {"seed": 2},
    "paper learning rates (1e-4 image, 1e-2 text)": {"image_learning_rate": 1e-4, "text_learning_rate": 1e-2},
    "no batch norm (paper architecture)": {"batch_norm": False},
    "eq. 13 literally (similarity_target=pair)": {"similarity_target": "pair"},
    "no generator adversarial terms (eqs. 17/19 literally)": {"generator_adversarial": False},
    "width rule for small inputs (scale_widths on)": {"scale_widths": True},
    "paper weight decay 0.1": {"weight_decay": 0.1},
}


NOTE = "MAP@all and MAP@50 (Hamming ranking)."


def run(method, bits, dataset, root, **settings):
    """({protocol: report}, seconds) of one run (reused when `root` holds it with the same settings)."""
    from tfhash.training.run_folder import RunFolder

    run_dir, report = bench_runs.run(method, dataset, root, f"{method}-{bits}", bits=bits, **settings)
    reports = {"out-of-sample": report}
    if "database_unified" in RunFolder(run_dir).read_codes():  # the method learns codes B
        reports["unified"] = unified_report(run_dir)
    return reports, report.get("seconds", 0)


def cells(report):
    if report is None:
        return ["n/a"] * 4
    return [f"{report[m][t]:.4f}" for t in TASKS for m in ("map_all", "map_at_r")]


def ablation_table(root):
    from tfhash.data.bundled import default_dataset_path

    dataset = validation_split(default_dataset_path(), os.path.join(root, "wikipedia-validation.h5"), query_size=473)
    header = ("| variant (64 bits) | I->T MAP@all | I->T MAP@50 | T->I MAP@all | T->I MAP@50 "
              "| unified I->T | unified T->I |")
    lines = [header, "|" + "---|" * 7]
    for name, settings in ABLATIONS.items():
        reports, _ = run("uch", 64, dataset, os.path.join(root, re.sub(r"\W+", "-", name)), **settings)
        unified = reports["unified"]["map_all"]
        lines.append(f"| {name} | " + " | ".join(cells(reports["out-of-sample"]))
                     + f" | {unified['i2t']:.4f} | {unified['t2i']:.4f} |")
        print(lines[-1], flush=True)
    return ("UCH ablation on a validation split of Wikipedia's training pairs (1,700 train = database, "
            "473 validation queries; the query set is not used)"), lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    root = args.workdir or tempfile.mkdtemp(prefix="bench-uch-")
    title, lines = ablation_table(root)
    write_section("uch-ablation", title, "\n".join([NOTE, "", *lines]))
    print(f"runs in {root}")


if __name__ == "__main__":
    sys.exit(main())
