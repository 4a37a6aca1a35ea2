"""CMFH against its published figures, next to CCA-ITQ, on the bundled Wikipedia set.

    python scripts/bench_cmfh.py                       # 16/32/64/128 bits, seeds 0-4, both protocols
    python scripts/bench_cmfh.py --seeds 0 1 --bits 64 # a smaller grid
    python scripts/bench_cmfh.py --setting NAME=VALUE  # a protocol probe (e.g. standardize=true), own work dir

CMFH's own tables and SePH's (Lin et al., CVPR 2015, Table 2, Wiki, MAP@all)
use the unified protocol: the database is the codes learned for the 2,173
training pairs, the queries the 693 test pairs' out-of-sample codes. Every
row is mean +- std over the seeds; runs are cached in --workdir and the
section `cmfh` of BENCHMARKS.md is rewritten.
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_runs  # noqa: E402
from tfhash.benchmark.harness import unified_report  # noqa: E402
from benchmarks_md import write_section  # noqa: E402

TASKS = ("i2t", "t2i")
# SePH (Lin et al., CVPR 2015), Table 2, Wiki, CMFH, MAP@all at 16 / 32 / 64 / 128 bits.
PUBLISHED = {"i2t": {16: 0.213, 32: 0.225, 64: 0.236, 128: 0.241},
             "t2i": {16: 0.488, 32: 0.513, 64: 0.526, 128: 0.537}}


def _value(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def mean_std(values):
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--setting", action="append", default=[], help="NAME=VALUE for CMFH (a probe; not written)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "tfhash-bench-cmfh"))
    args = parser.parse_args()
    from tfhash.data.bundled import default_dataset_path

    settings = dict((k, _value(v)) for k, v in (s.split("=", 1) for s in args.setting))
    probe = "-".join(f"{k}={v}" for k, v in sorted(settings.items()))
    dataset = default_dataset_path()
    maps = {}  # (row, bits, task) -> [MAP@all per seed]
    for bits in args.bits:
        for seed in args.seeds:
            run_dir, report = bench_runs.run("cmfh", dataset, args.workdir, f"cmfh-{probe}-{bits}-s{seed}",
                                             bits=bits, seed=seed, **settings)
            unified = unified_report(run_dir)
            rows = {"CMFH, unified database": unified, "CMFH, out-of-sample database": report}
            if not settings:
                _, rows["CCA-ITQ, out-of-sample database"] = bench_runs.run(
                    "cca-itq", dataset, args.workdir, f"cca-itq-{bits}-s{seed}", bits=bits, seed=seed)
            for name, rep in rows.items():
                for task in TASKS:
                    maps.setdefault((name, bits, task), []).append(rep["map_all"][task])
    names = list(dict.fromkeys(name for name, _, _ in maps))
    lines = [f"MAP@all, mean ± std over seeds {', '.join(map(str, args.seeds))}" + (f"; CMFH with {probe}" if probe else "")
             + ". Published: CMFH in SePH (Lin et al., CVPR 2015), Table 2, unified protocol.", "",
             "| method | task | " + " | ".join(f"{b} bits" for b in args.bits) + " |",
             "|---|---|" + "---:|" * len(args.bits)]
    for task in TASKS:
        lines.append(f"| CMFH, published (SePH) | {task} | "
                     + " | ".join(f"{PUBLISHED[task].get(b, float('nan')):.3f}" for b in args.bits) + " |")
        for name in names:
            lines.append(f"| {name} | {task} | " + " | ".join(mean_std(maps[(name, b, task)]) for b in args.bits) + " |")
        lines.append(f"| CMFH unified − published | {task} | " + " | ".join(
            f"{np.mean(maps[('CMFH, unified database', b, task)]) - PUBLISHED[task][b]:+.4f}" for b in args.bits) + " |")
    body = "\n".join(lines)
    if settings:
        print(body)
    else:
        write_section("cmfh", "CMFH (Ding et al., CVPR 2014) against its published figures, bundled Wikipedia", body)


if __name__ == "__main__":
    main()
