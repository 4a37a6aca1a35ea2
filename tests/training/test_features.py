"""`tfhash data features`: raw-pixel datasets -> feature datasets, checked against keras.applications directly."""

import os
import shutil

import h5py
import keras
import numpy as np
import pytest

from tests.data.test_dcmh_mat import write_mat73
from tests.helpers import assert_one_line_error, run_cli
from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.dcmh_mat import import_dcmh
from tfhash.data.importers.mirflickr import import_mirflickr_images
from tfhash.errors import TfhashError
from tfhash.training.features import extract_features


@pytest.fixture(scope="module")
def mirflickr_224(shared_data_dir, tmp_path_factory):
    """Six real MIRFlickr pairs at 224 px (2 queries), imported by the project's own importer."""
    folder = os.path.join(shared_data_dir, "mirflickr25k")
    if not os.path.isdir(os.path.join(folder, "images")):
        pytest.skip("MIRFlickr images not found")
    tmp = tmp_path_factory.mktemp("mir")
    os.makedirs(tmp / "images")
    for i in range(1, 7):
        shutil.copy(os.path.join(folder, "images", f"im{i}.jpg"), tmp / "images")
    return import_mirflickr_images(folder, str(tmp / "raw.h5"), image_size=224, images_dir=str(tmp / "images"),
                                   query_size=2)


def _all(path, field):
    with PairedDataset(path) as ds:
        return ds.read(field, np.arange(ds.num_pairs))


def test_vgg19_fc7_of_real_images_equals_keras_applications(mirflickr_224, tmp_path):
    keras.utils.set_random_seed(7)
    vgg = keras.applications.VGG19(weights=None)  # random weights, same computation as pretrained ones
    weights = str(tmp_path / "vgg19.weights.h5")
    vgg.save_weights(weights)
    out = tmp_path / "fc7.h5"
    result = run_cli("data", "features", mirflickr_224, "--backbone", "vgg19", "--layer", "fc7",
                     "--backbone-weights", weights, "--batch-size", "4", "--out", out)
    assert result.exit_code == 0, result.output
    assert "6 pairs, images 4096-d features" in result.output
    pixels = _all(mirflickr_224, "images").astype(np.float32)
    assert pixels.shape == (6, 224, 224, 3)
    fc2 = keras.Model(vgg.input, vgg.get_layer("fc2").output)
    expected = fc2.predict(keras.applications.vgg19.preprocess_input(pixels.copy()), verbose=0)
    features = _all(out, "images")
    assert features.shape == (6, 4096) and features.dtype == np.float32
    assert np.abs(expected).max() > 1e-3  # not a vacuous comparison of zeros
    np.testing.assert_allclose(features, expected, atol=1e-5)
    # Everything but the images is copied unchanged, and the file says how its features were made.
    for field in ("bow", "tokens", "labels"):
        np.testing.assert_array_equal(_all(out, field), _all(mirflickr_224, field))
    with PairedDataset(out) as new, PairedDataset(mirflickr_224) as old:
        assert new.ids(np.arange(6)) == old.ids(np.arange(6)) == [f"im{i}.jpg" for i in range(1, 7)]
        assert {k: v.tolist() for k, v in new.splits.items()} == {k: v.tolist() for k, v in old.splits.items()}
        assert (new.vocabulary, new.class_names, new.split_seed) == (old.vocabulary, old.class_names, 0)
        assert new.describe()["features_network"] == "vgg19"
        assert new.describe()["features_layer"] == "fc7"
        assert new.describe()["features_weights"] == os.path.abspath(weights)
    assert sorted(os.listdir(tmp_path)) == ["fc7.h5", "vgg19.weights.h5"]  # no temporary file left


def test_dcmh_iall_pixels_feed_the_backbone_as_they_are(tmp_path):
    # IAll as DCMH distributes it: MATLAB -v7.3, H x W x 3 x N uint8, 224 px.
    rng = np.random.default_rng(0)
    n = 5
    pixels = rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    labels = np.eye(n, 3, dtype=np.uint8) + np.eye(n, 3, k=-3, dtype=np.uint8)
    tags = rng.integers(0, 2, (n, 8)).astype(np.uint8)
    mat = tmp_path / "all.mat"
    write_mat73(mat, LAll=labels, YAll=tags, IAll=np.transpose(pixels, (1, 2, 3, 0)))
    raw = import_dcmh(mat, mat, tmp_path / "raw.h5", images_mat=mat, protocol="custom", query_size=2)
    keras.utils.set_random_seed(1)
    reference = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(224, 224, 3),
                                            pooling="avg")
    weights = str(tmp_path / "resnet50.weights.h5")
    reference.save_weights(weights)
    out = extract_features(raw, tmp_path / "pool.h5", backbone="resnet50", weights=weights, batch_size=2,
                           progress=False)
    expected = reference.predict(keras.applications.resnet50.preprocess_input(pixels.astype(np.float32)),
                                 verbose=0)
    features = _all(out, "images")
    assert features.shape == (n, 2048)
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5 * scale)
    np.testing.assert_array_equal(_all(out, "labels"), labels)


def test_failed_imagenet_fetch_is_one_line_and_writes_nothing(mirflickr_224, tmp_path, monkeypatch):
    from tests.layers.test_backbones_pretrained import _offline

    _offline(monkeypatch)
    out = tmp_path / "out" / "fc7.h5"
    result = run_cli("data", "features", mirflickr_224, "--backbone", "vgg19", "--layer", "pool", "--out", out)
    assert_one_line_error(result, "error: could not fetch ImageNet weights for vgg19 (offline?): "
                                  "pass --backbone-weights FILE or none")
    assert not os.path.exists(tmp_path / "out") or os.listdir(tmp_path / "out") == []


def test_feature_datasets_and_bad_requests_are_refused(mirflickr_224, tmp_path):
    feats = tmp_path / "f.h5"
    with h5py.File(mirflickr_224, "r") as src, h5py.File(feats, "w") as f:
        for key in src:
            src.copy(key, f)
        for key, value in src.attrs.items():
            f.attrs[key] = value
        del f["images"]
        f["images"] = np.zeros((6, 4), np.float32)
    with pytest.raises(TfhashError, match="4-d image features, not pixel images"):
        extract_features(feats, tmp_path / "o.h5", backbone="vgg19", progress=False)
    with pytest.raises(TfhashError, match="unknown image backbone 'vgg11'"):
        extract_features(mirflickr_224, tmp_path / "o.h5", backbone="vgg11", progress=False)
    with pytest.raises(TfhashError, match="has no output 'fc7'"):
        extract_features(mirflickr_224, tmp_path / "o.h5", backbone="resnet50", layer="fc7", progress=False)
    assert not os.path.exists(tmp_path / "o.h5")
