"""Copy the per-method benchmark files (docs/benchmarks/*.md, written by the method scripts) into BENCHMARKS.md.

Usage: python scripts/assemble_benchmarks.py
Each file becomes (or replaces) its own section; the files carry their own machine, command and date lines.
"""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks_md import ROOT, write_raw_section  # noqa: E402


def main():
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "benchmarks", "*.md"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            write_raw_section(f"file:{name}", f.read())


if __name__ == "__main__":
    main()
