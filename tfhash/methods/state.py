"""Per-item training state held in non-trainable variables (UCH's and SDCH's B, SDCH's stored features)."""

import tensorflow as tf


def write_rows(variable, index, rows):
    """variable[index] = rows, for the rows of every replica (all replicas end with the same value)."""
    index = index[:, None]
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        variable.assign(tf.tensor_scatter_nd_update(variable.value, index, rows))
        return
    # Each replica holds other rows: sum the replicas' rows scattered into zeros, with a row mask.
    shape = tf.shape(variable.value)
    written = tf.scatter_nd(index, rows, shape)
    mask = tf.scatter_nd(index, tf.ones_like(index[:, 0], dtype=rows.dtype), shape[:1])
    written, mask = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [written, mask])
    variable.assign(tf.where(mask[:, None] > 0, written, variable.value))
