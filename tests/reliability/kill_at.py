"""Run `tfhash ARGS...` in this process and kill it with SIGKILL at a chosen point (for the kill -9 tests).

    python -m tests.reliability.kill_at POINT -- ARGS...

POINT is ``replace:NAME`` (just before the rename that puts a file or folder
called NAME in place: the temporary is complete but still under its
temporary name), ``write:H5PATH:N`` (when h5py creates the dataset H5PATH
for the N-th time: a file half written) or ``none``.
"""

import os
import signal
import sys


def _die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point):
    if point == "none":
        return
    kind, _, rest = point.partition(":")
    if kind == "replace":
        for name in ("replace", "rename"):
            original = getattr(os, name)

            def patched(src, dst, *args, _original=original, **kwargs):
                if os.path.basename(os.fspath(dst)) == rest:
                    _die()
                return _original(src, dst, *args, **kwargs)

            setattr(os, name, patched)
    elif kind == "write":
        import h5py

        target, count = rest.rsplit(":", 1)
        seen = [0]
        original = h5py.Group.create_dataset

        def create_dataset(self, name, *args, **kwargs):
            if f"{self.name.rstrip('/')}/{name}" == target:
                seen[0] += 1
                if seen[0] == int(count):
                    _die()
            return original(self, name, *args, **kwargs)

        h5py.Group.create_dataset = create_dataset
    else:
        raise SystemExit(f"unknown point {point}")


def main():
    point, sep, *args = sys.argv[1:]
    assert sep == "--"
    if "toy-test" in args:
        from tests.training import toy_method  # noqa: F401  (registers "toy-test")
    _arm(point)
    from tfhash.cli.main import main as tfhash_main

    sys.argv = ["tfhash", *args]
    tfhash_main()


if __name__ == "__main__":
    main()
