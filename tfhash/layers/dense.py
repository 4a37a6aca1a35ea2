"""A Dense layer whose backward pass runs at the speed of its forward pass on small batches."""

import keras
import tensorflow as tf


@tf.custom_gradient
def dense_product(inputs, kernel):
    """inputs @ kernel for a (batch, in) x (in, out) product; the input gradient is an einsum.

    TensorFlow's gradient of a MatMul computes d inputs = dy @ kernel^T as a
    MatMul with `transpose_b`, which on CPU (oneDNN) is ~3x slower than the
    forward product at small batches. Measured on the 2-core machine of
    BENCHMARKS.md, batch 64, 4096 x 4096 kernel: forward 172 GFLOP/s, that
    input gradient 57 GFLOP/s, the same product as `einsum("mn,kn->mk")` 158;
    forward + backward of one layer 80 GFLOP/s as TensorFlow writes it, 165
    with this gradient. Same values up to rounding; GPUs and XLA map either
    form onto one GEMM.
    """

    def grad(dy):
        return tf.einsum("mn,kn->mk", dy, kernel), tf.matmul(inputs, dy, transpose_a=True)

    return tf.matmul(inputs, kernel), grad


@keras.saving.register_keras_serializable(package="tfhash")
class Dense(keras.layers.Dense):
    """`keras.layers.Dense` computing its product with `dense_product` (same weights, config and outputs).

    Keras' own `call` is used where the product is not a plain rank-2 float
    product: LoRA, quantised kernels, inputs of rank > 2, other backends.
    """

    def call(self, inputs, training=None):
        if (keras.backend.backend() != "tensorflow" or self.lora_enabled or self.quantization_mode
                or len(inputs.shape) != 2):
            return super().call(inputs, training=training)
        x = dense_product(inputs, tf.convert_to_tensor(self.kernel))  # the autocast kernel under mixed precision
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x
