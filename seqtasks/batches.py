"""Training batches in numpy: the batching rules of :mod:`seqtasks.training`, without TensorFlow.

These are the batches the Keras baselines train on (``baselines.data`` wraps them in
``keras.utils.PyDataset``), so a model in any framework can train on exactly the same
examples in the same order (``seqtasks.protocol(name).train_batches(seed)``).

* :class:`FreshExamples`: update ``i`` of a fresh-data run trains on examples
  ``[i * batch_size, (i + 1) * batch_size)`` of the ``train`` stream of a data seed,
  optionally regrouped so that each batch holds (nearly) one length.
* :func:`epoch_order`: the order of a fixed split's examples in an epoch, keyed by
  ``(seed, epoch)`` so that a resumed run sees the batches an uninterrupted one sees.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from seqtasks.config import check_integer
from seqtasks.tasks.base import Task

EPOCH_ORDER_SALT = 0x5EED
"""Mixed into the seed of :func:`epoch_order` (fixed: changing it changes every published run's batches)."""
GROUP_ORDER_SALT = 0x1E96
"""Mixed into the seed of the order of length-grouped batches within a chunk."""
CHUNK_BYTES = 4 << 20
"""About how many bytes of examples one ``generate`` call makes for batches that are not length-grouped
(their content does not depend on the chunking, so this only sets the cost per call)."""
MAX_CHUNK_EXAMPLES = 4096


def epoch_order(seed: int, epoch: int, size: int) -> np.ndarray:
    """The order of ``size`` examples in ``epoch`` of a run with ``seed`` (a permutation)."""
    return np.random.default_rng([int(seed), int(epoch), EPOCH_ORDER_SALT]).permutation(int(size))


def pad_steps(array: np.ndarray, width: int) -> np.ndarray:
    """``array`` zero-padded along axis 1 to ``width`` steps."""
    padding = [(0, 0)] * array.ndim
    padding[1] = (0, width - array.shape[1])
    return np.pad(array, padding)


class FreshExamples:
    """The raw examples of each update of a fresh-data run (``seqtasks.stream``'s examples).

    Examples are generated a chunk of :attr:`batches_per_chunk` updates at a time (at least a
    generator block). With ``length_grouped``, a chunk's examples are sorted by length before
    they are cut into batches, and its batches are taken in an order keyed by ``(seed, chunk)``:
    every batch holds (nearly) one length, as in Deletang et al. (2023), and every example of the
    stream is still trained on exactly once.

    Args:
        task: The task.
        batch_size: Examples per update, >= 1.
        seed: Data seed of the stream (0: the protocol's).
        length_grouped: Regroup each chunk by length (needs a task whose examples have lengths).
    """

    def __init__(self, task: Task, batch_size: int, seed: int, length_grouped: bool = False) -> None:
        check_integer("batch_size", batch_size, 1)
        check_integer("seed", seed, 0)
        if length_grouped not in (False, True) or (
            length_grouped and task.content_lengths(task.generate("train", 0, 1, seed=0)) is None
        ):
            raise ValueError(
                f"invalid length_grouped={length_grouped!r}; allowed: True only for a task whose examples have lengths"
            )
        self.task, self.batch_size, self.seed, self.length_grouped = task, int(batch_size), int(seed), length_grouped
        if length_grouped:  # fixed: the chunking decides which examples share a batch
            chunk_examples = max(task.block_size, 256)
            strata = task.length_strata("train")
            if strata is not None:  # about one batch per length of the training split
                chunk_examples = max(chunk_examples, len(strata.lengths) * self.batch_size)
        else:  # in order, the chunking only sets the cost per generate call
            probe = task.generate("train", 0, 1, seed=0)
            example_bytes = max(1, sum(np.asarray(value).nbytes for value in probe.values()))
            chunk_examples = max(task.block_size, min(MAX_CHUNK_EXAMPLES, CHUNK_BYTES // example_bytes), 256)
        self.batches_per_chunk = max(1, -(-chunk_examples // self.batch_size))
        self._chunk: tuple[int, dict[str, np.ndarray]] | None = None
        self._lock = threading.Lock()

    def chunk_examples(self, chunk: int) -> dict[str, np.ndarray]:
        """The raw examples of updates ``chunk * batches_per_chunk ..`` (one ``generate`` call, cached)."""
        with self._lock:
            if self._chunk is None or self._chunk[0] != chunk:
                first = chunk * self.batches_per_chunk * self.batch_size
                size = self.batches_per_chunk * self.batch_size
                examples = self.task.generate("train", first, first + size, self.seed)
                if self.length_grouped:
                    examples = self._grouped(chunk, examples)
                self._chunk = (chunk, examples)
            return self._chunk[1]

    def _grouped(self, chunk: int, examples: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A chunk's examples sorted by length, its batches in an order keyed by ``(seed, chunk)``.

        Keras reads the input signature of a ``PyDataset`` from its first two batches, so
        updates 0 and 1 are made to differ in width: the time axis is then ``None`` and batches
        of any width follow (kept for every framework, so the batches stay the same).
        """
        lengths = np.asarray(self.task.content_lengths(examples))
        by_length = np.argsort(lengths, kind="stable").reshape(self.batches_per_chunk, self.batch_size)
        order = np.random.default_rng([self.seed, int(chunk), GROUP_ORDER_SALT]).permutation(self.batches_per_chunk)
        if chunk == 0 and self.batches_per_chunk > 1:
            widths = lengths[by_length[order]].max(axis=1)
            other = np.flatnonzero(widths != widths[0])
            if len(other):
                order[[1, other[0]]] = order[[other[0], 1]]
        rows = by_length[order].reshape(-1)
        return {key: np.asarray(value)[rows] for key, value in examples.items()}

    def examples(self, update: int) -> dict[str, np.ndarray]:
        """The raw examples of update ``update`` (counted from the run's first), cut to their longest."""
        chunk, row = divmod(int(update), self.batches_per_chunk)
        return cut_rows(self.task, self.chunk_examples(chunk), row * self.batch_size, (row + 1) * self.batch_size)


def cut_rows(task: Task, examples: Mapping[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Rows ``start:stop`` of raw examples (views), their time axes cut to the longest of those rows."""
    rows = {key: np.asarray(value)[start:stop] for key, value in examples.items()}
    if task.sequence_fields and "length" in rows:
        width = int(rows["length"].max(initial=1))
        for key in task.sequence_fields:
            rows[key] = rows[key][:, :width]
    return rows
