"""A trained model's outputs and the task's scores on one split.

Every number a run reports comes from here: :func:`predict` runs the model on a
split (in batches of similar length, or in whole batches for a model built for one
batch size), and :func:`score` hands the outputs to the task's own evaluation
(``seqtasks.metrics.evaluate``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.data import SplitArrays
from seqtasks import metrics as task_metrics
from seqtasks.tasks.base import Task

if TYPE_CHECKING:
    import keras

PREDICT_BATCH_SIZE = 256
"""Examples per prediction batch (recorded in ``metrics.json``'s evaluation protocol)."""
QUADRATIC_BUDGET = 2**24
"""At most this many examples x steps^2 per prediction batch for a model whose memory grows with the
square of the steps (a layer with ``quadratic_in_steps = True``, e.g. attention): 16 rows of 1,001 steps."""


def predict(
    model: keras.Model, arrays: SplitArrays, batch_size: int = PREDICT_BATCH_SIZE, fixed_batch: bool = False
) -> np.ndarray:
    """The model's outputs on a split, as numpy (no progress bar).

    Sequences are predicted in batches of similar length, each cut to its own
    longest example, then put back in split order and padded to the split's width:
    the outputs at real steps are those of the padded batch (the models mask
    padding), at a fraction of the steps when lengths vary. A split padded to a
    fixed width (``arrays.raw_steps`` set) is predicted at that width, and its
    per-step outputs are cut back to the raw batch's steps. On one replica every
    batch goes through one compiled function per model (:func:`_forward`).

    Args:
        model: A Keras model.
        arrays: The split.
        batch_size: Examples per prediction batch.
        fixed_batch: The model takes batches of exactly ``batch_size`` examples (a fixed
            batch shape, e.g. stateful layers): the split is zero-padded to whole batches,
            the recurrent states are reset first, and the padding rows are dropped again.
    """
    x = arrays.x
    lengths = arrays.sample_weight.reshape(len(x), -1)
    if fixed_batch:
        reset_states(model)
        rows = -len(x) % batch_size
        padded = np.concatenate([x, np.zeros((rows, *x.shape[1:]), dtype=x.dtype)]) if rows else x
        outputs = np.asarray(model.predict(padded, batch_size=batch_size, verbose=0))[: len(x)]
    elif arrays.raw_steps is not None or x.ndim < 3 or lengths.shape[1] != x.shape[1] or len(x) <= batch_size:
        outputs = _in_batches(model, x, batch_size)
    else:
        # The last step with input (one-hot inputs are all zero only at padding) bounds each batch's width.
        steps = np.where(np.any(x != 0, axis=2), np.arange(1, x.shape[1] + 1), 0).max(axis=1)
        order = np.argsort(steps, kind="stable")
        outputs = None
        for rows in _row_chunks(order, steps, batch_size, _quadratic(model)):
            width = max(1, int(steps[rows].max()))
            part = _on_batch(model, x[rows, :width])
            if outputs is None:
                outputs = np.zeros((len(x), x.shape[1], *part.shape[2:]), dtype=part.dtype)
            outputs[rows, :width] = part
    if arrays.raw_steps is not None and outputs.ndim >= 3 and outputs.shape[1] == x.shape[1]:
        outputs = outputs[:, : arrays.raw_steps]
    return outputs


def _quadratic(model: keras.Model) -> bool:
    """Whether a layer of ``model`` needs memory that grows with the square of the steps."""
    return any(getattr(layer, "quadratic_in_steps", False) for layer in getattr(model, "layers", []))


def _row_chunks(order: np.ndarray, steps: np.ndarray, batch_size: int, quadratic: bool) -> list[np.ndarray]:
    """Consecutive chunks of ``order`` (rows sorted by steps) of at most ``batch_size`` rows, and for a
    quadratic model at most :data:`QUADRATIC_BUDGET` rows x width^2 (outputs do not depend on the batching)."""
    chunks, start = [], 0
    while start < len(order):
        rows = order[start : start + batch_size]
        if quadratic:
            width = max(1, int(steps[rows].max()))
            rows = rows[: max(1, QUADRATIC_BUDGET // width**2)]
        chunks.append(rows)
        start += len(rows)
    return chunks


_FORWARD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forward(model: keras.Model, like: np.ndarray) -> Callable[[np.ndarray], Any]:
    """``model(x, training=False)`` compiled once per model, for batches of any size and width.

    Keras's own predict function traces again for each new batch or time shape (a split's
    last batch, each bucket's width), and a grid of short runs then sets off TensorFlow's
    retracing warnings; this function's input signature is the model's declared input shape
    with any batch size (a time axis the model leaves open stays open), so each model is
    traced once. It compiles with XLA where Keras's does (``model.jit_compile``) and holds the
    model weakly.
    """
    if model not in _FORWARD:
        import tensorflow as tf

        held = weakref.ref(model)
        inputs = getattr(model, "inputs", None) or []
        # The model's declared input shape where it has one (a fixed width stays fixed), any batch size.
        shape = tuple(inputs[0].shape[1:]) if len(inputs) == 1 else (None,) * (like.ndim - 2) + like.shape[-1:]
        signature = tf.TensorSpec((None, *shape), tf.as_dtype(like.dtype))
        _FORWARD[model] = tf.function(
            lambda x: held()(x, training=False), input_signature=[signature], jit_compile=bool(model.jit_compile)
        )
    return _FORWARD[model]


def _on_batch(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's outputs on one batch (several replicas: Keras's ``predict_on_batch``)."""
    if model.distribute_strategy.num_replicas_in_sync > 1:
        return np.asarray(model.predict_on_batch(x))
    return np.asarray(_forward(model, x)(x))


def _in_batches(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs on ``x``, ``batch_size`` rows at a time in order, as ``model.predict`` computes them
    (several replicas: ``model.predict``, which splits every batch over them)."""
    if model.distribute_strategy.num_replicas_in_sync > 1:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    return np.concatenate([_on_batch(model, x[start : start + batch_size]) for start in range(0, len(x), batch_size)])


def reset_states(model: keras.Model) -> None:
    """Resets every stateful recurrent layer of ``model`` (nested models included)."""
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []))
        for inner in (layer, getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)):
            if inner is not None and getattr(inner, "stateful", False) and callable(getattr(inner, "reset_states", None)):
                inner.reset_states()


def fixed_batch_size(model: keras.Model) -> int | None:
    """The batch size a model's inputs are built for (``keras.Input(batch_shape=...)``), or ``None``."""
    sizes = {int(tensor.shape[0]) for tensor in getattr(model, "inputs", None) or [] if tensor.shape[0] is not None}
    return sizes.pop() if len(sizes) == 1 else None


def score(
    task: Task,
    model: keras.Model | None,
    arrays: SplitArrays,
    target: str | None = None,
    predictions: np.ndarray | None = None,
    **predict_options: Any,
) -> dict[str, Any]:
    """The task's own evaluation (``seqtasks.metrics.evaluate``) of the model on one split.

    Args:
        task: The task.
        model: A Keras model (unused when ``predictions`` are given).
        arrays: The split.
        target: The supervised view the model was trained on.
        predictions: The model's outputs on ``arrays`` (``None``: predicted here).
        **predict_options: Passed to :func:`predict` (``batch_size``, ``fixed_batch``).

    Returns:
        The task's metrics.
    """
    if predictions is None:
        predictions = predict(model, arrays, **predict_options)
    return task_metrics.evaluate(task, arrays.batch, predictions, target=target)
