"""The baselines' input function: published splits (or fresh streams) -> encoded arrays -> Keras batches.

Every run is scored on the published evaluation splits: the examples
``task.generate(split, 0, n, seed=0)`` that ``tfds.load`` and ``seqtasks.load``
return (``tests/test_protocol.py`` checks the bytes are the same). Training data
is the published ``train`` split too, unless a run asks for another data seed
(a data-variance study) or a recipe trains on fresh data every step
(:class:`StreamBatches`, batch for batch what ``seqtasks.stream`` yields).

Shuffling is keyed by ``(seed, epoch)`` rather than by an iterator's history,
so a run resumed at epoch k by ``BackupAndRestore`` sees exactly the batches
an uninterrupted run sees at epoch k.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from seqtasks.batches import FreshExamples, epoch_order, pad_steps
from seqtasks.config import check_integer
from seqtasks.encoding import to_supervised
from seqtasks.protocols import PUBLISHED_SEED
from seqtasks.tasks.base import Batch, Preset, Task

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
        raw_steps: When ``x`` was zero-padded to a fixed width (:func:`pad_split`), the
            steps of the raw batch, to which per-step predictions are cut back; ``None``: not padded.
    """

    split: str
    batch: Batch
    x: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray
    raw_steps: int | None = None

    def __len__(self) -> int:
        return len(self.x)


def training_width(task: Task) -> int | None:
    """Steps of the longest training example a task allows (``None``: its examples are not padded sequences).

    ``task.max_steps("train")`` where the task declares its lengths; else the
    config's ``max_length`` or ``max_word_length`` for a task with sequence fields.
    """
    if not task.sequence_fields:
        return None
    steps = task.max_steps("train")
    if steps is not None:
        return int(steps)
    for attribute in ("max_length", "max_word_length"):  # tasks that declare no length strata
        if getattr(task.config, attribute, None) is not None:
            return int(getattr(task.config, attribute))
    return None


def pad_split(arrays: SplitArrays, width: int, per_step: bool) -> SplitArrays:
    """``arrays`` with ``x`` (and per-step ``y`` and ``sample_weight``) zero-padded to ``width`` steps.

    The raw ``batch`` is kept as it is (the task scores it); a split already at least
    ``width`` steps wide is returned unchanged. Used for recipes trained at one
    fixed width (``Recipe.fixed_width``).
    """
    check_integer("width", width, 1)
    if arrays.x.ndim < 2 or arrays.x.shape[1] >= width:
        return arrays
    steps = int(arrays.x.shape[1])
    x = pad_steps(arrays.x, int(width))
    y, weight = arrays.y, arrays.sample_weight
    if per_step:
        y, weight = pad_steps(y, int(width)), pad_steps(weight, int(width))
    return SplitArrays(arrays.split, arrays.batch, x, y, weight, raw_steps=steps)


def take_split(arrays: SplitArrays, size: int) -> SplitArrays:
    """The first ``size`` examples of ``arrays`` (e.g. whole batches for a model with a fixed batch size)."""
    check_integer("size", size, 1, len(arrays), allowed=f"an integer from 1 to {len(arrays)}")
    batch = {key: np.asarray(value)[:size] for key, value in arrays.batch.items()}
    return SplitArrays(
        arrays.split, batch, arrays.x[:size], arrays.y[:size], arrays.sample_weight[:size], raw_steps=arrays.raw_steps
    )


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
    check_integer("size", size, 1, allowed=f"an integer >= 1 (the size of split {split!r})")
    config = json.dumps(task.config.to_dict(), sort_keys=True)
    key = (task.name, config, split, int(size), int(seed), inputs, target, one_hot_targets)
    if key not in _CACHE:
        batch = task.generate(split, 0, int(size), seed=int(seed))
        x, y, weight = encode(task, batch, inputs, target, one_hot_targets)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = SplitArrays(split, batch, x, y, weight)
    return _CACHE[key]


def encode(
    task: Task, batch: Mapping[str, np.ndarray], inputs: str, target: str | None, one_hot_targets: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``to_supervised`` of a batch, shaped for the baselines' heads.

    Binary labels become ``(n, 1)`` (the sigmoid output's shape); with
    ``one_hot_targets``, sparse ids become one-hot rows (zero at unweighted steps).
    """
    x, y, weight = to_supervised(task, batch, inputs=inputs, target=target)
    if y.ndim == 1:  # binary labels: match the (n, 1) sigmoid output
        y = y[:, None]
    spec = task.supervised_spec(target)
    if one_hot_targets and spec.target_kind == "sparse":
        y = np.eye(spec.input_depth, dtype=np.float32)[y] * (weight > 0)[..., None]
    return x, y, weight


def length_range(task: Task, batch: Mapping[str, np.ndarray]) -> tuple[int, int] | None:
    """Inclusive range of the examples' lengths (``None``: the task's examples have no length)."""
    lengths = task.content_lengths(batch)
    if lengths is None or len(lengths) == 0:
        return None
    return int(np.min(lengths)), int(np.max(lengths))


class StreamBatches(keras.utils.PyDataset):
    """Fresh training batches, the same as ``seqtasks.stream(name, seed, batch_size)``.

    Update ``i`` (counted over all epochs) trains on examples
    ``[i * batch_size, (i + 1) * batch_size)`` of the ``train`` split for the data
    seed, so a resumed epoch sees the same batches (:class:`seqtasks.batches.FreshExamples`,
    the numpy batches ``seqtasks.protocol(name).train_batches`` yields too).

    With ``length_grouped``, the examples of each chunk of :attr:`batches_per_chunk`
    updates are the same, but sorted by length before they are cut into batches, so every
    batch holds (nearly) one length, as in Deletang et al. (2023), and is padded only to its
    own longest sequence.

    Without length grouping every batch is zero-padded to :attr:`width` steps:
    ``width`` when given (a fixed-width recipe, :func:`training_width`), else the
    longest training example the task declares (``task.max_steps("train")``).
    """

    def __init__(
        self,
        task: Task,
        batch_size: int,
        steps_per_epoch: int,
        seed: int,
        inputs: str = "one_hot",
        target: str | None = None,
        one_hot_targets: bool = False,
        length_grouped: bool = False,
        width: int | None = None,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        for name, value in (("batch_size", batch_size), ("steps_per_epoch", steps_per_epoch)):
            check_integer(name, value, 1, numpy=False)
        self.fresh = FreshExamples(task, batch_size, seed, length_grouped=length_grouped)
        if width is not None:
            allowed = "None, or an integer >= 1 without length_grouped"
            check_integer("width", width, 1, allowed=allowed, numpy=False)
            if length_grouped:
                raise ValueError(f"invalid width={width!r}; allowed: {allowed}")
        self.task, self.batch_size, self.steps_per_epoch, self.seed = task, batch_size, steps_per_epoch, int(seed)
        self.inputs, self.target, self.one_hot_targets = inputs, target, one_hot_targets
        self.length_grouped = length_grouped
        self.epoch = 0
        if width is None and task.sequence_fields and not length_grouped:
            width = task.max_steps("train")
        self.width = width
        """Steps every batch is padded to (``width``, by default the longest training example the
        task allows); ``None``: each batch keeps its own width (length-grouped batches)."""
        self.batches_per_chunk = self.fresh.batches_per_chunk

    def set_epoch(self, epoch: int) -> None:
        """Selects the updates of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.steps_per_epoch

    def batch_sizes(self) -> list[int]:
        """Number of examples in each batch of an epoch."""
        return [self.batch_size] * self.steps_per_epoch

    def chunk_examples(self, chunk: int) -> dict[str, np.ndarray]:
        """The raw examples of the updates ``chunk * batches_per_chunk ..`` (one ``generate`` call, cached)."""
        return self.fresh.chunk_examples(chunk)

    def examples(self, update: int) -> dict[str, np.ndarray]:
        """The raw examples of update ``update`` (counted from the first update of the run)."""
        return self.fresh.examples(update)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Update ``index`` of the current epoch, zero-padded to :attr:`width` steps.

        Keras fixes a ``PyDataset``'s shapes from its first two batches, so batches of
        varying length would fail later; the padded steps carry zero inputs and weight.
        """
        batch = self.examples(self.epoch * self.steps_per_epoch + int(index))
        x, y, weight = encode(self.task, batch, self.inputs, self.target, self.one_hot_targets)
        if self.width is None or x.ndim < 2 or x.shape[1] >= self.width:
            return x, y, weight
        x = pad_steps(x, self.width)
        if self.task.supervised_spec(self.target).per_step:
            y, weight = pad_steps(y, self.width), pad_steps(weight, self.width)
        return x, y, weight


class EpochShuffledBatches(keras.utils.PyDataset):
    """Mini-batches of arrays in an order that depends only on ``(seed, epoch)``.

    Call :meth:`set_epoch` before each epoch (the :class:`SetEpoch` callback does).
    """

    def __init__(
        self, arrays: SplitArrays, batch_size: int, seed: int, shuffle: bool = True, drop_remainder: bool = False
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        check_integer("batch_size", batch_size, 1, numpy=False)
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
            self.order = epoch_order(self.seed, epoch, len(self.arrays))

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


@dataclasses.dataclass(frozen=True)
class EvaluationData:
    """The published evaluation splits of a run (capped when asked), encoded for the recipe.

    Attributes:
        arrays: Split name -> its arrays (padded to the training width for a fixed-width recipe).
        published_sizes: Split name -> its published size.
    """

    arrays: dict[str, SplitArrays]
    published_sizes: dict[str, int]


def evaluation_arrays(task: Task, preset: Preset, recipe: Any, eval_cap: int | None) -> EvaluationData:
    """Every evaluation split of ``task``: the published examples (seed 0), the first ``eval_cap`` when capped.

    A fixed-width recipe (``recipe.fixed_width``) gets them padded to the longest training
    sequence the task allows (:func:`training_width`), as it trains.
    """
    width = training_width(task) if recipe.fixed_width else None
    per_step = task.supervised_spec(recipe.target).per_step
    arrays: dict[str, SplitArrays] = {}
    published_sizes: dict[str, int] = {}
    for split in task.splits:
        if split == "train":
            continue
        published_sizes[split] = task.published_size(split, preset)
        size = min(published_sizes[split], eval_cap) if eval_cap else published_sizes[split]
        arrays[split] = split_arrays(task, split, size, PUBLISHED_SEED, recipe.inputs, recipe.target, recipe.one_hot_targets)
        if width is not None:
            arrays[split] = pad_split(arrays[split], width, per_step)
    return EvaluationData(arrays, published_sizes)


@dataclasses.dataclass(frozen=True)
class TrainingBatches:
    """A run's training batches and what its record says about them.

    Attributes:
        batches: The Keras batches (fresh every update, or epochs over a fixed split).
        train_arrays: The fixed training split (``None`` with fresh data).
        train_size: Examples per epoch (fresh data) or in the training split.
        first_examples: The raw examples of the first update(s) (the loss floor's batch).
        train_lengths: Inclusive range of the training lengths seen first (``None``: no lengths).
        width: The fixed width every batch is padded to (``None``: not a fixed-width recipe).
    """

    batches: StreamBatches | EpochShuffledBatches
    train_arrays: SplitArrays | None
    train_size: int
    first_examples: Batch
    train_lengths: tuple[int, int] | None
    width: int | None


def training_batches(
    task: Task, preset: Preset, recipe: Any, *, fresh_data: bool, epoch_size: int | None, steps: int | None,
    seed: int, data_seed: int, full_batches_only: bool,
) -> TrainingBatches:
    """The training batches of a run: fresh examples every update, or epochs over the ``train`` split.

    Args:
        task: The task (its config may differ from the preset's).
        preset: The published config whose ``train`` size is the default.
        recipe: The recipe (batch size, inputs, target, batching flags).
        fresh_data: Fresh examples every update (the stream of ``data_seed``).
        epoch_size: Examples per epoch asked for (``None``: the published ``train`` size; with
            fresh data and ``steps``, the ``steps`` updates in one epoch).
        steps: Updates the run trains (``None``: epochs).
        seed: The run's seed (the order of a fixed split's epochs).
        data_seed: Seed of the training data.
        full_batches_only: Drop a last partial batch (stateful or fixed-batch models).
    """
    width = training_width(task) if recipe.fixed_width else None
    if steps is not None and fresh_data and not epoch_size:
        epoch_size = steps * recipe.batch_size  # the updates asked for, in one epoch
    train_size = epoch_size or task.published_size("train", preset)
    if fresh_data:
        batches = StreamBatches(
            task, recipe.batch_size, -(-train_size // recipe.batch_size), data_seed, recipe.inputs, recipe.target,
            recipe.one_hot_targets, length_grouped=recipe.length_grouped, width=width,
        )
        lengths = length_range(task, batches.chunk_examples(0))  # the first updates' lengths
        return TrainingBatches(batches, None, train_size, batches.examples(0), lengths, width)
    arrays = split_arrays(task, "train", train_size, data_seed, recipe.inputs, recipe.target, recipe.one_hot_targets)
    if width is not None:
        arrays = pad_split(arrays, width, task.supervised_spec(recipe.target).per_step)
    batches = EpochShuffledBatches(
        arrays, recipe.batch_size, seed, shuffle=not recipe.stateful, drop_remainder=recipe.stateful or full_batches_only
    )
    if len(batches) == 0:
        raise ValueError(
            f"invalid train_size={train_size}; allowed: at least one full batch ({recipe.batch_size}) for {recipe.name!r}"
        )
    return TrainingBatches(batches, arrays, len(arrays), arrays.batch, length_range(task, arrays.batch), width)
