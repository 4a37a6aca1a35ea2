"""Index files that are reloaded, atomically, when replaced on disk.

A `WatchedIndex` checks its file's (mtime, size, inode) whenever a request
asks for it (`current()`, one `os.stat`). When they changed, one caller
loads the new file completely and then swaps the reference; meanwhile, and
if loading fails (the old index is kept and a warning logged), requests get
the previous snapshot. A request takes one snapshot and uses it throughout,
so none sees half an index, and requests under way finish on the old one.
Replace an index with `tfhash index --out` (an atomic rename), never by
writing into the file in place.
"""

import logging
import os
import threading
import time

from tfhash.errors import require
from tfhash.index.binary import BinaryIndex

log = logging.getLogger(__name__)


class IndexSnapshot:
    """One loaded version of an index file: the index, its id -> position map, when it was loaded."""

    def __init__(self, path, index, stamp):
        self.path, self.index, self.stamp = path, index, stamp
        self.loaded_at = time.time()
        self.positions = {item: i for i, item in enumerate(index.ids)}

    def describe(self):
        """Path, size, bits, kind and load time (for /v1/models)."""
        return {"path": self.path, "size": self.index.ntotal, "bits": self.index.bits, "kind": self.index.kind,
                "loaded_at": self.loaded_at}


def _stamp(path):
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class WatchedIndex:
    """An index file of `bits`-bit codes, reloaded when the file is replaced."""

    def __init__(self, path, bits):
        self.path = os.path.abspath(os.fspath(path))
        self.bits = int(bits)
        self.reloads = 0
        self._lock = threading.Lock()
        self._failed = None  # stamp of a file that failed to load: not retried until it changes again
        self._snapshot = self._load(_stamp_or_error(self.path))

    def _load(self, stamp):
        index = BinaryIndex.load(self.path)
        require(index.bits == self.bits,
                f"{self.path} holds {index.bits}-bit codes but the model makes {self.bits}-bit codes")
        return IndexSnapshot(self.path, index, stamp)

    def current(self):
        """The newest fully loaded snapshot (reloading first if the file changed)."""
        snap = self._snapshot
        try:
            stamp = _stamp(self.path)
        except OSError:  # between a delete and a rename, or removed: keep serving what we have
            return snap
        if stamp == snap.stamp or stamp == self._failed:
            return snap
        if not self._lock.acquire(blocking=False):  # another request is loading it: use the old one meanwhile
            return snap
        try:
            if self._snapshot.stamp != stamp:
                try:
                    self._snapshot = self._load(stamp)
                    self.reloads += 1
                    log.info("reloaded %s (%d items)", self.path, self._snapshot.index.ntotal)
                except Exception as err:  # noqa: BLE001  (keep serving the old index; say why)
                    self._failed = stamp
                    log.warning("kept the previous index: cannot load %s: %s", self.path, err)
            return self._snapshot
        finally:
            self._lock.release()


def _stamp_or_error(path):
    require(os.path.isfile(path), f"no index file at {path}")
    return _stamp(path)
