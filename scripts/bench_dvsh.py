"""DVSH benchmark: the paper's ablations, through `tfhash.training.run.train`.

DVSH against SCM and CCA-ITQ over seeds is `tfhash benchmark`'s:
``dvsh-bow`` on feature datasets (BENCHMARKS.md `harness-supervised`,
`harness-supervised-mirflickr`), ``dvsh`` on the MIRFlickr raw images
(`harness-supervised-pixels`). What remains here, on the bundled Wikipedia
set with ``dvsh-bow``: DVSH, DVSH-B (the same run's continuous codes ranked
by cosine), DVSH-Q (``bitwise_weight=0``), DVSH-I
(``pair_loss=inner-product``), DVSH-H (``out_of_sample=fusion``).

Both retrieval directions (i2t, t2i), MAP@all and MAP@50. Settings are the
config defaults except epochs. Runs land in ``--work`` (reused when a run
with the same settings is there); the tables go to section ``dvsh`` of
BENCHMARKS.md.

    nice python scripts/bench_dvsh.py
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_runs import R, map_table, run  # noqa: E402
from benchmarks_md import write_section  # noqa: E402
from tfhash.data.bundled import default_dataset_path  # noqa: E402
from tfhash.data.dataset import PairedDataset  # noqa: E402
from tfhash.data.split import SplitView  # noqa: E402


# --- DVSH-B: continuous codes ranked by cosine -------------------------------------------
def ranking_map(scores, relevant, R):
    """MAP@all and MAP@R of a ranking by `scores` (higher first, ties by lower index), as tfhash.eval does."""
    ap_all, ap_r = [], []
    for row_scores, row_relevant in zip(scores, relevant):
        order = np.argsort(-row_scores, kind="stable")
        ranks = np.flatnonzero(row_relevant[order])
        if ranks.size == 0:
            continue
        precision = np.arange(1, ranks.size + 1) / (ranks + 1)
        ap_all.append(precision.mean())
        top = int(np.searchsorted(ranks, R))
        ap_r.append(precision[:top].mean() if top else 0.0)
    return float(np.mean(ap_all)), float(np.mean(ap_r))


def continuous_report(run_dir, dataset):
    """MAP of a run's continuous (un-binarised) codes, cosine ranking; checks the ranking on its ±1 codes."""
    import keras

    from tfhash.training.run_folder import read_codes

    model = keras.models.load_model(os.path.join(run_dir, "model.keras"))
    data = PairedDataset(dataset)
    field = type(model).text_field
    query = model.encode_split(SplitView(data, "query", text_field=field))
    database = model.encode_split(SplitView(data, "database", text_field=field))
    relevant = data.read("labels", data.split("query")).astype(np.int64) @ \
        data.read("labels", data.split("database")).astype(np.int64).T > 0

    def unit(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    # The same ranking code on the run's binary codes must give the run's own MAP.
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    with open(os.path.join(run_dir, "report.json"), encoding="utf-8") as f:
        binary = json.load(f)
    check = ranking_map(codes["query_image"].astype(np.float64) @ codes["database_text"].T.astype(np.float64),
                        relevant, R)
    assert np.allclose(check, (binary["map_all"]["i2t"], binary["map_at_r"]["i2t"]), atol=1e-9), check
    out = {"map_all": {}, "map_at_r": {}}
    for task, (q, d) in {"i2t": ("image", "text"), "t2i": ("text", "image")}.items():
        out["map_all"][task], out["map_at_r"][task] = ranking_map(unit(query[q]) @ unit(database[d]).T, relevant, R)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", default="16,32,64")
    parser.add_argument("--epochs", type=int, default=60, help="dvsh-bow epochs on Wikipedia")
    parser.add_argument("--work", default="runs/bench-dvsh")
    args = parser.parse_args()
    bits = [int(b) for b in args.bits.split(",")]
    os.makedirs(args.work, exist_ok=True)
    wiki = default_dataset_path()

    rows = []
    for b in bits:
        base_dir, base = run("dvsh-bow", wiki, args.work, f"wiki-dvsh-bow-{b}", bits=b, epochs=args.epochs)
        rows.append(("DVSH (dvsh-bow)", b, base))
        rows.append(("DVSH-B (no binarisation, cosine ranking)", b, continuous_report(base_dir, wiki)))
        for name, tag, change in (("DVSH-Q (bitwise_weight 0)", "q", {"bitwise_weight": 0.0}),
                                  ("DVSH-I (inner-product loss)", "i", {"pair_loss": "inner-product"}),
                                  ("DVSH-H (fusion network codes)", "h", {"out_of_sample": "fusion"})):
            rows.append((name, b, run("dvsh-bow", wiki, args.work, f"wiki-dvsh-{tag}-{b}", bits=b,
                                      epochs=args.epochs, **change)[1]))
    section = "### Ablations (bundled Wikipedia, dvsh-bow)\n\n" + map_table(rows, seconds=False, chance=False)

    write_section("dvsh", "DVSH: the paper's ablations",
                  "Out-of-sample codes for both modalities; relevant = shares a label; MAP@50 uses the DCMH convention "
                  "(see tfhash.eval.retrieval).\n\n" + section)

if __name__ == "__main__":
    main()
