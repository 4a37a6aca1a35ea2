"""The state of a run folder: who writes it (a lock), whether it is finished, and its config.json.

- Lock: a process that writes a run (train, resume, evaluate) holds an
  exclusive `fcntl.flock` on RUN_DIR/.lock; a second one is refused with one
  line instead of both writing the same files. The kernel drops the lock
  when the holder dies, so a killed run never stays locked.
- Finished: `config.json` records ``"finished": false`` when training starts
  and is rewritten (atomically) with ``true`` only once `model.keras` and
  `codes.h5` are complete. Commands that read a run's results refuse one
  that did not finish. Runs written before this marker existed have no
  ``finished`` key and count as finished.
- Leftovers: a command that touches a run folder first removes the
  temporaries of writers that died there (`tfhash.atomic.clean_stale_temporaries`).

Kept apart from `training.run` so the run's steps stay readable there.
"""

import contextlib
import fcntl
import functools
import json
import os

from tfhash.atomic import clean_stale_temporaries, write_text
from tfhash.errors import TfhashError, require

CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
# Sub-folders of a run that tfhash writes (checkpoints: .ckpt-*.tmp of a killed epoch).
_RUN_SUBFOLDERS = ("", "checkpoints")

_held = {}  # realpath of a run folder -> open lock file of this process
_stacks = []  # ExitStacks of the calls decorated with `releases_run_locks`


def releases_run_locks(fn):
    """Decorator: run locks taken (`hold_run_lock`) during a call of `fn` are released when it returns or raises."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with contextlib.ExitStack() as stack:
            _stacks.append(stack)
            try:
                return fn(*args, **kwargs)
            finally:
                _stacks.pop()

    return wrapper


def hold_run_lock(run_dir, create=True):
    """Lock `run_dir` for writing by this process (re-entrant), and clean up after dead writers.

    Raises a one-line `TfhashError` if another process holds the lock. A
    missing folder is created when `create`, else left alone (nothing to lock).
    """
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        if not create:
            return
        require(not os.path.exists(run_dir), f"{run_dir} is a file; a run needs a folder")
        os.makedirs(run_dir, exist_ok=True)
    key = os.path.realpath(run_dir)
    if key in _held:
        return
    f = open(os.path.join(run_dir, LOCK_FILE), "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise TfhashError(f"{run_dir} is in use by another tfhash process (training, resuming or evaluating it); "
                          "wait for it to end") from None
    _held[key] = f
    if _stacks:
        _stacks[-1].callback(_release, key)
    clean_run_folder(run_dir)


def _release(key):
    f = _held.pop(key, None)
    if f is not None:
        f.close()  # closing drops the flock


def clean_run_folder(run_dir):
    """Remove temporaries left in `run_dir` (and its checkpoints/) by tfhash processes that died."""
    for sub in _RUN_SUBFOLDERS:
        clean_stale_temporaries(os.path.join(run_dir, sub))


def read_run_config(run_dir, required=True):
    """RUN_DIR/config.json as a dict ({} if absent and not `required`); one line if it is damaged."""
    path = os.path.join(os.fspath(run_dir), CONFIG_FILE)
    if not os.path.exists(path):
        require(not required, f"{run_dir} is not a tfhash run (no {CONFIG_FILE})")
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise TfhashError(f"{path} is damaged (not JSON: {err}); restore it, or train the run again") from None
    require(isinstance(record, dict) and isinstance(record.get("method"), str)
            and isinstance(record.get("config"), dict),
            f"{path} is damaged (not a tfhash run record); restore it, or train the run again")
    return record


def mark_finished(run_dir, finished=True):
    """Rewrite config.json atomically with ``"finished": finished``."""
    record = read_run_config(run_dir)
    record["finished"] = bool(finished)
    write_text(os.path.join(run_dir, CONFIG_FILE), json.dumps(record, indent=2, sort_keys=True))


def require_finished(run_dir):
    """Refuse, in one line, a run whose training did not finish (or whose config.json is damaged)."""
    run_dir = os.fspath(run_dir)
    require(os.path.isdir(run_dir), f"run folder not found: {run_dir}")
    if _writable_by_us(run_dir):
        clean_run_folder(run_dir)
    record = read_run_config(run_dir, required=False)
    if record.get("finished") is False:
        raise TfhashError(f"{run_dir} did not finish training; continue it with "
                          f"`tfhash train {record['method']} --out {run_dir} --resume` (or train it again)")
    return record


def _writable_by_us(run_dir):
    # Cleaning while another process holds the lock is still safe (live writers' temporaries are
    # kept), but a folder we cannot write is simply left as it is.
    return os.access(run_dir, os.W_OK)


def load_keras_file(path):
    """`keras.models.load_model(path)`, with a damaged file reported in one line naming it.

    (Keras may report a truncated archive as "file not found".) The methods
    must be registered first.
    """
    import zipfile

    import keras

    damaged = f"{path} is damaged ({{}}); train the run again (or restore the file)"
    require(zipfile.is_zipfile(path), damaged.format("not a .keras archive"))
    try:
        return keras.models.load_model(path)
    except Exception as err:  # Keras raises many types for a bad archive, some misleading
        first_line = str(err).splitlines()[0] if str(err) else ""
        raise TfhashError(damaged.format(f"{type(err).__name__}: {first_line}")) from None


def check_memory(bits, items):
    """Refuse (one line) a code length whose codes alone would not fit in this machine's memory.

    A lower bound: float32 codes of both modalities for every item a run
    encodes. It catches absurd sizes (e.g. --bits 100000000) before anything is built.
    """
    need = 4 * 2 * int(bits) * int(items)
    have = _memory_bytes()
    if have and need > have:
        raise TfhashError(f"{bits} bits need at least {need / 2**30:.1f} GiB for the codes of {items} items, more "
                          f"than this machine's {have / 2**30:.1f} GiB; use fewer --bits")


def _memory_bytes():
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        pass
    try:  # a container's cgroup limit, when lower
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            value = f.read().strip()
        if value.isdigit():
            limits.append(int(value))
    except OSError:
        pass
    return min(limits) if limits else None


def check_run_inputs(dataset, method_cls, config):
    """Everything a run will read, checked before it builds anything (one line on the first problem).

    Every row of the train, query and database splits (NaN/inf, labels),
    and the code length against this machine's memory.
    """
    from tfhash.data.dataset import REQUIRED_SPLITS, validate_run_rows

    validate_run_rows(dataset, ("images", method_cls.text_field, "labels"), REQUIRED_SPLITS)
    items = sum(int(dataset.splits[name].size) for name in REQUIRED_SPLITS)
    check_memory(config.bits, items)
