"""Shared by the method benchmark scripts: cached training runs, the datasets they train on, MAP tables.

A run lives in `WORK/TAG`; when its report exists and its config equals the
requested one, it is reused, so a script can be rerun to re-render its
tables, or resumed after an interruption, without retraining.
"""

import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TASKS = ("i2t", "t2i")
R = 50


def run(method, dataset, work, tag, **settings):
    """Train (or reuse) one run; returns (run_dir, report), the report with the run's wall seconds added."""
    from tfhash.methods.registry import get_method
    from tfhash.training.run import train

    config = get_method(method).config_class.from_dict(settings)
    run_dir = os.path.join(work, tag)
    report_path, seconds_path = os.path.join(run_dir, "report.json"), os.path.join(run_dir, "bench_seconds.txt")
    if os.path.exists(report_path):
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
            saved = json.load(f)
        if saved["method"] != method or saved["config"] != json.loads(json.dumps(config.to_dict())):
            raise SystemExit(f"{run_dir} holds a run with other settings; remove it or choose another --work")
    else:
        if os.path.exists(run_dir):  # an unfinished earlier attempt
            shutil.rmtree(run_dir)
        start = time.time()
        train(method, config, dataset_path=dataset, run_dir=run_dir, R=R, verbose=0)
        with open(seconds_path, "w", encoding="utf-8") as f:
            f.write(f"{time.time() - start:.0f}\n")
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    if os.path.exists(seconds_path):  # runs cached by older versions of the scripts have no timing
        with open(seconds_path, encoding="utf-8") as f:
            report["seconds"] = round(float(f.read()))
    print(f"{tag}: {report.get('seconds', '?')} s, MAP@all " + ", ".join(f"{t} {report['map_all'][t]:.4f}" for t in TASKS),
          flush=True)
    return run_dir, report


def map_table(rows, seconds=True, chance=True):
    """Markdown table of (name, bits, report) rows: MAP@all and MAP@R both ways, and a random-codes row."""
    head = "| method | bits | i2t MAP@all | t2i MAP@all | i2t MAP@50 | t2i MAP@50 |" + (" train s |" if seconds else "")
    lines = [head, "|---|---:|---:|---:|---:|---:|" + ("---:|" if seconds else "")]

    def cells(maps):
        return " | ".join(f"{maps[key][t]:.4f}" for key in ("map_all", "map_at_r") for t in TASKS)

    for name, bits, rep in rows:
        lines.append(f"| {name} | {bits} | {cells(rep)} |" + (f" {rep.get('seconds', '')} |" if seconds else ""))
    if chance and rows[0][2].get("random_codes_map"):
        lines.append(f"| random codes | {rows[0][1]} | {cells(rows[0][2]['random_codes_map'])} |"
                     + (" |" if seconds else ""))
    return "\n".join(lines)


def mirflickr_images(folder, work, image_size=64):
    """The MIRFlickr pairs with a raw image (pixels + tags), imported once into `work`; returns its path.

    CCA-ITQ and SCM read its images as 16 x 16 thumbnails (`tfhash.methods.linear`).
    """
    from tfhash.data.importers.mirflickr import import_mirflickr_images

    pixels = os.path.join(work, f"mirflickr-images-{image_size}.h5")
    if not os.path.exists(pixels):
        import_mirflickr_images(folder, pixels, image_size=image_size)
    return pixels


def mirflickr_features(folder, work, seed=0):
    """The MIRFlickr pairs with the shared pretrained image features (1,280-d) + tag bag-of-words.

    Same 730 pairs, tags, labels and seeded split (130 queries, 600 database =
    train) as `mirflickr_images`: the papers' setting (deep features + tags).
    """
    from tfhash.data.importers.mirflickr import import_mirflickr_features

    path = os.path.join(work, f"mirflickr-features-seed{seed}.h5")
    if not os.path.exists(path):
        import_mirflickr_features(folder, path, seed=seed)
    return path
