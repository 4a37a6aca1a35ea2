"""IAPR TC-12 with sentences, as DVSH (KDD 2016) and TUCH (IJCAI 2017) use it.

Inputs, in the layouts they are distributed in:

* the official benchmark's per-image annotation files,
  ``annotations_complete_eng/XX/NNNNN.eng`` (ISO-8859-1 text, one ``<DOC>``
  with ``<DOCNO>``, ``<TITLE>``, ``<DESCRIPTION>``, ``<NOTES>``,
  ``<LOCATION>``, ``<DATE>``, ``<IMAGE>``, ``<THUMBNAIL>``). The sentences of
  an image are its ``<DESCRIPTION>`` split at ``;`` (the benchmark writes
  one statement per ``;``; DVSH counts about 1.7 per image);
* labels: both papers take "category annotations generated from
  segmentation tasks with 275 concepts", i.e. the segmented and annotated
  IAPR TC-12 (SAIAPR TC-12, Escalante et al., CVIU 2010), pruned to the
  22 most frequent concepts (DVSH: 18,715 images; TUCH: 18,673). Read from
  its region label files: every file named ``labels.txt`` under
  ``labels_dir``, one region per line, ``image_number region_number
  concept_id`` (whitespace-separated integers); an image carries a concept
  when any of its regions does. Concept names come from ``wlist.txt``
  (``concept_id name`` per line) when given. (The DCMH-style IAPR `.mat`
  files, 255 labels over tags with bag-of-words text, have no sentences;
  `tfhash data import dcmh` reads those.)
* images: the benchmark's image folder (the ``<IMAGE>`` path is relative to
  the folder holding ``images/``), decoded, centre-cropped and resized like
  MIRFlickr's; or a features file with one image id per line beside it.

Pairs: one per image with at least one sentence and at least one of the
kept concepts. Ids are the image numbers (unique across the collection).
Token sequences follow `tfhash.data.importers.sentences` (default: the
first sentence, at most 25 words, DVSH's length for IAPR TC-12).
"""

import collections
import glob
import os
import re

import numpy as np

from tfhash.data.dataset import write_dataset
from tfhash.data.importers.arrays import chunk_rows_for, report_unlabeled
from tfhash.data.importers.mirflickr import DecodedImages
from tfhash.data.importers.sentences import encode_sentences, read_features
from tfhash.data.protocols import make_splits, split_seed
from tfhash.errors import TfhashError, require

_FIELD = re.compile(r"<(DOCNO|DESCRIPTION|IMAGE)>(.*?)</\1>", re.S)
TOP_CONCEPTS = 22


def read_annotation(path):
    """One ``.eng`` file: {"id": image number, "sentences": [...], "image": relative image path or None}."""
    with open(path, encoding="latin-1") as f:
        text = f.read()
    fields = {name: value.strip() for name, value in _FIELD.findall(text)}
    require("DOCNO" in fields, f"{path} is not an IAPR TC-12 annotation (no <DOCNO>)")
    image_id = os.path.splitext(os.path.basename(fields["DOCNO"]))[0]
    sentences = [s.strip() for s in fields.get("DESCRIPTION", "").split(";") if s.strip()]
    return {"id": image_id, "sentences": sentences, "image": fields.get("IMAGE") or None}


def read_annotations(annotations_dir):
    """Every ``XX/*.eng`` under `annotations_dir`, by image number: {id: annotation}."""
    paths = sorted(glob.glob(os.path.join(os.fspath(annotations_dir), "*", "*.eng")))
    require(paths, f"no IAPR TC-12 annotation files (XX/NNNNN.eng) under {annotations_dir}")
    out = {}
    for path in paths:
        record = read_annotation(path)
        require(record["id"] not in out, f"image number {record['id']} is annotated twice ({path})")
        out[record["id"]] = record
    return out


def read_region_labels(labels_dir):
    """SAIAPR region labels: {image number (str): set of concept ids} from every labels.txt under `labels_dir`."""
    paths = sorted(glob.glob(os.path.join(os.fspath(labels_dir), "**", "labels.txt"), recursive=True))
    require(paths, f"no labels.txt files under {labels_dir}")
    concepts = collections.defaultdict(set)
    for path in paths:
        with open(path, encoding="latin-1") as f:
            for number, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    image, _region, concept = (int(p) for p in parts[:3])
                except ValueError:
                    raise TfhashError(f"{path}:{number}: expected 'image region concept' integers, got {line.strip()!r}") from None
                concepts[str(image)].add(concept)
    return concepts


def read_concept_names(wlist):
    """{concept id: name} from a ``wlist.txt`` (``id name`` per line)."""
    names = {}
    with open(wlist, encoding="latin-1") as f:
        for line in f:
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[0].isdigit():
                names[int(parts[0])] = parts[1].strip()
    return names


def import_iapr(annotations_dir, labels_dir, out_path, *, images_dir=None, features=None, feature_ids=None,
                concept_names=None, top_concepts=TOP_CONCEPTS, caption="first", max_tokens=25, min_count=1,
                bow_size=2000, image_size=64, protocol="iapr-dvsh", seed=0, query_size=None, train_size=None,
                validation_size=None, labelled_size=None, name="iapr-tc12"):
    """Import IAPR TC-12 sentences + SAIAPR concepts + images (or features) into `out_path`; return it.

    `top_concepts` keeps the most frequent concepts (by images; ties by id;
    0 = all) and drops images left without any.
    """
    require((images_dir is None) != (features is None), "give either an image folder or a features file")
    require(features is None or feature_ids is not None, "a features file needs its ids file (one image id a line)")
    annotations = read_annotations(annotations_dir)
    concepts = read_region_labels(labels_dir)
    counts = collections.Counter(c for i in annotations for c in concepts.get(i, ()))
    ranked = sorted(counts, key=lambda c: (-counts[c], c))
    kept = sorted(ranked[:top_concepts] if top_concepts else ranked)
    require(kept, "no concept of the label files is on an annotated image")
    column = {c: j for j, c in enumerate(kept)}
    ids = sorted((i for i, a in annotations.items() if a["sentences"] and concepts.get(i, set()) & set(kept)),
                 key=lambda i: (len(i), i))
    require(ids, "no image has both a sentence and one of the kept concepts")
    labels = np.zeros((len(ids), len(kept)), np.uint8)
    for row, image_id in enumerate(ids):
        for c in concepts[image_id] & set(kept):
            labels[row, column[c]] = 1
    report_unlabeled(labels)
    text = encode_sentences([annotations[i]["sentences"] for i in ids], caption=caption, max_tokens=max_tokens,
                            min_count=min_count, bow_size=bow_size)
    if features is not None:
        images = read_features(features, feature_ids, ids)
    else:
        paths = []
        for image_id in ids:
            relative = annotations[image_id]["image"]
            require(relative, f"annotation of image {image_id} names no <IMAGE>")
            path = os.path.join(os.fspath(images_dir), relative)
            require(os.path.isfile(path), f"image of {image_id} not found: {path}")
            paths.append(path)
        images = DecodedImages(paths, image_size)
    names = None
    if concept_names is not None:
        known = read_concept_names(concept_names)
        names = [known.get(c, str(c)) for c in kept]
    splits = make_splits(protocol, len(ids), seed, query_size=query_size, train_size=train_size,
                         validation_size=validation_size, labels=labels, labelled_size=labelled_size)
    return write_dataset(
        out_path, images=images, bow=text["bow"], tokens=text["tokens"], vocabulary=text["vocabulary"],
        labels=labels, class_names=names or [str(c) for c in kept], ids=ids, splits=splits,
        split_seed=split_seed(protocol, seed, labelled_size), protocol=protocol, name=name,
        chunk_rows=chunk_rows_for(images),
    )
