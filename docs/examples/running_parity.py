"""Running parity of a bit string (the example of docs/adding_a_task.md)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from seqtasks.config import TaskConfig
from seqtasks.draws import Draws, hash_rows
from seqtasks.registry import register
from seqtasks.tasks.base import LengthStrata, Preset, SupervisedSpec, Task, TaskCard, fill_stratified


@dataclasses.dataclass(frozen=True)
class ParityConfig(TaskConfig):
    """Configuration of the running parity task.

    Attributes:
        min_length: Shortest bit string.
        max_length: Longest bit string.
    """

    task_name: ClassVar[str] = "running_parity"
    min_length: int = 8
    max_length: int = 20

    def validate(self) -> None:
        self.check_int("min_length", 1, 10_000)
        self.check_int("max_length", self.min_length, 10_000)


CARD = TaskCard(  # the words of the tfds dataset card and of the docs page; every number comes from the code
    description="Bit strings; the target at step t is the XOR of bits 0..t.",
    definition="Uniform random bits; the length is drawn uniformly first, then the bits. A string's split is "
    "a hash of its bits wherever its length has at least 1,024 strings; shorter lengths are shared.",
    fields={"bits": "the bits, 0 or 1", "parity": "per step, the XOR of the bits so far", "length": "number of bits"},
    metric="Report **token accuracy** and **sequence accuracy** on `test`.",
)


@register
class RunningParity(Task[ParityConfig]):
    """At every step, predict the parity of the bits read so far."""

    name = "running_parity"
    config_class = ParityConfig
    version = "1.0.0"
    sequence_fields = ("bits", "parity")
    card = CARD
    length_fields = ("min_length", "max_length", None)  # config fields of the length range; no test_long
    presets = (
        Preset(
            "len8to20",
            ParityConfig(),
            {"train": 10_000, "validation": 1_000, "test": 1_000},
            "Bit strings of length 8..20.",
        ),
    )
    default_preset = "len8to20"
    test_preset = Preset(  # small: seqtasks.testing.check_task and the tfds builder tests run on it
        "tiny_len8to12", ParityConfig(max_length=12), {"train": 40, "validation": 10, "test": 10}, "For tests."
    )
    content_field = "bits"  # held-out bit strings never occur in two splits

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        self._check_target(target)
        return SupervisedSpec("bits", 2, "parity", "sparse")

    def length_strata(self, split: str) -> LengthStrata:
        """Uniform lengths; a length L holds 2 ** L bit strings."""
        low, high = self.length_range(split)
        lengths = np.arange(low, high + 1)
        return LengthStrata(lengths, np.full(len(lengths), 1 / len(lengths)), lengths.astype(np.float64))

    def _generate_block(self, draws: Draws, split: str, block: int) -> dict[str, np.ndarray]:
        low, high = self.length_range(split)
        lengths = draws.integers(low, high + 1, self.block_size)  # the exact length distribution first

        def candidates(candidate_lengths: np.ndarray) -> dict[str, np.ndarray]:  # then bits of those lengths
            bits = draws.integers(0, 2, (len(candidate_lengths), high))
            bits = np.where(np.arange(high)[None, :] < candidate_lengths[:, None], bits, 0)
            return {"bits": bits.astype(np.int32), "length": candidate_lengths.astype(np.int32)}

        def in_split(arrays: dict[str, np.ndarray]) -> np.ndarray:
            hashes = hash_rows(arrays["bits"], arrays["length"])
            return self.split_bucket_mask(hashes, split)

        held_out = self.length_strata(split).held_out[lengths - low]
        arrays, dropped = fill_stratified(candidates, in_split, lengths, held_out, self.name, split)
        valid = np.arange(arrays["bits"].shape[1])[None, :] < arrays["length"][:, None]
        arrays["parity"] = np.where(valid, np.cumsum(arrays["bits"], axis=1) % 2, 0).astype(np.int32)
        arrays["_dropped"] = np.int64(dropped)
        return arrays

    def loss_floor(self, batch) -> float:
        """0: the parity is a deterministic function of the bits read so far."""
        return 0.0

    # Evaluation: the default scoring of a per-step view (token and sequence accuracy at the steps
    # with a target; headline token_accuracy) applies as is. The task declares what it knows beyond it.
    def ceiling(self, batch=None, target=None) -> dict[str, float]:
        """1.0: a model that tracks the parity gets every step right."""
        return {"token_accuracy": 1.0, "sequence_accuracy": 1.0}
