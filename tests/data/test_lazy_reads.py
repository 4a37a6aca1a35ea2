"""Rows of a lazily opened dataset file are read a block at a time, in any order, with repeats."""

import h5py
import numpy as np
import pytest

from tfhash.data.dataset import _read_rows


@pytest.mark.parametrize("indices", [[3, 0, 3, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [0, 9], []])
@pytest.mark.parametrize("block_bytes", [1, 24, 2**24])  # a row is 3 float64 = 24 bytes
def test_rows_in_any_order_match_numpy(tmp_path, indices, block_bytes):
    array = np.arange(30, dtype=np.float64).reshape(10, 3)  # row i is 3i, 3i+1, 3i+2
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["x"] = array
    with h5py.File(tmp_path / "a.h5", "r") as f:
        rows = _read_rows(f["x"], indices, block_bytes=block_bytes)
    assert rows.shape == (len(indices), 3)
    assert rows[:, 0].tolist() == [3.0 * i for i in indices]
    assert np.array_equal(rows, array[np.asarray(indices, dtype=np.int64)])


def test_pipelines_read_batches_from_the_dataset_not_from_a_copy(tmp_path):
    # A pipeline that copied the split (a tf.constant) would hold one more copy of the
    # training features for every pass (UCH's and SDCH's epoch-end B updates make one
    # each epoch). Here a row changed after the pipeline was built shows in its batches.
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.pipeline import make_pipeline
    from tfhash.data.synthetic import write_synthetic

    path = write_synthetic(tmp_path / "s.h5", 40, query_size=8, image_dim=6, text_dim=5)
    with PairedDataset(path) as ds:
        assert ds.in_memory
        batches, _ = make_pipeline(ds, "train", batch_size=4)
        first = int(ds.split("train")[0])
        ds._arrays["images"][first] = 42.0
        batch = next(iter(batches))
        assert batch["image"].numpy()[0].tolist() == [42.0] * 6
        assert batch["index"].numpy().tolist() == [0, 1, 2, 3]


def test_statistics_from_row_slices_equal_those_of_the_whole_split(tmp_path):
    from tfhash.data.dataset import PairedDataset
    from tfhash.data.split import SplitView
    from tfhash.data.synthetic import write_synthetic
    from tfhash.layers.normalization import Standardize

    path = write_synthetic(tmp_path / "s.h5", 300, query_size=20, image_dim=6, text_dim=5)
    with PairedDataset(path, in_memory=False) as ds:
        view = SplitView(ds, "train")
        lazy = view.rows_of("texts")
        assert lazy.shape == (280, 5) and len(lazy) == 280
        np.testing.assert_array_equal(lazy[3:9], view.texts()[3:9])
        whole, sliced = Standardize(), Standardize()
        whole.build((None, 6))
        sliced.build((None, 6))
        whole.fit(view.images())
        sliced.fit(view.rows_of("images"))
        np.testing.assert_array_equal(sliced.mean.numpy(), whole.mean.numpy())
        np.testing.assert_array_equal(sliced.scale.numpy(), whole.scale.numpy())
        assert np.abs(whole.mean.numpy()).max() > 0  # fitted: not the identity's zeros
