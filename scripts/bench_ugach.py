"""Model selection: UGACH's three variants next to CCA-ITQ on a validation split of Wikipedia's training pairs.

Every run goes through `tfhash.training.run.train` with the ugach defaults
(chosen on a validation split carved from Wikipedia's *training* set, see
docs/methods/ugach.md), so a row is what `tfhash train ugach --variant V
--bits B` gives. Rows:

* cca-itq: the closed-form reference;
* baseline: D pre-trained alone (`pretrain_epochs` epochs) = the paper's
  Baseline; it is exactly the D the adversarial variants start from (same
  seed, same random stream);
* baseline, +6 epochs: the same triplet training for as many epochs as the
  adversarial variants get in total (a control: is a gain adversarial, or
  just more training?);
* baseline-gan and ugach: pre-training, then three D/G rounds.

The rows run on a split of the training set (400 training pairs become
queries, the other 1,773 the database), which is how the settings were
chosen; it never touches the test queries. The same variants on the test
queries, over seeds, are `tfhash benchmark`'s (BENCHMARKS.md
`harness-unsupervised`, `harness-ugach-variants-mirflickr`).

`--ablations` runs the settings behind the investigation of the variants'
ordering on that validation split (64 bits), with a diagnostic of what the
trained generator samples.

Usage:
    python scripts/bench_ugach.py --bits 64                # section ugach-validation of BENCHMARKS.md
    python scripts/bench_ugach.py --ablations              # section ugach-ablations
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import machine, plot_map_vs_bits, run_facts, write_section  # noqa: E402

ROWS = (  # (label, method, settings)
    ("cca-itq", "cca-itq", {}),
    ("baseline (UGACH pre-training only)", "ugach", {"variant": "baseline", "epochs": "pretrain"}),
    ("baseline, +6 epochs (control)", "ugach", {"variant": "baseline"}),
    ("baseline-gan", "ugach", {"variant": "baseline-gan"}),
    ("ugach", "ugach", {"variant": "ugach"}),
)


#: --ablations: why the paper's ordering does not show (validation split, 64 bits). 70 epochs = 20 adversarial.
ABLATIONS = (
    ("ugach (defaults: paper schedule)", {"variant": "ugach"}),
    ("baseline-gan, lr0 0.1", {"variant": "baseline-gan", "discriminator_learning_rate": 0.1,
                               "generator_learning_rate": 0.1}),
    ("ugach, lr0 0.1", {"variant": "ugach", "discriminator_learning_rate": 0.1, "generator_learning_rate": 0.1}),
    ("ugach, G starts as a copy of D", {"variant": "ugach", "generator_init": "discriminator"}),
    ("baseline, 70 epochs (control)", {"variant": "baseline", "epochs": 70}),
    ("baseline-gan, constant lr 0.01, 70 epochs", {"variant": "baseline-gan", "lr_decay": 1.0, "epochs": 70}),
    ("ugach, constant lr 0.01, 70 epochs", {"variant": "ugach", "lr_decay": 1.0, "epochs": 70}),
    ("baseline-gan, G frozen (lr 0), 70 epochs", {"variant": "baseline-gan", "lr_decay": 1.0, "epochs": 70,
                                                 "generator_learning_rate": 0.0}),
    ("ugach, G frozen (lr 0), 70 epochs: graph positives only", {"variant": "ugach", "lr_decay": 1.0, "epochs": 70,
                                                                "generator_learning_rate": 0.0}),
)


def generator_diagnostics(run_dir, dataset, queries=512, seed=0):
    """Share of G's probability mass on items of the query's class, vs. the pool's base rate (training labels).

    A diagnostic of the trained generator, read from the run's model file; it
    uses labels of training items only.
    """
    import tensorflow as tf

    import tfhash
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.losses.ranking import squared_distances

    model = tfhash.load_model(os.path.join(run_dir, "model.keras"))
    train = SplitView(PairedDataset(dataset), "train")
    labels = train.labels().astype(np.float32)
    inputs = {"image": train.images(), "text": train.texts()}
    rng = np.random.default_rng(seed)
    rows = rng.choice(train.size, size=min(queries, train.size), replace=False)
    out = {}
    for query_mod, item_mod in (("image", "text"), ("text", "image")):
        rate, base, peak = [], [], []
        for q in np.array_split(rows, max(1, rows.size // 64)):  # one random pool per batch of queries, as in training
            pool = rng.choice(train.size, size=model.pool_size, replace=False)
            logits = -squared_distances(model._g(query_mod, inputs[query_mod][q]), model._g(item_mod, inputs[item_mod][pool]))
            p = tf.nn.softmax(logits, axis=-1).numpy()
            same = (labels[q] @ labels[pool].T > 0).astype(np.float32)
            rate.append((p * same).sum(1)), base.append(same.mean(1)), peak.append(p.max(1))
        key = "i2t" if query_mod == "image" else "t2i"
        out[key] = {"same_class": float(np.concatenate(rate).mean()), "base": float(np.concatenate(base).mean()),
                    "max_p": float(np.concatenate(peak).mean())}
    return out


def graph_precision(dataset):
    """Share of each item's graph neighbours (itself excluded) that share its label, per modality, and chance."""
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.methods.correlation_graph import correlation_graph

    train = SplitView(PairedDataset(dataset), "train")
    labels = train.labels().astype(np.float32)
    graph = correlation_graph(train.images(), train.texts(), k_image=5, k_text=5)

    def precision(neighbours):
        others = neighbours[:, 1:]
        return float(np.mean(np.einsum("nc,nkc->nk", labels, labels[others]) > 0))

    chance = float(np.mean(labels @ labels.T > 0))
    return {"image": precision(graph.image), "text": precision(graph.text), "chance": chance}


def validation_dataset(path, queries=400):
    """Wikipedia's training pairs only: `queries` of them as queries, the rest train = database.

    The library's validation split (`tfhash.data.resplit.validation_split`,
    seed 1), the one `tfhash benchmark --validation` and the other method
    scripts use. (Before it existed this script drew its own split with seed
    123; the ugach-validation and ugach-ablations sections were measured on
    that one until they are rerun.)
    """
    from tfhash.data.bundled import default_dataset_path
    from tfhash.data.resplit import validation_split

    return validation_split(default_dataset_path(), path, query_size=queries)


def run_one(method, settings, bits, dataset, runs_dir, name=None):
    from tfhash.methods.registry import get_method
    from tfhash.training.run import train

    config_class = get_method(method).config_class
    settings = dict(settings, bits=bits)
    if settings.get("epochs") == "pretrain":
        settings["epochs"] = config_class().pretrain_epochs
    config = config_class(**settings)
    name = name or f"{method}-{settings.get('variant', '')}-{config.epochs}ep-{bits}b"
    start = time.perf_counter()
    run_dir = train(method, config, dataset_path=dataset, run_dir=os.path.join(runs_dir, name), verbose=0)
    seconds = time.perf_counter() - start
    with open(os.path.join(run_dir, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    return {"map_all": report["map_all"], "map_at_r": report["map_at_r"], "R": report["R"], "run_dir": run_dir,
            "random": report["random_codes_map"]["map_all"], "seconds": round(seconds, 1), "epochs": config.epochs}


def table(results, bits, metric, title):
    head = "| method | " + " | ".join(f"I→T {b}" for b in bits) + " | " + " | ".join(f"T→I {b}" for b in bits) + " |"
    lines = [f"**{title}**", "", head, "| --- |" + " ---: |" * (2 * len(bits))]
    for label, _, _ in ROWS:
        cells = [f"{results[label][b][metric][task]:.3f}" for task in ("i2t", "t2i") for b in bits]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(results, bits, dataset_note, validation=False):
    from tfhash.methods.ugach import UGACHConfig

    cfg = UGACHConfig()
    chance = np.mean([results["cca-itq"][b]["random"][t] for b in bits for t in ("i2t", "t2i")])
    seconds = {label: sum(results[label][b]["seconds"] for b in bits) for label, _, _ in ROWS}
    lines = [
        f"On {dataset_note}. ugach settings: the defaults (hidden {cfg.image_hidden}, batch {cfg.batch_size}, SGD; "
        f"pre-training {cfg.pretrain_epochs} epochs at lr {cfg.pretrain_learning_rate}; then "
        f"{cfg.epochs - cfg.pretrain_epochs} adversarial epochs, D/G lr {cfg.discriminator_learning_rate}/"
        f"{cfg.generator_learning_rate} divided by 10 every two epochs; margin bits/8; m = {cfg.samples_per_query}; "
        f"pool |train|/50; graph 5 + 5 neighbours; seed {cfg.seed}). Random codes: MAP@all ≈ {chance:.3f}. "
        + ("This split (training pairs only) is where the non-paper settings were chosen." if validation
         else "No setting was chosen on the scored queries."),
        "",
        table(results, bits, "map_all", "MAP@all"),
        table(results, bits, "map_at_r", f"MAP@{results['cca-itq'][bits[0]]['R']}"),
        "Wall time over all bit lengths (s): " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + ".",
    ]
    return "\n".join(lines) + "\n"


def ablation_markdown(results, pretrained, precision):
    lines = [
        "On the validation split (400 of Wikipedia's training pairs as queries, the other 1,773 as train = database), "
        f"64 bits. Every row starts from the same pre-trained D (baseline after 50 epochs: I→T "
        f"{pretrained['map_all']['i2t']:.3f}, T→I {pretrained['map_all']['t2i']:.3f}). `G same-class` = share of G's "
        "sampling probability on pool items of the query's class after training (training labels, diagnostic only), "
        "against the pool's base rate; `G max p` = mean largest pick probability (uniform over the pool = "
        "1/|pool|).",
        "",
        f"The graph itself (5 + 5 neighbours on this training set): an image-space neighbour shares the item's class "
        f"{precision['image']:.1%} of the time, a text-space neighbour {precision['text']:.1%}, two random items "
        f"{precision['chance']:.1%}.",
        "",
        "| setting | epochs | MAP@all I→T | MAP@all T→I | G same-class I→T / T→I | base rate | G max p |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for label, _ in ABLATIONS:
        r = results[label]
        d = r.get("generator")
        g = (f"{d['i2t']['same_class']:.3f} / {d['t2i']['same_class']:.3f} | {d['i2t']['base']:.3f} | "
             f"{(d['i2t']['max_p'] + d['t2i']['max_p']) / 2:.2f}") if d else "– | – | –"
        lines.append(f"| {label} | {r['epochs']} | {r['map_all']['i2t']:.3f} | {r['map_all']['t2i']:.3f} | {g} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", default="16,32,64,128")
    parser.add_argument("--runs", default=None, help="folder for the run folders (default: a temporary folder)")
    parser.add_argument("--ablations", action="store_true",
                        help="the ablation table (validation split, 64 bits) instead of the main comparison")
    parser.add_argument("--from-results", default=None, help="re-render the section from a results.json, no runs")
    args = parser.parse_args()
    bits = [int(b) for b in args.bits.split(",")]
    note = "a validation split of Wikipedia's training set (400 queries, 1,773 train = database)"
    if args.ablations:
        return run_ablations(args)
    if args.from_results:
        with open(args.from_results, encoding="utf-8") as f:
            saved = json.load(f)
        facts = saved.pop("_facts", None)
        results = {k: {int(b): v for b, v in r.items()} for k, r in saved.items()}
    else:
        facts = run_facts()
        runs_dir = args.runs or tempfile.mkdtemp(prefix="bench-ugach-")
        dataset = validation_dataset(os.path.join(runs_dir, "wikipedia-validation-400.h5"))
        results = {}
        for label, method, settings in ROWS:
            for b in bits:
                results.setdefault(label, {})[b] = row = run_one(method, settings, b, dataset, runs_dir)
                print(json.dumps({"row": label, "bits": b, **row}), flush=True)
        facts["machine"] = machine()  # the load average at the end of the runs
        with open(os.path.join(runs_dir, "results.json"), "w", encoding="utf-8") as f:
            json.dump({"_facts": facts, **{k: {str(b): v for b, v in r.items()} for k, r in results.items()}}, f,
                      indent=1)
    name = "ugach-validation"
    title = "UGACH variants vs CCA-ITQ, Wikipedia validation split (model selection)"
    series = {label: {b: (results[label][b]["map_all"]["i2t"], results[label][b]["map_all"]["t2i"]) for b in bits}
              for label, _, _ in ROWS}
    chance = {b: (results["cca-itq"][b]["random"]["i2t"], results["cca-itq"][b]["random"]["t2i"]) for b in bits}
    plot = plot_map_vs_bits(name, series, title, chance) if len(bits) > 1 else ""
    write_section(name, title, markdown(results, bits, note, True) + "\n" + plot, facts)


def run_ablations(args):
    if args.from_results:
        with open(args.from_results, encoding="utf-8") as f:
            results = json.load(f)
        facts = results.pop("_facts", None)
    else:
        facts = run_facts()
        runs_dir = args.runs or tempfile.mkdtemp(prefix="bench-ugach-ablations-")
        dataset = validation_dataset(os.path.join(runs_dir, "wikipedia-validation-400.h5"))
        results = {"pretrained": run_one("ugach", {"variant": "baseline", "epochs": "pretrain"}, 64, dataset, runs_dir),
                   "graph_precision": graph_precision(dataset)}
        for i, (label, settings) in enumerate(ABLATIONS):
            row = run_one("ugach", settings, 64, dataset, runs_dir, name=f"ablation-{i}")
            if settings["variant"] != "baseline":
                row["generator"] = generator_diagnostics(row["run_dir"], dataset)
            results[label] = row
            print(json.dumps({"row": label, **row}), flush=True)
        facts["machine"] = machine()
        with open(os.path.join(runs_dir, "ablations.json"), "w", encoding="utf-8") as f:
            json.dump({"_facts": facts, **results}, f, indent=1)
    write_section("ugach-ablations", "UGACH: why the paper's ordering does not show on Wikipedia",
                  ablation_markdown(results, results["pretrained"], results["graph_precision"]), facts)


if __name__ == "__main__":
    main()
