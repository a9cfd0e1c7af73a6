"""Numpy reference encoding of a batch into Keras ``(x, y, sample_weight)``.

The TensorFlow input pipelines (``seqtasks.load``, ``seqtasks.stream``) produce
exactly these arrays; this module is their reference and needs no TensorFlow.
Padded steps carry zero input rows (one-hot) and zero weight, so they never
count in the loss or the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from seqtasks.supervised import SupervisedTask

INPUT_ENCODINGS = ("one_hot", "ids")


def to_supervised(
    task: SupervisedTask, batch: Mapping[str, np.ndarray], inputs: str = "one_hot", target: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encodes a batch for Keras.

    Args:
        task: The task that generated ``batch``.
        batch: Arrays from ``task.generate`` or ``task.sample``.
        inputs: ``"one_hot"`` (float32, zero rows at padding) or ``"ids"``
            (int32 ids, 0 at padding; use with a weighted loss, not ``mask_zero``).
            Float inputs are passed through either way.
        target: One of ``task.targets()`` (``None``: the default).

    Returns:
        ``x``, ``y`` and ``sample_weight``: per step ``(n, T)`` for per-step
        targets, else ``(n,)``.
    """
    if inputs not in INPUT_ENCODINGS:
        raise ValueError(f"invalid inputs={inputs!r}; allowed: one of " + ", ".join(INPUT_ENCODINGS))
    spec = task.supervised_spec(target)
    raw = np.asarray(batch[spec.input_field])
    n = raw.shape[0]
    lengths = np.asarray(batch["length"]) if "length" in batch else None
    if spec.input_depth is None:
        x = raw.astype(np.float32)
    else:
        valid = np.arange(raw.shape[1])[None, :] < lengths[:, None]
        if inputs == "one_hot":
            x = (np.eye(spec.input_depth, dtype=np.float32)[raw] * valid[..., None]).astype(np.float32)
        else:
            x = np.where(valid, raw, 0).astype(np.int32)
    field = np.asarray(batch[spec.target_field])
    if spec.per_step:
        width = raw.shape[1]
        steps = np.arange(width)[None, :]
        weight = (steps < (lengths - spec.target_offset)[:, None]).astype(np.float32)
        if spec.weight_field is not None:
            weight *= np.asarray(batch[spec.weight_field])[:, :width].astype(np.float32)
        shifted = np.zeros_like(field)
        shifted[:, : width - spec.target_offset] = field[:, spec.target_offset :]
        if spec.target_kind == "sparse":
            y = np.where(weight > 0, shifted, 0).astype(np.int32)
        else:
            y = (shifted * (weight > 0)[..., None]).astype(np.float32)
        return x, y, weight
    return x, field.astype(np.float32), np.ones(n, dtype=np.float32)
