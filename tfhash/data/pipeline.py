"""tf.data pipelines over a `PairedDataset` split.

Every element is a dict with ``image``, ``text`` (bag-of-words or tokens),
``label`` (when the dataset has labels and it is asked for) and ``index``
(the item's position inside the split, so methods can keep per-item state
such as UCH's and SDCH's B).

The order of epoch ``e`` is a pure function of ``(seed, e)``: a run resumed
at epoch ``e`` sees exactly the batches an uninterrupted run would.
"""

import math

import tensorflow as tf

from tfhash.errors import require

_DTYPES = {"images": tf.float32, "bow": tf.float32, "tokens": tf.int32, "labels": tf.float32}
_KEYS = {"images": "image", "bow": "text", "tokens": "text", "labels": "label"}


def _source_fields(dataset, text_field, with_labels):
    fields = ["images", text_field]
    if with_labels:
        require(dataset.has_labels, f"dataset {dataset.name} has no labels, which this method needs")
        fields.append("labels")
    return fields


def make_pipeline(
    dataset,
    split,
    *,
    batch_size,
    text_field="bow",
    with_labels=False,
    shuffle=False,
    seed=0,
    first_epoch=0,
    epochs=1,
    drop_remainder=False,
):
    """A `tf.data.Dataset` of batches of split `split`, and its steps per epoch.

    With `shuffle`, epochs `first_epoch .. epochs-1` follow one another in a
    single dataset (pass `steps_per_epoch` to `fit`); without it, one pass in
    split order.

    Pixel images are returned as float32 in [0, 255]; models rescale.
    """
    require(text_field in ("bow", "tokens"), f"unknown text field '{text_field}'")
    require(dataset.has_field(text_field), f"dataset {dataset.name} has no '{text_field}' text input")
    require(batch_size > 0, "batch size must be positive")
    rows = dataset.split(split)
    n = rows.size
    steps = n // batch_size if drop_remainder else math.ceil(n / batch_size)
    require(steps > 0, f"split '{split}' has {n} items, fewer than one batch of {batch_size}")
    fields = _source_fields(dataset, text_field, with_labels)

    if shuffle:

        def epoch_batches(epoch):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), epoch])
            )
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=drop_remainder)

        # One sub-dataset per epoch, so batches never straddle two epochs.
        index_ds = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
    else:
        index_ds = tf.data.Dataset.range(n).batch(batch_size, drop_remainder=drop_remainder)

    specs = {f: (dataset.read(f, rows[:1]).shape[1:], _DTYPES[f]) for f in fields}

    # Each batch is read from the dataset's own arrays (in memory or lazily from HDF5) when it is
    # needed. A tf.constant of the split instead would copy it once per pipeline: UCH's and SDCH's
    # passes over the training split after every epoch would each hold another copy.
    def read(pos):
        return tuple(dataset.read(f, rows[pos]).astype(_DTYPES[f].as_numpy_dtype, copy=False) for f in fields)

    def lookup(pos):
        values = tf.numpy_function(read, [pos], [_DTYPES[f] for f in fields])
        out = {}
        for f, v in zip(fields, values):
            v.set_shape((None,) + tuple(specs[f][0]))
            out[_KEYS[f]] = v
        out["index"] = pos
        return out

    ds = index_ds.map(lookup, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE), steps

