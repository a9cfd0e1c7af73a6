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
import threading
from collections.abc import Mapping

import keras
import numpy as np

from seqtasks.config import check_integer
from seqtasks.encoding import to_supervised
from seqtasks.tasks.base import Batch, Task

PUBLISHED_SEED = 0
"""The seed of the published splits (what ``tfds.load`` and ``seqtasks.load`` return)."""

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
    x = _pad_steps(arrays.x, int(width))
    y, weight = arrays.y, arrays.sample_weight
    if per_step:
        y, weight = _pad_steps(y, int(width)), _pad_steps(weight, int(width))
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
    seed, padded to their own longest sequence, so a resumed epoch sees the
    same batches. Examples are generated a generator block at a time.

    With ``length_grouped``, the examples of each chunk of :attr:`batches_per_chunk`
    updates are the same, but sorted by length before they are cut into batches,
    and the batches of a chunk are taken in an order keyed by ``(seed, chunk)``:
    every batch holds (nearly) one length, as in Deletang et al. (2023), whose
    training loop draws one length per batch, and is padded only to its own
    longest sequence (about half the steps of a mixed batch on uniform lengths).
    Every example of the stream is still trained on exactly once.

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
        if length_grouped not in (False, True) or (length_grouped and task.content_lengths(
            task.generate("train", 0, 1, seed=0)) is None):
            raise ValueError(f"invalid length_grouped={length_grouped!r}; allowed: True only for a task whose examples have lengths")
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
        # As seqtasks.stream: several batches per generate call, a whole generator block at least;
        # length-grouped chunks hold about one batch per length the training split has.
        chunk_examples = max(task.block_size, 256)
        strata = task.length_strata("train") if length_grouped else None
        if strata is not None:
            chunk_examples = max(chunk_examples, len(strata.lengths) * batch_size)
        self.batches_per_chunk = max(1, -(-chunk_examples // batch_size))
        self._chunk: tuple[int, dict[str, np.ndarray]] | None = None
        self._lock = threading.Lock()

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
        with self._lock:
            if self._chunk is None or self._chunk[0] != chunk:
                first = chunk * self.batches_per_chunk * self.batch_size
                size = self.batches_per_chunk * self.batch_size
                examples = self.task.generate("train", first, first + size, self.seed)
                if self.length_grouped:
                    examples = self._grouped(chunk, examples)
                self._chunk = (chunk, examples)
            return self._chunk[1]

    def _grouped(self, chunk: int, examples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A chunk's examples sorted by length, its batches in an order keyed by ``(seed, chunk)``.

        Keras reads the input signature of a ``PyDataset`` from its first two batches,
        so updates 0 and 1 are made to differ in width: the time axis is then ``None``
        and batches of any width follow.
        """
        lengths = np.asarray(self.task.content_lengths(examples))
        by_length = np.argsort(lengths, kind="stable").reshape(self.batches_per_chunk, self.batch_size)
        order = np.random.default_rng([self.seed, int(chunk), 0x1E96]).permutation(self.batches_per_chunk)
        if chunk == 0 and self.batches_per_chunk > 1:
            widths = lengths[by_length[order]].max(axis=1)
            other = np.flatnonzero(widths != widths[0])
            if len(other):
                order[[1, other[0]]] = order[[other[0], 1]]
        rows = by_length[order].reshape(-1)
        return {key: np.asarray(value)[rows] for key, value in examples.items()}

    def examples(self, update: int) -> dict[str, np.ndarray]:
        """The raw examples of update ``update`` (counted from the first update of the run)."""
        chunk, row = divmod(update, self.batches_per_chunk)
        examples = self.chunk_examples(chunk)
        rows = {key: value[row * self.batch_size : (row + 1) * self.batch_size] for key, value in examples.items()}
        if self.task.sequence_fields and "length" in rows:
            width = int(rows["length"].max(initial=1))
            for key in self.task.sequence_fields:
                rows[key] = rows[key][:, :width]
        return rows

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Update ``index`` of the current epoch, zero-padded to :attr:`width` steps.

        Keras fixes a ``PyDataset``'s shapes from its first two batches, so batches of
        varying length would fail later; the padded steps carry zero inputs and weight.
        """
        batch = self.examples(self.epoch * self.steps_per_epoch + int(index))
        x, y, weight = encode(self.task, batch, self.inputs, self.target, self.one_hot_targets)
        if self.width is None or x.ndim < 2 or x.shape[1] >= self.width:
            return x, y, weight
        x = _pad_steps(x, self.width)
        if self.task.supervised_spec(self.target).per_step:
            y, weight = _pad_steps(y, self.width), _pad_steps(weight, self.width)
        return x, y, weight


def _pad_steps(array: np.ndarray, width: int) -> np.ndarray:
    """``array`` zero-padded along axis 1 to ``width``."""
    padding = [(0, 0)] * array.ndim
    padding[1] = (0, width - array.shape[1])
    return np.pad(array, padding)


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
