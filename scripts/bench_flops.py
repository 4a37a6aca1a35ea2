"""Training cost against the machine: each method's achieved FLOP/s as a share of the matmul rate, fixed and checkpoint cost.

For each method, in one process: the fp32 matmul rate of this machine
(2048 x 2048 products, best of several runs), then one `tfhash.train` run
(bundled Wikipedia by default) instrumented to time, per epoch, the
training steps (from the end of `begin_epoch` to the start of `end_epoch`),
the method's epoch-end work (`end_epoch`: UCH's and SDCH's B updates,
SDCH's pass over all pairs) and the checkpoint write. The FLOPs of one
training step are counted from the traced `train_step` of the last epoch's
phase: every matrix product and convolution in the graph (the dense and
convolution layers forward and backward, and the pairwise products of the
losses), 2 FLOPs per multiply-add, from the static shapes of a real batch.

    achieved = steps x FLOPs per step / time of the steps (the last epoch)
    share    = achieved / matmul rate

The fixed cost is the run's wall time (in-process, TensorFlow imported)
minus the time of its epochs; `import tfhash` in a fresh interpreter is
reported beside it. Writes the BENCHMARKS.md section `training-cost`.

Usage:
    python scripts/bench_flops.py [--methods uch,ugach,sdch,dvsh-bow,tuch] [--bits 64] [--epochs 3] [--dataset D]
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import run_facts, write_section  # noqa: E402
from tfhash.cli.quiet import import_tensorflow  # noqa: E402

#: Stage lengths shortened so that a few epochs reach each method's main phase (its steady state).
SHORT_SCHEDULES = {"ugach": {"pretrain_epochs": 1}, "tuch": {"text_epochs": 1, "gan_epochs": 1}}

PRODUCT_OPS = {"Einsum", "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D", "Conv2DBackpropInput",
               "Conv2DBackpropFilter", "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput",
               "DepthwiseConv2dNativeBackpropFilter"}


def matmul_rate(tf, n=2048, repeats=10, runs=5):
    """Best-of-`runs` fp32 FLOP/s of n x n matrix products on this machine (TensorFlow's own kernels)."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))

    @tf.function
    def chain(a, b):
        out = a
        for _ in range(repeats):
            out = tf.matmul(out, b) * (1.0 / n)  # rescale so values stay finite
        return out

    chain(a, b).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        chain(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 * repeats / best


def product_flops(op):
    """FLOPs (2 per multiply-add) of one matrix-product or convolution op, from its static shapes; 0 if unknown."""
    try:
        if op.type == "Einsum":  # e.g. the input gradient of `tfhash.layers.dense.Dense`: 2 x every index's size
            operands, _ = op.get_attr("equation").decode().replace(" ", "").split("->")
            sizes = {}
            for letters, tensor in zip(operands.split(","), op.inputs):
                sizes.update(zip(letters, tensor.shape.as_list()))
            return 2 * math.prod(sizes.values())
        if op.type in ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
            a = op.inputs[0].shape.as_list()
            transpose = op.get_attr("transpose_a") if op.type == "MatMul" else op.get_attr("adj_x")
            return 2 * math.prod(op.outputs[0].shape.as_list()) * (a[-2] if transpose else a[-1])
        if op.type.startswith("Conv2D") or op.type.startswith("Depthwise"):
            # Forward, input-gradient and filter-gradient convolutions all cost 2 x (elements of the forward
            # output) x window: the forward op's output is the backprop ops' incoming gradient (input 2).
            if op.type.endswith("BackpropFilter"):
                out, filt = op.inputs[2], op.outputs[0]
            elif op.type.endswith("BackpropInput"):
                out, filt = op.inputs[2], op.inputs[1]
            else:
                out, filt = op.outputs[0], op.inputs[1]
            kh, kw, cin = filt.shape.as_list()[:3]
            return 2 * math.prod(out.shape.as_list()) * kh * kw * (1 if "Depthwise" in op.type else cin)
    except (TypeError, ValueError, IndexError):
        return 0
    return 0


def graph_flops(graph):
    """Summed `product_flops` over a graph and the function graphs it calls."""
    total = 0
    seen = set()
    stack = [graph]
    while stack:
        g = stack.pop()
        if id(g) in seen:
            continue
        seen.add(id(g))
        for op in g.get_operations():
            if op.type in PRODUCT_OPS:
                total += product_flops(op)
        for fn in getattr(g, "_functions", {}).values():
            inner = getattr(fn, "graph", None)
            if inner is not None:
                stack.append(inner)
    return total


def step_flops(tf, model, batch):
    """FLOPs of one `train_step` on `batch`, traced for the model's current phase (nothing is executed)."""
    specs = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), batch)
    concrete = tf.function(model.train_step).get_concrete_function(specs)
    return graph_flops(concrete.graph)


def import_seconds():
    """Wall time of `import tfhash` in a fresh interpreter (part of every command's fixed cost)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tfhash"], check=True)
    return time.perf_counter() - start


def measure(method, dataset_path, bits, epochs):
    """One instrumented training run of `method`; returns its timings and FLOP counts."""
    import tensorflow as tf

    from tfhash.data.dataset import PairedDataset
    from tfhash.data.pipeline import make_pipeline
    from tfhash.methods.callbacks import MethodSchedule
    from tfhash.methods.registry import get_method
    import tfhash.training.checkpoint as checkpoint
    import tfhash.training.run as run

    times = {"begin": {}, "end_start": {}, "end": {}, "checkpoint": {}}
    captured = {}
    original = {"begin": MethodSchedule.on_epoch_begin, "end": MethodSchedule.on_epoch_end,
                "save": checkpoint.save_checkpoint, "fit": run.fit_method}

    def begin_epoch(self, epoch, logs=None):  # MethodSchedule calls the model's begin_epoch / end_epoch
        out = original["begin"](self, epoch, logs)
        times["begin"][epoch] = time.perf_counter()
        return out

    def end_epoch(self, epoch, logs=None):
        times["end_start"][epoch] = time.perf_counter()
        out = original["end"](self, epoch, logs)
        times["end"][epoch] = time.perf_counter()
        return out

    def save_checkpoint(model, directory, epoch, keep=2):
        start = time.perf_counter()
        out = original["save"](model, directory, epoch, keep=keep)
        times["checkpoint"][epoch - 1] = time.perf_counter() - start
        return out

    def fit_method(model, *args, **kwargs):
        captured["model"] = model
        return original["fit"](model, *args, **kwargs)

    method_cls = get_method(method)
    config = method_cls.config_class(bits=bits, epochs=epochs, **SHORT_SCHEDULES.get(method, {})).validate()
    MethodSchedule.on_epoch_begin, MethodSchedule.on_epoch_end = begin_epoch, end_epoch
    checkpoint.save_checkpoint, run.fit_method = save_checkpoint, fit_method
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            run_dir = run.train(method, config, dataset_path=dataset_path, run_dir=os.path.join(tmp, "run"),
                                verbose=0)
            wall = time.perf_counter() - start
            size = os.path.getsize(os.path.join(run_dir, "model.keras"))
            ckpts = [os.path.join(run_dir, "checkpoints", p) for p in os.listdir(os.path.join(run_dir, "checkpoints"))
                     if p.endswith(".h5")]
            ckpt_size = os.path.getsize(sorted(ckpts)[-1])
    finally:
        MethodSchedule.on_epoch_begin, MethodSchedule.on_epoch_end = original["begin"], original["end"]
        checkpoint.save_checkpoint, run.fit_method = original["save"], original["fit"]

    model = captured["model"]
    last = epochs - 1
    with PairedDataset(dataset_path) as dataset:
        pipeline, steps = make_pipeline(dataset, "train", batch_size=config.batch_size,
                                        text_field=method_cls.text_field, with_labels=method_cls.needs_labels,
                                        shuffle=True, seed=config.seed, first_epoch=last, epochs=last + 1,
                                        drop_remainder=False)
        batch = next(iter(pipeline))
        split_size = dataset.split("train").size
    flops_per_step = step_flops(tf, model, batch)
    # Steps at the batch size; the last batch of an epoch may be smaller: count samples, not steps.
    full, rest = divmod(split_size, config.batch_size)
    flops_per_epoch = flops_per_step * (full + rest / config.batch_size)
    epoch_rows = []
    for epoch in range(epochs):
        loop = times["end_start"][epoch] - times["begin"][epoch]
        end = times["end"][epoch] - times["end_start"][epoch]
        epoch_rows.append({"epoch": epoch + 1, "steps_seconds": loop, "end_epoch_seconds": end,
                           "checkpoint_seconds": times["checkpoint"].get(epoch, 0.0),
                           "phase": model.phase(epoch).name})
    epochs_total = sum(r["steps_seconds"] + r["end_epoch_seconds"] + r["checkpoint_seconds"] for r in epoch_rows)
    return {"method": method, "bits": bits, "epochs": epochs, "steps": steps, "flops_per_step": flops_per_step,
            "flops_per_epoch": flops_per_epoch, "epochs_detail": epoch_rows, "wall": wall,
            "fixed": wall - epochs_total, "model_mb": size / 1e6, "checkpoint_mb": ckpt_size / 1e6}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="uch,ugach,sdch,dvsh-bow,tuch")
    parser.add_argument("--bits", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the last one is the steady state)")
    parser.add_argument("--dataset", default=None, help="dataset file (default: the bundled Wikipedia benchmark)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--note", default="", help="a last paragraph for the section (e.g. earlier measurements)")
    args = parser.parse_args(argv)

    import_tensorflow()
    import tensorflow as tf
    from tfhash.data.bundled import default_dataset_path

    dataset = args.dataset or default_dataset_path()
    load_before = os.getloadavg()
    startup = import_seconds()
    rate = matmul_rate(tf)
    print(f"matmul rate: {rate / 1e9:.1f} GFLOP/s; import tfhash: {startup:.1f} s", flush=True)
    rows = []
    for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
        r = measure(method, dataset, args.bits, args.epochs)
        last = r["epochs_detail"][-1]
        achieved = r["flops_per_epoch"] / last["steps_seconds"]
        r["achieved"], r["share"] = achieved, achieved / rate
        rows.append(r)
        print(f"{method}: {r['flops_per_epoch'] / 1e12:.3f} TFLOP/epoch, steps {last['steps_seconds']:.2f} s "
              f"({achieved / 1e9:.1f} GFLOP/s, {100 * r['share']:.0f}% of matmul), end_epoch "
              f"{last['end_epoch_seconds']:.2f} s, checkpoint {last['checkpoint_seconds']:.2f} s, "
              f"fixed {r['fixed']:.1f} s", flush=True)
    load_after = os.getloadavg()

    lines = [
        f"Dataset: {os.path.basename(dataset)}, {args.bits} bits, {args.epochs} epochs per run, default settings "
        "(SDCH at the paper's 4096-wide layers) except the stage lengths of `SHORT_SCHEDULES` (UGACH pre-trains "
        "1 epoch, TUCH's text and GAN stages 1 epoch each, so the last epoch is the main phase). Steady state = the "
        "last epoch. The matmul rate is the best of "
        f"5 runs of ten 2048 x 2048 fp32 products in the same process: **{rate / 1e9:.1f} GFLOP/s**. "
        f"`import tfhash` in a fresh interpreter: {startup:.1f} s (not in the fixed cost below). "
        f"Load average before / after: {load_before[0]:.1f} / {load_after[0]:.1f}.",
        "",
        "| method | phase (last epoch) | TFLOP / epoch | steps s / epoch | achieved GFLOP/s | share of matmul rate "
        "| end_epoch s | checkpoint s (MB) | fixed s | model.keras MB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        last = r["epochs_detail"][-1]
        lines.append(
            f"| {r['method']} | {last['phase']} | {r['flops_per_epoch'] / 1e12:.3f} | {last['steps_seconds']:.2f} "
            f"| {r['achieved'] / 1e9:.1f} | {100 * r['share']:.0f}% | {last['end_epoch_seconds']:.2f} "
            f"| {last['checkpoint_seconds']:.2f} ({r['checkpoint_mb']:.0f}) | {r['fixed']:.1f} | {r['model_mb']:.0f} |")
    lines += ["", "Per epoch (steps / end_epoch / checkpoint, seconds):", ""]
    for r in rows:
        detail = "; ".join(f"{e['epoch']} {e['phase']}: {e['steps_seconds']:.2f} / {e['end_epoch_seconds']:.2f} / "
                           f"{e['checkpoint_seconds']:.2f}" for e in r["epochs_detail"])
        lines.append(f"- {r['method']}: {detail}")
    lines += ["", "FLOPs per step are counted from the traced `train_step` (every MatMul/BatchMatMul/Einsum/Conv2D "
              "and their gradient ops, 2 per multiply-add); the first epoch of each phase includes tracing. The fixed "
              "cost is the run's wall time in-process minus its epochs: building the model, `prepare` (initial "
              "codes, graphs), saving model.keras, encoding query and database, scoring and plots."]
    if args.note:
        lines += ["", args.note]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("training-cost", "Training cost against the machine: FLOP/s, fixed cost, checkpoints", text,
                      run_facts())


if __name__ == "__main__":
    main()
