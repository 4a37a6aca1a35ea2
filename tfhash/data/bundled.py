"""The dataset shipped inside the package: Wikipedia (2,866 pairs), ready to train on."""

import os

from tfhash.errors import require

WIKIPEDIA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled", "wikipedia.h5")


def default_dataset_path():
    """Path of the bundled Wikipedia dataset file (built by scripts/build_bundled_wikipedia.py)."""
    require(
        os.path.isfile(WIKIPEDIA),
        f"the bundled dataset is missing ({WIKIPEDIA}); rebuild it with scripts/build_bundled_wikipedia.py",
    )
    return WIKIPEDIA
