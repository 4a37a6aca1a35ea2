"""Fixtures of the export tests: tiny datasets, and an exported token-sequence model."""

import numpy as np
import pytest

from tests.export.support import WORDS, build_fitted, shipped_methods
from tfhash.methods.registry import get_method


@pytest.fixture(scope="session")
def export_dataset(tmp_path_factory):
    """Features images, both bag-of-words and tokens texts, labels: every method finds its inputs."""
    from tests.helpers import structured_dataset

    return structured_dataset(tmp_path_factory.mktemp("export-data"), n=96, query_size=24, image_dim=12,
                              num_classes=4, text_kind="both", vocab_size=40, max_tokens=6)


@pytest.fixture(scope="session")
def wikipedia_shaped_dataset(tmp_path_factory):
    """The bundled Wikipedia set's shapes (128-d images, 10-d BoW): what the docs' examples send."""
    from tests.helpers import structured_dataset

    return structured_dataset(tmp_path_factory.mktemp("wiki-shaped"), n=64, query_size=16, image_dim=128,
                              text_dim=10, num_classes=4)


@pytest.fixture(scope="session")
def tags_model(tmp_path_factory):
    """(model, dataset, version folder) of a token-sequence model whose vocabulary starts with the docs' words."""
    from tfhash.data.dataset import write_dataset
    from tfhash.data.synthetic import make_synthetic
    from tfhash.export.saved_model import export_model

    token_methods = [n for n in shipped_methods() if get_method(n).text_field == "tokens"]
    if not token_methods:
        pytest.skip("no token-sequence method is registered")
    data = make_synthetic(64, seed=0, image_dim=12, num_classes=4, text_kind="tokens", vocab_size=30, max_tokens=6)
    path = str(tmp_path_factory.mktemp("tags") / "tags.h5")
    rows = np.arange(64)
    write_dataset(path, images=data["images"], tokens=data["tokens"], labels=data["labels"],
                  vocabulary=WORDS + data["vocabulary"][len(WORDS):],
                  splits={"train": rows[16:], "database": rows[16:], "query": rows[:16]})
    model, dataset = build_fitted(token_methods[0], path)
    return model, dataset, export_model(model, tmp_path_factory.mktemp("serving") / "tags",
                                        vocabulary=dataset.vocabulary)
