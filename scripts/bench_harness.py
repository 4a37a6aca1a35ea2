"""Write one BENCHMARKS.md section from `tfhash benchmark`: the harness's table and plots, with machine and date.

Takes a section NAME and a TITLE, then the flags of `tfhash benchmark`
(same names, same defaults). The runs are cached in --out (default
runs/benchmark-NAME), so rerunning re-renders the section without
training; the plots are copied to docs/benchmarks/NAME-*.png.

Usage (the sections that replace the single-run method tables; run from the repository root):
    python scripts/bench_harness.py harness-unsupervised "Unsupervised methods vs CCA-ITQ, Wikipedia" \\
        --methods cca-itq,uch,baseline=ugach,baseline-gan=ugach,ugach --bits 16,32,64,128 --seeds 5 --unified \\
        --set baseline.variant=baseline --set baseline.epochs=50 --set baseline-gan.variant=baseline-gan
    python scripts/bench_harness.py harness-supervised "Supervised methods vs CCA-ITQ, Wikipedia" \\
        --methods cca-itq,sdch,sdch-1024=sdch,dvsh-bow,tuch --bits 16,32,64 --seeds 5 --unified \\
        --set sdch-1024.image_hidden=1024,1024 --set sdch-1024.text_hidden=1024,1024
    (the same with --validation and NAME-validation: the model-selection tables)
"""

import argparse
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import ROOT, run_facts, write_section  # noqa: E402
from tfhash.cli.quiet import import_tensorflow  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="section name in BENCHMARKS.md (and the plots' file prefix)")
    parser.add_argument("title", help="section title")
    parser.add_argument("--dataset", action="append", default=[], help="dataset file; repeat for several")
    parser.add_argument("--methods", default="cca-itq,uch,ugach", help="METHOD or LABEL=METHOD, comma-separated")
    parser.add_argument("--bits", default="16,32,64,128")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="METHOD.SETTING=VALUE")
    parser.add_argument("--validation", action="store_true")
    parser.add_argument("--unified", action="store_true")
    parser.add_argument("--reference", default=None)
    parser.add_argument("--out", default=None, help="benchmark folder (default: runs/benchmark-NAME)")
    args = parser.parse_args(argv)

    import_tensorflow()
    from tfhash.benchmark.harness import benchmark_command, parse_bits, parse_methods, run_benchmark
    from tfhash.cli.options import parse_settings
    from tfhash.data.bundled import default_dataset_path
    from tfhash.methods.registry import get_method

    out = args.out or os.path.join("runs", f"benchmark-{args.name}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bits = parse_bits(args.bits)
    kinds = parse_methods(methods)
    settings = parse_settings(args.set, lambda m: get_method(kinds.get(m, m)).config_class)
    command = benchmark_command(args.dataset, methods, bits, args.seeds, out, args.set, args.validation,
                                args.reference, args.unified)
    table = run_benchmark(args.dataset or [default_dataset_path()], methods, bits, args.seeds, out,
                          settings=settings, validation=args.validation, unified=args.unified, reference=args.reference,
                          command=command)
    facts = run_facts()  # after the runs: the load average they saw

    def move_plot(match):
        target = f"docs/benchmarks/{args.name}-{match.group(2)}"
        shutil.copyfile(os.path.join(out, match.group(2)), os.path.join(ROOT, target))
        return f"![{match.group(1)}]({target})"

    os.makedirs(os.path.join(ROOT, "docs", "benchmarks"), exist_ok=True)
    body = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", move_plot, table)
    write_section(args.name, args.title, body, facts)


if __name__ == "__main__":
    main()
