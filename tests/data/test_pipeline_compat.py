"""Importer output feeds the tf.data pipeline (pixels + ragged tokens)."""

import numpy as np

from tfhash.data.dataset import PairedDataset
from tfhash.data.pipeline import make_pipeline
from tfhash.data.synthetic import write_synthetic


def test_synthetic_pixels_and_tokens_through_the_pipeline(tmp_path):
    path = write_synthetic(tmp_path / "s.h5", 64, query_size=8, image_kind="pixels", image_size=8, text_kind="tokens")
    with PairedDataset(path) as ds:
        batches, steps = make_pipeline(ds, "train", batch_size=16, text_field="tokens", with_labels=True)
        batch = next(iter(batches))
        assert steps == 4
        assert batch["image"].shape == (16, 8, 8, 3) and batch["text"].shape == (16, 12)
        assert batch["label"].shape == (16, 10)
        np.testing.assert_array_equal(batch["text"].numpy(), ds.read("tokens", ds.split("train")[:16]))
