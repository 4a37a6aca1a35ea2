"""Arrays importer: .npy / HDF5 / .mat sources and input validation."""

import h5py
import numpy as np
import pytest
import scipy.io

from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.arrays import import_arrays
from tfhash.errors import TfhashError

N = 60


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        "images": rng.normal(size=(N, 6)).astype(np.float32),
        "texts": rng.random((N, 9)).astype(np.float32),
        "classes": rng.integers(0, 4, size=N),
        "tokens": np.where(rng.random((N, 5)) < 0.7, rng.integers(1, 11, size=(N, 5)), 0).astype(np.int32),
    }
    for key, value in data.items():
        np.save(tmp_path / f"{key}.npy", value)
    with h5py.File(tmp_path / "feats.h5", "w") as f:
        f["group/features"] = data["images"]
        f["other"] = np.zeros(3)
    scipy.io.savemat(tmp_path / "texts.mat", {"Y": data["texts"]})
    return tmp_path, data


def test_npy_h5_and_mat_sources(files):
    folder, data = files
    out = import_arrays(
        folder / "out.h5", images=f"{folder}/feats.h5:/group/features", texts=f"{folder}/texts.mat:Y",
        labels=str(folder / "classes.npy"), tokens=str(folder / "tokens.npy"), query_size=10, seed=4,
    )
    with PairedDataset(out) as ds:
        rows = np.arange(N)
        np.testing.assert_array_equal(ds.read("images", rows), data["images"])
        np.testing.assert_array_equal(ds.read("bow", rows), data["texts"])
        np.testing.assert_array_equal(ds.read("tokens", rows), data["tokens"])
        np.testing.assert_array_equal(ds.read("labels", rows).argmax(axis=1), data["classes"])
        assert ds.num_classes == 4 and ds.vocabulary[:2] == ["#1", "#2"]
        assert {k: v.size for k, v in ds.splits.items()} == {"query": 10, "database": 50, "train": 50}
        assert ds.split_seed == 4 and ds.protocol == "custom"


def test_pixel_arrays(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(20, 4, 4, 3)).astype(np.float64)
    out = import_arrays(tmp_path / "out.h5", images=pixels, texts=np.ones((20, 3)), query_size=2)
    with PairedDataset(out) as ds:
        np.testing.assert_array_equal(ds.read("images", np.arange(20)), pixels.astype(np.uint8))
    with pytest.raises(TfhashError, match=r"values in 0\.\.255"):
        import_arrays(tmp_path / "bad.h5", images=pixels / 300.0 - 0.5, texts=np.ones((20, 3)), query_size=2)


def test_validation_errors(files):
    folder, data = files
    out = folder / "out.h5"
    bad = data["images"].copy()
    bad[5, 2] = np.inf
    np.save(folder / "bad.npy", bad)
    cases = [
        (dict(images=str(folder / "bad.npy"), texts=str(folder / "texts.npy")), r"images contains NaN or inf"),
        (dict(images=str(folder / "images.npy"), texts=data["texts"][:-1]), r"mismatched pair counts: 60 images but 59 rows of texts"),
        (dict(images=str(folder / "missing.npy"), texts=data["texts"]), r"images file not found: .*missing\.npy"),
        (dict(images=str(folder / "feats.h5"), texts=data["texts"]), r"holds 2 datasets; name one as"),
        (dict(images=f"{folder}/feats.h5:/nope", texts=data["texts"]), r"feats\.h5 has no dataset 'nope'"),
        (dict(images=data["images"][:, :, None], texts=data["texts"]), r"images must be \(N, D\) features"),
        (dict(images=data["images"]), r"no text input given"),
        (dict(images=data["images"], texts=data["texts"], labels=np.full((N, 2), 0.5)), r"multi-hot 0/1"),
        (dict(images=data["images"], tokens=data["tokens"], vocabulary=["a", "b"]), r"token id 10 exceeds the vocabulary of 2"),
        (dict(images=data["images"], texts=data["texts"], protocol="nope"), r"unknown protocol 'nope'"),
    ]
    for kw, message in cases:
        with pytest.raises(TfhashError, match=message):
            import_arrays(out, query_size=10, **kw)
    assert not out.exists()
