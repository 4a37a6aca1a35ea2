"""DCMH-style .mat import from tiny files written in the exact v5 and v7.3 layouts."""

import os

import h5py
import numpy as np
import pytest
import scipy.io

from tfhash.data.dataset import PairedDataset
from tfhash.data.importers.dcmh_mat import import_dcmh, orient_images
from tfhash.data.importers.matfile import LazyArray, MatFile
from tfhash.errors import TfhashError

N, C, V, D, H, W = 40, 5, 12, 7, 6, 4


def write_mat73(path, **arrays):
    """Write `arrays` as MATLAB -v7.3 does: HDF5 after a 512-byte header, column-major."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in arrays.items():
            value = np.asarray(value)
            # Column-major storage: h5py sees every axis reversed, (N, D) -> (D, N).
            ds = f.create_dataset(name, data=value.T)
            ds.attrs["MATLAB_class"] = np.bytes_("uint8" if value.dtype == np.uint8 else "double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM")


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(1)
    labels = (rng.random((N, C)) < 0.4).astype(np.uint8)
    labels[labels.sum(axis=1) == 0, 0] = 1
    labels[[3, 17]] = 0  # two unlabeled pairs
    return {
        "LAll": labels,
        "YAll": (rng.random((N, V)) < 0.3).astype(np.float64),
        "features": rng.normal(size=(N, D)),
        "pixels": rng.integers(0, 256, size=(N, H, W, 3), dtype=np.uint8),
    }


def _write_both(folder, arrays, images):
    v5 = os.path.join(folder, "v5")
    v73 = os.path.join(folder, "v73")
    os.makedirs(v5)
    os.makedirs(v73)
    for name, key in (("lall", "LAll"), ("yall", "YAll")):
        scipy.io.savemat(os.path.join(v5, f"{name}.mat"), {key: arrays[key]})
        write_mat73(os.path.join(v73, f"{name}.mat"), **{key: arrays[key]})
    scipy.io.savemat(os.path.join(v5, "iall.mat"), {"IAll": images})
    write_mat73(os.path.join(v73, "iall.mat"), IAll=images)
    return v5, v73


def _import(folder, out, **kw):
    kw = {"protocol": "custom", "query_size": 8, "seed": 3, **kw}
    return import_dcmh(
        os.path.join(folder, "lall.mat"), os.path.join(folder, "yall.mat"), out,
        images_mat=os.path.join(folder, "iall.mat"), **kw,
    )


@pytest.mark.parametrize("kind", ["features", "pixels"])
def test_v5_and_v73_import_to_the_same_arrays(tmp_path, arrays, kind):
    v5, v73 = _write_both(tmp_path, arrays, arrays[kind])
    with h5py.File(os.path.join(v73, "iall.mat"), "r") as f:
        # The layout really is MATLAB's: features (D, N), images (3, W, H, N).
        assert f["IAll"].shape == ((D, N) if kind == "features" else (3, W, H, N))
    outs = [_import(folder, tmp_path / f"{os.path.basename(folder)}.h5") for folder in (v5, v73)]
    read = []
    for out in outs:
        with PairedDataset(out) as ds:
            rows = np.arange(N)
            read.append({f: ds.read(f, rows) for f in ("images", "bow", "labels")} | {"splits": ds.splits})
            assert ds.protocol == "custom" and ds.split_seed == 3
    for a in read:
        np.testing.assert_array_equal(a["labels"], arrays["LAll"])
        np.testing.assert_array_equal(a["bow"], arrays["YAll"].astype(np.float32))
        expected = arrays[kind].astype(np.float32) if kind == "features" else arrays[kind]
        np.testing.assert_array_equal(a["images"], expected)
    for name in read[0]["splits"]:
        np.testing.assert_array_equal(read[0]["splits"][name], read[1]["splits"][name])


def test_unlabeled_pairs_are_kept_but_never_queries(tmp_path, arrays):
    v5, _ = _write_both(tmp_path, arrays, arrays["features"])
    out = _import(v5, tmp_path / "out.h5", query_size=30)
    with PairedDataset(out) as ds:
        assert ds.num_pairs == N
        assert not set(ds.split("query")) & {3, 17}
        assert {3, 17} <= set(ds.split("database"))


def test_matlab_hxwx3xn_images_and_alternate_names(tmp_path, arrays):
    # DCMH's own IAll is H x W x 3 x N in MATLAB; some releases say labels/tags/images.
    pixels = arrays["pixels"]
    path = tmp_path / "all.mat"
    write_mat73(path, labels=arrays["LAll"], tags=arrays["YAll"], images=np.transpose(pixels, (1, 2, 3, 0)))
    out = import_dcmh(path, path, tmp_path / "out.h5", images_mat=path, protocol="custom", query_size=5)
    with PairedDataset(out) as ds:
        np.testing.assert_array_equal(ds.read("images", np.arange(N)), pixels)


def test_python_written_hdf5_is_not_reversed(tmp_path, arrays):
    # An HDF5 file from h5py (no MATLAB header or attributes) stores (N, D) as (N, D).
    path = tmp_path / "py.mat"
    with h5py.File(path, "w") as f:
        for key in ("LAll", "YAll"):
            f[key] = arrays[key]
        f["IAll"] = arrays["pixels"]
    out = import_dcmh(path, path, tmp_path / "out.h5", images_mat=path, protocol="custom", query_size=5)
    with PairedDataset(out) as ds:
        np.testing.assert_array_equal(ds.read("images", np.arange(N)), arrays["pixels"])
        np.testing.assert_array_equal(ds.read("labels", np.arange(N)), arrays["LAll"])


def test_large_v73_images_are_read_in_row_slabs(tmp_path, arrays):
    path = tmp_path / "iall.mat"
    write_mat73(path, IAll=arrays["pixels"])
    with MatFile(path) as mat:
        lazy = mat.get("IAll")
        assert isinstance(lazy, LazyArray) and lazy.shape == (N, H, W, 3)
        np.testing.assert_array_equal(lazy[5:9], arrays["pixels"][5:9])
        np.testing.assert_array_equal(lazy[7], arrays["pixels"][7])
        np.testing.assert_array_equal(lazy[[1, 4, 30]], arrays["pixels"][[1, 4, 30]])
        # A (3, W, H, N)-oriented view needs fixing like any other layout.
        fixed = orient_images(lazy.transpose(3, 2, 1, 0), N)
        np.testing.assert_array_equal(fixed[0:3], arrays["pixels"][0:3])


def test_errors(tmp_path, arrays):
    v5, _ = _write_both(tmp_path, arrays, arrays["features"])
    lall, yall, iall = (os.path.join(v5, f) for f in ("lall.mat", "yall.mat", "iall.mat"))
    out = tmp_path / "out.h5"
    with pytest.raises(TfhashError, match=r"no image input"):
        import_dcmh(lall, yall, out)
    with pytest.raises(TfhashError, match=r"file not found: .*nope\.mat"):
        import_dcmh(lall, os.path.join(v5, "nope.mat"), out, images_mat=iall)
    with pytest.raises(TfhashError, match=r"yall\.mat has no label variable 'LAll' or 'labels' \(it has: YAll\)"):
        import_dcmh(yall, yall, out, images_mat=iall)
    short = os.path.join(v5, "short.mat")
    scipy.io.savemat(short, {"YAll": arrays["YAll"][:-1]})
    with pytest.raises(TfhashError, match=r"mismatched pair counts: 40 label rows but texts"):
        import_dcmh(lall, short, out, images_mat=iall)
    bad = os.path.join(v5, "nan.mat")
    features = arrays["features"].copy()
    features[2, 1] = np.nan
    scipy.io.savemat(bad, {"IAll": features})
    with pytest.raises(TfhashError, match=r"NaN or inf"):
        import_dcmh(lall, yall, out, images_mat=bad, protocol="custom", query_size=4)
    notmat = os.path.join(v5, "text.mat")
    with open(notmat, "w") as f:
        f.write("hello")
    with pytest.raises(TfhashError, match=r"cannot read text\.mat"):
        import_dcmh(notmat, yall, out, images_mat=iall)
    assert not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_sparse_texts_in_both_formats(tmp_path, arrays):
    import scipy.sparse

    dense = arrays["YAll"]
    csc = scipy.sparse.csc_matrix(dense)
    scipy.io.savemat(tmp_path / "v5.mat", {"YAll": csc})
    with h5py.File(tmp_path / "v73.mat", "w", userblock_size=512) as f:
        # MATLAB's v7.3 sparse: CSC arrays in a group, MATLAB_sparse = row count.
        g = f.create_group("YAll")
        g.attrs["MATLAB_class"] = np.bytes_("double")
        g.attrs["MATLAB_sparse"] = np.uint64(dense.shape[0])
        g["data"], g["ir"], g["jc"] = csc.data, csc.indices.astype(np.uint64), csc.indptr.astype(np.uint64)
    for name in ("v5.mat", "v73.mat"):
        with MatFile(tmp_path / name) as mat:
            np.testing.assert_array_equal(mat.load("YAll"), dense)
