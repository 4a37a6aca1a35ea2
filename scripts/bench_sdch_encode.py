"""Per-sample SDCH encoding time (input -> sign(fc4(pipeline(x)))) for images and texts on this CPU.

The paper reports 3 ms per image and 1 ms per text on a TITAN X GPU
(Table 4). This times `hash_image` / `hash_text` under `tf.function` at
batch 1 and batch 256, with the paper's widths (fc 4096-4096-256, fc4) on
two input kinds: Wikipedia-like feature vectors (128-d image, 10-d text)
and MIRFlickr-like raw images (64 x 64 x 3 through the AlexNet-style CNN,
1,386-d tag BoW). Weights do not change the time, so the models are
untrained; pass --model to time a trained `model.keras` instead. Writes
section `sdch-encode` of BENCHMARKS.md (`benchmarks_md.write_section`).

    nice python scripts/bench_sdch_encode.py
"""

import argparse
import os
import sys
import time

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks_md import write_section  # noqa: E402

from tfhash.methods.sdch import SDCH, SDCHConfig  # noqa: E402

SHAPES = {
    "features (Wikipedia: 128-d image, 10-d text)": ((128,), (10,)),
    "raw pixels (MIRFlickr: 64x64x3 image, 1386-d text)": ((64, 64, 3), (1386,)),
}


def per_sample_ms(fn, inputs, min_seconds=2.0, min_calls=5):
    """Median wall-clock milliseconds per sample of `fn(inputs)` (after warm-up)."""
    for _ in range(3):
        fn(inputs).numpy()
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn(inputs).numpy()
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times)) / inputs.shape[0], len(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--batches", default="1,256")
    parser.add_argument("--model", default=None, help="A trained model.keras to time instead of the untrained ones.")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)
    rows = []
    if args.model:
        import keras

        model = keras.models.load_model(args.model)
        models = {f"trained model {args.model}": model}
    else:
        models = {kind: SDCH(SDCHConfig(bits=args.bits), image_shape=image_shape, text_shape=text_shape,
                             num_classes=2, train_size=1)
                  for kind, (image_shape, text_shape) in SHAPES.items()}
    for kind, model in models.items():
        for modality, shape, fn in (("image", model.image_shape, model.hash_image),
                                    ("text", model.text_shape, model.hash_text)):
            traced = tf.function(fn, jit_compile=False)
            for batch in batches:
                scale = 255.0 if len(shape) == 3 else 1.0
                inputs = tf.constant(rng.random((batch,) + tuple(shape)).astype(np.float32) * scale)
                ms, calls = per_sample_ms(traced, inputs)
                rows.append((kind, modality, batch, ms, calls))
                print(f"{kind} | {modality} | batch {batch}: {ms:.3f} ms/sample ({calls} calls)", flush=True)

    what = (f"`{args.model}`" if args.model else f"{args.bits}-bit codes, paper widths (fc 4096-4096-256 per "
            "pipeline, AlexNet-style conv widths 96-256-384-384-256)")
    lines = [
        f"{what}, `tf.function`, median over repeated calls, time / batch size; the CPUs are shared "
        "with other jobs (load average in the machine line). Paper (Table 4, TITAN X GPU): 3 ms per image, "
        "1 ms per text.",
        "",
        "| input kind | modality | batch | ms per sample |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {kind} | {modality} | {batch} | {ms:.3f} |" for kind, modality, batch, ms, _ in rows]
    write_section("sdch-encode", "SDCH encoding time per sample (CPU)", "\n".join(lines))


if __name__ == "__main__":
    main()
