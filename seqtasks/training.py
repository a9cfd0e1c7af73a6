"""How a benchmark config's models are trained: the task-owned half of a protocol.

A :class:`TrainingSpec` says what a model trains on (the published ``train`` split,
or fresh examples every update), how examples are batched, the batch size and the
number of updates, and how many seeds a cell of the table has. It holds no model
hyperparameter (width, learning rate): those belong to a model's recipe. Each task
declares its spec in its own file (``Task.default_training``, or a preset's
``training``); :func:`seqtasks.protocol` joins it with the task's evaluation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from seqtasks.config import check_integer, short_repr

TRAINING_DATA = ("published_train", "fresh")
"""Where training examples come from: the published ``train`` split (epochs over it), or fresh
examples of the ``train`` distribution every update (``seqtasks.stream`` of data seed 0)."""

BATCHING_RULES = ("shuffled", "in_order", "one_length_per_batch")
"""How examples become batches.

* ``shuffled``: the published ``train`` split, reshuffled every epoch in an order keyed by
  ``(seed, epoch)``; each batch is padded to its own longest sequence.
* ``in_order``: consecutive fresh examples; each batch is padded to the longest training
  sequence the task allows (one width for the whole run).
* ``one_length_per_batch``: fresh examples, sorted by length within chunks of updates, so
  every batch holds (nearly) one length, as in Deletang et al. (2023); each batch is padded
  to its own longest sequence.
"""

_ALLOWED_BATCHING = {"published_train": ("shuffled",), "fresh": ("in_order", "one_length_per_batch")}


@dataclasses.dataclass(frozen=True)
class TrainingSpec:
    """The training half of a benchmark protocol, validated on construction.

    Attributes:
        data: One of :data:`TRAINING_DATA`.
        batching: One of :data:`BATCHING_RULES` (``shuffled`` for the published split,
            ``in_order`` or ``one_length_per_batch`` for fresh data).
        batch_size: Examples per update.
        epochs: Epochs of the budget.
        examples_per_epoch: Fresh examples per epoch (``None``: as many as the published
            ``train`` split holds). Only for fresh data.
        budget_matched_to: What the budget is matched to, in words (e.g. a paper's protocol).
        seeds: Runs per cell of the results table (initial weights and batch order).
        solve_check_every: Score the test split every this many training sequences and record
            when it is first solved (``None``: never).
        stop_when_solved: Stop training once the test split is solved (needs ``solve_check_every``).
        select_epoch_by: A validation metric of the task's evaluation (higher is better): the
            model kept is the one at the end of the epoch where it was highest (``None``: the
            last epoch's).
    """

    data: str = "published_train"
    batching: str = "shuffled"
    batch_size: int = 32
    epochs: int = 10
    examples_per_epoch: int | None = None
    budget_matched_to: str = ""
    seeds: int = 5
    solve_check_every: int | None = None
    stop_when_solved: bool = False
    select_epoch_by: str | None = None

    def __post_init__(self) -> None:
        owner = "training spec"
        if self.data not in TRAINING_DATA:
            raise ValueError(f"{owner}: invalid data={short_repr(self.data)}; allowed: one of " + ", ".join(TRAINING_DATA))
        allowed = _ALLOWED_BATCHING[self.data]
        if self.batching not in allowed:
            raise ValueError(
                f"{owner}: invalid batching={short_repr(self.batching)} for data={self.data!r}; allowed: one of "
                + ", ".join(allowed)
            )
        check_integer("batch_size", self.batch_size, 1, owner=owner, numpy=False)
        check_integer("epochs", self.epochs, 1, owner=owner, numpy=False)
        check_integer("seeds", self.seeds, 5, allowed="an integer >= 5 (a mean ± std needs several seeds)",
                      owner=owner, numpy=False)
        if self.examples_per_epoch is not None:
            check_integer("examples_per_epoch", self.examples_per_epoch, 1, owner=owner, numpy=False,
                          allowed="an integer >= 1 (fresh data only), or None")
            if self.data != "fresh":
                raise ValueError(
                    f"{owner}: invalid examples_per_epoch={self.examples_per_epoch!r} for data='published_train'; "
                    "allowed: None (an epoch is one pass over the published split)"
                )
        if self.solve_check_every is not None:
            check_integer("solve_check_every", self.solve_check_every, 1, owner=owner, numpy=False,
                          allowed="an integer >= 1, or None")
        if self.stop_when_solved not in (False, True) or (self.stop_when_solved and self.solve_check_every is None):
            raise ValueError(
                f"{owner}: invalid stop_when_solved={short_repr(self.stop_when_solved)}; "
                "allowed: True only with solve_check_every set, else False"
            )
        if self.select_epoch_by is not None and (not isinstance(self.select_epoch_by, str) or not self.select_epoch_by):
            raise ValueError(
                f"{owner}: invalid select_epoch_by={short_repr(self.select_epoch_by)}; "
                "allowed: a validation metric name, or None"
            )
        if not isinstance(self.budget_matched_to, str):
            raise ValueError(f"{owner}: invalid budget_matched_to={short_repr(self.budget_matched_to)}; allowed: a string")

    @property
    def fresh(self) -> bool:
        """True when every update trains on fresh examples."""
        return self.data == "fresh"

    @property
    def length_grouped(self) -> bool:
        """True when every batch holds (nearly) one length."""
        return self.batching == "one_length_per_batch"


def best_epoch(per_epoch: Sequence[Mapping[str, Any]], metric: str) -> int | None:
    """The epoch (1-based) whose ``val_<metric>`` is highest, the first on a tie, as ``select_epoch_by`` keeps it.

    Args:
        per_epoch: One record per epoch (e.g. a run's ``per_epoch`` history); epochs that lack the
            value, or have a non-finite one, are skipped.
        metric: The validation metric, without its ``val_`` prefix.

    Returns:
        The epoch number, or ``None`` when no epoch has a finite value.
    """
    best, best_value = None, -math.inf
    for epoch, record in enumerate(per_epoch, 1):
        value = record.get(f"val_{metric}")
        if value is not None and math.isfinite(value) and value > best_value:
            best, best_value = epoch, value
    return best
