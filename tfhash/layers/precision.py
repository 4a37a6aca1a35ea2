"""Mixed precision: the `mixed_precision` setting as Keras dtype policies of a model's layers.

Keras reads the global dtype policy when a layer is made and keeps it in
the layer, so a model built inside `dtype_policy_scope("bfloat16")` has
layers that compute in bfloat16 (their weights stay float32), and the
global policy is the one before once the scope ends: a run cannot leak its
policy into the next model made in the same process.

`float32_outputs(layer)` then puts the boundary back at float32: a plain
layer computes in float32, and a functional network's output layers do
(the hash layer of a tower, its last Dense, is one of them), so everything
the method's own code computes from a network's outputs (losses, the
discrete codes B, graphs, ITQ) stays float32. Only the inside of a network
runs in 16 bits.
"""

import contextlib

import keras

#: `mixed_precision` values and their Keras policies ("none": float32 throughout).
POLICIES = {"none": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}
PRECISIONS = tuple(POLICIES)


def policy_name(precision):
    """The Keras dtype policy name of a `mixed_precision` value ("bfloat16" -> "mixed_bfloat16")."""
    return POLICIES[precision]


@contextlib.contextmanager
def dtype_policy_scope(precision):
    """Layers made inside the block take `precision`'s policy; the previous global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy_name(precision))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _is_functional(layer):
    """Whether `layer` is a functional network (a graph of layers with symbolic outputs)."""
    return isinstance(layer, keras.Model) and hasattr(layer, "_operations") and hasattr(layer, "outputs")


def _producers(tensor, seen):
    """The layers whose outputs become `tensor`: through nested networks and layer-less ops (keras.ops)."""
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return
    op = history.operation
    if id(op) in seen:
        return
    seen.add(id(op))
    if isinstance(op, keras.layers.InputLayer):
        return
    if _is_functional(op):
        for out in keras.tree.flatten(op.outputs):
            yield from _producers(out, seen)
    elif isinstance(op, keras.layers.Layer):
        yield op
    else:  # an op such as ops.sum in the graph: its result has its inputs' dtype
        node = op._inbound_nodes[history.node_index]
        for t in keras.tree.flatten(node.input_tensors):
            yield from _producers(t, seen)


def float32_outputs(layer):
    """Make `layer` return float32: its own policy, and for a network that of every layer producing an output.

    Setting a policy after construction is safe here: mixed policies keep
    weights in float32 already, so only the compute dtype changes.
    """
    layer.dtype_policy = "float32"  # a network's own policy: inputs pass in float32 (e.g. to a Standardize)
    if _is_functional(layer):
        seen = set()
        for out in keras.tree.flatten(layer.outputs):
            for producer in _producers(out, seen):
                producer.dtype_policy = "float32"
    return layer


def compute_dtypes(model):
    """{compute dtype: number of layers} over every layer inside `model` (recursively)."""
    counts = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        counts[layer.compute_dtype] = counts.get(layer.compute_dtype, 0) + 1
    return counts
