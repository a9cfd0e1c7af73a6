"""The supervised view of a task: the spec that turns examples into Keras arrays, and what scoring needs.

The lowest layer of the numpy core's encoding and scoring: :mod:`seqtasks.encoding` and
:mod:`seqtasks.metrics` take any object with the methods of :class:`SupervisedTask`
(every :class:`seqtasks.tasks.base.Task` has them) and import no task module, so the
task interface can use them without an import circle.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np


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
        weight_field: For per-step targets, a 0/1 field that multiplies the
            padding weight (steps where it is 0 carry no loss and no score), e.g.
            the reading steps of a read-then-write layout; ``None``: every
            unpadded step counts.
    """

    input_field: str
    input_depth: int | None
    target_field: str
    target_kind: str
    target_offset: int = 0
    weight_field: str | None = None

    @property
    def per_step(self) -> bool:
        """True when there is a target at every time step."""
        return self.target_kind in ("sparse", "multi_hot")


class SupervisedTask(Protocol):
    """What encoding and scoring use of a task (:class:`seqtasks.tasks.base.Task` provides it all)."""

    name: str

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        """The supervised view ``target`` (``None``: the default)."""

    def accuracy_mask(self, batch: Mapping[str, np.ndarray], target: str | None = None) -> np.ndarray:
        """``(n, T)`` True at the steps where a per-step prediction is scored."""

    def evaluate(
        self, batch: Mapping[str, np.ndarray], predictions: np.ndarray, *, target: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """The task's own evaluation of ``predictions``."""

    def content_lengths(self, batch: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Each example's length, or ``None`` for a task without lengths."""

    def length_metric(self, target: str | None = None) -> str:
        """The metric a length report plots."""
