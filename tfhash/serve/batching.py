"""A small queue that encodes the queries of concurrent requests together, in one worker thread.

TensorFlow work stays off the event loop: a request `submit`s its inputs and
awaits the returned future. The worker takes the first waiting job, then
whatever else arrives within `max_wait` seconds (up to `max_batch` items),
and runs one signature call per input kind. A batch that fails is retried
job by job, so one bad job cannot fail the others.
"""

import concurrent.futures
import logging
import queue
import threading
import time

import numpy as np

from tfhash.errors import TfhashError

log = logging.getLogger(__name__)


class QueueFull(TfhashError):
    """More jobs are waiting than the queue holds (the server is overloaded)."""


class _Job:
    __slots__ = ("key", "inputs", "future")

    def __init__(self, key, inputs):
        self.key, self.inputs, self.future = key, inputs, concurrent.futures.Future()


class EncodeBatcher:
    """Batches `encode(key, inputs) -> codes` calls from many threads or coroutines.

    Args:
        encode: `encode(key, array)` -> array of codes, one row per input row
            (e.g. `ExportedModel.hash`: key = the input, "image", "text" or "tokens").
        max_batch: items encoded in one call at most (a single larger job still runs alone).
        max_wait: seconds the worker waits for more jobs after the first.
        max_queue: jobs waiting at most; `submit` raises `QueueFull` beyond.
    """

    def __init__(self, encode, *, max_batch=256, max_wait=0.002, max_queue=1024):
        self.encode = encode
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait)
        self._queue = queue.Queue(maxsize=int(max_queue))
        self.batches = 0  # encode calls made (tests and /v1/models read it)
        self._thread = threading.Thread(target=self._run, name="tfhash-encode", daemon=True)
        self._thread.start()

    def submit(self, key, inputs):
        """Queue `inputs` (N rows) for the `key` input; a `concurrent.futures.Future` of their codes."""
        job = _Job(key, inputs)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull("the server is busy (encoding queue full); retry later") from None
        return job.future

    def close(self):
        """Stop the worker after the jobs already queued."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _collect(self, first):
        jobs, size = [first], len(first.inputs)
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # close(): finish this batch, then stop
                self._queue.put(None)
                break
            jobs.append(job)
            size += len(job.inputs)
        return jobs

    def _run(self):
        while True:
            first = self._queue.get()
            if first is None:
                return
            # A job whose request timed out was cancelled: skip it.
            jobs = [j for j in self._collect(first) if j.future.set_running_or_notify_cancel()]
            groups = {}
            for job in jobs:
                groups.setdefault(job.key, []).append(job)
            for key, group in groups.items():
                self._encode_group(key, group)

    def _encode_group(self, key, group):
        try:
            codes = self.encode(key, np.concatenate([j.inputs for j in group]))
            self.batches += 1
        except Exception as err:  # noqa: BLE001  (handed to the waiting request)
            if len(group) == 1:
                group[0].future.set_exception(err)
            else:  # find the culprit: each job alone
                for job in group:
                    self._encode_group(key, [job])
            return
        start = 0
        for job in group:
            job.future.set_result(codes[start:start + len(job.inputs)])
            start += len(job.inputs)
