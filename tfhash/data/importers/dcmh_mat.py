"""Importer for DCMH-style .mat releases (MIRFlickr-25K, NUS-WIDE, IAPR TC-12, MS-COCO).

Variables: labels ``LAll`` (N x C), texts ``YAll`` (N x V), images ``IAll``
as features (N x D) or pixels (N x H x W x 3, or MATLAB's H x W x 3 x N);
the alternative names ``labels``/``tags``/``images`` are accepted too. The
three may live in one file or three. v5 and v7.3 (HDF5) files both work;
orientation is checked against N (the rows of the labels) and fixed, and
a large v7.3 ``IAll`` is copied in chunks, never loaded whole.

Images are required: the dataset format pairs an image input with a text
input, and substituting anything else (e.g. the text again) would make
results look like cross-modal retrieval when they are not. For MIRFlickr
without ``IAll``, `import_mirflickr_images` builds the pairs from raw images.
"""

import contextlib
import os

from tfhash.data.dataset import write_dataset
from tfhash.data.importers.arrays import as_pixels, chunk_rows_for, labels_to_multihot, report_unlabeled
from tfhash.data.importers.matfile import MatFile
from tfhash.data.protocols import make_splits, split_seed
from tfhash.errors import TfhashError, require

LABEL_NAMES = ("LAll", "labels")
TEXT_NAMES = ("YAll", "tags")
IMAGE_NAMES = ("IAll", "images")

# Pixel layouts seen in the wild, as permutations to (N, H, W, 3), most common first:
# (N,H,W,3); MATLAB H x W x 3 x N (DCMH's IAll); (N,3,H,W) channels-first;
# and the same read with reversed axes (row-major writer, column-major reader).
_PIXEL_LAYOUTS = ((0, 1, 2, 3), (3, 0, 1, 2), (0, 2, 3, 1), (3, 2, 1, 0), (3, 1, 0, 2))

NO_IMAGES_MESSAGE = (
    "no image input: pass the IAll .mat file (--images; N x D features or N x H x W x 3 pixels). "
    "A dataset needs both modalities; for MIRFlickr-25K without IAll use 'tfhash data import mirflickr-images'"
)


def _variable(mat, candidates, role):
    name = mat.find(*candidates)
    if name is None:
        have = ", ".join(mat.names) or "none"
        alternatives = " or ".join(f"'{c}'" for c in candidates)
        raise TfhashError(f"{mat.label} has no {role} variable {alternatives} (it has: {have})")
    return name


def orient_rows(array, n, what):
    """A 2-D `array` with its N = `n` pairs along axis 0 (transposing if stored (D, N))."""
    require(array.ndim == 2, f"{what} must be a 2-D matrix, got shape {tuple(array.shape)}")
    if array.shape[0] == n:
        return array
    if array.shape[1] == n:
        return array.transpose()
    raise TfhashError(f"mismatched pair counts: {n} label rows but {what} has shape {tuple(array.shape)}")


def orient_images(array, n, what="images"):
    """`array` as (N, D) features or (N, H, W, 3) pixels, fixing stored orientation."""
    if array.ndim == 2:
        return orient_rows(array, n, what)
    require(array.ndim == 4, f"{what} must be N x D features or N x H x W x 3 pixels, got shape {tuple(array.shape)}")
    shape = tuple(array.shape)
    for axes in _PIXEL_LAYOUTS:
        if shape[axes[0]] == n and shape[axes[3]] == 3:
            return as_pixels(array.transpose(axes))
    raise TfhashError(
        f"{what} of shape {shape} is not N x H x W x 3 (or a transposed layout of it) for N = {n} pairs"
    )


@contextlib.contextmanager
def open_dcmh(labels_mat, texts_mat, images_mat=None):
    """Yield dict(labels=uint8 (N, C), bow=(N, V), images=(N, ...) or None), oriented; files stay open."""
    with contextlib.ExitStack() as stack:
        opened = {}

        def mat(path):
            key = os.path.abspath(os.fspath(path))
            if key not in opened:
                opened[key] = stack.enter_context(MatFile(path))
            return opened[key]

        lmat = mat(labels_mat)
        raw = lmat.load(_variable(lmat, LABEL_NAMES, "label"))
        require(raw.ndim == 2, f"{lmat.label}: labels must be an N x C matrix, got shape {raw.shape}")
        labels = labels_to_multihot(raw, f"{lmat.label} labels")
        n = labels.shape[0]
        tmat = mat(texts_mat)
        bow = orient_rows(tmat.get(_variable(tmat, TEXT_NAMES, "text")), n, f"texts in {tmat.label}")
        images = None
        if images_mat is not None:
            imat = mat(images_mat)
            images = orient_images(imat.get(_variable(imat, IMAGE_NAMES, "image")), n, f"images in {imat.label}")
        yield {"labels": labels, "bow": bow, "images": images}


def import_dcmh(
    labels_mat,
    texts_mat,
    out_path,
    *,
    images_mat=None,
    protocol="mirflickr-dcmh",
    seed=0,
    query_size=None,
    train_size=None,
    validation_size=None,
    labelled_size=None,
    class_names=None,
    ids=None,
    name=None,
):
    """Import DCMH-style LAll/YAll/IAll .mat files into `out_path`; return the path.

    `images_mat` is required (see the module doc for why). Pairs with an
    all-zero label row are kept (their count is logged) but never become
    queries. Split sizes default to the protocol's preset.
    """
    require(images_mat is not None, NO_IMAGES_MESSAGE)
    with open_dcmh(labels_mat, texts_mat, images_mat) as data:
        labels = data["labels"]
        report_unlabeled(labels, os.path.basename(os.fspath(labels_mat)))
        if class_names is not None:
            require(len(class_names) == labels.shape[1], f"{len(class_names)} class names for {labels.shape[1]} label columns")
        splits = make_splits(
            protocol, labels.shape[0], seed, query_size=query_size, train_size=train_size,
            validation_size=validation_size, labels=labels, labelled_size=labelled_size,
        )
        return write_dataset(
            out_path, images=data["images"], bow=data["bow"], labels=labels, class_names=class_names,
            ids=ids, splits=splits, split_seed=split_seed(protocol, seed, labelled_size), protocol=protocol, name=name,
            chunk_rows=chunk_rows_for(data["images"]),
        )
