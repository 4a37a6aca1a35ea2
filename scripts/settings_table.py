"""Write docs/settings.md: every method's flags with their defaults and sources (from the config dataclasses).

    python scripts/settings_table.py
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tfhash.atomic import write_text  # noqa: E402
from tfhash.methods.config import settings_markdown  # noqa: E402
from tfhash.methods.registry import get_method, method_names  # noqa: E402

PATH = os.path.join(ROOT, "docs", "settings.md")


def shipped_configs():
    """method name -> config class, for the methods that ship with tfhash."""
    return {n: get_method(n).config_class for n in method_names() if get_method(n).__module__.startswith("tfhash.")}


if __name__ == "__main__":
    write_text(PATH, settings_markdown(shipped_configs()))
    print(PATH)
