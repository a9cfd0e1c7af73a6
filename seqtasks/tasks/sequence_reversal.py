"""Integer sequence reversal (seed thread 004).

Inputs are token ids drawn uniformly from ``[0, vocab_size)``; the target is
the input reversed. The length is uniform over the split's length range. A
unidirectional model must emit the first output before it has read the last
input, so it is at chance on early positions unless it delays its output; a
bidirectional model sees both ends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from seqtasks import _random
from seqtasks._arrays import allocate_fields, length_mask
from seqtasks.config import TaskConfig
from seqtasks.registry import register
from seqtasks.tasks.base import SupervisedSpec, Preset, Task, fill_by_rejection

MAX_SUPPORTED_LENGTH = 10_000
_CANDIDATE_CHUNK = 4096  # candidates whose tokens are drawn at a time; later chunks only when needed


@dataclasses.dataclass(frozen=True)
class ReversalConfig(TaskConfig):
    """Configuration of the sequence reversal task.

    Attributes:
        vocab_size: Number of distinct token ids (ids ``0 .. vocab_size - 1``).
        min_length: Shortest sequence in train, validation and test.
        max_length: Longest sequence in train, validation and test.
        long_max_length: Longest sequence of ``test_long`` (lengths
            ``max_length + 1 .. long_max_length``); ``None``: no ``test_long``.
    """

    task_name: ClassVar[str] = "sequence_reversal"
    vocab_size: int = 10
    min_length: int = 5
    max_length: int = 5
    long_max_length: int | None = None

    def validate(self) -> None:
        self.check_int("vocab_size", 2, 1_000_000)
        self.check_int("min_length", 1, MAX_SUPPORTED_LENGTH)
        self.check_int("max_length", self.min_length, MAX_SUPPORTED_LENGTH)
        if self.long_max_length is not None:
            self.check_int("long_max_length", self.max_length + 1, MAX_SUPPORTED_LENGTH)


@register
class SequenceReversal(Task[ReversalConfig]):
    """Reverse a sequence of integer tokens."""

    name = "sequence_reversal"
    config_class = ReversalConfig
    version = "1.0.0"
    sequence_fields = ("inputs", "targets")
    needs_future_context = True
    block_size = 16384  # short sequences: large blocks amortise the per-block overhead
    block_sequence_fields = ("inputs",)
    description = (
        "Token sequences and their reversal. The target at position t is the input at position "
        "length - 1 - t, so a causal model cannot know early targets when it must emit them."
    )
    citation = """@inproceedings{deletang2023chomsky,
  title={Neural Networks and the Chomsky Hierarchy},
  author={Del{\\'e}tang, Gr{\\'e}goire and Ruoss, Anian and Grau-Moya, Jordi and Genewein, Tim and
          Wenliang, Li Kevin and Catt, Elliot and Cundy, Chris and Hutter, Marcus and Legg, Shane and
          Veness, Joel and Ortega, Pedro A.},
  booktitle={International Conference on Learning Representations},
  year={2023}
}"""
    presets = (
        Preset(
            "len5_vocab10",
            ReversalConfig(vocab_size=10, min_length=5, max_length=5),
            {"train": 20_000, "validation": 2_000, "test": 2_000},
            "Length-5 sequences over 10 symbols, the setting of seed thread 004.",
        ),
        Preset(
            "len1to40_vocab2",
            ReversalConfig(vocab_size=2, min_length=1, max_length=40, long_max_length=500),
            {"train": 50_000, "validation": 2_000, "test": 2_000, "test_long": 2_000},
            "Binary strings of length 1..40 with a test_long split of length 41..500, "
            "the reverse_string protocol of Deletang et al. (2023).",
        ),
        Preset(
            "len1to40_vocab10",
            ReversalConfig(vocab_size=10, min_length=1, max_length=40, long_max_length=500),
            {"train": 50_000, "validation": 2_000, "test": 2_000, "test_long": 2_000},
            "Length 1..40 over 10 symbols with a test_long split of length 41..500.",
        ),
    )
    default_preset = "len5_vocab10"

    @property
    def splits(self) -> tuple[str, ...]:
        base = ("train", "validation", "test")
        return base + (("test_long",) if self.config.long_max_length is not None else ())

    def length_range(self, split: str) -> tuple[int, int]:
        """Inclusive range of sequence lengths in a split."""
        self._check_split(split)
        if split == "test_long":
            return self.config.max_length + 1, int(self.config.long_max_length)
        return self.config.min_length, self.config.max_length

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        self._check_target(target)
        return SupervisedSpec("inputs", self.config.vocab_size, "targets", "sparse")

    def _generate_block(self, draws: _random.Draws, split: str, block: int) -> dict[str, np.ndarray]:
        low, high = self.length_range(split)
        arrays, dropped = fill_by_rejection(
            lambda n: self._candidates(draws, n, low, high),
            lambda arrays: self.split_bucket_mask(_random.hash_zero_padded(arrays["inputs"], arrays["length"]), split),
            self.block_size,
            self.name,
            split,
        )
        arrays["_dropped"] = np.int64(dropped)
        return arrays  # inputs in the smallest unsigned dtype; _finish widens them and adds the targets

    def _finish(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        shape = arrays["inputs"].shape
        out = allocate_fields({"inputs": (shape, np.int32), "targets": (shape, np.int32)})
        out["inputs"][...] = arrays["inputs"]
        out["targets"][...] = reverse_padded(arrays["inputs"], arrays["length"])
        return {"inputs": out["inputs"], "length": arrays["length"], "targets": out["targets"]}

    def _candidates(self, draws: _random.Draws, n: int, low: int, high: int) -> Iterator[dict[str, np.ndarray]]:
        """``n`` candidates: all lengths first, then each candidate's tokens in turn, in lazy chunks."""
        lengths = draws.integers(low, high + 1, n)
        token_dtype = np.min_scalar_type(self.config.vocab_size - 1)
        for start in range(0, n, _CANDIDATE_CHUNK):
            chunk_lengths = lengths[start : start + _CANDIDATE_CHUNK]
            width = int(chunk_lengths.max())
            tokens = np.zeros((len(chunk_lengths), width), dtype=token_dtype)
            # Row-major fill: example i takes the next lengths[i] draws.
            tokens[length_mask(chunk_lengths, width)] = draws.below(
                self.config.vocab_size, int(chunk_lengths.sum()), token_dtype
            )
            yield {"inputs": tokens, "length": chunk_lengths.astype(np.int32)}

    def describe(self, example: Mapping[str, Any]) -> str:
        return f"{np.asarray(example['inputs']).tolist()} -> {np.asarray(example['targets']).tolist()}"

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float:
        """0: the targets are a deterministic function of the whole input."""
        return 0.0


def reverse_padded(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverses each row's first ``length`` tokens, keeping zero padding at the end."""
    n, width = tokens.shape
    lengths = np.asarray(lengths)
    if n and (lengths == width).all():
        return np.ascontiguousarray(tokens[:, ::-1])
    # Time-flipped, each row's tokens end the row, already reversed: row i of the result is the
    # window of the flipped row (followed by zeros) that starts at width - length[i].
    flipped = np.zeros((n, 2 * width), dtype=tokens.dtype)
    flipped[:, :width] = tokens[:, ::-1]
    windows = np.lib.stride_tricks.sliding_window_view(flipped, width, axis=1)
    return windows[np.arange(n), width - lengths]
