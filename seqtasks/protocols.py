"""A benchmark config's protocol as data: ``seqtasks.protocol("sequence_reversal/reverse_string")``.

A :class:`Protocol` is everything a model from any framework needs to be trained and scored
the way the published table's baselines are: the dataset and its version, the training data
and its batching rule, the batch size and the number of updates (the task's
:class:`~seqtasks.training.TrainingSpec`), the evaluation splits and the metrics to report,
the aggregate over seeds, and the published references with what differs in their protocols.

:meth:`Protocol.train_batches` yields the training batches in numpy, byte for byte the ones the
Keras trainer (``python -m baselines train``) trains on; nothing here imports TensorFlow.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from seqtasks.batches import FreshExamples, cut_rows, epoch_order, pad_steps
from seqtasks.config import check_integer
from seqtasks.encoding import to_supervised
from seqtasks.registry import get_preset, make
from seqtasks.tasks.base import Task
from seqtasks.training import TrainingSpec

PUBLISHED_SEED = 0
"""The seed of the published splits (what ``tfds.load`` and ``seqtasks.load`` return)."""
PREFETCH_CHUNKS = 1
"""Chunks of fresh batches made ahead, in as many threads. One: the generators hold the GIL for much of
their work, and more threads only contend for it (measured: 1 thread as fast or faster than 2 or 4)."""


@dataclasses.dataclass(frozen=True)
class ModelBatch:
    """One batch as a model of any framework consumes it.

    Attributes:
        update: The training update it is for (counted from 0 over the whole run), or ``None``
            for an evaluation batch.
        examples: The task's raw examples (a dict of arrays, as ``Task.generate`` returns).
        ids: ``(n, T)`` int32 input ids, 0 at padding; ``None`` for float inputs. 0 is also a
            symbol's id on most tasks: tell padding by :attr:`real_steps`, never by ``ids == 0``.
        features: Float inputs of a fixed shape (e.g. ``random_labels``); ``None`` for id inputs.
        targets: Sparse ids ``(n, T)``, multi-hot sets ``(n, T, D)``, dense vectors ``(n, D)`` or
            binary labels ``(n,)`` (zero where ``weights`` is 0).
        weights: Per step ``(n, T)`` or per example ``(n,)``: 0 at padding and at unscored steps
            (e.g. the reading steps of a read-then-write layout), else 1.
        input_depth: The one-hot depth of ``ids`` (``None`` for float inputs).
        encoded_one_hot: ``one_hot`` when it was made with a larger batch (else made on first use).
    """

    update: int | None
    examples: Mapping[str, np.ndarray]
    ids: np.ndarray | None
    features: np.ndarray | None
    targets: np.ndarray
    weights: np.ndarray
    input_depth: int | None
    encoded_one_hot: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    @functools.cached_property
    def one_hot(self) -> np.ndarray | None:
        """``(n, T, depth)`` float32 one-hot inputs, all-zero rows at padding (``None`` for float inputs)."""
        if self.encoded_one_hot is not None or self.ids is None:
            return self.encoded_one_hot
        return one_hot_inputs(self.ids, np.asarray(self.examples["length"]), self.input_depth)

    @property
    def real_steps(self) -> np.ndarray | None:
        """``(n, T)`` bool, True on each example's steps (before its length); ``None`` for float inputs."""
        if self.ids is None:
            return None
        return steps_within(np.asarray(self.examples["length"]), self.ids.shape[1])

    @property
    def inputs(self) -> np.ndarray:
        """What the baselines feed: ``one_hot`` for id inputs, else ``features``."""
        return self.one_hot if self.ids is not None else self.features

    def __len__(self) -> int:
        return len(self.targets)


def steps_within(lengths: np.ndarray, steps: int) -> np.ndarray:
    """``(n, steps)`` bool: True before each example's length."""
    return np.arange(steps)[None, :] < lengths[:, None]


def one_hot_inputs(ids: np.ndarray, lengths: np.ndarray, depth: int) -> np.ndarray:
    """``(n, T, depth)`` float32 one-hot rows of ``ids``, all zero past each example's length."""
    valid = steps_within(lengths, ids.shape[1])
    encoded = np.zeros((*ids.shape, depth), dtype=np.float32)
    np.put_along_axis(encoded, ids[..., None].astype(np.intp), valid[..., None].astype(np.float32), axis=2)
    return encoded


def model_batch(task: Task, examples: Mapping[str, np.ndarray], target: str | None, update: int | None = None,
                width: int | None = None) -> ModelBatch:
    """Encodes raw examples into a :class:`ModelBatch` (zero-padded to ``width`` steps when given)."""
    ids, targets, weights = to_supervised(task, examples, inputs="ids", target=target)
    spec = task.supervised_spec(target)
    float_inputs = spec.input_depth is None
    if width is not None and ids.ndim >= 2 and ids.shape[1] < width:
        ids = pad_steps(ids, width)
        if spec.per_step:
            targets, weights = pad_steps(targets, width), pad_steps(weights, width)
    return ModelBatch(
        update=update,
        examples=examples,
        ids=None if float_inputs else ids,
        features=ids if float_inputs else None,
        targets=targets,
        weights=weights,
        input_depth=spec.input_depth,
    )


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How one benchmark config is trained, evaluated and reported (``seqtasks.protocol(name)``).

    Attributes:
        name: ``"task/config"``.
        dataset_version: The task's dataset version (its tfds ``VERSION``).
        description: The config in one sentence.
        target: The supervised view scored (``None``: the task's default).
        training: Data, batching, batch size, budget and seeds (the task's ``TrainingSpec``).
        eval_splits: The published splits models are scored on.
        eval_sizes: Their published sizes.
        headline_metric: The one metric that summarises a model.
        metrics: What the table reports, as ``"split metric"`` (``split`` ``run`` for run-level
            numbers such as a length score).
        references: Published numbers, each with what differs in its protocol
            (``seqtasks.metrics.PublishedReference``).
    """

    name: str
    dataset_version: str
    description: str
    target: str | None
    training: TrainingSpec
    eval_splits: tuple[str, ...]
    eval_sizes: Mapping[str, int]
    headline_metric: str
    metrics: tuple[str, ...]
    references: tuple[Any, ...]

    @functools.cached_property
    def task(self) -> Task:
        """The task at its published config."""
        return make(self.name)

    @property
    def train_size(self) -> int:
        """Examples per epoch: the published ``train`` split, or the spec's fresh examples per epoch."""
        if self.training.examples_per_epoch is not None:
            return self.training.examples_per_epoch
        return self.task.published_size("train", get_preset(self.name)[1])

    @property
    def updates_per_epoch(self) -> int:
        """Updates per epoch (a last partial batch counts as one update)."""
        return -(-self.train_size // self.training.batch_size)

    @property
    def updates(self) -> int:
        """Training updates of the whole budget (a run stopped once solved may take fewer)."""
        return self.training.epochs * self.updates_per_epoch

    @property
    def seeds(self) -> int:
        """Runs per cell of the table."""
        return self.training.seeds

    @property
    def aggregate(self) -> str:
        """How a cell aggregates its runs."""
        return f"mean ± std and best over {self.seeds} seeds (initial weights and batch order; seeds 0..{self.seeds - 1})"

    def train_batches(
        self, seed: int, start: int = 0, stop: int | None = None, data_seed: int = PUBLISHED_SEED
    ) -> Iterator[ModelBatch]:
        """The training batches of updates ``start .. stop - 1`` (``stop=None``: the whole budget).

        Byte for byte what ``python -m baselines train --seed SEED`` trains on. With fresh data
        the batches do not depend on ``seed`` (every seed sees the stream of ``data_seed``); on the
        published ``train`` split the order of each epoch is keyed by ``(seed, epoch)``.

        Args:
            seed: The run's seed, >= 0.
            start: First update, >= 0.
            stop: One past the last update (``None``: :attr:`updates`).
            data_seed: Seed of the training data (0: the protocol's; another value is a
                data-variance study, not the protocol).
        """
        check_integer("seed", seed, 0)
        check_integer("data_seed", data_seed, 0)
        stop = self.updates if stop is None else check_integer("stop", stop, 0)
        check_integer("start", start, 0, stop, allowed=f"an integer from 0 to stop={stop}")
        if self.training.fresh:
            yield from self._fresh_batches(start, stop, data_seed)
        else:
            yield from self._split_batches(seed, start, stop, data_seed)

    def _fresh_batches(self, start: int, stop: int, data_seed: int) -> Iterator[ModelBatch]:
        """Fresh batches, chunks of updates encoded at once in worker threads while the last one is used."""
        if start >= stop:
            return
        task, spec = self.task, self.training
        fresh = FreshExamples(task, spec.batch_size, data_seed, length_grouped=spec.length_grouped)
        # Without length grouping every batch is padded to the longest training sequence the task allows.
        width = task.max_steps("train") if task.sequence_fields and not spec.length_grouped else None
        per_chunk = fresh.batches_per_chunk

        def encode(chunk: int) -> tuple[dict[str, np.ndarray], ModelBatch]:
            examples = fresh.chunk_examples(chunk)
            whole = model_batch(task, examples, self.target, width=width)
            whole.one_hot  # noqa: B018  (made here, in a worker thread)
            return examples, whole

        first, last = start // per_chunk, (stop - 1) // per_chunk
        with concurrent.futures.ThreadPoolExecutor(max_workers=PREFETCH_CHUNKS) as workers:
            pending = [workers.submit(encode, chunk) for chunk in range(first, min(first + PREFETCH_CHUNKS, last + 1))]
            for chunk in range(first, last + 1):
                examples, whole = pending.pop(0).result()
                if chunk + PREFETCH_CHUNKS <= last:
                    pending.append(workers.submit(encode, chunk + PREFETCH_CHUNKS))
                for update in range(max(start, chunk * per_chunk), min(stop, (chunk + 1) * per_chunk)):
                    row = (update - chunk * per_chunk) * spec.batch_size
                    rows = cut_rows(task, examples, row, row + spec.batch_size)
                    yield slice_batch(whole, rows, row, update, width)

    def _split_batches(self, seed: int, start: int, stop: int, data_seed: int) -> Iterator[ModelBatch]:
        whole = train_split_batch(self.name, self.train_size, data_seed, self.target)
        size, batch_size = len(whole), self.training.batch_size
        order: tuple[int, np.ndarray] | None = None
        for update in range(start, stop):
            epoch, index = divmod(update, self.updates_per_epoch)
            if order is None or order[0] != epoch:
                order = (epoch, epoch_order(seed, epoch, size))
            yield select_batch(whole, order[1][index * batch_size : (index + 1) * batch_size], update)

    def eval_examples(self, split: str) -> dict[str, np.ndarray]:
        """The published examples of an evaluation split, in order (what ``tfds.load`` returns)."""
        self._check_split(split)
        return self.task.generate(split, 0, self.eval_sizes[split], seed=PUBLISHED_SEED)

    def eval_batches(self, split: str, batch_size: int = 256) -> Iterator[ModelBatch]:
        """An evaluation split in order, ``batch_size`` examples at a time, each padded to its own longest."""
        check_integer("batch_size", batch_size, 1)
        examples = self.eval_examples(split)
        for first in range(0, self.eval_sizes[split], batch_size):
            yield model_batch(self.task, cut_rows(self.task, examples, first, first + batch_size), self.target)

    def _check_split(self, split: str) -> None:
        if split not in self.eval_splits:
            raise ValueError(f"{self.name}: invalid split={split!r}; allowed: one of " + ", ".join(self.eval_splits))

    def rows(self) -> list[tuple[str, str]]:
        """The protocol as ``(what, value)`` rows in words (``seqtasks protocol NAME``, the task pages)."""
        spec = self.training
        data = {
            "published_train": f"the published train split ({self.train_size:,} examples), an epoch is one pass",
            "fresh": f"fresh examples of the train distribution every update ({self.train_size:,} per epoch, "
            "data seed 0)",
        }[spec.data]
        batching = {
            "shuffled": "reshuffled every epoch in an order keyed by (seed, epoch); padded to the split's longest",
            "in_order": "consecutive examples of the stream; padded to the longest training length",
            "one_length_per_batch": "sorted by length within chunks of updates: (nearly) one length per batch, "
            "padded to its own longest",
        }[spec.batching]
        solve = f"; stop once the test split is solved (checked every {spec.solve_check_every} sequences)" \
            if spec.stop_when_solved else ""
        rows = [
            ("dataset", f"{self.name} {self.dataset_version}"),
            ("training data", data),
            ("batching", batching),
            ("batch size", str(spec.batch_size)),
            ("budget", f"{self.updates:,} updates ({spec.epochs} epochs of {self.updates_per_epoch:,}){solve}"),
            ("budget matched to", spec.budget_matched_to or "-"),
            ("model kept", f"the epoch with the highest validation {spec.select_epoch_by} (its weights restored)"
             if spec.select_epoch_by else "the last update's"),
            ("evaluation", ", ".join(f"{split} ({size:,})" for split, size in self.eval_sizes.items())
             + "; the published examples (seed 0), in order"),
            ("metrics", ", ".join(self.metrics) + f" (headline: {self.headline_metric})"),
            ("aggregate", self.aggregate),
        ]
        for reference in self.references:
            differences = f"; differs: {reference.differences}" if reference.differences else ""
            rows.append(("reference", f"{reference.source}, {reference.model}: {reference.column} {reference.value} "
                                      f"({reference.aggregate}){differences}"))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The protocol as JSON-able data (what ``seqtasks protocol NAME --json`` prints)."""
        return {
            "name": self.name,
            "dataset_version": self.dataset_version,
            "description": self.description,
            "target": self.target or self.task.targets()[0],
            "training": {
                **dataclasses.asdict(self.training),
                "examples_per_epoch": self.train_size,
                "updates_per_epoch": self.updates_per_epoch,
                "updates": self.updates,
            },
            "evaluation": {"splits": dict(self.eval_sizes), "seed": PUBLISHED_SEED},
            "headline_metric": self.headline_metric,
            "metrics": list(self.metrics),
            "seeds": self.seeds,
            "aggregate": self.aggregate,
            "references": [dataclasses.asdict(reference) for reference in self.references],
        }


@functools.lru_cache(maxsize=4)
def train_split_batch(name: str, size: int, data_seed: int, target: str | None) -> ModelBatch:
    """The first ``size`` examples of the published config ``name``'s ``train`` split of ``data_seed``,
    encoded at the split's width (cached: a run's epochs reorder the same examples)."""
    task = make(name)
    return model_batch(task, task.generate("train", 0, size, seed=data_seed), target)


def slice_batch(whole: ModelBatch, examples: Mapping[str, np.ndarray], row: int, update: int,
                width: int | None) -> ModelBatch:
    """The batch of rows ``row .. row + len(examples)`` of an encoded chunk, cut to ``width`` steps
    (``None``: the longest of its examples), as views; the same arrays as encoding it alone."""
    stop = row + len(next(iter(examples.values())))
    steps = width
    if steps is None and whole.ids is not None and "length" in examples:
        steps = int(np.asarray(examples["length"]).max(initial=1))
    per_step = whole.weights.ndim == 2
    cut = lambda array: None if array is None else array[row:stop, :steps]  # noqa: E731
    return ModelBatch(
        update=update,
        examples=examples,
        ids=cut(whole.ids),
        features=whole.features[row:stop] if whole.features is not None else None,
        targets=cut(whole.targets) if per_step else whole.targets[row:stop],
        weights=cut(whole.weights) if per_step else whole.weights[row:stop],
        input_depth=whole.input_depth,
        encoded_one_hot=cut(whole.one_hot),
    )


def select_batch(whole: ModelBatch, rows: np.ndarray, update: int | None = None) -> ModelBatch:
    """The rows ``rows`` of a batch (widths unchanged)."""
    pick = lambda array: None if array is None else array[rows]  # noqa: E731
    return ModelBatch(
        update=update,
        examples={key: np.asarray(value)[rows] for key, value in whole.examples.items()},
        ids=pick(whole.ids),
        features=pick(whole.features),
        targets=whole.targets[rows],
        weights=whole.weights[rows],
        input_depth=whole.input_depth,
    )


def _metric_names(task: Task, target: str | None) -> tuple[str, ...]:
    return tuple(f"{column.split or 'run'} {column.key}" for column in task.report_columns(target))


@functools.lru_cache(maxsize=None)
def protocol(name: str) -> Protocol:
    """The protocol of a benchmark config.

    Args:
        name: ``"task/config"``, or ``"task"`` for its default config.

    Returns:
        A frozen :class:`Protocol`.

    Raises:
        ValueError: For an unknown task or config (naming the registered ones).
    """
    task_class, preset = get_preset(name)
    task = task_class(preset.config)
    target = None
    return Protocol(
        name=f"{task_class.name}/{preset.name}",
        dataset_version=task.version,
        description=preset.description,
        target=target,
        training=preset.training or task_class.default_training,
        eval_splits=tuple(split for split in task.splits if split != "train"),
        eval_sizes={split: task.published_size(split, preset) for split in task.splits if split != "train"},
        headline_metric=task.headline_metric(target),
        metrics=_metric_names(task, target),
        references=tuple(task.published_references(target)),
    )
