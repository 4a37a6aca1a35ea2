"""Turn a raw-pixel dataset into a feature dataset with a (pretrained) image backbone.

`extract_features` runs `tfhash.layers.backbones.image_backbone` over the
images of a dataset file in batches and writes a new dataset whose images
are the network's feature vectors; pairs, texts, labels, splits and ids are
copied unchanged. Memory stays bounded at NUS-WIDE size: images are read
one batch at a time from the (lazily opened) input file, features go
straight into an HDF5 dataset in a temporary file, and the final dataset is
copied from there in chunks by `write_dataset` (atomic: an interrupted run
leaves no output).
"""

import logging
import os
import tempfile

import h5py
import keras
import numpy as np

from tfhash.data.dataset import PairedDataset, write_dataset
from tfhash.errors import require
from tfhash.layers.backbones import BACKBONES, backbone_outputs, image_backbone, native_size

log = logging.getLogger(__name__)


def _weights_label(weights):
    if weights in (None, "", "none"):
        return "none"
    return weights if weights == "imagenet" else os.path.abspath(os.fspath(weights))


def _extract(net, images, out, batch_size, progress):
    """Write net(images[i:i+batch]) into the h5py dataset `out`, batch by batch."""
    n = images.shape[0]
    bar = keras.utils.Progbar(n, unit_name="image", verbose=1 if progress else 0)
    for start in range(0, n, batch_size):
        batch = np.asarray(images[start : start + batch_size], dtype=np.float32)
        out[start : start + batch.shape[0]] = np.asarray(net.predict_on_batch(batch), dtype=np.float32)
        bar.update(start + batch.shape[0])


def extract_features(in_path, out_path, *, backbone="vgg19", layer=None, weights="none", batch_size=32,
                     image_size=None, name=None, progress=True):
    """Write a dataset whose images are `backbone`'s `layer` features of `in_path`'s pixels; return `out_path`.

    Images are centre-cropped and resized to `image_size` (default: the
    network's own input side, 224 for the `keras.applications` networks)
    and preprocessed with the network's own `preprocess_input` inside the
    model. `layer` defaults to fc7 for VGG, pool otherwise (`backbone_outputs`).
    `weights` is "none", "imagenet" or a weights file. The output
    records `features_network`, `features_weights` and `features_layer`.
    """
    require(int(batch_size) > 0, f"batch size must be positive, got {batch_size}")
    require(backbone in BACKBONES, f"unknown image backbone '{backbone}' (known: {', '.join(BACKBONES)})")
    layer = layer or backbone_outputs(backbone)[-1]
    with PairedDataset(in_path, in_memory=False) as ds:
        require(ds.image_kind == "pixels",
                f"{in_path} holds {ds.image_shape[0]}-d image features, not pixel images: nothing to extract")
        size = native_size(backbone) if image_size is None else int(image_size)
        net = image_backbone(ds.image_shape, backbone, weights=weights, output=layer, image_size=size,
                             name=f"{backbone}_{layer}")
        dim = int(net.output_shape[-1])
        log.info("extracting %d-d %s %s features of %d images", dim, backbone, layer, ds.num_pairs)
        parent = os.path.dirname(os.path.abspath(os.fspath(out_path)))
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".features.", suffix=".h5.tmp", dir=parent)
        os.close(fd)
        try:
            with h5py.File(tmp, "w") as f:
                rows = max(1, min(ds.num_pairs, 2**22 // (4 * dim)))
                features = f.create_dataset("features", shape=(ds.num_pairs, dim), dtype=np.float32,
                                            chunks=(rows, dim))
                _extract(net, ds.array("images"), features, int(batch_size), progress)
                fields = {k: ds.array(k) for k in ("bow", "tokens", "labels") if ds.has_field(k)}
                return write_dataset(
                    out_path, images=features, **fields, vocabulary=ds.vocabulary, class_names=ds.class_names,
                    ids=ds.ids(np.arange(ds.num_pairs)), splits=ds.splits, split_seed=ds.split_seed,
                    protocol=ds.protocol, name=name or f"{ds.name}-{backbone}-{layer}",
                    attrs={"features_network": backbone, "features_weights": _weights_label(weights),
                           "features_layer": layer},
                )
        finally:
            os.remove(tmp)
