"""Run in a fresh Python process by test_exported_codes.py: load every export as a user would.

Usage: python load_in_fresh_process.py MANIFEST.json

Imports nothing of tfhash but its public `tfhash.export` (which registers the
methods for Keras). For each entry it finds the newest integer version under
the model's base folder (as TF Serving does), loads that SavedModel, records
its signatures and calls them, and loads the `.keras` file with
`keras.models.load_model`; outputs go to .npy files, signatures to
RESULT.json.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfhash.export  # noqa: E402,F401  (registers every method with Keras)


def spec(s):
    return {"dtype": s.dtype.name, "shape": s.shape.as_list()}


def main(manifest_path):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    results = {}
    for entry in manifest:
        base, out = entry["base"], entry["out"]
        versions = sorted(int(n) for n in os.listdir(base) if n.isdigit())
        version_dir = os.path.join(base, str(versions[-1]))
        loaded = tf.saved_model.load(version_dir)
        signatures = {}
        for name, fn in loaded.signatures.items():
            _, kwargs = fn.structured_input_signature
            signatures[name] = {"inputs": {k: spec(v) for k, v in kwargs.items()},
                                "outputs": {k: spec(v) for k, v in fn.structured_outputs.items()}}
        for signature, arg, path in entry["calls"]:
            x = np.load(path, allow_pickle=False)
            result = loaded.signatures[signature](**{arg: tf.constant(x)})
            for key, value in result.items():
                np.save(os.path.join(out, f"saved_{signature}_{key}.npy"), value.numpy())
        model = keras.models.load_model(entry["keras"])
        for modality, encode in (("image", model.hash_image), ("text", model.hash_text)):
            codes = keras.ops.convert_to_numpy(encode(np.load(entry[modality])))
            np.save(os.path.join(out, f"keras_{modality}.npy"), codes)
        results[entry["name"]] = {"versions": versions, "signatures": signatures,
                                  "keras_class": f"{type(model).__module__}.{type(model).__name__}"}
    with open(os.path.join(os.path.dirname(manifest_path), "RESULT.json"), "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
