"""UCH training time per epoch on a MIRFlickr-shaped synthetic set, resident memory per epoch, and peak memory.

    python scripts/bench_uch_speed.py    # 18,015 training pairs, 4096-d features, 1386-d BoW, 64 bits, 6 epochs

The synthetic file (20,015 pairs: 2,000 queries, 18,015 train = database,
24 multi-label classes) is written by a child process, so the peak RSS
reported is that of training alone. Training uses the same pieces as
`tfhash train` (`build_model`, `configure`, `prepare`, the shuffled
pipeline, `fit` with the method's epoch-end B update); the time of each
epoch includes that B update over all 18,015 pairs. Epoch 1 also includes
building the training graph. Resident memory (VmRSS) is read after
`prepare` and after each epoch's B update: it should stay flat from
epoch to epoch (issue 18: it grew by a copy of the training split at
irregular epochs while each B pass built a pipeline holding its own
copy). Writes the `uch-speed` section of BENCHMARKS.md.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks_md import peak_rss_mb, resident_mb, write_section  # noqa: E402

MAKE_DATA = """
import sys
from tfhash.data.synthetic import write_synthetic
path, pairs, image_dim, text_dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
write_synthetic(path, pairs + 2000, query_size=2000, seed=0, image_dim=image_dim, text_dim=text_dim,
                num_classes=24, multilabel=True, name="mirflickr-shaped")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=18015, help="training pairs")
    parser.add_argument("--image-dim", type=int, default=4096)
    parser.add_argument("--text-dim", type=int, default=1386)
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--data", default=None, help="reuse this synthetic file (written if missing)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update BENCHMARKS.md")
    args = parser.parse_args()

    path = args.data or os.path.join(tempfile.mkdtemp(prefix="bench-uch-speed-"), "mirflickr_shaped.h5")
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-c", MAKE_DATA, path, str(args.pairs), str(args.image_dim),
                        str(args.text_dim)], check=True)

    import keras

    from tfhash.data.dataset import PairedDataset
    from tfhash.methods.callbacks import MethodSchedule
    from tfhash.data.pipeline import make_pipeline
    from tfhash.data.split import SplitView
    from tfhash.methods.registry import get_method
    from tfhash.training.run import build_model, seed_everything

    method = get_method("uch")
    config = method.config_class(bits=args.bits, epochs=args.epochs)
    seed_everything(config.seed)
    dataset = PairedDataset(path)
    model = build_model(method, config, dataset)
    model.configure()
    train_view = SplitView(dataset, "train")
    start = time.perf_counter()
    model.prepare(train_view)
    prepare_seconds = time.perf_counter() - start
    prepared_mb = resident_mb()
    print(f"after prepare: RSS {prepared_mb:.0f} MB", flush=True)

    class EpochTimer(keras.callbacks.Callback):
        seconds = []
        rss = []  # VmRSS after each epoch's B update (MethodSchedule runs first)

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            self.rss.append(resident_mb())
            print(f"epoch {epoch + 1}: {self.seconds[-1]:.1f} s, RSS {self.rss[-1]:.0f} MB", flush=True)

    pipeline, steps = make_pipeline(dataset, "train", batch_size=config.batch_size, shuffle=True, seed=config.seed,
                                    epochs=config.epochs)
    timer = EpochTimer()
    model.fit(pipeline, epochs=config.epochs, steps_per_epoch=steps,
              callbacks=[MethodSchedule(train_view), timer], verbose=0)
    peak_mb = peak_rss_mb()
    load = os.getloadavg()

    lines = [
        "| training pairs | image dim | BoW dim | bits | batch | steps/epoch | prepare s | "
        + " | ".join(f"epoch {i + 1} s" for i in range(len(timer.seconds))) + " | peak RSS MB |",
        "|" + "---|" * (8 + len(timer.seconds)),
        f"| {train_view.size:,} | {dataset.image_shape[0]} | {dataset.text_shape('bow')[0]} | {config.bits} | "
        f"{config.batch_size} | {steps} | {prepare_seconds:.1f} | "
        + " | ".join(f"{s:.1f}" for s in timer.seconds) + f" | {peak_mb:.0f} |",
        "",
        "Resident memory (VmRSS, MB) after `prepare` and after each epoch's B update:",
        "",
        "| after prepare | " + " | ".join(f"epoch {i + 1}" for i in range(len(timer.rss))) + " |",
        "|" + "---:|" * (1 + len(timer.rss)),
        f"| {prepared_mb:.0f} | " + " | ".join(f"{r:.0f}" for r in timer.rss) + " |",
        "",
        f"The dataset file ({os.path.getsize(path) / 2**20:.0f} MB) is under 1 GiB, so `PairedDataset` holds it "
        "in memory. Epoch 1 includes building the training graph; later epochs are the steady state (each "
        f"includes the epoch-end B update over all training pairs). Load average during the run: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared; on an idle machine expect less).",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("uch-speed", "UCH: training speed on a MIRFlickr-shaped synthetic set", "\n".join(
            ["Seconds of wall time; peak resident memory of the training process.", "", *lines]))


if __name__ == "__main__":
    main()
