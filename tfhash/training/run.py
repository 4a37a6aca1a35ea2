"""A training run: dataset -> method (`fit`) -> checkpoints -> model file -> codes -> report.

The run folder's files (config.json, checkpoints/, logs/, model.keras,
codes.h5, report.json, vocabulary.txt) are read and written through
`tfhash.training.run_folder.RunFolder`; the plots and a method's own
figures (`Hasher.write_visualisations`, e.g. `generated_images.png` of
pixel-mode TUCH) are written by the evaluation.
"""

import datetime
import json
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from tfhash.data.dataset import PairedDataset, validate_arrays
from tfhash.data.split import SplitView
from tfhash.errors import TfhashError, require
from tfhash.eval.diagnostics import output_diagnostics
from tfhash.eval.report import DEFAULT_R
from tfhash.layers.hashing import binarize
from tfhash.methods.registry import get_method
from tfhash.methods.callbacks import MethodSchedule
from tfhash.training.checkpoint import EpochCheckpoint, latest_checkpoint, restore_checkpoint
from tfhash.training.run_folder import RunFolder, load_model
from tfhash.version import __version__
from tfhash.training.distribute import is_chief, lost_workers_reported, make_strategy, share_chief_state
from tfhash.training.run_state import (check_run_inputs, hold_run_lock, mark_finished, releases_run_locks,
                                       require_finished)

log = logging.getLogger(__name__)

DATABASE_PROTOCOLS = ("out-of-sample", "unified")


def seed_everything(seed, deterministic=True):
    """Seed Python, NumPy, TF and Keras; make TF ops deterministic (same result on resume)."""
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def default_run_dir(method, bits, root="runs"):
    """A fresh folder name under `root`."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(root, f"{method}-{bits}b-{stamp}")
    path, i = base, 1
    while os.path.exists(path):
        path, i = f"{base}-{i}", i + 1
    return path


def _check_dataset(dataset, method_cls):
    """Fail early, with one line, on data the method cannot use.

    The arrays' kinds are checked on one row and, for a supervised method,
    the training labels whole (they are small); every value is checked a
    chunk at a time by `check_run_inputs`. The train split's features are
    never read whole here: at NUS-WIDE size they are gigabytes.
    """
    require(dataset.has_field(method_cls.text_field),
            f"{method_cls.method_name} reads '{method_cls.text_field}' texts, which dataset {dataset.name} lacks")
    rows = dataset.split("train")
    sample = {k: dataset.read(k, rows[:1]) for k in ("images", method_cls.text_field) if dataset.has_field(k)}
    validate_arrays(images=sample["images"], bow=sample.get("bow"), tokens=sample.get("tokens"))
    if method_cls.needs_labels:
        require(dataset.has_labels, "labels are required but the dataset has none")
        empty = np.flatnonzero(dataset.read("labels", rows).sum(axis=1) == 0)
        require(empty.size == 0,
                f"{empty.size} pairs have an all-zero label row (first: row {rows[empty[:1]].tolist()})")


def build_model(method_cls, config, dataset):
    """Instantiate a method for `dataset`'s input shapes."""
    return method_cls(
        config,
        image_shape=dataset.image_shape,
        text_shape=dataset.text_shape(method_cls.text_field),
        num_classes=dataset.num_classes,
        vocabulary_size=(len(dataset.vocabulary) + 1) if dataset.vocabulary is not None else None,
        train_size=dataset.split("train").size,
    )


@releases_run_locks
def train(method, config=None, *, dataset_path, run_dir=None, strategy="default", resume=False,
          evaluate=True, R=DEFAULT_R, database_codes="out-of-sample", verbose="auto", deterministic=True):
    """Train `method` on `dataset_path`; returns the run folder.

    `config` is the method's config dataclass (defaults if None). With
    `resume`, `run_dir` must hold an earlier run of the same settings; it
    continues from the newest checkpoint.

    Across several workers (`strategy="multiworker"` with a `TF_CONFIG`
    cluster) only the chief reads and writes `run_dir`; the other workers
    train with it, write nothing and return None (on resume they start from
    the chief's checkpoint).
    """
    method_cls = get_method(method)
    config = (config or method_cls.config_class()).validate()
    require(database_codes in DATABASE_PROTOCOLS, f"unknown database codes protocol '{database_codes}'")
    dataset = PairedDataset(dataset_path)
    _check_dataset(dataset, method_cls)
    check_run_inputs(dataset, method_cls, config)  # every row the run will encode, and the size, before any work

    run_dir = run_dir or default_run_dir(method, config.bits)
    folder = RunFolder(run_dir)
    strat = make_strategy(strategy)
    chief = is_chief(strat)  # across workers only the chief touches the run folder
    seed_everything(config.seed, deterministic)
    with lost_workers_reported(strat):
        with strat.scope():  # before anything is written: a backbone whose ImageNet weights cannot be fetched fails here
            model = build_model(method_cls, config, dataset)
            model.configure()
    record = {
        "method": method,
        "config": config.to_dict(),
        "dataset": dataset.describe(),
        "strategy": strategy,
        "replicas": int(strat.num_replicas_in_sync),
        "seed": config.seed,
        "versions": {"tfhash": __version__, "tensorflow": tf.__version__, "keras": keras.__version__},
        "finished": False,  # set once model.keras and codes.h5 are complete (run_state.mark_finished)
    }
    if chief:
        _open_run_folder(folder, record, method_cls, dataset, resume)

    with lost_workers_reported(strat):  # from here on every worker waits for the others
        _train_model(model, config, dataset, strat, folder, chief, resume, verbose)
    if not chief:
        log.info("trained as a worker; the chief writes the run")
        return None
    folder.save_model(model)
    export_codes(model, dataset, run_dir)
    mark_finished(run_dir)
    if evaluate:
        evaluate_run(run_dir, R=R, database_codes=database_codes, model=model)
    return run_dir


def _train_model(model, config, dataset, strategy, folder, chief, resume, verbose):
    """Train the built and configured `model` (from the newest checkpoint with `resume`); returns it.

    Across workers only the chief reads the checkpoint; `share_chief_state`
    hands its state to the others, and only the chief writes (`fit_method`).
    """
    method_cls = type(model)
    train_view = SplitView(dataset, "train", text_field=method_cls.text_field, with_labels=method_cls.needs_labels)

    if method_cls.closed_form:
        model.fit_closed_form(train_view)
        return model
    # prepare() runs on resume too (graphs, initial codes); the checkpoint then overwrites its state.
    model.prepare(train_view)
    ckpt_dir = folder.checkpoints
    first_epoch = 0
    if chief and resume and latest_checkpoint(ckpt_dir):
        first_epoch = restore_checkpoint(model, latest_checkpoint(ckpt_dir))
        log.info("resumed %s at epoch %d", folder.path, first_epoch)
    first_epoch = share_chief_state(model, strategy, first_epoch)
    fit_method(model, dataset, train_view, config, folder.path if chief else None, first_epoch, verbose)
    return model


def _open_run_folder(folder, record, method_cls, dataset, resume):
    """Lock the run folder; check a resumed run's settings, or write a new run's config.json (and vocabulary)."""
    hold_run_lock(folder.path, create=not resume)
    if resume:
        require(folder.exists("config.json"), f"nothing to resume in {folder.path}")
        saved = folder.read_config()
        # Through JSON as config.json holds it: tuple settings come back as lists.
        require(saved["method"] == record["method"] and saved["config"] == json.loads(json.dumps(record["config"]))
                and saved.get("replicas") == record["replicas"],
                f"{folder.path} was trained with other settings; resume needs the same method and config")
    else:
        require(not folder.exists("config.json"),
                f"{folder.path} already holds a run; pass --resume to continue it or choose another --out")
        folder.write_config(record)
        if method_cls.text_field == "tokens" and dataset.vocabulary is not None:
            folder.write_vocabulary(dataset.vocabulary)  # token id i+1 is line i; exports read strings with it


def _segments(model, first_epoch, epochs):
    """Consecutive epochs that read the same split: [(split, start, stop), ...] from `first_epoch` on."""
    out = []
    for epoch in range(first_epoch, epochs):
        split = model.phase(epoch).split
        if out and out[-1][0] == split:
            out[-1][2] = epoch + 1
        else:
            out.append([split, epoch, epoch + 1])
    return [tuple(s) for s in out]


def fit_method(model, dataset, train_view, config, run_dir, first_epoch, verbose="auto"):
    """Keras `fit` over the shuffled split(s) of the method's schedule, with its schedule callback and checkpoints.

    Epochs whose phases read another split (e.g. a stage on unlabelled
    pairs) are fitted as their own segment, each over its own pipeline.
    With `run_dir` None (a worker other than the chief) nothing is written:
    no checkpoints, no TensorBoard logs.
    """
    from tfhash.data.pipeline import make_pipeline

    callbacks = [MethodSchedule(train_view)]
    if run_dir is not None:
        folder = RunFolder(run_dir)
        callbacks += [EpochCheckpoint(folder.checkpoints),
                      keras.callbacks.TensorBoard(folder.logs, write_graph=False, profile_batch=0)]
    callbacks.append(keras.callbacks.TerminateOnNaN())
    method_cls = type(model)
    for split, start, stop in _segments(model, first_epoch, config.epochs):
        pipeline, steps = make_pipeline(
            dataset, split, batch_size=config.batch_size, text_field=method_cls.text_field,
            with_labels=method_cls.needs_labels and split == "train", shuffle=True, seed=config.seed,
            first_epoch=start, epochs=stop,
        )
        model.fit(pipeline, epochs=stop, initial_epoch=start, steps_per_epoch=steps, shuffle=False,
                  callbacks=callbacks, verbose=verbose)


def export_codes(model, dataset, run_dir):
    """Encode query and database items of both modalities into `codes.h5`."""
    field = type(model).text_field
    parts, outputs = {}, {}
    for split in ("query", "database"):
        view = SplitView(dataset, split, text_field=field)
        # One pass per split: the codes are the sign of the continuous outputs (`Hasher.hash_image`).
        outputs[split] = model.encode_split(view, binary=False)
        codes = {name: binarize(value).numpy() for name, value in outputs[split].items()}
        parts[split] = {
            "image": codes["image"],
            "text": codes["text"],
            "ids": view.ids(),
            "labels": dataset.ground_truth(dataset.split(split)) if dataset.has_labels else None,
        }
    unified = model.unified_codes()
    if unified is not None:
        train_pos = {int(r): i for i, r in enumerate(dataset.split("train"))}
        db_rows = dataset.split("database")
        if all(int(r) in train_pos for r in db_rows):
            parts["database"]["unified"] = np.asarray(unified)[[train_pos[int(r)] for r in db_rows]]
    # The continuous outputs before the sign show a collapse the codes may hide (report: output_diagnostics).
    RunFolder(run_dir).write_codes(query=parts["query"], database=parts["database"],
                                   method=type(model).method_name, bits=model.bits, dataset=dataset.name,
                                   output_diagnostics={name: output_diagnostics(v)
                                                       for name, v in outputs["database"].items()})


@releases_run_locks
def evaluate_run(run_dir, *, R=DEFAULT_R, database_codes="out-of-sample", top_k=None, model=None):
    """(Re)write `report.json`, the plots and the method's figures of a run; returns the report.

    Scores come from `codes.h5`. Then, if the method draws figures for this
    dataset (`Hasher.has_visualisations`, e.g. TUCH's generated images in
    pixel mode), the trained `model` (default: loaded from `model.keras`)
    writes them with `write_visualisations`; their paths are recorded under
    the report's "figures". A missing dataset file or model file skips the
    figures with a logged warning.
    """
    from tfhash.eval.report import cross_modal_report, write_report

    require(database_codes in DATABASE_PROTOCOLS,
            f"unknown database codes protocol '{database_codes}' (known: {', '.join(DATABASE_PROTOCOLS)})")
    folder = RunFolder(run_dir)
    record = require_finished(run_dir)
    hold_run_lock(run_dir, create=False)
    codes = folder.read_codes()
    require("query_labels" in codes, "this run's dataset has no labels, so retrieval cannot be scored")
    if database_codes == "unified":
        require("database_unified" in codes,
                f"{codes['method']} learns no unified codes for these database items; use --database-codes out-of-sample")
    report = cross_modal_report(codes, R=R, top_k=top_k, seed=record.get("seed", 0), database_protocol=database_codes)
    extra = {
        "method": codes["method"],
        "bits": codes["bits"],
        "dataset": codes["dataset"],
        "split_seed": record.get("dataset", {}).get("split_seed"),
        "split_protocol": record.get("dataset", {}).get("protocol"),
        "split_sizes": record.get("dataset", {}).get("split_sizes"),
        "config": record.get("config"),
        "figures": write_figures(run_dir, codes["method"], record.get("dataset") or {}, model=model),
    }
    return write_report(report, run_dir, extra=extra)


def write_figures(run_dir, method, dataset_info, *, model=None):
    """The method's own figures of a run (`Hasher.write_visualisations`); returns {name: path}, maybe empty.

    `dataset_info` is config.json's dataset summary; its "path" names the
    dataset file the figures are drawn from.
    """
    try:
        method_cls = get_method(method)
    except TfhashError:  # codes of a method this install lacks still score; there is just no model to draw with
        log.warning("unknown method '%s'; its figures of %s skipped", method, run_dir)
        return {}
    if not method_cls.has_visualisations(dataset_info):
        return {}
    path = dataset_info.get("path")
    if not path or not os.path.exists(path):
        log.warning("dataset file %s not found; %s figures of %s skipped", path, method, run_dir)
        return {}
    if model is None:
        if not RunFolder(run_dir).exists("model.keras"):
            log.warning("no model.keras in %s; %s figures skipped", run_dir, method)
            return {}
        model = load_model(run_dir)
    with PairedDataset(path) as dataset:
        return dict(model.write_visualisations(run_dir, dataset))
