"""Rebuild `saved_models/`: one small model per method, trained on the bundled Wikipedia set at 64 bits.

    nice python scripts/build_saved_models.py                  # every method
    nice python scripts/build_saved_models.py --methods uch,ugach

For each method that ships with tfhash:

* Wikipedia has 128-d image features and 10-d LDA topic vectors: no token
  sequences and no pixels. A method that reads token sequences is replaced
  by its bag-of-words variant (`dvsh` -> `dvsh-bow`, `tuch-seq` -> `tuch`),
  which is trained once under its own name; a method that cannot take
  feature vectors is skipped (and listed as such).
* It trains with `tfhash.training.run.train` (the config defaults, i.e. the
  paper's, except the few in `SETTINGS` that keep the export small: only the
  encoders' variables are exported, and some defaults are sized for
  4096-d CNN features, not 128-d SIFT vectors), in `--work/NAME/`.
* It exports the run with `tfhash.export.saved_model.export_run` (version 1,
  with the run's query/database codes), checks that the SavedModel re-encodes
  the query items to the run's codes bit for bit, and swaps the folder into
  `--out/NAME/` (an older build of that model is replaced: this script owns
  `saved_models/`; `tfhash export` itself never overwrites).
* A model whose MAP@all does not beat random codes by `MIN_GAIN` in both
  directions (e.g. collapsed codes) is not shipped, and listed as such.

Finally `--out/README.md` is rewritten with the layout and a table of the
models (settings, MAP on Wikipedia's 693 queries, size). No setting was
tuned on the queries.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tfhash.data.bundled import default_dataset_path  # noqa: E402
from tfhash.data.dataset import PairedDataset  # noqa: E402
from tfhash.data.split import SplitView  # noqa: E402
from tfhash.export.saved_model import ExportedModel, export_run  # noqa: E402
from tfhash.methods.registry import get_method, method_names  # noqa: E402
from tfhash.training.run_folder import read_codes  # noqa: E402
from tfhash.training.run import train  # noqa: E402

BITS = 64
#: token-sequence methods -> the bag-of-words variant that stands for them on Wikipedia
BOW_VARIANTS = {"dvsh": "dvsh-bow", "tuch-seq": "tuch"}
#: departures from the config defaults, each with its reason (all: smaller exported encoders)
SETTINGS = {
    "sdch": ({"image_hidden": (128, 128), "text_hidden": (128, 128)},
             "img/txt-fc1,2 128 wide, not 4096 (Table 1 sizes them for AlexNet features; 4096 x 4096 = 140 MB)"),
    "dvsh-bow": ({"image_hidden": (256, 256), "text_hidden": (256,)},
                 "image MLP 256-256 and text MLP 256, not 1024-1024 / 1024 (sized for 4096-d CNN features)"),
    "tuch": ({"image_hidden": (256, 256), "generator_hidden": (256, 256)},
             "H's image branch and G 256-256 wide, not 512-512"),
}
TASKS = ("i2t", "t2i")
#: a model is shipped only if its MAP@all beats random codes' by this much in both directions
MIN_GAIN = 0.02


class NotShipped(Exception):
    """A trained model not worth shipping (e.g. collapsed codes); the reason is the message."""


def plan(names):
    """[(trained method, the methods it stands for)] and [(method, reason skipped)]."""
    trained, skipped = {}, []
    for name in names:
        cls = get_method(name)
        if cls.text_field == "tokens":
            variant = BOW_VARIANTS.get(name)
            if variant in method_names():
                trained.setdefault(variant, []).append(name)
            else:
                skipped.append((name, "reads token sequences; Wikipedia has bag-of-words only, and no bow variant"))
            continue
        trained.setdefault(name, []).insert(0, name)
    return [(m, sorted(set(v))) for m, v in trained.items()], skipped


def folder_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def check_export(version_dir, run_dir, dataset, method):
    """The SavedModel re-encodes the query items to the run's stored codes, bit for bit."""
    model = ExportedModel(version_dir)
    codes = read_codes(os.path.join(run_dir, "codes.h5"))
    view = SplitView(dataset, "query", text_field=get_method(method).text_field)
    for modality, x in (("image", view.images()), ("text", view.texts())):
        got = model.hash(modality, x)
        if not np.array_equal(got, codes[f"query_{modality}"]):
            raise SystemExit(f"{method}: exported {modality} codes differ from the run's codes.h5")


def build(method, work, out, dataset_path, dataset, epochs=None):
    settings, _ = SETTINGS.get(method, ({}, ""))
    config = get_method(method).config_class.from_dict({"bits": BITS, **settings})
    if epochs is not None:  # a quick check of the script only
        config = config.replace(**_short_schedule(config, epochs))
    run_dir = os.path.join(work, method)
    if os.path.exists(os.path.join(run_dir, "report.json")):
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
            reuse = json.load(f)["config"] == config.to_dict()
        if not reuse:
            shutil.rmtree(run_dir)
    else:
        reuse = False
        shutil.rmtree(run_dir, ignore_errors=True)
    start = time.time()
    if not reuse:
        train(method, config, dataset_path=dataset_path, run_dir=run_dir, verbose=0)
    seconds = time.time() - start if not reuse else None
    with open(os.path.join(run_dir, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    chance = report["random_codes_map"]["map_all"]
    if any(report["map_all"][t] < chance[t] + MIN_GAIN for t in TASKS):
        raise NotShipped("its run did not beat random codes (MAP@all " + ", ".join(
            f"{t} {report['map_all'][t]:.4f} vs random {chance[t]:.4f}" for t in TASKS) + ")")
    staging = os.path.join(out, f".build-{method}")
    shutil.rmtree(staging, ignore_errors=True)
    version_dir = export_run(run_dir, staging)
    check_export(version_dir, run_dir, dataset, method)
    final = os.path.join(out, method)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    return {"method": method, "seconds": seconds, "size": folder_size(final), "epochs": config.epochs,
            "map_all": {t: report["map_all"][t] for t in TASKS}, "map_at_r": {t: report["map_at_r"][t] for t in TASKS},
            "R": report["R"]}


def _short_schedule(config, epochs):
    """`epochs` total, with multi-stage schedules (pre-training, stages) shrunk to fit."""
    changes = {"epochs": epochs}
    for name in ("pretrain_epochs", "text_epochs", "gan_epochs"):
        if hasattr(config, name):
            changes[name] = 0
    return changes


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


README = """# saved_models/: pretrained tfhash models for TF Serving and search

One small model per method, trained on the bundled Wikipedia set (2,173
training pairs = database, 693 queries; 128-d SIFT BoVW image features,
10-d LDA topic vectors, 10 classes) at {bits} bits, exported with
`tfhash export`. Try TF Serving and search without training:

```bash
tfhash index --model saved_models/{example} --modality text          # the shipped Wikipedia database codes
tfhash search saved_models/{example}/index-text.h5 --model saved_models/{example} --query 0 -k 5
saved_model_cli show --dir saved_models/{example}/1 --all
docker run -p 8501:8501 -v "$PWD/saved_models/{example}:/models/{example}" -e MODEL_NAME={example} tensorflow/serving
```

Requests (REST body, gRPC `PredictRequest`), the signatures and the text
format are in `docs/export.md`.

## Layout

```
NAME/1/saved_model.pb, variables/     the SavedModel (encoders only)
NAME/1/assets.extra/tfhash.json       method, bits, config, input shapes, source run and its MAP
NAME/1/assets.extra/codes.h5          Wikipedia query + database codes of the run (`tfhash index --model`)
```

Signatures: `serving_default` = `encode_image` (input `image` float32
(N, 128)), `encode_text` (input `text` float32 (N, 10)); outputs `codes`
int8 (N, {bits}) ±1, `bits` uint8 (N, {bytes}) packed, `logits` float32.
`tfhash index --model` writes `NAME/index-*.h5` next to the versions (TF
Serving ignores it; it is not part of the model).

`mirflickr-cca-itq/` is the `tfhash serve` demo (CCA-ITQ on the 730 real
MIRFlickr pictures' EfficientNet features and tags, with both indexes,
`items.jsonl`, thumbnails and `bow-vocabulary.txt`): built by
`scripts/build_serve_demo.py`, not by this script, and described in
`docs/serve.md`.

## Models

| folder | stands for | settings (defaults = the paper's, except) | epochs | MAP@all I->T | MAP@all T->I | size |
| --- | --- | --- | --- | --- | --- | --- |
{rows}

{skipped}MAP@all on Wikipedia's 693 queries against the 2,173 database items,
out-of-sample codes (each item's own network), from each run's report. These
are small demonstration models: the method benchmarks (`BENCHMARKS.md`) are
the reference numbers. Nothing was tuned on the queries.

Rebuilt by `nice python scripts/build_saved_models.py` ({date}, commit
{commit}, {machine}; total {total}).
"""


def write_readme(out, results, stands_for, skipped):
    rows = []
    for r in sorted(results, key=lambda r: r["method"]):
        settings, reason = SETTINGS.get(r["method"], ({}, ""))
        detail = ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in settings.items())
        epochs = "closed form" if get_method(r["method"]).closed_form else r["epochs"]
        rows.append(f"| `{r['method']}` | {', '.join(stands_for[r['method']])} | "
                    f"{detail + ': ' + reason if detail else '-'} | {epochs} | {r['map_all']['i2t']:.4f} | "
                    f"{r['map_all']['t2i']:.4f} | {r['size'] / 1e6:.2f} MB |")
    skipped_text = "".join(f"Skipped: `{m}`: {why}.\n\n" for m, why in skipped)
    total = sum(folder_size(os.path.join(out, d)) for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
    example = max(results, key=lambda r: sum(r["map_all"].values()))["method"] if results else "NAME"
    text = README.format(bits=BITS, bytes=BITS // 8, rows="\n".join(rows), skipped=skipped_text, example=example,
                         date=datetime.date.today().isoformat(), commit=git_commit(),
                         machine=f"{platform.platform()}, {os.cpu_count()} CPUs", total=f"{total / 1e6:.1f} MB")
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=None, help="Comma-separated methods (default: every shipped method).")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "saved_models"))
    parser.add_argument("--work", default=os.path.join("runs", "saved-models"), help="Folder of the training runs.")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Override every method's epochs (a quick check of this script; not for saved_models/).")
    args = parser.parse_args()

    shipped = [n for n in method_names() if get_method(n).__module__.startswith("tfhash.")]
    names = args.methods.split(",") if args.methods else shipped
    todo, skipped = plan(names)
    stands_for = dict(todo)
    os.makedirs(args.out, exist_ok=True)
    dataset_path = default_dataset_path()
    dataset = PairedDataset(dataset_path)
    results = []
    for method, _ in todo:
        print(f"{method}: training and exporting ...", flush=True)
        try:
            r = build(method, args.work, args.out, dataset_path, dataset, args.epochs)
        except NotShipped as reason:
            print(f"{method}: NOT shipped: {reason}; run in {os.path.join(args.work, method)}", flush=True)
            shutil.rmtree(os.path.join(args.out, method), ignore_errors=True)  # an older build of it is stale too
            skipped.append((method, f"not shipped: {reason}"))
            del stands_for[method]
            continue
        results.append(r)
        took = f"{r['seconds']:.0f} s" if r["seconds"] is not None else "reused run"
        print(f"{method}: {took}, MAP@all i2t {r['map_all']['i2t']:.4f} t2i {r['map_all']['t2i']:.4f}, "
              f"{r['size'] / 1e6:.2f} MB", flush=True)
    # Keep the table complete when only some methods were rebuilt.
    for name in sorted(os.listdir(args.out)):
        if name.startswith(".") or not os.path.isdir(os.path.join(args.out, name)) or name in stands_for:
            continue
        run_dir = os.path.join(args.work, name)
        if os.path.exists(os.path.join(run_dir, "report.json")):
            with open(os.path.join(run_dir, "report.json"), encoding="utf-8") as f:
                report = json.load(f)
            with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
                epochs = json.load(f)["config"]["epochs"]
            results.append({"method": name, "seconds": None, "size": folder_size(os.path.join(args.out, name)),
                            "epochs": epochs, "map_all": {t: report["map_all"][t] for t in TASKS}})
            stands_for[name] = sorted([name] + [m for m, v in BOW_VARIANTS.items() if v == name])
    write_readme(args.out, results, stands_for, skipped)
    print(f"wrote {os.path.join(args.out, 'README.md')}")


if __name__ == "__main__":
    main()
