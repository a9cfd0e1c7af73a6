"""The trainer's own Keras callbacks: run bookkeeping and the task's validation metrics.

:class:`RunState` counts sequences, updates and NaN-free steps, records every
update's loss, stops after ``--steps`` updates and times the solve of the test set;
its state is saved next to the ``BackupAndRestore`` checkpoint (``STATE_FILE``), so
a resumed run continues the counts. :class:`ValidationMetrics` adds the task's
scalar metrics on the validation split to each epoch's logs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras

from baselines.data import EpochShuffledBatches, SplitArrays, StreamBatches
from baselines.scoring import score
from seqtasks import metrics as task_metrics
from seqtasks.tasks.base import Task

STATE_FILE = "run_state.json"
"""The file of :class:`RunState`'s counts in the run's ``backup`` folder."""


class RunState(keras.callbacks.Callback):
    """Counts sequences and NaN-free steps, records every update's loss, stops after
    ``max_updates`` updates, and counts sequences until the test set is solved (the task's
    headline metric reaches its ceiling; checked every ``eval_every`` sequences).

    Each update's loss is recovered from Keras's running epoch mean (weighted by batch
    size), as :class:`seqtasks.stability.FloorDetector` does; ``None`` for a non-finite one.
    Its state is saved next to the ``BackupAndRestore`` checkpoint at every
    epoch end, so a resumed run continues the counts.
    """

    def __init__(
        self,
        batches: EpochShuffledBatches | StreamBatches,
        state_path: Path,
        solve_task: Task | None = None,
        solve_arrays: SplitArrays | None = None,
        eval_every: int | None = None,
        stop_when_solved: bool = False,
        target: str | None = None,
        max_updates: int | None = None,
        predict_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.sizes = batches.batch_sizes()
        self.max_updates = max_updates
        self.predict_options = dict(predict_options or {})
        self.update_seconds: list[float] = []
        self._batch_start = 0.0
        self._loss_sum, self._loss_count = 0.0, 0
        self.state_path = state_path
        self.solve_task, self.solve_arrays, self.eval_every = solve_task, solve_arrays, eval_every
        self.stop_when_solved = stop_when_solved
        self.target = target
        if solve_task is not None:
            self.solve_metric = solve_task.headline_metric(target)
            self.solve_ceiling = solve_task.ceiling(target=target)[self.solve_metric]
        self.state = {
            "epochs_completed": 0,
            "sequences_seen": 0,
            "nan_free_steps": 0,
            "nonfinite_steps": 0,
            "solved_at_sequences": None,
            "next_solve_check": eval_every,
            "solve_curve": [],
            "train_seconds": 0.0,
            "per_update_loss": [],
        }
        self.resumed_from_epoch = 0
        self._epoch_start = 0.0
        self.cpu_started = time.process_time()  # set by train() to the run's start
        self.cpu_seconds_earlier = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.state_path.exists():
            self.state.update(json.loads(self.state_path.read_text()))
            self.resumed_from_epoch = int(self.state["epochs_completed"])
            # CPU of the interrupted processes, up to their last completed epoch.
            self.cpu_seconds_earlier = float(self.state.get("cpu_seconds", 0.0))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._loss_sum, self._loss_count = 0.0, 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.update_seconds.append(time.perf_counter() - self._batch_start)
        state = self.state
        size = self.sizes[batch]
        state["sequences_seen"] += size
        loss = (logs or {}).get("loss")
        if loss is not None and math.isfinite(float(loss)):
            state["nan_free_steps"] += 1
            total = float(loss) * (self._loss_count + size)
            batch_loss = (total - self._loss_sum) / size
            self._loss_sum, self._loss_count = total, self._loss_count + size
            state["per_update_loss"].append(batch_loss if math.isfinite(batch_loss) else None)
        else:
            state["nonfinite_steps"] += 1
            self._loss_sum = self._loss_count = math.nan  # the running mean stays non-finite this epoch
            state["per_update_loss"].append(None)
        if self.max_updates is not None and state["nan_free_steps"] + state["nonfinite_steps"] >= self.max_updates:
            self.model.stop_training = True
        if self.eval_every and state["solved_at_sequences"] is None:
            if state["sequences_seen"] >= state["next_solve_check"]:
                solved = score(
                    self.solve_task, self.model, self.solve_arrays, self.target, **self.predict_options
                )[self.solve_metric]
                state["solve_curve"].append([state["sequences_seen"], solved])
                if solved >= self.solve_ceiling:
                    state["solved_at_sequences"] = state["sequences_seen"]
                    if self.stop_when_solved:
                        self.model.stop_training = True
                while state["next_solve_check"] <= state["sequences_seen"]:
                    state["next_solve_check"] += self.eval_every

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.state["epochs_completed"] = epoch + 1
        self.state["train_seconds"] += time.perf_counter() - self._epoch_start
        self.state["cpu_seconds"] = self.cpu_seconds_earlier + time.process_time() - self.cpu_started
        if logs is not None:
            logs["sequences_seen"] = self.state["sequences_seen"]
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(self.state))

class ValidationMetrics(keras.callbacks.Callback):
    """Adds the task's scalar metrics on the validation split to each epoch's logs (``val_<name>``)."""

    def __init__(
        self,
        task: Task,
        arrays: SplitArrays,
        target: str | None = None,
        predict_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.task, self.arrays, self.target = task, arrays, target
        self.predict_options = dict(predict_options or {})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        metrics = score(self.task, self.model, self.arrays, self.target, **self.predict_options)
        for key, value in task_metrics.scalars(metrics).items():
            logs[f"val_{key}"] = value
