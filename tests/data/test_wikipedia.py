"""Wikipedia import of the real benchmark files, and its error messages."""

import os
import shutil

import numpy as np
import pytest
import scipy.io

from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.wikipedia import FEATURES, TRAIN_LIST, import_wikipedia
from tfhash.errors import TfhashError


@pytest.fixture(scope="module")
def wiki_dir(shared_data_dir):
    path = os.path.join(shared_data_dir, "wikipedia")
    if not os.path.isdir(path):
        pytest.skip(f"Wikipedia data not found at {path}")
    return path


def test_real_import(tmp_path, wiki_dir):
    out = import_wikipedia(wiki_dir, tmp_path / "wiki.h5")
    mat = scipy.io.loadmat(os.path.join(wiki_dir, FEATURES))
    with open(os.path.join(wiki_dir, "wiki_testset_txt_img_cat.list")) as f:
        first_test = f.readline().split()
    with PairedDataset(out) as ds:
        assert ds.num_pairs == 2866
        assert ds.image_shape == (128,) and ds.bow_dim == 10 and ds.num_classes == 10
        assert {k: v.size for k, v in ds.splits.items()} == {"train": 2173, "database": 2173, "query": 693}
        np.testing.assert_array_equal(ds.split("train"), ds.split("database"))
        assert ds.protocol == "wikipedia-standard" and ds.split_seed is None
        assert ds.class_names[0] == "art" and ds.class_names[-1] == "warfare"
        np.testing.assert_array_equal(ds.read("images", [0, 1]), mat["I_tr"][:2].astype(np.float32))
        np.testing.assert_array_equal(ds.read("bow", [0, 1]), mat["T_tr"][:2].astype(np.float32))
        np.testing.assert_array_equal(ds.read("images", [2173]), mat["I_te"][:1].astype(np.float32))
        np.testing.assert_array_equal(ds.read("bow", [2865]), mat["T_te"][-1:].astype(np.float32))
        labels = ds.read("labels", np.arange(2866))
        assert (labels.sum(axis=1) == 1).all()
        # First train row is class 6 (art=1), first test row class 2.
        assert labels[0].argmax() == 5 and labels[2173].argmax() == int(first_test[2]) - 1
        assert ds.ids([0, 2173]) == ["ceb47321a83dd824cec2d5d3f2034765", first_test[1]]


def _copy(wiki_dir, tmp_path):
    folder = tmp_path / "wiki"
    shutil.copytree(wiki_dir, folder)
    for name in os.listdir(folder):
        os.chmod(folder / name, 0o644)
    return folder


def test_errors(tmp_path, wiki_dir):
    folder = _copy(wiki_dir, tmp_path)
    out = tmp_path / "out.h5"
    mat = scipy.io.loadmat(folder / FEATURES)
    scipy.io.savemat(folder / FEATURES, {k: mat[k] for k in ("I_te", "T_tr", "T_te")})
    with pytest.raises(TfhashError, match=r"^wiki_raw_features\.mat has no variable 'I_tr'"):
        import_wikipedia(folder, out)
    scipy.io.savemat(folder / FEATURES, {k: mat[k] for k in ("I_tr", "I_te", "T_tr", "T_te")})
    lines = (folder / TRAIN_LIST).read_text().splitlines(keepends=True)
    (folder / TRAIN_LIST).write_text("".join(lines[:-1]))
    with pytest.raises(TfhashError, match=r"mismatched pair counts: wiki_trainset_txt_img_cat\.list has 2172 rows"):
        import_wikipedia(folder, out)
    os.remove(folder / TRAIN_LIST)
    with pytest.raises(TfhashError, match=r"Wikipedia file not found: .*wiki_trainset"):
        import_wikipedia(folder, out)
    with pytest.raises(TfhashError, match=r"Wikipedia folder not found"):
        import_wikipedia(tmp_path / "missing", out)
    assert not out.exists()
