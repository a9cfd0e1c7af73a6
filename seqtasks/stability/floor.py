"""Flags a loss below the lowest loss a correct model can reach on the same batch.

Every seqtasks task knows the loss floor of a batch (``Task.loss_floor(batch)``):
the entropy of the batch's own labels for random labels, the conditional
next-symbol entropy of the batch's strings for Reber, 0 for deterministic
targets. The detector compares each batch's loss with *that batch's* floor and
tells two situations apart:

* **error**: below the floor on data the model has not trained on (a fresh
  stream batch, a batch of the first pass over a finite training set, or the
  validation data). No correct model gets there: the loss is masking NaNs
  (seed 000: a clipped 0/0 is a loss of 1e-7), measuring the wrong thing
  (seed 003: one sigmoid unit under categorical cross-entropy has loss exactly
  0), or the targets leak into the inputs.
* **memorisation**: below the floor only on a finite training set seen before
  (the second and later epochs). Networks memorise repeated data, random
  labels included (Zhang et al. 2017); that is a generalisation gap, reported
  with the train/validation losses, not a NaN.

When the detector cannot see each batch's examples (``FloorDetector(task)`` as a
plain ``model.fit`` callback on shuffled arrays), it has only the task's
population floor, and a small batch's own floor scatters around it (a batch of
32 random labels with 2 positives instead of 5 has a floor of 0.23, not 0.43).
It then tests windows of ``window`` consecutive updates: it flags a window whose
mean loss is below the ``false_alarm_rate`` quantile of the mean of ``window``
batch floors, the batches drawn at random from the task's own data
(:func:`batch_floor_distribution`, :func:`window_threshold`). A batch's floor is
the lowest loss any predictor that does not know its labels reaches on it, so a
correct model's window falls below that quantile with probability at most
``false_alarm_rate`` (for independent batches; a shuffled finite set scatters
less), and the test needs no labels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from seqtasks.config import check_integer

DEFAULT_RELATIVE_TOLERANCE = 0.1
DEFAULT_ABSOLUTE_TOLERANCE = 1e-3
FLOOR_SAMPLE_SIZE = 512
DEFAULT_WINDOW = 16
DEFAULT_FALSE_ALARM_RATE = 1e-4
DEFAULT_BATCH_SIZE = 32  # model.fit's default batch size
REFERENCE_POOL = 4096
REFERENCE_DRAWS = 2000
QUANTILE_BINS = 4096
LABEL_ENTROPY_METRIC = "batch_label_entropy"
# A per-batch loss recovered from Keras's float32 running mean carries a rounding error of a few float32
# epsilons times the running sum; the detector widens its margin by this many of them.
FLOAT32_ROUNDING_ULPS = 8
_FLOAT32_EPSILON = float(np.finfo(np.float32).eps)


class BelowFloorWarning(RuntimeWarning):
    """A loss below the floor on unseen data: a masked NaN, a wrong loss or leaking targets."""


class MemorisationWarning(UserWarning):
    """A training loss below the floor only on training data seen before: the model memorises it."""


def below_floor(
    loss: float,
    floor: float,
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
    absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
) -> bool:
    """True when ``loss`` is below ``floor`` by more than the tolerance.

    The margin is ``max(absolute_tolerance, relative_tolerance * floor)``. The
    floor bounds a model that does not know the batch's labels in expectation;
    on one batch a model whose outputs vary with the inputs can dip a little
    below it by chance (measured in ``docs/stability.md``), but not by 10 % of
    it. A non-finite loss is not "below" anything (the NaN locator handles it).

    Args:
        loss: A loss (one batch or an average).
        floor: The batch's floor, >= 0.
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


def binary_entropy(rate: float) -> float:
    """Entropy in nats of a Bernoulli(``rate``) label: the lowest mean binary cross-entropy at that rate."""
    if not 0 <= rate <= 1:
        raise ValueError(f"invalid rate={rate!r}; allowed: 0 <= rate <= 1")
    return -sum(p * math.log(p) for p in (rate, 1 - rate) if p > 0)


def take_rows(batch: Mapping[str, np.ndarray], rows: Any) -> dict[str, np.ndarray]:
    """The examples ``rows`` of a raw batch (every array indexed on its first axis)."""
    return {key: np.asarray(value)[rows] for key, value in batch.items()}


def task_floor(task: Any, batch: Mapping[str, np.ndarray] | None = None, target: str | None = None) -> float:
    """The loss floor of ``task``'s default supervised view on ``batch``.

    Args:
        task: A ``seqtasks.Task`` (or ``"task/config"`` name).
        batch: The batch to compute it on; default: the first ``FLOOR_SAMPLE_SIZE``
            training examples (an estimate of the population floor, not any one batch's).
        target: The supervised view; ``Task.loss_floor`` is defined for the
            default view's loss only, so any other target raises.

    Returns:
        The floor in the units of the default view's loss (nats).
    """
    task = _make(task)
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


def batch_floor_distribution(task: Any, batch_size: int, draws: int = REFERENCE_DRAWS, seed: int = 0) -> np.ndarray:
    """Floors of ``draws`` batches of ``batch_size`` examples drawn at random from the task's data.

    The examples are ``max(REFERENCE_POOL, 8 * batch_size)`` training examples of
    ``task.sample`` (seed ``seed``); each batch takes ``batch_size`` of them without
    replacement, as a shuffled ``model.fit`` epoch does. Derived from the task
    alone: for random labels the batch's positives are hypergeometric and its floor
    the entropy of its own positive rate.

    Args:
        task: A ``seqtasks.Task`` (or ``"task/config"``) with a loss floor.
        batch_size: Examples per batch, >= 1.
        draws: Batches drawn, >= 1.
        seed: Seed of the pool and of the draws.

    Returns:
        The ``draws`` floors, in nats.
    """
    task = _make(task)
    check_integer("batch_size", batch_size, 1, numpy=False)
    check_integer("draws", draws, 1, numpy=False)
    pool_size = max(REFERENCE_POOL, 8 * batch_size)
    pool = task.sample(pool_size, seed=seed)
    rng = np.random.default_rng(seed)
    return np.array([task_floor(task, take_rows(pool, rng.choice(pool_size, batch_size, replace=False))) for _ in range(draws)])


def window_threshold(floors: np.ndarray, window: int, false_alarm_rate: float, bins: int = QUANTILE_BINS) -> float:
    """A ``t`` with P(mean of ``window`` independent draws of ``floors`` < ``t``) <= ``false_alarm_rate``.

    The exact distribution of the window's mean under the empirical distribution of
    ``floors``: each value rounded down to a grid of ``bins`` steps (so the result
    errs low, never high), the sum's distribution by a ``window``-fold convolution (FFT).

    Args:
        floors: Batch floors (:func:`batch_floor_distribution`).
        window: Batches per window, >= 1.
        false_alarm_rate: The allowed probability, in (0, 1).
        bins: Grid steps over the range of ``floors``.

    Returns:
        The threshold in nats.
    """
    check_integer("window", window, 1, numpy=False)
    if not 0 < false_alarm_rate < 1:
        raise ValueError(f"invalid false_alarm_rate={false_alarm_rate!r}; allowed: 0 < false_alarm_rate < 1")
    floors = np.asarray(floors, dtype=np.float64)
    low, high = float(floors.min()), float(floors.max())
    if high - low <= 0:
        return low
    step = (high - low) / bins
    grid = np.minimum(np.floor((floors - low) / step).astype(np.int64), bins)
    pmf = np.bincount(grid, minlength=bins + 1) / len(grid)
    size = 1 << int(np.ceil(np.log2(window * bins + 1)))
    total = np.fft.irfft(np.fft.rfft(pmf, size) ** window, size)[: window * bins + 1]
    cdf = np.cumsum(np.clip(total, 0.0, None))
    cdf /= cdf[-1]
    # P(sum of grid indices < s) = cdf[s - 1]; the largest s with that <= the rate.
    s = int(np.searchsorted(cdf, false_alarm_rate, side="right"))
    return low + s * step / window


def split_floor(task: Any, batch: Mapping[str, np.ndarray], batch_size: int) -> float:
    """Floor of a Keras evaluation of ``batch`` in consecutive batches of ``batch_size`` (e.g. ``val_loss``).

    Keras averages the batches' mean losses weighted by their number of
    examples; the floor of that average is the same average of the batches' floors.

    Args:
        task: A ``seqtasks.Task`` (or ``"task/config"``).
        batch: The raw examples, in the order Keras evaluates them.
        batch_size: Keras's (validation) batch size, >= 1.

    Returns:
        The example-weighted mean of the per-batch floors.
    """
    task = _make(task)
    check_integer("batch_size", batch_size, 1, numpy=False)
    n = len(next(iter(batch.values())))
    total = 0.0
    for start in range(0, n, batch_size):
        rows = slice(start, min(start + batch_size, n))
        total += (rows.stop - rows.start) * task_floor(task, take_rows(batch, rows))
    return total / n


def floors_of_rows(task: Any, data: Mapping[str, np.ndarray], rows: Callable[[int], Any]) -> Callable[[int, int], float]:
    """Per-batch floors for a finite dataset fed to Keras in batches of its rows.

    Args:
        task: A ``seqtasks.Task`` (or ``"task/config"``).
        data: The raw training examples (``task.generate`` output).
        rows: ``rows(batch)``: the indices into ``data`` of the examples of the
            epoch's batch number ``batch`` (for a shuffled pipeline, in the current
            epoch's order).

    Returns:
        ``batch_floor(epoch, batch) -> float`` for :class:`FloorDetector`.
    """
    task = _make(task)
    return lambda epoch, batch: task_floor(task, take_rows(data, rows(batch)))


class BatchLabelEntropy(keras.metrics.Metric):
    """The entropy of the current batch's binary labels: the batch's binary cross-entropy floor.

    Compiled into a model (``metrics=[BatchLabelEntropy()]``) it computes each
    training batch's floor inside the train step, from the labels that batch
    really had, whatever the input pipeline (``tf.data`` with in-graph
    shuffling included); :class:`FloorDetector` reads it from the logs. Its
    result is the latest batch's value, not a running mean.
    """

    def __init__(self, name: str = LABEL_ENTROPY_METRIC, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.value = self.add_variable(shape=(), initializer="zeros", name="value")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Sets the value to the (weighted) label entropy of this batch."""
        labels = keras.ops.reshape(keras.ops.cast(y_true, "float32"), (-1,))
        weight = keras.ops.ones_like(labels) if sample_weight is None else keras.ops.reshape(
            keras.ops.cast(sample_weight, "float32"), (-1,)
        )
        rate = keras.ops.clip(keras.ops.sum(weight * labels) / keras.ops.maximum(keras.ops.sum(weight), 1e-12), 0.0, 1.0)

        def plogp(p: Any) -> Any:
            return keras.ops.where(p > 0, p * keras.ops.log(keras.ops.maximum(p, 1e-30)), 0.0)

        self.value.assign(-(plogp(rate) + plogp(1.0 - rate)))

    def result(self) -> Any:
        return self.value

    def reset_state(self) -> None:
        self.value.assign(0.0)


class FloorDetector(keras.callbacks.Callback):
    """Flags a loss below its own batch's floor: an error on unseen data, memorisation on repeated data.

    Each training update's loss is compared with the floor of the batch it was
    computed on, taken from (in this order) ``batch_floor``, a
    :class:`BatchLabelEntropy` metric in the logs, or the constant ``floor``
    (a population floor is only safe for batches large enough that their own
    floor cannot differ from it). Keras computes a batch's loss before updating
    on it, so the first pass over the data (``repeats=False``: every batch) is
    data the model has not trained on; with ``validation_floor`` the
    validation loss is checked at every epoch end too.

    * **error** (:class:`BelowFloorWarning`, a ``RuntimeWarning``; optionally stops
      training): ``patience`` consecutive unseen training batches below their
      floors, or a validation loss below the validation floor.
    * **memorisation** (:class:`MemorisationWarning`, a ``UserWarning``): ``patience``
      consecutive repeated training batches below their floors while the epoch's
      validation loss (when checked) is not; the warning and :attr:`verdict` give
      the epoch's train and validation losses and their gap. When the validation
      loss is below its floor too, those flags are errors.

    With only the task's population floor (``FloorDetector(task)`` and no batch
    floors in the logs) it tests windows instead of single updates: a flag is a
    window of ``window`` consecutive updates whose mean loss is below
    :attr:`threshold`, the ``false_alarm_rate`` quantile of the mean of ``window``
    floors of random batches of ``batch_size`` of the task's data (see the module
    docstring); a window with a repeated batch is memorisation, else an error.

    Args:
        task: The ``seqtasks.Task`` (or ``"task/config"``); gives the constant
            fallback floor (``task_floor(task)``) when neither ``floor`` nor
            ``batch_floor`` is given.
        floor: A constant floor for every batch (and, unless given, validation),
            for losses or views the task defines no floor for.
        target: The task's supervised view (only the default has a known floor).
        batch_floor: ``batch_floor(epoch, batch) -> float``: the floor of the
            training batch number ``batch`` of ``epoch`` (see :func:`floors_of_rows`).
        batch_sizes: Examples per batch of an epoch, to recover each batch's loss
            from Keras's running mean (weighted by batch size); default equal sizes.
        validation_floor: Floor of the epoch-end ``val_loss`` (see :func:`split_floor`).
        repeats: The training data is a finite set that every epoch repeats
            (``model.fit`` on arrays or a finite dataset); ``False`` for a stream
            whose every batch is new.
        relative_tolerance: See :func:`below_floor`.
        absolute_tolerance: See :func:`below_floor`.
        stop_training: Stop training at the first error.
        patience: Flag after this many consecutive training updates below their floors (>= 1).
        batch_size: With the population floor: the training batch size (default 32, ``model.fit``'s).
        window: With the population floor: updates per tested window (>= 1).
        false_alarm_rate: With the population floor: the probability that a correct model's
            window is flagged, per window, in (0, 1).

    Attributes:
        floor: The constant floor, or ``None`` when every batch brings its own.
        events: One dict per check below the floor: ``update`` (1-based), ``epoch``,
            ``batch`` (``None`` for validation), ``loss``, ``floor``, ``data``
            (``"unseen"``, ``"repeated"`` or ``"validation"``) and ``verdict``
            (``"error"``, ``"memorisation"`` or ``None`` while below ``patience``).
        fired_at: The update of the first error, or ``None``.
        memorisation_at: The update of the first memorisation flag, or ``None``.
        threshold: With the population floor, the window threshold once computed (else ``None``).
    """

    def __init__(
        self,
        task: Any = None,
        floor: float | None = None,
        target: str | None = None,
        *,
        batch_floor: Callable[[int, int], float] | None = None,
        batch_sizes: Sequence[int] | None = None,
        validation_floor: float | None = None,
        repeats: bool = True,
        relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
        absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
        stop_training: bool = False,
        patience: int = 3,
        batch_size: int | None = None,
        window: int = DEFAULT_WINDOW,
        false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    ) -> None:
        super().__init__()
        self._population_floor = False
        check_integer("patience", patience, 1, numpy=False)
        check_integer("window", window, 1, numpy=False)
        if batch_size is not None:
            check_integer("batch_size", batch_size, 1, numpy=False)
        if not (isinstance(false_alarm_rate, (int, float)) and 0 < false_alarm_rate < 1):
            raise ValueError(f"invalid false_alarm_rate={false_alarm_rate!r}; allowed: 0 < false_alarm_rate < 1")
        if floor is None and task is None and batch_floor is None:
            raise ValueError("invalid task=None with floor=None and batch_floor=None; allowed: a task, a floor or a batch_floor")
        if batch_floor is not None and not callable(batch_floor):
            raise ValueError(f"invalid batch_floor={batch_floor!r}; allowed: a callable (epoch, batch) -> float")
        if repeats not in (False, True):
            raise ValueError(f"invalid repeats={repeats!r}; allowed: True or False")
        self.task = _make(task) if task is not None else None
        if floor is not None:
            self.floor: float | None = float(floor)
        elif batch_floor is None:
            self.floor = task_floor(self.task, target=target)
            self._population_floor = self.floor > 0  # an estimate of the population floor, not any one batch's
        else:
            self.floor = None
            if self.task is not None:
                task_floor(self.task, self.task.sample(1, seed=0), target=target)  # validates the target
        below_floor(0.0, self.floor or 0.0, relative_tolerance, absolute_tolerance)  # validates the arguments
        self.validation_floor = float(validation_floor) if validation_floor is not None else floor
        if self.validation_floor is not None:
            below_floor(0.0, self.validation_floor)
        self.batch_floor = batch_floor
        self.batch_sizes = list(batch_sizes) if batch_sizes is not None else None
        self.repeats = repeats
        self.relative_tolerance = relative_tolerance
        self.absolute_tolerance = absolute_tolerance
        self.stop_training = stop_training
        self.patience = patience
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.window = window
        self.false_alarm_rate = float(false_alarm_rate)
        self.threshold: float | None = None
        self._window: list[tuple[float, bool, int | None, int]] = []
        self.events: list[dict[str, Any]] = []
        self.fired_at: int | None = None
        self.memorisation_at: int | None = None
        self.closest: dict[str, float | None] = {"unseen": None, "repeated": None, "validation": None}
        self.closest_fraction: dict[str, float | None] = {"unseen": None, "repeated": None, "validation": None}
        self.epoch_losses: list[dict[str, Any]] = []
        self._streak = 0
        self._step = 0
        self._epoch = 0
        self._floor_source: str | None = None
        self._previous_sum = 0.0
        self._previous_count = 0
        self._epoch_memorised: list[dict[str, Any]] = []
        self._memorisation_warned = False

    @classmethod
    def for_batches(
        cls,
        task: Any,
        batches: Any,
        target: str | None = None,
        validation_data: Mapping[str, np.ndarray] | None = None,
        validation_batch_size: int = 256,
        **kwargs: Any,
    ) -> "FloorDetector | None":
        """A detector that reads each update's floor from a ``keras.utils.PyDataset``'s own examples.

        Two kinds of dataset are understood: a stream, whose ``examples(update)``
        returns the raw examples of update ``epoch * len(batches) + batch`` (every
        batch new: ``repeats=False``); and a finite set, whose ``arrays.batch``
        holds the raw examples and whose ``order`` (this epoch's example order) is
        cut into batches of ``batch_size`` (``repeats=True``). ``batch_sizes()``,
        when present, gives the sizes for recovering each batch's loss.

        Args:
            task: The ``seqtasks.Task`` (or ``"task/config"``).
            batches: The training ``PyDataset``.
            target: The supervised view.
            validation_data: Raw validation examples, in the order Keras evaluates them.
            validation_batch_size: Keras's validation batch size.
            **kwargs: Passed to :class:`FloorDetector` (tolerances, patience, ...).

        Returns:
            The detector, or ``None`` when the task defines no floor for ``target``.
        """
        task = _make(task)
        try:
            task_floor(task, task.sample(1, seed=0), target=target)
        except ValueError:
            return None
        if callable(getattr(batches, "examples", None)):
            steps = len(batches)
            batch_floor = lambda epoch, batch: task_floor(task, batches.examples(epoch * steps + batch))  # noqa: E731
            repeats = False
        elif hasattr(batches, "arrays") and hasattr(batches, "order") and hasattr(batches, "batch_size"):
            size = int(batches.batch_size)
            batch_floor = floors_of_rows(task, batches.arrays.batch, lambda batch: batches.order[batch * size : (batch + 1) * size])
            repeats = True
        else:
            raise ValueError(
                f"invalid batches={type(batches).__name__}; allowed: a dataset with examples(update), "
                "or with arrays.batch, order and batch_size (else build FloorDetector with batch_floor=)"
            )
        sizes = batches.batch_sizes() if callable(getattr(batches, "batch_sizes", None)) else None
        validation_floor = split_floor(task, validation_data, validation_batch_size) if validation_data is not None else None
        return cls(task, target=target, batch_floor=batch_floor, batch_sizes=sizes, validation_floor=validation_floor, repeats=repeats, **kwargs)

    # -- checks ----------------------------------------------------------------------------------------

    def observe(
        self,
        loss: float,
        floor: float | None = None,
        *,
        batch: Mapping[str, np.ndarray] | None = None,
        unseen: bool = True,
        epoch: int = 0,
    ) -> bool:
        """Checks one update's loss (for custom loops); True when it is flagged (error or memorisation).

        Args:
            loss: The update's batch loss.
            floor: That batch's floor; default: ``task.loss_floor(batch)`` when
                ``batch`` is given, else the constant floor.
            batch: The update's raw examples.
            unseen: The model has not trained on these examples (a stream: always).
            epoch: Recorded in the events.
        """
        self._epoch = epoch
        if floor is None:
            if batch is not None:
                if self.task is None:
                    raise ValueError("invalid batch= without a task; allowed: floor=, or a detector built with a task")
                floor = task_floor(self.task, batch)
            elif self.floor is not None:
                floor = self.floor
                if self._population_floor:
                    self._floor_source = "population"
                    flagged = self._check_window(float(loss), None, self._step, unseen)
                    self._step += 1
                    return flagged
            else:
                raise ValueError("invalid floor=None and batch=None for a detector without a constant floor")
        flagged = self._check(float(loss), float(floor), None, self._step, unseen, 0.0)
        self._step += 1
        return flagged

    def _check(self, loss: float, floor: float, batch: int | None, step: int, unseen: bool, rounding: float) -> bool:
        data = "unseen" if unseen else "repeated"
        self._record_closest(data, loss, floor)
        low = below_floor(loss + rounding, floor, self.relative_tolerance, self.absolute_tolerance)
        if not low:
            self._streak = 0
            return False
        self._streak += 1
        event = {"update": step + 1, "epoch": self._epoch, "batch": batch, "loss": loss, "floor": floor, "data": data, "verdict": None}
        self.events.append(event)
        if self._streak < self.patience:
            return False
        if unseen:
            event["verdict"] = "error"
            self._error(
                f"training loss {loss:.3g} at update {step + 1} is below that batch's loss floor {floor:.3g} on data "
                f"the model has not trained on ({self.patience} update{'s' if self.patience > 1 else ''} in a row)",
                step + 1,
            )
        else:
            event["verdict"] = "memorisation"  # provisional until the epoch's validation check
            self._epoch_memorised.append(event)
            if self.memorisation_at is None:
                self.memorisation_at = step + 1
        return True

    def _check_window(self, loss: float, batch: int | None, step: int, unseen: bool) -> bool:
        """Adds one update to the current window; at its end, flags a window mean below :attr:`threshold`."""
        self._record_closest("unseen" if unseen else "repeated", loss, float(self.floor))
        if not math.isfinite(loss):
            self._window = []  # the NaN locator's business; start a new window after it
            return False
        self._window.append((loss, unseen, batch, step))
        if len(self._window) < self.window:
            return False
        losses, all_unseen = [item[0] for item in self._window], all(item[1] for item in self._window)
        self._window = []
        if self.threshold is None:
            floors = batch_floor_distribution(self.task, self.batch_size)
            self.threshold = window_threshold(floors, self.window, self.false_alarm_rate) - self.absolute_tolerance
        mean = float(np.mean(losses))
        if mean >= self.threshold:
            return False
        data = "unseen" if all_unseen else "repeated"
        event = {
            "update": step + 1, "epoch": self._epoch, "batch": batch, "loss": mean, "floor": float(self.floor),
            "threshold": self.threshold, "window": self.window, "data": data,
            "verdict": "error" if all_unseen else "memorisation",
        }
        self.events.append(event)
        if all_unseen:
            self._error(
                f"mean training loss {mean:.3g} over updates {step + 2 - self.window} to {step + 1} is below "
                f"{self.threshold:.3g}, where the mean of {self.window} batch floors of {self.batch_size} examples of "
                f"{self.task.name} falls with probability {self.false_alarm_rate:g} (population floor {self.floor:.3g}), "
                "on data the model has not trained on",
                step + 1,
            )
        else:
            self._epoch_memorised.append(event)
            if self.memorisation_at is None:
                self.memorisation_at = step + 1
        return True

    def _record_closest(self, data: str, loss: float, floor: float) -> None:
        margin = loss - floor
        if not math.isfinite(margin):
            return
        if self.closest[data] is None or margin < self.closest[data]:
            self.closest[data] = margin
        if floor > 0:
            fraction = margin / floor
            if self.closest_fraction[data] is None or fraction < self.closest_fraction[data]:
                self.closest_fraction[data] = fraction

    def _error(self, what: str, update: int) -> None:
        if self.fired_at is None:
            self.fired_at = update
            warnings.warn(
                f"{what}: no correct model can get there, so the loss is masking NaNs or measuring the wrong thing, "
                "or the targets leak into the inputs (see docs/stability.md)",
                BelowFloorWarning,
                stacklevel=3,
            )
        if self.stop_training and self.model is not None:
            self.model.stop_training = True

    # -- Keras hooks -----------------------------------------------------------------------------------

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._previous_sum, self._previous_count = 0.0, 0
        self._epoch_memorised = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        mean = float(logs.get("loss", float("nan")))
        size = self.batch_sizes[batch] if self.batch_sizes is not None and batch < len(self.batch_sizes) else 1
        # Keras reports the epoch's running mean, weighted by batch size; recover this batch's loss from it.
        total, count = mean * (self._previous_count + size), self._previous_count + size
        loss = (total - self._previous_sum) / size
        rounding = FLOAT32_ROUNDING_ULPS * _FLOAT32_EPSILON * (abs(total) + abs(self._previous_sum)) / size
        self._previous_sum, self._previous_count = total, count
        if self.batch_floor is not None:
            floor, self._floor_source = float(self.batch_floor(self._epoch, batch)), "batch_floor"
        elif LABEL_ENTROPY_METRIC in logs:
            floor, self._floor_source = float(logs[LABEL_ENTROPY_METRIC]), "metric"
        else:
            floor = float(self.floor)
            self._floor_source = "population" if self._population_floor else "constant"
        unseen = not self.repeats or self._epoch == 0
        if self._floor_source == "population":
            self._check_window(loss, batch, self._step, unseen)
        else:
            self._check(loss, floor, batch, self._step, unseen, rounding)
        self._step += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        train_loss = _finite_or_none(logs.get("loss"))
        val_loss = _finite_or_none(logs.get("val_loss"))
        self.epoch_losses.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        if val_loss is not None and self.validation_floor is not None:
            self._record_closest("validation", val_loss, self.validation_floor)
            if below_floor(val_loss, self.validation_floor, self.relative_tolerance, self.absolute_tolerance):
                self.events.append(
                    {"update": self._step, "epoch": epoch, "batch": None, "loss": val_loss, "floor": self.validation_floor, "data": "validation", "verdict": "error"}
                )
                # Below the floor on unseen data too: this epoch's low training losses are no memorisation either.
                for event in self._epoch_memorised:
                    event["verdict"] = "error"
                self._epoch_memorised = []
                self.memorisation_at = next((e["update"] for e in self.events if e["verdict"] == "memorisation"), None)
                self._error(
                    f"validation loss {val_loss:.3g} after epoch {epoch + 1} is below the validation data's loss floor {self.validation_floor:.3g}",
                    self._step,
                )
        if self._epoch_memorised and not self._memorisation_warned:
            self._memorisation_warned = True
            gap = f", gap {val_loss - train_loss:.3g}" if val_loss is not None and train_loss is not None else ""
            warnings.warn(
                f"training loss below its batches' loss floors on training data seen before "
                f"({len(self._epoch_memorised)} updates of epoch {epoch + 1}, first at update {self._epoch_memorised[0]['update']}): "
                f"the model is memorising the training set (epoch {epoch + 1}: train loss {train_loss:.3g}, "
                f"validation loss {'n/a' if val_loss is None else f'{val_loss:.3g}'}{gap}); "
                "a generalisation gap, not a NaN",
                MemorisationWarning,
                stacklevel=2,
            )

    # -- summary ---------------------------------------------------------------------------------------

    @property
    def verdict(self) -> dict[str, Any]:
        """Counts and first updates of each verdict, for ``metrics.json``.

        ``verdict`` is ``"error"`` when any error was flagged, else
        ``"memorisation"`` when any memorisation was, else ``"ok"``; ``closest``
        is the smallest loss minus floor seen on each kind of data (negative:
        below the floor) and ``closest_fraction`` the smallest (loss - floor) / floor; ``train_validation_gap`` is the last epoch's
        validation minus training loss.
        """
        errors = sum(event["verdict"] == "error" for event in self.events)
        memorised = sum(event["verdict"] == "memorisation" for event in self.events)
        last = self.epoch_losses[-1] if self.epoch_losses else {}
        gap = None
        if last.get("train_loss") is not None and last.get("val_loss") is not None:
            gap = last["val_loss"] - last["train_loss"]
        return {
            "verdict": "error" if errors else "memorisation" if memorised else "ok",
            "error_flags": errors,
            "memorisation_flags": memorised,
            "below_floor": {kind: sum(event["data"] == kind for event in self.events) for kind in ("unseen", "repeated", "validation")},
            "first_error_update": self.fired_at,
            "first_memorisation_update": self.memorisation_at,
            "closest": dict(self.closest),
            "closest_fraction": dict(self.closest_fraction),
            "train_loss": last.get("train_loss"),
            "val_loss": last.get("val_loss"),
            "train_validation_gap": gap,
            "floor_source": self._floor_source,
            "updates": self._step,
            "patience": self.patience,
            **(
                {"window": self.window, "batch_size": self.batch_size, "false_alarm_rate": self.false_alarm_rate, "threshold": self.threshold}
                if self._floor_source == "population"
                else {}
            ),
            "relative_tolerance": self.relative_tolerance,
            "absolute_tolerance": self.absolute_tolerance,
        }


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _make(task: Any) -> Any:
    if isinstance(task, str):
        import seqtasks

        return seqtasks.make(task)
    return task
