"""Training state across replicas: per-item state in non-trainable variables (UCH's and SDCH's B, SDCH's stored
features), and the collectives that keep several workers' copies of a model equal."""

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


def across_workers(strategy):
    """Whether `strategy` spans several worker processes (Keras' own test of MultiWorkerMirroredStrategy)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


# Dtypes the collective all-reduce takes as they are; other integers travel as int64 (exactly).
_REDUCIBLE = (tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int32, tf.int64)


def _all_reduce_on_replicas(strategy, variables, tensors, contribution):
    """Sum `contribution(ctx, value)` over every replica for each variable and tensor; assign the sums to the
    variables (each replica's own copy) and return the summed tensors (this worker's first replica's)."""
    variables, tensors = list(variables), [tf.convert_to_tensor(t) for t in tensors]

    @tf.function
    def run():
        def replica_fn():
            ctx = tf.distribute.get_replica_context()
            values = [tf.convert_to_tensor(v.value) for v in variables] + tensors  # in a replica: its own copy
            dtypes = [x.dtype for x in values]
            sent = [contribution(ctx, x if x.dtype in _REDUCIBLE else tf.cast(x, tf.int64)) for x in values]
            summed = [None] * len(sent)
            for dtype in sorted({x.dtype for x in sent}, key=str):  # one all-reduce per dtype (it packs its list)
                group = [i for i, x in enumerate(sent) if x.dtype == dtype]
                for i, x in zip(group, ctx.all_reduce(tf.distribute.ReduceOp.SUM, [sent[i] for i in group])):
                    summed[i] = tf.cast(x, dtypes[i])
            for var, value in zip(variables, summed):
                var.assign(value)
            return summed[len(variables):]

        return strategy.run(replica_fn)

    return [strategy.experimental_local_results(t)[0] for t in run()]


def average_across_replicas(strategy, variables):
    """Give every replica's copy of each float variable the mean of all copies (every worker ends equal)."""
    if variables:
        _all_reduce_on_replicas(strategy, variables, [],
                                lambda ctx, x: x / tf.cast(ctx.num_replicas_in_sync, x.dtype))


def broadcast_first_replica(strategy, variables, tensors=()):
    """Give every replica the first replica's copy of each variable, and return its values of `tensors`.

    The first replica of a multi-worker strategy lives on the chief (TensorFlow numbers the chief, or
    worker 0, first), so this hands the chief's state (e.g. a restored checkpoint) to every worker.
    A sum in which only the first replica sends its value, the others zeros: exact.
    """
    def contribution(ctx, x):
        return tf.where(tf.equal(ctx.replica_id_in_sync_group, 0), x, tf.zeros_like(x))

    return _all_reduce_on_replicas(strategy, variables, tensors, contribution)
