"""Atomic writes: a crash leaves the old file (or nothing), never half a new one.

Temporaries are named ``.NAME.tfhash-PID-RANDOM.tmp`` next to their final
path (PID: the writing process). A writer killed with -9 cannot remove its
temporary, so the next command that touches the folder calls
`clean_stale_temporaries`, which removes those whose writer is gone and
never one of a live process.
"""

import contextlib
import errno
import os
import re
import shutil
import tempfile

from tfhash.errors import TfhashError

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
# `.keras` follows when Keras insists on that suffix (see training.run.save_model_file).
_TEMP_NAME = re.compile(r"^\..*\.tfhash-(\d+)-[^/]*\.tmp(\.[a-z]+)?$")


def temp_prefix(name):
    """Prefix of a temporary for final name `name` (mkstemp/mkdtemp add a random part and ".tmp")."""
    return f".{name}.tfhash-{os.getpid()}-"


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_temporaries(folder):
    """Remove temporaries in `folder` left by writers that died; returns the names removed.

    A temporary of a process still running (this one included) is kept, so a
    concurrent writer is never disturbed.
    """
    folder = os.fspath(folder)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMP_NAME.match(name)
        if not match or _process_alive(int(match.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(name)
        except OSError:
            pass
    return sorted(removed)


def is_temporary(name):
    """Whether `name` is one of tfhash's temporary names."""
    return bool(_TEMP_NAME.match(os.path.basename(os.fspath(name))))


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it onto `path` on success.

    Works for files and folders: whatever the body writes at the temporary
    path replaces `path` in one `os.replace`, or is removed on error. A full
    disk or read-only folder becomes a one-line `TfhashError` naming `path`.
    Temporaries of dead writers in the same folder are removed first.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
        clean_stale_temporaries(parent)  # of writers killed here before
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(os.path.basename(path)), suffix=".tmp", dir=parent)
    except OSError as err:
        raise write_error(path, err) from None
    os.close(fd)
    os.remove(tmp)
    try:
        yield tmp
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as err:
        if getattr(err, "errno", None) in _WRITE_ERRNOS:
            raise write_error(path, err) from None
        raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)


def write_error(path, err):
    """A one-line `TfhashError` for an OSError met while writing `path` (full disk, read-only, ...)."""
    reason = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }.get(getattr(err, "errno", None), getattr(err, "strerror", None) or str(err))
    return TfhashError(f"cannot write {path}: {reason}; nothing was written (free space or choose another place)")


def write_text(path, text):
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def refuse_other_kind(path, kind, is_kind):
    """Refuse to replace an existing `path` unless `is_kind(path)` says it is a `kind` file already.

    Stops e.g. `tfhash index RUN --out RUN/codes.h5` from replacing a run's codes with an index.
    """
    path = os.fspath(path)
    if os.path.lexists(path):
        if os.path.isdir(path):
            raise TfhashError(f"{path} is a folder; give a file name")
        if not is_kind(path):
            raise TfhashError(f"{path} exists and is not a {kind}; refusing to replace it (choose another name)")
