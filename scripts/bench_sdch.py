"""SDCH on raw pixels: the MIRFlickr raw-image subset, CNN from scratch, next to CCA-ITQ and SCM on pooled pixels.

On feature datasets (bundled Wikipedia, the MIRFlickr real-feature set)
SDCH against SCM and CCA-ITQ over seeds is `tfhash benchmark`'s
(BENCHMARKS.md `harness-supervised`, `harness-supervised-mirflickr`); the
harness cannot pair this one, as CCA-ITQ reads another dataset (pooled
pixels). For each code length, trains `sdch`, `scm` and `cca-itq` through
`tfhash.training.run.train`, reads each run's `report.json`, and writes the
tables to section `sdch` of BENCHMARKS.md (`benchmarks_md.write_section`).

MIRFlickr: the 730 pairs whose raw image is present (64 x 64 pixels, tags as
BoW, 24 labels; 130 queries, 600 train = database); SDCH runs its CNN on the
pixels, CCA-ITQ reads the same pairs with pooled pixels (`bench_runs.mirflickr_images`,
as the DVSH and TUCH benchmarks do). Runs land in `--out` and are reused when
a run with the same settings is there. "unified DB" also ranks SDCH's learned
B for the database items (`--database-codes unified`).

    nice python scripts/bench_sdch.py --out runs/bench_sdch --sdch-mirflickr '{"epochs": 20}'
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_runs import R, map_table, mirflickr_images, plot_rows, run  # noqa: E402
from tfhash.benchmark.harness import unified_report  # noqa: E402
from benchmarks_md import write_section  # noqa: E402


def variant_names(settings):
    """(row label, run-folder slug) of SDCH with `settings` on top of the paper defaults."""
    if not settings:
        return "sdch (paper defaults)", "sdch"

    def value(v):
        return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    label = "sdch, " + ", ".join(f"{k} {value(v)}" for k, v in sorted(settings.items()))
    slug = "sdch-" + "-".join(f"{k}{value(v).replace(',', 'x')}" for k, v in sorted(settings.items()))
    return label, slug


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench_sdch", help="Folder for the runs and derived datasets.")
    parser.add_argument("--bits", default="16,32,64")
    parser.add_argument("--mirflickr", default="/work/shared/data/mirflickr25k", help="MIRFlickr-25K folder.")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--sdch", default="{}", help="JSON of SDCH settings for every dataset (e.g. epochs).")
    parser.add_argument("--sdch-mirflickr", action="append", default=None,
                        help="JSON of extra SDCH settings for MIRFlickr; repeat for one row per variant (default {}).")
    args = parser.parse_args(argv)
    bits_list = [int(b) for b in args.bits.split(",")]
    sections = []
    for name in ("mirflickr",):
        sdch_data, cca_data = mirflickr_images(args.mirflickr, os.path.join(args.out, "data"), args.image_size)
        variants = args.sdch_mirflickr or ["{}"]
        what = (f"MIRFlickr-25K raw-image subset ({args.image_size} x {args.image_size} pixels, 1,386-d tag BoW, "
                "24 labels; 600 train = database, 130 queries). cca-itq on pooled pixels + BoW")
        rows, unified = [], []
        for bits in bits_list:
            rows.append(("cca-itq", bits, run("cca-itq", cca_data, args.out, f"{name}-cca-itq-{bits}b", bits=bits)[1]))
            rows.append(("scm (supervised reference)", bits,
                         run("scm", cca_data, args.out, f"{name}-scm-{bits}b", bits=bits)[1]))
            for variant in variants:
                settings = {**json.loads(args.sdch), **json.loads(variant)}
                label, slug = variant_names(settings)
                run_dir, report = run("sdch", sdch_data, args.out, f"{name}-{slug}-{bits}b", bits=bits, **settings)
                rows.append((label, bits, report))
                maps = unified_report(run_dir)["map_all"]
                unified.append(f"{label} {bits} bits: i2t {maps['i2t']:.4f}, t2i {maps['t2i']:.4f}")
        plot = plot_rows(f"sdch-{name}", rows, f"SDCH vs CCA-ITQ, {what.split(' (')[0]}")
        sections.append(f"### {what}\n\n{map_table(rows)}\n\nSDCH with the unified DB (MAP@all): {'; '.join(unified)}.\n\n"
                        f"{plot}\n")

    note = (f"MAP@all and MAP@{R} over Hamming ranking, out-of-sample database codes (each database item encoded "
            "by its own modality's network); \"unified DB\" ranks SDCH's learned B for the database items instead "
            "(`--database-codes unified`). `train s` is wall-clock on the shared CPU. Rows other than "
            "the paper defaults (20 epochs instead of 50) fit this "
            "CPU's time budget; they were fixed from timings before any result was seen, never chosen on the "
            "queries.")
    write_section("sdch", "SDCH on raw pixels (MIRFlickr raw-image subset), one run per length",
                  note + "\n\n" + "\n".join(sections))


if __name__ == "__main__":
    main()
