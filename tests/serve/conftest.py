"""A `tfhash serve` of the shipped MIRFlickr demo model, over copies of its indexes that tests may replace."""

import os
import shutil

import pytest

from tests.serve.support import DEMO, running_server

MAX_BODY = 1_000_000


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """(base URL, {"image": path, "text": path} of the served index copies, tmp folder)."""
    if not os.path.isfile(os.path.join(DEMO, "index-image.h5")):
        pytest.skip(f"the demo model is not at {DEMO} (scripts/build_serve_demo.py)")
    tmp = tmp_path_factory.mktemp("serve")
    indexes = {}
    for modality in ("image", "text"):
        indexes[modality] = str(tmp / f"served-{modality}.h5")
        shutil.copyfile(os.path.join(DEMO, f"index-{modality}.h5"), indexes[modality])
    with running_server(DEMO, "--index", f"image={indexes['image']}", "--index", f"text={indexes['text']}",
                        "--items", os.path.join(DEMO, "items.jsonl"), "--max-body", str(MAX_BODY), "--max-k", "50",
                        log_path=str(tmp / "server.log")) as base:
        yield base, indexes, tmp
