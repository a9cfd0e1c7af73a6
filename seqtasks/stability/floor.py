"""Flags a training loss below the lowest loss a correct model can reach.

Every seqtasks task knows its loss floor (``Task.loss_floor(batch)``): the label
entropy for random labels, the grammar's next-symbol entropy for Reber, 0 for
deterministic targets. A training loss below it is not progress: the loss is
masking NaNs (seed 000: clipping turns 0/0 into a loss of 1e-7) or measuring
the wrong thing (seed 003: a one-unit sigmoid under categorical cross-entropy
has loss exactly 0), or the targets leak into the inputs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

DEFAULT_RELATIVE_TOLERANCE = 0.1
DEFAULT_ABSOLUTE_TOLERANCE = 1e-3
FLOOR_SAMPLE_SIZE = 512


def below_floor(
    loss: float,
    floor: float,
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
    absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
) -> bool:
    """True when ``loss`` is below ``floor`` by more than the tolerance.

    The margin is ``max(absolute_tolerance, relative_tolerance * floor)``: one
    batch's loss can dip a little below the expected floor by chance, but not by
    10 % of it. A non-finite loss is not "below" anything (the NaN locator
    handles it).

    Args:
        loss: A training loss (one batch or an average).
        floor: The lowest expected loss, >= 0.
        relative_tolerance: Allowed dip as a fraction of ``floor``, in [0, 1).
        absolute_tolerance: Allowed dip in loss units, >= 0.

    Returns:
        Whether the loss is implausibly low.
    """
    if not math.isfinite(floor) or floor < 0:
        raise ValueError(f"invalid floor={floor!r}; allowed: a finite number >= 0")
    if not 0 <= relative_tolerance < 1:
        raise ValueError(f"invalid relative_tolerance={relative_tolerance!r}; allowed: 0 <= relative_tolerance < 1")
    if not (absolute_tolerance >= 0 and math.isfinite(absolute_tolerance)):
        raise ValueError(f"invalid absolute_tolerance={absolute_tolerance!r}; allowed: a finite number >= 0")
    if not math.isfinite(loss):
        return False
    return loss < floor - max(absolute_tolerance, relative_tolerance * floor)


def task_floor(task: Any, batch: Mapping[str, np.ndarray] | None = None, target: str | None = None) -> float:
    """The loss floor of ``task`` for its default supervised view.

    Args:
        task: A ``seqtasks.Task`` (or ``"task/config"`` name).
        batch: The batch to compute it on; default: the first ``FLOOR_SAMPLE_SIZE``
            training examples.
        target: The supervised view; ``Task.loss_floor`` is defined for the
            default view's loss only, so any other target raises.

    Returns:
        The floor in the units of the default view's loss (nats).
    """
    if isinstance(task, str):
        import seqtasks

        task = seqtasks.make(task)
    default = task.targets()[0]
    if target is not None and target != default:
        raise ValueError(
            f"invalid target={target!r} for {task.name}: the task's loss floor is defined for its default target "
            f"{default!r} only; pass floor= explicitly"
        )
    batch = batch if batch is not None else task.sample(FLOOR_SAMPLE_SIZE, seed=0)
    floor = task.loss_floor(batch)
    if floor is None:
        raise ValueError(f"{task.name} defines no loss floor; pass floor= explicitly")
    return float(floor)


class FloorDetector(keras.callbacks.Callback):
    """Warns (and optionally stops) when a training batch's loss drops below the task's floor.

    Args:
        task: The ``seqtasks.Task`` being trained on (or ``"task/config"``);
            ignored when ``floor`` is given.
        floor: The floor to use instead of the task's.
        target: The task's supervised view (only the default has a known floor).
        relative_tolerance: See :func:`below_floor`.
        absolute_tolerance: See :func:`below_floor`.
        stop_training: Stop training once the detector fires.
        patience: Fire after this many consecutive updates below the floor (>= 1). One batch of a
            model that fits noise can dip below the floor by chance; a masked NaN or a wrong loss
            stays there.

    Attributes:
        floor: The floor in use.
        events: One dict per batch below the floor: ``update`` (1-based), ``epoch``, ``batch``,
            ``loss``, ``floor``.
        fired_at: The update at which ``patience`` consecutive updates were below the floor, or ``None``.
    """

    def __init__(
        self,
        task: Any = None,
        floor: float | None = None,
        target: str | None = None,
        relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
        absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
        stop_training: bool = False,
        patience: int = 3,
    ) -> None:
        super().__init__()
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"invalid patience={patience!r}; allowed: an integer >= 1")
        self.patience = patience
        self.fired_at: int | None = None
        self._streak = 0
        if floor is None and task is None:
            raise ValueError("invalid task=None with floor=None; allowed: a task, a floor, or both")
        self.floor = float(floor) if floor is not None else task_floor(task, target=target)
        below_floor(self.floor, self.floor, relative_tolerance, absolute_tolerance)  # validates the arguments
        self.relative_tolerance = relative_tolerance
        self.absolute_tolerance = absolute_tolerance
        self.stop_training = stop_training
        self.events: list[dict[str, Any]] = []
        self._step = 0
        self._epoch = 0
        self._previous_mean: float | None = None

    def observe(self, loss: float, epoch: int = 0, batch: int | None = None) -> bool:
        """Checks one batch's loss (for custom loops); returns True when the detector fires on it."""
        self._epoch = epoch
        flagged = self._observe(float(loss), self._step if batch is None else batch)
        self._step += 1
        return flagged

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._previous_mean = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        mean = float((logs or {}).get("loss", float("nan")))
        # Keras reports the running mean over the epoch; recover this batch's loss from it.
        loss = mean if self._previous_mean is None else (mean * (batch + 1) - self._previous_mean * batch)
        self._previous_mean = mean
        self._observe(loss, batch)
        self._step += 1

    def _observe(self, loss: float, batch: int) -> bool:
        if not below_floor(loss, self.floor, self.relative_tolerance, self.absolute_tolerance):
            self._streak = 0
            return False
        self._streak += 1
        self.events.append({"update": self._step + 1, "epoch": self._epoch, "batch": batch, "loss": loss, "floor": self.floor})
        if self._streak < self.patience:
            return False
        if self.fired_at is None:
            self.fired_at = self._step + 1
            warnings.warn(
                f"training loss {loss:.3g} at update {self._step + 1} is below the task's loss floor {self.floor:.3g} "
                f"({self.patience} updates in a row): "
                "no correct model can get there, so the loss is masking NaNs or measuring the wrong thing, "
                "or the targets leak into the inputs (see docs/stability.md)",
                RuntimeWarning,
                stacklevel=2,
            )
        if self.stop_training and self.model is not None:
            self.model.stop_training = True
        return True
