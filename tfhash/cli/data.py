"""tfhash data: import real benchmarks and arrays, generate synthetic data, describe a dataset file."""

import json
import os

import click
import numpy as np

from tfhash.cli.group import cli
from tfhash.errors import TfhashError


def _train_size(value):
    if value is None or value == "all":
        return value
    try:
        return int(value)
    except ValueError:
        raise TfhashError(f"--train-size must be a number or 'all', got {value!r}") from None


def _summary(path):
    """One line: output path, pairs, input shapes, labels, split sizes."""
    from tfhash.data.dataset import PairedDataset

    with PairedDataset(path) as ds:
        info = ds.describe()
        shape = "x".join(map(str, info["image_shape"])) + ("-d" if info["image_kind"] == "features" else "")
        parts = [f"{info['num_pairs']} pairs", f"images {shape} {info['image_kind']}"]
        if info["bow_dim"]:
            parts.append(f"bow {info['bow_dim']}-d")
        if info["max_tokens"]:
            parts.append(f"tokens {info['max_tokens']} x {len(ds.vocabulary)} words")
        if ds.has_labels:
            empty = int(np.sum(ds.ground_truth(np.arange(ds.num_pairs)).sum(axis=1) == 0))
            parts.append(f"{info['num_classes']} classes" + (f" ({empty} unlabeled)" if empty else ""))
    sizes = ", ".join(f"{k} {v}" for k, v in sorted(info["split_sizes"].items()))
    seed = "" if info["split_seed"] is None else f" seed {info['split_seed']}"
    click.echo(f"wrote {path}: {', '.join(parts)}; splits {sizes} ({info['protocol']}{seed})")


_labelled_size = click.option(
    "--labelled-size", type=int, default=None,
    help="Keep labels for this many random training pairs; the other training pairs form the 'unlabelled' "
         "pool, whose labels no method may read (default: every training pair is labelled).")


def _split_options(default_protocol, default_query=None):
    def wrap(f):
        f = _labelled_size(f)
        f = click.option("--seed", default=0, show_default=True, type=int, help="Split seed.")(f)
        f = click.option("--validation-size", type=int, default=None, help="Database pairs held out of train.")(f)
        f = click.option("--train-size", default=None,
                         help="Training pairs drawn from the database, or 'all' (default: the protocol's).")(f)
        f = click.option("--query-size", type=int, default=default_query, show_default=default_query is not None,
                         help="Query pairs (default: the protocol's).")(f)
        return click.option("--protocol", default=default_protocol, show_default=True,
                            help="Split protocol: custom, mirflickr-dcmh, nuswide-dcmh, iapr-dcmh, coco-dcmh, "
                                 "iapr-dvsh, coco-dvsh, iapr-tuch, coco-tuch.")(f)

    return wrap


def _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size=None):
    return {"protocol": protocol, "seed": seed, "query_size": query_size,
            "train_size": _train_size(train_size), "validation_size": validation_size,
            "labelled_size": labelled_size}


_out = click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output dataset file (.h5).")


@cli.group()
def data():
    """Import, generate and inspect paired datasets."""


@data.group(name="import")
def import_():
    """Import a benchmark or arrays into a tfhash dataset file."""


@import_.command()
@click.option("--data-dir", required=True, type=click.Path(), help="Folder with wiki_raw_features.mat and the .list files.")
@_labelled_size
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the labelled subset (with --labelled-size).")
@_out
def wikipedia(data_dir, labelled_size, seed, out):
    """Wikipedia (2,866 pairs, fixed 2,173/693 split)."""
    from tfhash.data.importers.wikipedia import import_wikipedia

    if not os.path.isfile(os.path.join(data_dir, "wiki_raw_features.mat")) and os.path.isdir(os.path.join(data_dir, "wikipedia")):
        data_dir = os.path.join(data_dir, "wikipedia")
    _summary(import_wikipedia(data_dir, out, labelled_size=labelled_size, seed=seed))


@import_.command()
@click.option("--labels", "labels_mat", required=True, type=click.Path(), help=".mat file with LAll (or labels).")
@click.option("--texts", "texts_mat", required=True, type=click.Path(), help=".mat file with YAll (or tags).")
@click.option("--images", "images_mat", type=click.Path(), help=".mat file with IAll (or images): features or pixels.")
@_split_options("mirflickr-dcmh")
@_out
def dcmh(labels_mat, texts_mat, images_mat, protocol, query_size, train_size, validation_size, labelled_size, seed, out):
    """DCMH-style .mat files (MIRFlickr, NUS-WIDE, IAPR TC-12, MS-COCO)."""
    from tfhash.data.importers.dcmh_mat import import_dcmh

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_dcmh(labels_mat, texts_mat, out, images_mat=images_mat, **kw))


@import_.command(name="mirflickr-images")
@click.option("--data-dir", required=True, type=click.Path(), help="The mirflickr25k folder (with images/).")
@click.option("--image-size", default=64, show_default=True, type=int, help="Side of the square images.")
@click.option("--max-tokens", type=int, default=None, help="Token sequence length (default: the longest).")
@_split_options("custom", 130)
@_out
def mirflickr_images(data_dir, image_size, max_tokens, protocol, query_size, train_size, validation_size, labelled_size, seed, out):
    """MIRFlickr-25K pairs whose raw image is present, as pixels + tags."""
    from tfhash.data.importers.mirflickr import import_mirflickr_images

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_mirflickr_images(data_dir, out, image_size=image_size, max_tokens=max_tokens, **kw))


@import_.command(name="mirflickr-features")
@click.option("--data-dir", required=True, type=click.Path(), help="The mirflickr25k folder.")
@click.option("--features", default="features/efficientnet-lite2.npy", show_default=True,
              help="Image features (relative to --data-dir, or a path): X.npy, file.h5:/dataset, file.mat:VAR.")
@click.option("--feature-rows", type=click.Path(), default=None,
              help="'ROW [IMAGE]' per feature row (default: the features file with .rows.txt).")
@click.option("--max-tokens", type=int, default=None, help="Token sequence length (default: the longest).")
@_split_options("custom", 130)
@_out
def mirflickr_features(data_dir, features, feature_rows, max_tokens, protocol, query_size, train_size,
                       validation_size, labelled_size, seed, out):
    """MIRFlickr-25K pairs with precomputed image features (default: the shared pretrained EfficientNet-Lite2)."""
    from tfhash.data.importers.mirflickr import import_mirflickr_features

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_mirflickr_features(data_dir, out, features=features, feature_rows=feature_rows,
                                       max_tokens=max_tokens, **kw))


@import_.command(name="mirflickr")
@click.option("--data-dir", required=True, type=click.Path(), help="The mirflickr25k folder.")
@click.option("--images", "images_mat", type=click.Path(), help="IAll .mat (default: mirflickr25k-iall.mat in --data-dir).")
@click.option("--max-tokens", type=int, default=None, help="Token sequence length (default: the longest).")
@_split_options("mirflickr-dcmh")
@_out
def mirflickr(data_dir, images_mat, max_tokens, protocol, query_size, train_size, validation_size, labelled_size, seed, out):
    """All 20,015 MIRFlickr-25K pairs: IAll images + bag-of-words + tag tokens + named labels."""
    from tfhash.data.importers.mirflickr import import_mirflickr_text

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_mirflickr_text(data_dir, out, images_mat=images_mat, max_tokens=max_tokens, **kw))


def _sentence_options(max_tokens):
    def wrap(f):
        f = click.option("--bow-size", default=2000, show_default=True, type=int,
                         help="Bag-of-words width: the most frequent words over all sentences.")(f)
        f = click.option("--min-count", default=1, show_default=True, type=int,
                         help="Words seen fewer times become <unk> in the token sequences.")(f)
        f = click.option("--max-tokens", default=max_tokens, show_default=True, type=int,
                         help="Token sequence length (DVSH: 20 on COCO, 25 on IAPR TC-12).")(f)
        f = click.option("--caption", default="first", show_default=True, type=click.Choice(["first", "all"]),
                         help="Token sequence: the image's first sentence, or all its sentences joined.")(f)
        f = click.option("--image-size", default=64, show_default=True, type=int, help="Side of the square images.")(f)
        f = click.option("--feature-ids", type=click.Path(), help="Image id of each features row, one a line.")(f)
        return click.option("--features", help="Image features instead of images: X.npy, file.h5:/dataset or file.mat:VAR.")(f)

    return wrap


@import_.command(name="iapr")
@click.option("--annotations", required=True, type=click.Path(),
              help="The annotations_complete_eng folder (XX/NNNNN.eng files).")
@click.option("--labels-dir", required=True, type=click.Path(),
              help="SAIAPR TC-12 folder searched for labels.txt region label files.")
@click.option("--concept-names", type=click.Path(), help="SAIAPR wlist.txt (concept id and name per line).")
@click.option("--top-concepts", default=22, show_default=True, type=int,
              help="Keep the most frequent concepts (the papers: 22); 0 = all.")
@click.option("--images-dir", type=click.Path(), help="Folder the <IMAGE> paths are relative to (holds images/).")
@_sentence_options(25)
@_split_options("iapr-dvsh")
@_out
def iapr(annotations, labels_dir, concept_names, top_concepts, images_dir, features, feature_ids, image_size,
         caption, max_tokens, min_count, bow_size, protocol, query_size, train_size, validation_size, labelled_size,
         seed, out):
    """IAPR TC-12 with sentences and SAIAPR concepts (DVSH, TUCH): one pair per image."""
    from tfhash.data.importers.iapr import import_iapr

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_iapr(annotations, labels_dir, out, images_dir=images_dir, features=features,
                         feature_ids=feature_ids, concept_names=concept_names, top_concepts=top_concepts,
                         caption=caption, max_tokens=max_tokens, min_count=min_count, bow_size=bow_size,
                         image_size=image_size, **kw))


@import_.command(name="coco")
@click.option("--captions", required=True, multiple=True, type=click.Path(),
              help="captions_*.json (repeat for train2014 and val2014).")
@click.option("--instances", required=True, multiple=True, type=click.Path(),
              help="instances_*.json with the 80 categories (repeat to match --captions).")
@click.option("--images-dir", "image_dirs", multiple=True, type=click.Path(),
              help="Folder holding the JPEGs named in the captions files (repeatable).")
@_sentence_options(20)
@_split_options("coco-dvsh")
@_out
def coco(captions, instances, image_dirs, features, feature_ids, image_size, caption, max_tokens, min_count,
         bow_size, protocol, query_size, train_size, validation_size, labelled_size, seed, out):
    """MS-COCO captions with the 80 instance categories as labels (DVSH, TUCH): one pair per image."""
    from tfhash.data.importers.coco import import_coco

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_coco(list(captions), list(instances), out, image_dirs=list(image_dirs) or None,
                         features=features, feature_ids=feature_ids, caption=caption, max_tokens=max_tokens,
                         min_count=min_count, bow_size=bow_size, image_size=image_size, **kw))


@import_.command()
@click.option("--images", required=True, help="Images: X.npy, file.h5:/dataset or file.mat:VAR.")
@click.option("--texts", help="Bag-of-words texts (same forms).")
@click.option("--tokens", help="Token ids, 0 = padding (same forms).")
@click.option("--vocabulary", type=click.Path(), help="Token vocabulary, one word a line (id i+1 = line i).")
@click.option("--labels", help="Labels: (N, C) 0/1 or (N,) class ids (same forms).")
@click.option("--class-names", type=click.Path(), help="Class names, one a line.")
@click.option("--ids", type=click.Path(), help="Item ids, one a line (row order of the texts).")
@click.option("--feature-rows", type=click.Path(),
              help="Images cover some pairs only: line i = 'ROW [NAME]', the 0-based texts/labels row of image row i.")
@_split_options("custom")
@_out
def arrays(images, texts, tokens, vocabulary, labels, class_names, ids, feature_rows, protocol, query_size, train_size,
           validation_size, labelled_size, seed, out):
    """Plain arrays (.npy, HDF5, .mat), optionally image features aligned to some pairs by a rows file."""
    from tfhash.data.importers.arrays import import_arrays

    kw = _splits_kw(protocol, seed, query_size, train_size, validation_size, labelled_size)
    _summary(import_arrays(out, images=images, texts=texts, tokens=tokens, vocabulary=vocabulary,
                           labels=labels, class_names=class_names, ids=ids, image_rows=feature_rows, **kw))


@data.command()
@click.option("--n", default=2000, show_default=True, type=int, help="Number of pairs.")
@click.option("--query-size", default=200, show_default=True, type=int)
@click.option("--train-size", default=None, help="Training pairs drawn from the database, or 'all' (default).")
@click.option("--validation-size", default=0, show_default=True, type=int)
@click.option("--image-kind", default="features", show_default=True, type=click.Choice(["features", "pixels"]))
@click.option("--image-dim", default=128, show_default=True, type=int)
@click.option("--image-size", default=32, show_default=True, type=int)
@click.option("--text-kind", default="bow", show_default=True, type=click.Choice(["bow", "tokens", "both"]))
@click.option("--text-dim", default=64, show_default=True, type=int)
@click.option("--vocab-size", default=200, show_default=True, type=int)
@click.option("--max-tokens", default=12, show_default=True, type=int)
@click.option("--num-classes", default=10, show_default=True, type=int)
@click.option("--multilabel", is_flag=True, help="1..3 classes per pair.")
@click.option("--noise", default=0.5, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@_out
def synthetic(n, query_size, train_size, validation_size, seed, out, **kw):
    """Synthetic paired data with learnable class structure."""
    from tfhash.data.synthetic import write_synthetic

    _summary(write_synthetic(out, n, query_size=query_size, train_size=_train_size(train_size),
                             validation_size=validation_size, seed=seed, **kw))


@data.command()
@click.argument("path", type=click.Path())
def info(path):
    """Describe a dataset file (JSON)."""
    from tfhash.data.dataset import PairedDataset

    with PairedDataset(path) as ds:
        click.echo(json.dumps(ds.describe(), indent=2))


@data.command()
@click.argument("in_path", metavar="IN.h5", type=click.Path())
@click.option("--backbone", default="vgg19", show_default=True,
              help="Network: vgg16, vgg19, resnet50, mobilenetv2, densenet121, efficientnetb0, resnet18, alexnet.")
@click.option("--layer", default=None, help="Output: pool, or fc6/fc7 for VGG (default: fc7 for VGG, else pool).")
@click.option("--backbone-weights", "weights", default="imagenet", show_default=True,
              help="imagenet (Keras downloads and caches it), none (random) or a weights file.")
@click.option("--image-size", type=int, default=None, help="Crop+resize side (default: the network's, 224).")
@click.option("--batch-size", default=32, show_default=True, type=int)
@_out
def features(in_path, backbone, layer, weights, image_size, batch_size, out):
    """Raw-pixel dataset IN.h5 -> dataset of a network's image features (same pairs, texts, labels, splits)."""
    from tfhash.cli.quiet import import_tensorflow

    import_tensorflow()
    from tfhash.training.features import extract_features

    _summary(extract_features(in_path, out, backbone=backbone, layer=layer, weights=weights,
                              image_size=image_size, batch_size=batch_size))
