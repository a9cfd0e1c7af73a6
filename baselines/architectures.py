"""The reference architectures of Deletang et al. (2023) as Keras 3 layers: ``rnn``, ``stack_rnn``, ``transformer``.

They follow the JAX/Haiku code of "Neural Networks and the Chomsky Hierarchy" (Deletang et al., ICLR 2023;
repository ``google-deepmind/neural_networks_chomsky_hierarchy``, files ``models/rnn.py``,
``models/stack_rnn.py``, ``models/transformer.py``, ``models/positional_encodings.py``,
``experiments/utils.py``). Where this module differs, the docstring says so.

How the read-then-write layout is fed: exactly as their ``make_model_with_empty_targets`` does it, the
input string and then one blank token per output step, one-hot with the blank as an extra symbol, and
the outputs read on the blank steps only (the task's ``output_mask``); ``seqtasks`` builds that layout,
so the models here see a plain one-hot sequence.

Padding: batches are zero-padded at the end (all-zero one-hot rows). Every layer here takes the Keras
mask (``keras.layers.Masking`` in front) and is built so that the outputs at real steps do not depend
on the padding: the recurrent layers keep their state at padded steps, the transformer never attends
to a padded step and counts positions per example.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

STACK_ACTIONS = ("push", "pop", "no_op")
"""The order of the Stack-RNN's action probabilities (as in ``models/stack_rnn.py``)."""


def update_stack(stack: tf.Tensor, actions: tf.Tensor, push_value: tf.Tensor) -> tf.Tensor:
    """One soft stack update of Joulin & Mikolov (2015), as ``_update_stack`` of Deletang et al. computes it.

    With ``p = (push, pop, no_op)`` summing to one per example, the new stack is the convex combination

    * ``new[0] = push * push_value + pop * stack[1] + no_op * stack[0]``
    * ``new[i] = push * stack[i - 1] + pop * stack[i + 1] + no_op * stack[i]`` for ``i >= 1``,

    where the cell below the bottom reads as zeros.

    Args:
        stack: ``(batch, depth, cell)``, ``stack[:, 0]`` the top; depth >= 1.
        actions: ``(batch, 3)``, the probabilities in :data:`STACK_ACTIONS` order.
        push_value: ``(batch, cell)``.

    Returns:
        The new stack, the shape of ``stack``.
    """
    push, pop, no_op = (actions[:, i, None, None] for i in range(3))
    pushed = tf.concat([push_value[:, None, :], stack[:, :-1]], axis=1)
    popped = tf.concat([stack[:, 1:], tf.zeros_like(stack[:, :1])], axis=1)
    return push * pushed + pop * popped + no_op * stack


@keras.saving.register_keras_serializable(package="seqtasks_baselines")
class StackRNN(keras.layers.Layer):
    """The Stack-RNN of Joulin & Mikolov (2015) as Deletang et al. implement it (``StackRNNCore``).

    Each step: the core reads the input and the top of the stack, ``h = tanh(W [x, top] + U h + b)``
    (a vanilla RNN, their ``hk.VanillaRNN`` inner core); from ``h`` a linear layer gives the value to
    push (``cell_size`` numbers, no activation) and a linear layer with a softmax the probabilities of
    push / pop / no-op; the stack is then updated by :func:`update_stack`. The output is ``h``. One stack.

    Stack depth: the number of time steps of the batch, decided at call time. A push moves the contents
    down by at most one cell per step, so T steps never push anything off a stack of depth T, and the
    same weights serve training (<= 81 steps on ``reverse_string``) and ``test_long`` (up to 1,001 steps)
    with no cap. Deletang et al. use a fixed depth (``stack_size``, 30 by default), which their tests of
    lengths up to 500 exceed; here the stack is never the limit. A deeper stack gives the same outputs
    (``tests/test_architectures.py``), since a cell at depth d first holds anything after d pushes.

    Differences from their code: one bias in the core where ``hk.VanillaRNN`` has two (input-to-hidden
    and hidden-to-hidden, which add up to one); Keras's initialisers (Glorot uniform, orthogonal for the
    recurrent kernel) where Haiku draws truncated normals of std 1/sqrt(fan_in); padded steps (mask 0)
    keep the state and stack.
    The ReLU before the output layer of their ``make_rnn`` is in :func:`baselines.models.build_model`.

    Cost: each step updates the whole stack, O(batch x T x cell), so a sequence costs O(T^2 x cell)
    besides the core's O(T x units^2).
    """

    def __init__(self, units: int, cell_size: int = 8, return_sequences: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.cell_size = int(cell_size)
        self.return_sequences = bool(return_sequences)
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        features = int(input_shape[-1])
        glorot, orthogonal = keras.initializers.GlorotUniform(), keras.initializers.Orthogonal()
        self.kernel = self.add_weight((features + self.cell_size, self.units), glorot, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), orthogonal, name="recurrent_kernel")
        self.bias = self.add_weight((self.units,), "zeros", name="bias")
        self.push_kernel = self.add_weight((self.units, self.cell_size), glorot, name="push_kernel")
        self.push_bias = self.add_weight((self.cell_size,), "zeros", name="push_bias")
        self.action_kernel = self.add_weight((self.units, len(STACK_ACTIONS)), glorot, name="action_kernel")
        self.action_bias = self.add_weight((len(STACK_ACTIONS),), "zeros", name="action_bias")

    def step(self, x: tf.Tensor, hidden: tf.Tensor, stack: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """One step: ``(new hidden, action probabilities, new stack)``."""
        read = tf.concat([x, stack[:, 0]], axis=-1)
        hidden = tf.tanh(tf.matmul(read, self.kernel) + tf.matmul(hidden, self.recurrent_kernel) + self.bias)
        push_value = tf.matmul(hidden, self.push_kernel) + self.push_bias
        actions = tf.nn.softmax(tf.matmul(hidden, self.action_kernel) + self.action_bias, axis=-1)
        return hidden, actions, update_stack(stack, actions, push_value)

    def call(
        self, inputs: tf.Tensor, mask: tf.Tensor | None = None, return_actions: bool = False, depth: int | None = None
    ) -> Any:
        """Runs the layer on ``(batch, T, features)``.

        Args:
            inputs: The input sequence.
            mask: ``(batch, T)``, False at padded steps (they keep the state and the stack).
            return_actions: Also return the per-step action probabilities ``(batch, T, 3)`` (0 at padding).
            depth: Stack depth (``None``: T, which no run of T steps can exceed); a deeper stack gives
                the same outputs, a shallower one may lose what was pushed first.
        """
        inputs = tf.convert_to_tensor(inputs)
        batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
        if mask is None:
            mask = tf.ones((batch, steps), dtype=tf.bool)
        time_major = tf.transpose(inputs, (1, 0, 2))
        keep = tf.transpose(tf.cast(mask, inputs.dtype), (1, 0))
        hidden0 = tf.zeros((batch, self.units), inputs.dtype)
        stack0 = tf.zeros((batch, steps if depth is None else depth, self.cell_size), inputs.dtype)

        def body(t, hidden, stack, outputs, probabilities):
            new_hidden, actions, new_stack = self.step(time_major[t], hidden, stack)
            real = keep[t][:, None]
            hidden = real * new_hidden + (1.0 - real) * hidden
            stack = real[:, :, None] * new_stack + (1.0 - real[:, :, None]) * stack
            return t + 1, hidden, stack, outputs.write(t, hidden), probabilities.write(t, actions * real)

        outputs = tf.TensorArray(inputs.dtype, size=steps)
        probabilities = tf.TensorArray(inputs.dtype, size=steps)
        _, hidden, _, outputs, probabilities = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), hidden0, stack0, outputs, probabilities)
        )
        result = tf.transpose(outputs.stack(), (1, 0, 2)) if self.return_sequences else hidden
        if return_actions:
            return result, tf.transpose(probabilities.stack(), (1, 0, 2))
        return result

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        if self.return_sequences:
            return (*input_shape[:2], self.units)
        return (input_shape[0], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "cell_size": self.cell_size,
                "return_sequences": self.return_sequences}


def sinusoid_encoding(positions: tf.Tensor, width: int, max_timescale: float = 10_000.0) -> tf.Tensor:
    """Sin/cos encodings of ``positions`` (any shape), as ``sinusoid_position_encoding`` of Deletang et al.

    ``inv_freq = max_timescale ** (-arange(0, width, 2) / width)``; the encoding is
    ``concat(sin(p * inv_freq), cos(p * inv_freq))`` (not interleaved), ``width`` numbers per position.
    """
    inv_freq = tf.constant(max_timescale ** (-np.arange(0, width, 2.0) / width), tf.float32)
    angles = tf.cast(positions, tf.float32)[..., None] * inv_freq
    return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)


@keras.saving.register_keras_serializable(package="seqtasks_baselines")
class TransformerEncoder(keras.layers.Layer):
    """The transformer encoder of Deletang et al. (``TransformerEncoder`` in ``models/transformer.py``).

    Their defaults: embedding width 64 (a bias-free linear map of the one-hot input, truncated-normal
    init with std 0.02, scaled by sqrt(64)), sin/cos positional encodings added, dropout 0.1, then 5
    post-norm layers of [8-head self-attention (bias-free projections, 8 units per head) -> dropout ->
    LayerNorm(h + attention) -> Dense(256, ReLU) -> Dense(64) -> dropout -> LayerNorm(. + attention)].
    The output is the last layer's ``(batch, T, 64)``; the linear head is in ``build_model``.

    Positions: their encoder numbers the steps of a length-L sequence L, L-1, ..., 1 (``pos_seq`` of
    ``sinusoid_position_encoding`` with ``causal=True``): a countdown to the end. Their batches have one
    length; here batches are padded, so the countdown starts at each example's own length (its real
    steps), which gives every example the encodings it would have alone. With ``causal=True`` (next-symbol
    tasks such as Reber, the target at t being input t + 1) the steps are numbered 1, 2, ..., T instead:
    a countdown tells step t how many steps follow, information from the future. Causal masking as their
    ``causal_masking`` (a lower-triangular mask); padded steps are never attended to.

    Differences besides the positions: Keras's ``MultiHeadAttention`` and ``Dense`` initialisers (Glorot
    uniform) where Haiku draws truncated normals of std 1/sqrt(fan_in).

    Attention holds batch x heads x T^2 numbers: ``quadratic_in_steps`` tells
    :func:`baselines.scoring.predict` to predict long sequences in smaller batches.
    """

    quadratic_in_steps = True

    def __init__(
        self,
        width: int = 64,
        layers: int = 5,
        heads: int = 8,
        widening_factor: int = 4,
        dropout: float = 0.1,
        causal: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.width, self.num_layers, self.heads = int(width), int(layers), int(heads)
        self.widening_factor, self.dropout_rate, self.causal = int(widening_factor), float(dropout), bool(causal)
        self.supports_masking = True
        self.embedding = keras.layers.Dense(
            self.width, use_bias=False, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="embedding",
        )
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        self.blocks = []
        for index in range(self.num_layers):
            self.blocks.append({
                "attention": keras.layers.MultiHeadAttention(
                    self.heads, self.width // self.heads, use_bias=False, name=f"attention_{index}"
                ),
                "norm_attention": keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm_attention_{index}"),
                "hidden": keras.layers.Dense(self.width * self.widening_factor, activation="relu", name=f"ff_{index}"),
                "out": keras.layers.Dense(self.width, name=f"ff_out_{index}"),
                "norm_out": keras.layers.LayerNormalization(epsilon=1e-5, name=f"norm_out_{index}"),
            })

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = (None, None, int(input_shape[-1]))
        self.embedding.build(shape)
        hidden_shape = (None, None, self.width)
        for block in self.blocks:
            block["attention"].build(hidden_shape, hidden_shape)
            block["norm_attention"].build(hidden_shape)
            block["hidden"].build(hidden_shape)
            block["out"].build((None, None, self.width * self.widening_factor))
            block["norm_out"].build(hidden_shape)

    def positions(self, real: tf.Tensor) -> tf.Tensor:
        """``(batch, T)`` position numbers: 1..T when causal, else each example's countdown L..1."""
        steps = tf.shape(real)[1]
        index = tf.range(1, steps + 1, dtype=tf.int32)[None, :]
        if self.causal:
            return tf.broadcast_to(index, tf.shape(real))
        lengths = tf.reduce_sum(tf.cast(real, tf.int32), axis=1, keepdims=True)
        return lengths + 1 - index  # L, L-1, ..., 1 on the real steps (zero or below on padding)

    def call(self, inputs: tf.Tensor, mask: tf.Tensor | None = None, training: bool | None = None) -> tf.Tensor:
        inputs = tf.convert_to_tensor(inputs)
        real = tf.ones(tf.shape(inputs)[:2], tf.bool) if mask is None else tf.cast(mask, tf.bool)
        h = self.embedding(inputs) * math.sqrt(self.width)
        h = h + sinusoid_encoding(self.positions(real), self.width)
        h = self.dropout(h, training=training)
        attend = tf.logical_and(real[:, None, :], tf.ones_like(real)[:, :, None])  # (batch, query, key)
        if self.causal:
            steps = tf.shape(real)[1]
            lower = tf.cast(tf.linalg.band_part(tf.ones((steps, steps)), -1, 0), tf.bool)
            attend = tf.logical_and(attend, lower[None])
        for block in self.blocks:
            attention = block["attention"](h, h, attention_mask=attend, training=training)
            attention = block["norm_attention"](h + self.dropout(attention, training=training))
            out = block["out"](block["hidden"](attention))
            h = block["norm_out"](self.dropout(out, training=training) + attention)
        return h

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:2], self.width)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(), "width": self.width, "layers": self.num_layers, "heads": self.heads,
            "widening_factor": self.widening_factor, "dropout": self.dropout_rate, "causal": self.causal,
        }
