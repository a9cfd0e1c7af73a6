"""The baselines' input function: numpy generators -> encoded arrays -> Keras batches.

This is deliberately small and self-contained: it calls ``task.generate`` and
``seqtasks.encoding.to_supervised`` and feeds Keras through a
``keras.utils.PyDataset``. When ``seqtasks.load`` / ``seqtasks.stream`` (the tfds
pipelines) land, :func:`split_arrays` is the one place to swap.

Shuffling is keyed by ``(seed, epoch)`` rather than by an iterator's history,
so a run resumed at epoch k by ``BackupAndRestore`` sees exactly the batches
an uninterrupted run sees at epoch k.
"""

from __future__ import annotations

import dataclasses
import json
import math

import keras
import numpy as np

from seqtasks.encoding import to_supervised
from seqtasks.registry import get_preset
from seqtasks.tasks.base import Batch, Task

_CACHE: dict[tuple, "SplitArrays"] = {}
_CACHE_LIMIT = 32


@dataclasses.dataclass(frozen=True)
class SplitArrays:
    """One split of a task, generated and encoded.

    Attributes:
        split: Split name.
        batch: The raw numpy batch (for ``seqtasks.metrics``).
        x: Model inputs.
        y: Targets.
        sample_weight: Per-step or per-example weights (0 at padding).
    """

    split: str
    batch: Batch
    x: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def preset_split_size(task_name: str, task: Task, split: str) -> int:
    """Size of ``split`` in the published preset (its natural size when the preset says ``None``)."""
    _, preset = get_preset(task_name)
    size = preset.split_sizes.get(split)
    if size is None:
        size = task.natural_size(split)
    if size is None:
        raise ValueError(f"{task.name}: split {split!r} has no preset or natural size; pass an explicit size")
    return int(size)


def split_arrays(
    task: Task,
    split: str,
    size: int,
    seed: int,
    inputs: str = "one_hot",
    target: str | None = None,
    one_hot_targets: bool = False,
) -> SplitArrays:
    """Generates and encodes the first ``size`` examples of a split (cached in-process).

    Args:
        task: The task.
        split: One of ``task.splits``.
        size: Number of examples, >= 1.
        seed: Data seed.
        inputs: Input encoding for ``to_supervised``.
        target: Supervised view for ``to_supervised``.
        one_hot_targets: One-hot encode sparse id targets (for recipes with a
            categorical, not sparse categorical, loss).

    Returns:
        The split's raw batch and its ``(x, y, sample_weight)``.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"invalid size={size!r} for split {split!r}; allowed: an integer >= 1")
    config = json.dumps(task.config.to_dict(), sort_keys=True)
    key = (task.name, config, split, int(size), int(seed), inputs, target, one_hot_targets)
    if key not in _CACHE:
        batch = task.generate(split, 0, int(size), seed=int(seed))
        x, y, weight = to_supervised(task, batch, inputs=inputs, target=target)
        if y.ndim == 1:  # binary labels: match the (n, 1) sigmoid output
            y = y[:, None]
        spec = task.supervised_spec(target)
        if one_hot_targets and spec.target_kind == "sparse":
            y = np.eye(spec.input_depth, dtype=np.float32)[y] * (weight > 0)[..., None]
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = SplitArrays(split, batch, x, y, weight)
    return _CACHE[key]


class EpochShuffledBatches(keras.utils.PyDataset):
    """Mini-batches of arrays in an order that depends only on ``(seed, epoch)``.

    Call :meth:`set_epoch` before each epoch (the :class:`SetEpoch` callback does).
    """

    def __init__(
        self, arrays: SplitArrays, batch_size: int, seed: int, shuffle: bool = True, drop_remainder: bool = False
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"invalid batch_size={batch_size!r}; allowed: an integer >= 1")
        self.arrays = arrays
        self.batch_size = batch_size
        self.seed = int(seed)
        self.shuffle = shuffle
        self.drop_remainder = drop_remainder  # stateful models need every batch full
        self.order = np.arange(len(arrays))
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Fixes the example order of ``epoch``."""
        if self.shuffle:
            self.order = np.random.default_rng([self.seed, int(epoch), 0x5EED]).permutation(len(self.arrays))

    def __len__(self) -> int:
        if self.drop_remainder:
            return len(self.arrays) // self.batch_size
        return math.ceil(len(self.arrays) / self.batch_size)

    def batch_sizes(self) -> list[int]:
        """Number of examples in each batch of an epoch."""
        n = len(self.arrays)
        return [min(self.batch_size, n - start) for start in range(0, n, self.batch_size)][: len(self)]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.arrays.x[rows], self.arrays.y[rows], self.arrays.sample_weight[rows]


class SetEpoch(keras.callbacks.Callback):
    """Tells an :class:`EpochShuffledBatches` which epoch starts (also after a resume)."""

    def __init__(self, batches: EpochShuffledBatches) -> None:
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.batches.set_epoch(epoch)
