"""UCH vs the CCA-ITQ reference on the bundled Wikipedia set, and UCH's ablations.

    python scripts/bench_uch.py                 # the table: 16/32/64/128 bits, both database protocols
    python scripts/bench_uch.py --ablation      # 64 bits, variants, on a validation split of the training pairs

Both run through `tfhash.training.run.train` (runs are reused from
`--workdir` when they exist with the same settings) and write their section of
BENCHMARKS.md (`uch`, `uch-ablation`; machine, command, date, numbers). The main table
scores I->T and T->I with MAP@all and MAP@50 under the out-of-sample
protocol (database codes from each item's own network) and, for UCH, the
unified one (database codes = the learned training codes B). The ablation
never touches the query set: it carves 473 validation queries out of the
2,173 training pairs and trains on the other 1,700.
"""

import argparse
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_runs  # noqa: E402
from tfhash.benchmark.harness import unified_report  # noqa: E402
from benchmarks_md import plot_map_vs_bits, write_section  # noqa: E402
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


def main_table(root):
    from tfhash.data.bundled import default_dataset_path

    dataset = default_dataset_path()
    header = "| bits | method | database codes | I->T MAP@all | I->T MAP@50 | T->I MAP@all | T->I MAP@50 | train s |"
    lines = [header, "|" + "---|" * 8]
    chance, series = {}, {}
    for bits in (16, 32, 64, 128):
        for method in ("uch", "cca-itq"):
            reports, seconds = run(method, bits, dataset, os.path.join(root, str(bits)))
            for protocol in ("out-of-sample", "unified"):
                report = reports.get(protocol)
                if report is None and method == "cca-itq":
                    continue
                lines.append(f"| {bits} | {method} | {protocol} | " + " | ".join(cells(report)) + f" | {seconds:.0f} |")
                label = method if method == "cca-itq" else f"{method} ({protocol} database)"
                series.setdefault(label, {})[bits] = (report["map_all"]["i2t"], report["map_all"]["t2i"])
            chance[bits] = reports["out-of-sample"]["random_codes_map"]
        print("\n".join(lines[-3:]), flush=True)
    lines.append("")
    lines.append("Random codes (same shapes), out-of-sample: " + "; ".join(
        f"{b} bits I->T {c['map_all']['i2t']:.3f} / {c['map_at_r']['i2t']:.3f}, "
        f"T->I {c['map_all']['t2i']:.3f} / {c['map_at_r']['t2i']:.3f}" for b, c in chance.items()))
    lines.append("")
    lines.append(plot_map_vs_bits("uch-wikipedia", series, "UCH vs CCA-ITQ, Wikipedia",
                                  {b: (c["map_all"]["i2t"], c["map_all"]["t2i"]) for b, c in chance.items()}))
    return "UCH: Wikipedia (bundled: 2,173 train = database, 693 queries), UCH defaults vs CCA-ITQ defaults", lines


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
    parser.add_argument("--ablation", action="store_true", help="run the 64-bit ablation on a validation split")
    parser.add_argument("--workdir", default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    root = args.workdir or tempfile.mkdtemp(prefix="bench-uch-")
    title, lines = ablation_table(root) if args.ablation else main_table(root)
    write_section("uch-ablation" if args.ablation else "uch", title, "\n".join([NOTE, "", *lines]))
    print(f"runs in {root}")


if __name__ == "__main__":
    sys.exit(main())
