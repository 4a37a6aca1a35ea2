"""Build `saved_models/mirflickr-cca-itq/`: the `tfhash serve` demo, a model of real MIRFlickr pictures.

    nice python scripts/build_serve_demo.py [--data-dir ../shared/data/mirflickr25k]

The 730 MIRFlickr-25K pairs whose image is present (see the shared data
README): image = the real EfficientNet-Lite2 feature of the picture
(1,280-d), text = its `YAll` row (1,386-tag bag of words), labels = its
`LAll` row (24 concepts). Every step is a `tfhash` command, run in `--work`:

1. `tfhash data import arrays` (custom split, seed 0: 130 queries, the
   other 600 are database = training pairs);
2. `tfhash train cca-itq --bits 64`: closed form (CCA + ITQ), seconds, so
   the demo rebuilds reproducibly; its MAP is in the run's report;
3. `tfhash export` (version 1, with the run's codes);
4. `tfhash index --model ... --inputs` twice: ALL 730 images and all 730
   texts, encoded by the exported model, ids `imN` (the picture's name), so
   the page can show every picture;

then writes `items.jsonl` (per id: tags, labels, thumbnail path),
`thumbs/imN.jpg` (the real image, longest side `--thumb` px, JPEG) and
`bow-vocabulary.txt` (the tag behind each `YAll` column, which lets
`tfhash serve` turn a typed text into a bag of words). The folder is built
in a hidden staging folder and swapped in whole.

Item queries: the export's image input is a feature vector, not pixels, so
the page's "pick an image" sends the id of a shipped item (`{"item": "im12"}`)
and the server searches with that item's code from the image index.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
NAME = "mirflickr-cca-itq"
BITS = 64
QUERY_SIZE = 130


def tfhash(*args):
    """Run one `tfhash` command of this checkout; print its output; fail loudly."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "tfhash", *map(str, args)]
    print("$ tfhash " + " ".join(map(str, args)), flush=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print(done.stdout.strip(), flush=True)
    if done.returncode:
        raise SystemExit(f"failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def arrays(data_dir, work):
    """The 730 rows as .npy files (features, BoW, labels) + ids; returns (ids, rows)."""
    from scipy.io import loadmat

    feats = os.path.join(data_dir, "features", "efficientnet-lite2.npy")
    listing = [line.split("\t") for line in read_lines(os.path.join(data_dir, "features",
                                                                     "efficientnet-lite2.rows.txt"))]
    rows = np.array([int(r) for r, _ in listing])
    ids = [os.path.splitext(name)[0] for _, name in listing]
    np.save(os.path.join(work, "images.npy"), np.load(feats).astype(np.float32))
    texts = loadmat(os.path.join(data_dir, "mirflickr25k-yall.mat"))["YAll"][rows]
    labels = loadmat(os.path.join(data_dir, "mirflickr25k-lall.mat"))["LAll"][rows]
    np.save(os.path.join(work, "texts.npy"), texts.astype(np.float32))
    np.save(os.path.join(work, "labels.npy"), labels.astype(np.uint8))
    with open(os.path.join(work, "ids.txt"), "w", encoding="utf-8") as f:
        f.writelines(i + "\n" for i in ids)
    return ids, rows


def thumbnail(src, dst, size):
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
        im.save(dst, "JPEG", quality=80, optimize=True)


def items(data_dir, ids, rows, out, size):
    """items.jsonl + thumbs/: what the page shows of each item."""
    tags = read_lines(os.path.join(data_dir, "all_tags.txt"))
    labels = read_lines(os.path.join(data_dir, "labels_annotation.txt"))
    os.makedirs(os.path.join(out, "thumbs"))
    with open(os.path.join(out, "items.jsonl"), "w", encoding="utf-8") as f:
        for item, row in zip(ids, rows):
            thumbnail(os.path.join(data_dir, "images", item + ".jpg"), os.path.join(out, "thumbs", item + ".jpg"), size)
            record = {"id": item, "tags": [t for t in tags[row].split(",") if t],
                      "labels": [t for t in labels[row].split(",") if t], "image": f"thumbs/{item}.jpg"}
            f.write(json.dumps(record) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data", "mirflickr25k"))
    parser.add_argument("--out", default=os.path.join(ROOT, "saved_models", NAME))
    parser.add_argument("--work", default=os.path.join("runs", "serve-demo"))
    parser.add_argument("--thumb", type=int, default=96, help="Longest side of the thumbnails (px).")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    ids, rows = arrays(args.data_dir, args.work)
    w = lambda name: os.path.join(args.work, name)  # noqa: E731
    tfhash("data", "import", "arrays", "--images", w("images.npy"), "--texts", w("texts.npy"), "--labels",
           w("labels.npy"), "--protocol", "custom", "--query-size", QUERY_SIZE, "--seed", 0, "--out", w("data.h5"))
    tfhash("train", "cca-itq", "--bits", BITS, "--dataset", w("data.h5"), "--out", w("run"))
    staging = os.path.join(os.path.dirname(os.path.abspath(args.out)), f".build-{NAME}")
    shutil.rmtree(staging, ignore_errors=True)
    tfhash("export", w("run"), "--out", staging)
    for modality, inputs in (("image", "images.npy"), ("text", "texts.npy")):
        tfhash("index", "--model", staging, "--modality", modality, "--inputs", w(inputs), "--ids", w("ids.txt"),
               "--out", os.path.join(staging, f"index-{modality}.h5"))
    items(args.data_dir, ids, rows, staging, args.thumb)
    shutil.copyfile(os.path.join(args.data_dir, "yall_vocab.txt"), os.path.join(staging, "bow-vocabulary.txt"))
    shutil.rmtree(args.out, ignore_errors=True)
    os.replace(staging, args.out)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(args.out) for f in files)
    print(f"wrote {args.out}: {len(ids)} items, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
