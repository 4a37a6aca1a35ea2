"""TUCH benchmark: the text code at inference, generated images and ablations, through `tfhash.training.run.train`.

TUCH against SCM and CCA-ITQ over seeds is `tfhash benchmark`'s: ``tuch``
(feature mode) in BENCHMARKS.md `harness-supervised` and
`harness-supervised-mirflickr`, ``tuch-seq`` in pixel mode on the MIRFlickr
raw images in `harness-supervised-pixels`. Parts (``--parts``,
comma-separated):

* ``mirflickr``: ``tuch-seq`` (pixel mode: DCGAN generator of 64x64x3
  images, keras-hub ResNet-18 image branch, randomly initialised: no
  ImageNet weights offline; LSTM over the raw tag sequence) on the 730
  MIRFlickr-25K pairs whose image is present (600 train = database, 130
  queries), one run per ``--seeds`` entry, for the diagnostics below; saves
  a grid of generated images of the first query texts as PNG.
* ``textcode``: for ``tuch`` on the bundled Wikipedia set (feature mode,
  the defaults) and every ``mirflickr`` run, MAP on the *training* pairs
  (train texts vs train images, both directions) with the text code taken
  at z = 0 and as the sign of the mean of h over the fixed z draws (vote):
  the choice of `text_code` is made on these numbers, not on the queries.
* ``validation``: settings checks and ablations on a validation split
  carved from the Wikipedia *training* pairs (400 validation queries, the
  other 1,773 train = database): epochs, no GAN stage, no text pre-training,
  fine-tuned text encoder.
* ``pixel-validation``: the pixel settings' learning rate (Reed et al.'s
  2e-4 vs 1e-3), on a validation split of the 600 MIRFlickr training pairs
  (100 validation queries, 500 train = database), next to CCA-ITQ there
  (which reads the images as 16 x 16 thumbnails, `tfhash.methods.linear`).

Both retrieval directions (i2t, t2i), MAP@all and MAP@50. Runs land in
``--work`` (reused when a run with the same settings is there); the feature-mode
tables go to section ``tuch`` of BENCHMARKS.md, the pixel-mode ones
(text-code rows of the ``mirflickr`` runs, ``pixel-validation``) to section
``tuch-pixels``, the image grid to docs/benchmarks/tuch_mirflickr_generated.png.
A section is written only when one of its parts ran.

    nice python scripts/bench_tuch.py --parts textcode,validation
    nice python scripts/bench_tuch.py --parts mirflickr,textcode --seeds 0,1
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_runs import map_table, mirflickr_images, run  # noqa: E402
from benchmarks_md import ROOT, write_section  # noqa: E402
from tfhash.data.bundled import default_dataset_path  # noqa: E402
from tfhash.data.dataset import PairedDataset  # noqa: E402
from tfhash.data.resplit import validation_split  # noqa: E402
from tfhash.data.split import SplitView  # noqa: E402
from tfhash.eval.retrieval import evaluate_retrieval  # noqa: E402


def load(run_dir):
    import keras

    return keras.models.load_model(os.path.join(run_dir, "model.keras"))


def train_split_maps(run_dir, dataset):
    """{mode: {i2t, t2i}}: MAP@all of train texts vs train images, text code at z = 0 and by vote."""
    model = load(run_dir)
    view = SplitView(PairedDataset(dataset), "train", text_field=type(model).text_field)
    labels = view.labels()
    images = np.concatenate([model.hash_image(b["image"]).numpy() for b in view.batches(128)])
    out = {}
    for mode in ("zero", "vote"):
        texts = np.concatenate([np.where(model.text_codes(b["text"], mode).numpy() >= 0, 1, -1)
                                for b in view.batches(128)])
        out[mode] = {
            "i2t": evaluate_retrieval(images.astype(np.int8), texts.astype(np.int8), labels, labels).map_all,
            "t2i": evaluate_retrieval(texts.astype(np.int8), images.astype(np.int8), labels, labels).map_all,
        }
    return out


def textcode_table(rows):
    lines = ["| run | bits | i2t z=0 | i2t vote | t2i z=0 | t2i vote |", "|---|---:|---:|---:|---:|---:|"]
    for name, bits, maps in rows:
        lines.append(f"| {name} | {bits} | {maps['zero']['i2t']:.4f} | {maps['vote']['i2t']:.4f} | "
                     f"{maps['zero']['t2i']:.4f} | {maps['vote']['t2i']:.4f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="textcode,mirflickr,validation")
    parser.add_argument("--bits", default="16,32,64")
    parser.add_argument("--mirflickr", default="/work/shared/data/mirflickr25k")
    parser.add_argument("--pixel-settings", default='{"epochs": 40, "text_epochs": 15, "gan_epochs": 5, '
                        '"batch_size": 32, "generator_width": 16, "learning_rate": 0.001, "backbone_weights": "none"}',
                        help="tuch-seq settings for MIRFlickr pixels (JSON): CPU-sized, chosen on a validation "
                        "split of the 600 training pairs; random backbone (no ImageNet download offline)")
    parser.add_argument("--seeds", default="0", help="seeds of the MIRFlickr tuch-seq runs (comma-separated)")
    parser.add_argument("--work", default="runs/bench-tuch")
    args = parser.parse_args()
    parts = args.parts.split(",")
    bits = [int(b) for b in args.bits.split(",")]
    pixel_settings = json.loads(args.pixel_settings)
    os.makedirs(args.work, exist_ok=True)
    wiki = default_dataset_path()
    sections, textcode_rows = [], []
    pixel_sections, pixel_textcode_rows = [], []
    seeds = [int(s) for s in args.seeds.split(",")]

    # tuch against SCM and CCA-ITQ on feature datasets, over seeds, is `tfhash benchmark`'s (harness-supervised).
    if "textcode" in parts:
        for b in bits:
            run_dir, _ = run("tuch", wiki, args.work, f"wiki-tuch-{b}", bits=b)
            textcode_rows.append(("wikipedia tuch", b, train_split_maps(run_dir, wiki)))

    if "mirflickr" in parts:
        pixels = mirflickr_images(args.mirflickr, args.work)
        for b in bits:
            for seed in seeds:
                tag = f"mir-tuch-seq-{b}" + (f"-seed{seed}" if seed else "")
                run_dir, _ = run("tuch-seq", pixels, args.work, tag, bits=b, seed=seed, **pixel_settings)
                if "textcode" in parts:
                    pixel_textcode_rows.append((f"mirflickr tuch-seq, seed {seed}", b,
                                                train_split_maps(run_dir, pixels)))
        grid = os.path.join(ROOT, "docs", "benchmarks", "tuch_mirflickr_generated.png")
        load(run_dir).save_sample_grid(SplitView(PairedDataset(pixels), "query", text_field="tokens"), grid, count=4,
                                       noise_samples=2)
        pixel_sections.append(
            "### MIRFlickr-25K raw-image subset (730 pairs: 600 train = database, 130 queries), 64 px, pixel mode\n\n"
            f"tuch-seq: `{json.dumps(pixel_settings)}`, other settings the defaults (image backbone: keras-hub's "
            "ResNet-18 `ResNetBackbone`, randomly initialised: its ImageNet preset cannot be downloaded here, "
            "so these are not the paper's pretrained features); raw tag sequences "
            f"(up to 25 tags). Generated images of the first 4 query texts (columns: real image, G(0, t), "
            f"G(z_i, t) for 2 fixed z_i), last run: `{os.path.basename(grid)}`. MAP against the references over "
            "seeds: `harness-supervised-pixels`.")

    for rows, out in ((textcode_rows, sections), (pixel_textcode_rows, pixel_sections)):
        if rows:
            out.append("### Text code at inference: z = 0 vs vote (training pairs, MAP@all)\n\n"
                       "Train texts against train images with each run's own model; the queries are not used.\n\n"
                       + textcode_table(rows))

    if "validation" in parts:
        val = validation_split(wiki, os.path.join(args.work, "wikipedia-validation.h5"), query_size=400)
        variants = [("defaults (150 epochs: 10 + 20 + 120)", {}), ("100 epochs (10 + 20 + 70)", {"epochs": 100}),
                    ("no GAN stage (gan_epochs 0, 130 epochs)", {"epochs": 130, "gan_epochs": 0}),
                    ("no text pre-training (text_epochs 0, 140 epochs)", {"epochs": 140, "text_epochs": 0}),
                    ("fine-tuned text encoder", {"finetune_text": True})]
        rows = [(name, 32, run("tuch", val, args.work, f"val-tuch-{i}", bits=32, **settings)[1])
                for i, (name, settings) in enumerate(variants)]
        sections.append("### Validation split of the Wikipedia training pairs (400 queries, 1,773 train), 32 bits\n\n"
                        "Used to choose the defaults and for ablations; never the benchmark queries.\n\n"
                        + map_table(rows))

    if "pixel-validation" in parts:
        val_pixels = validation_split(mirflickr_images(args.mirflickr, args.work),
                                      os.path.join(args.work, "mirflickr-validation-pixels.h5"), query_size=100)
        reference = run("cca-itq", val_pixels, args.work, "mirval-cca-itq-thumbnails", bits=32)[1]
        rows = [("cca-itq (16 x 16 thumbnails + BoW)", 32, reference)]
        for lr in (2e-4, 1e-3):
            settings = {**pixel_settings, "learning_rate": lr}
            rows.append((f"tuch-seq, learning_rate {lr:g}", 32,
                         run("tuch-seq", val_pixels, args.work, f"mirval-tuch-seq-lr{lr:g}", bits=32, **settings)[1]))
        pixel_sections.append(
            "### Validation split of the MIRFlickr training pairs (100 queries, 500 train), 32 bits\n\n"
            f"tuch-seq: `{json.dumps(pixel_settings)}` but the learning rate.\n\n" + map_table(rows))

    intro = "`train s`: wall seconds of a run (training, encoding, scoring).\n\n"
    if sections:
        write_section("tuch", "TUCH: text code at inference, and ablations", intro + "\n\n".join(sections))
    if pixel_sections:
        write_section("tuch-pixels", "TUCH pixel mode: text code at inference, learning-rate check", intro + "\n\n".join(pixel_sections))

if __name__ == "__main__":
    main()
