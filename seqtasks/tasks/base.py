"""The task interface shared by every generator."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from seqtasks import _random
from seqtasks.config import TaskConfig

ConfigT = TypeVar("ConfigT", bound=TaskConfig)

# Fractions of the content-hash space given to each held-out split. A sequence
# belongs to exactly one split, so the splits are disjoint by construction.
HASH_BUCKETS = 100
SPLIT_BUCKETS: dict[str, range] = {
    "train": range(0, 80),
    "validation": range(80, 90),
    "test": range(90, 100),
    "test_long": range(0, 100),  # disjoint from the rest by length
}


class Batch(dict):
    """A dict of numpy arrays for a batch of examples.

    Sequence fields are padded with zeros to the longest example; ``length``
    holds each example's true length. ``dropped`` counts candidate sequences
    that were drawn but rejected because their content belongs to another split.
    """

    dropped: int = 0


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named, published configuration of a task (a tfds builder config).

    Attributes:
        name: Config name, e.g. ``"embedded"`` in ``reber_grammar/embedded``.
        config: The validated task config.
        split_sizes: Number of examples per split; ``None`` means the split's
            natural size (for tasks with a finite pool, one pass over it).
        description: One sentence for dataset cards.
    """

    name: str
    config: TaskConfig
    split_sizes: Mapping[str, int | None]
    description: str


@dataclasses.dataclass(frozen=True)
class SupervisedSpec:
    """How a task's examples become Keras ``(x, y, sample_weight)``.

    Attributes:
        input_field: Field fed to the model.
        input_depth: One-hot depth of integer inputs; ``None`` for float inputs.
        target_field: Field the model predicts.
        target_kind: ``"sparse"`` (an id per step), ``"multi_hot"`` (a set per
            step), ``"dense"`` (a vector per example) or ``"binary"`` (a 0/1 label
            per example).
        target_offset: For per-step targets, ``y[t] = target_field[t + offset]``
            (1 for next-symbol prediction); steps without a target get weight 0.
    """

    input_field: str
    input_depth: int | None
    target_field: str
    target_kind: str
    target_offset: int = 0

    @property
    def per_step(self) -> bool:
        """True when there is a target at every time step."""
        return self.target_kind in ("sparse", "multi_hot")


class Task(abc.ABC, Generic[ConfigT]):
    """A deterministic, vectorised generator of one sequence task.

    Subclasses set the class attributes and implement :meth:`_generate_block`.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[TaskConfig]]
    version: ClassVar[str]
    """Generator version; part of the seed salt, bumped when the data changes."""
    block_size: ClassVar[int] = 4096
    sequence_fields: ClassVar[tuple[str, ...]] = ()
    """Fields whose second axis is time (padded; trimmed by ``length``)."""
    block_sequence_fields: ClassVar[tuple[str, ...] | None] = None
    """Time-axis fields of the arrays :meth:`_generate_block` returns (``None``: ``sequence_fields``)."""
    needs_future_context: ClassVar[bool] = False
    """True when a target at step t depends on inputs after t (a causal model cannot solve it)."""
    description: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    presets: ClassVar[tuple[Preset, ...]] = ()
    default_preset: ClassVar[str] = ""

    def __init__(self, config: ConfigT) -> None:
        if not isinstance(config, self.config_class):
            raise ValueError(f"{self.name}: config must be a {self.config_class.__name__}, got {type(config).__name__}")
        self.config: ConfigT = config
        self.salt = _random.salt_words(self.name, self.version, config.to_dict())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this configuration defines."""
        return ("train", "validation", "test")

    def natural_size(self, split: str) -> int | None:
        """Size of a split whose examples come from a finite pool, else ``None``."""
        self._check_split(split)
        return None

    def targets(self) -> tuple[str, ...]:
        """Names of the supervised views of this task, the default first."""
        return ("default",)

    @abc.abstractmethod
    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        """The supervised view named ``target`` (``None``: the default)."""

    def _check_target(self, target: str | None) -> str:
        names = self.targets()
        if target is None:
            return names[0]
        if target not in names:
            raise ValueError(f"{self.name}: invalid target={target!r}; allowed: one of " + ", ".join(names))
        return target

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float | None:
        """Lowest mean training loss a correct model can reach on ``batch``, if known."""
        return None

    def describe(self, example: Mapping[str, Any]) -> str:
        """One line showing one example in the task's own terms (``seqtasks show``)."""
        return "  ".join(f"{key}={np.asarray(value).tolist()!r}" for key, value in example.items())

    def summary(self, batch: Mapping[str, np.ndarray]) -> str:
        """One line summarising a batch (``seqtasks show``)."""
        if "length" in batch and len(batch["length"]):
            return f"lengths {int(np.min(batch['length']))}..{int(np.max(batch['length']))}"
        return ""

    def generate(self, split: str, start: int, stop: int, seed: int = 0) -> Batch:
        """Examples ``[start, stop)`` of a split; identical for any way of slicing the range.

        Args:
            split: One of :attr:`splits`.
            start: Index of the first example.
            stop: One past the index of the last example.
            seed: The user's seed, a non-negative integer.

        Returns:
            A :class:`Batch` of ``stop - start`` examples.
        """
        self._check_request(split, start, stop, seed)
        first_block, last_block = start // self.block_size, -(-stop // self.block_size)
        parts, dropped = [], 0
        for block in range(first_block, last_block):
            draws = _random.Draws(_random.block_bit_generator(int(seed), self.salt, split, block))
            arrays = self._generate_block(draws, split, block)
            dropped += int(arrays.pop("_dropped", 0))
            lo = max(start - block * self.block_size, 0)
            hi = min(stop - block * self.block_size, self.block_size)
            parts.append({key: value[lo:hi] for key, value in arrays.items()})
        batch = Batch(self._finish(self._concat(parts)) if parts else self._generate_empty(split))
        batch.dropped = dropped
        return batch

    def sample(self, n: int, seed: int = 0, split: str = "train") -> Batch:
        """The first ``n`` examples of ``split`` for ``seed``.

        Args:
            n: Number of examples, >= 0.
            seed: The user's seed.
            split: One of :attr:`splits`.

        Returns:
            A :class:`Batch` of ``n`` examples.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{self.name}: invalid n={n!r}; allowed: an integer >= 0")
        return self.generate(split, 0, int(n), seed)

    def examples(self, batch: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """Splits a batch into per-example dicts with padding removed."""
        lengths = batch.get("length")
        out = []
        for i in range(len(next(iter(batch.values())))):
            example = {}
            for key, value in batch.items():
                item = value[i]
                if key in self.sequence_fields and lengths is not None:
                    item = item[: lengths[i]]
                example[key] = item
            out.append(example)
        return out

    @abc.abstractmethod
    def _generate_block(self, draws: _random.Draws, split: str, block: int) -> dict[str, np.ndarray]:
        """Generates the ``block_size`` examples of one block.

        The arrays may be a compact form of the published fields (small dtypes,
        codes) that :meth:`_finish` expands once for all blocks. May add
        ``"_dropped"``: the number of candidates rejected for belonging to another split.
        """

    def _finish(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Turns the joined block arrays into the published fields (default: unchanged).

        Args:
            arrays: The blocks' arrays, concatenated, time-axis fields zero-padded
                and cut to the longest example.

        Returns:
            The batch's fields.
        """
        return arrays

    def _generate_empty(self, split: str) -> dict[str, np.ndarray]:
        """A batch of no examples with the fields, dtypes and shapes of any other (time axes of length 0)."""
        draws = _random.Draws(_random.block_bit_generator(0, self.salt, split, 0))
        arrays = self._generate_block(draws, split, 0)
        arrays.pop("_dropped", None)
        return self._finish(self._concat([{key: value[:0] for key, value in arrays.items()}]))

    def _check_request(self, split: str, start: int, stop: int, seed: int) -> None:
        self._check_split(split)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"{self.name}: invalid seed={seed!r}; allowed: an integer >= 0")
        if not (0 <= start <= stop):
            raise ValueError(f"{self.name}: invalid range start={start}, stop={stop}; allowed: 0 <= start <= stop")

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name}: invalid split={split!r}; allowed: one of " + ", ".join(self.splits))

    def _concat(self, parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Joins block arrays; time-axis fields are zero-padded and cut to the longest example."""
        time_fields = self.sequence_fields if self.block_sequence_fields is None else self.block_sequence_fields
        width = None
        if "length" in parts[0] and time_fields:
            width = max(int(part["length"].max(initial=0)) for part in parts)
        out = {}
        for key in parts[0]:
            values = [part[key] for part in parts]
            if key not in time_fields or width is None:
                out[key] = values[0] if len(values) == 1 else np.concatenate(values, axis=0)
            else:
                out[key] = _join_padded(values, width)
        return out

    def split_bucket_mask(self, hashes: np.ndarray, split: str) -> np.ndarray:
        """True where a content hash belongs to ``split``."""
        buckets = _random.hash_buckets(hashes, self.salt, HASH_BUCKETS)
        chosen = SPLIT_BUCKETS[split]
        return (buckets >= chosen.start) & (buckets < chosen.stop)


def _join_padded(values: list[np.ndarray], width: int) -> np.ndarray:
    """Concatenates arrays along axis 0, each zero-padded or cut to ``width`` along axis 1.

    One copy into the final shape (a single array is only sliced).
    """
    if len(values) == 1:
        return values[0][:, :width]
    joined = np.zeros((sum(len(v) for v in values), width, *values[0].shape[2:]), values[0].dtype)
    row = 0
    for value in values:
        part_width = min(width, value.shape[1])
        joined[row : row + len(value), :part_width] = value[:, :part_width]
        row += len(value)
    return joined


def fill_by_rejection(
    draw_candidates, keep, count: int, task_name: str, split: str, max_rounds: int = 200
) -> tuple[dict[str, np.ndarray], int]:
    """Draws candidate batches until ``count`` of them pass ``keep``.

    Args:
        draw_candidates: Callable ``(n)`` drawing ``n`` candidates: a dict of
            arrays, or an iterator of such dicts (consecutive chunks of the ``n``,
            drawn lazily, so chunks after the last one needed are never drawn).
        keep: Callable ``(arrays) -> bool mask`` of accepted candidates.
        count: Number of accepted examples wanted.
        task_name: For the error message.
        split: For the error message.
        max_rounds: Rounds before giving up.

    Returns:
        The first ``count`` accepted candidates (as padded arrays) and the number rejected.
    """
    accepted: list[dict[str, np.ndarray]] = []
    have, rejected = 0, 0
    for _ in range(max_rounds):
        # Draw enough candidates that one round usually suffices for this split's share of the hash space.
        candidates = draw_candidates(int(count * 1.25 * HASH_BUCKETS / len(SPLIT_BUCKETS[split])))
        for chunk in [candidates] if isinstance(candidates, dict) else candidates:
            mask = keep(chunk)
            kept = np.flatnonzero(mask)[: count - have]  # only the candidates actually consumed
            consumed = int(kept[-1]) + 1 if have + len(kept) == count else len(mask)
            rejected += consumed - len(kept)
            accepted.append({key: value[kept] for key, value in chunk.items()})
            have += len(kept)
            if have == count:
                break
        if have == count:
            break
    else:
        raise ValueError(
            f"{task_name}: the configuration admits too few distinct sequences for split {split!r}: "
            f"found {have} of {count} in {max_rounds} rounds; widen the length range or the vocabulary"
        )
    if len(accepted) == 1:
        return accepted[0], rejected
    out = {}
    for key in accepted[0]:
        values = [a[key] for a in accepted]
        if values[0].ndim > 1:
            out[key] = _join_padded(values, max(v.shape[1] for v in values))
        else:
            out[key] = np.concatenate(values, axis=0)
    return out, rejected
