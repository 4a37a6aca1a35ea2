"""Import TensorFlow without the native start-up notices it writes straight to file descriptor 2.

TensorFlow 2.21 logs absl/oneDNN/CUDA-driver lines while its shared libraries
load, before `TF_CPP_MIN_LOG_LEVEL` is read, so the variable cannot silence
them; in a terminal they bury tfhash's own one-line errors. CLI commands that
need TensorFlow import it through here first. The devices are listed inside
the capture too, since that is when a machine without a GPU logs its failed
`cuInit`; that line is dropped only when no GPU was found (then it merely
says why), so a real GPU problem still shows.
"""

import os
import sys
import tempfile

_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "Could not find cuda drivers",
    "This TensorFlow binary is optimized",
    "To enable the following instructions",
    "Unable to register cu",
    "TF-TRT Warning",
    "computation placer already registered",
)


def import_tensorflow():
    """Import tensorflow and keras; re-emit whatever they wrote to stderr except the known notices."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        gpus = None
        try:
            import keras  # noqa: F401
            import tensorflow

            gpus = tensorflow.config.list_physical_devices("GPU")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", errors="replace").splitlines()
            noise = _NOISE + (("failed call to cuInit",) if gpus == [] else ())
            kept = [line for line in lines if not any(notice in line for notice in noise)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
