"""Scoring predictions: the public entry point, per-length reports and the helpers tasks score with.

Every task owns its evaluation (:meth:`seqtasks.Task.evaluate`, its headline
metric, report columns, ceiling and scoring mask); this module holds no fact
about any particular task. :func:`evaluate` is the entry point for any model,
ours or a user's: it takes the task, a batch from ``task.generate`` (or the
same examples read back with ``tfds.load``), the model's predictions (numpy)
and returns a dict of floats (and, for per-step targets, a per-position array).

Conventions for ``predictions`` follow the task's supervised view
(``task.supervised_spec(target)``; the task's ``evaluate`` docstring says more):

* per-step ids (``"sparse"``): ``(n, T, depth)`` scores or ``(n, T)`` predicted ids;
* per-step sets (``"multi_hot"``): ``(n, T, depth)`` activations;
* one vector per example (``"dense"``): ``(n, dim)``;
* one 0/1 label per example (``"binary"``): ``(n,)`` or ``(n, 1)`` probabilities of 1.

:func:`length_report` scores a batch length by length (the per-length table and
the one-number length-generalisation score: the mean over lengths of the task's
:meth:`~seqtasks.Task.length_metric`, for sequence reversal the per-token
accuracy score of Deletang et al. 2023); :func:`write_length_report` writes it
as markdown, CSV, JSON and a PNG curve.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqtasks.encoding import to_supervised
from seqtasks.supervised import SupervisedTask

PROBABILITY_EPSILON = 1e-7
"""Keras' clipping epsilon, so cross-entropies match ``model.evaluate``."""

NOT_APPLICABLE = "n/a"


@dataclasses.dataclass(frozen=True)
class ReportColumn:
    """One column of a results table, declared by the task (``Task.report_columns``).

    Attributes:
        label: Column header, e.g. ``"test strings solved"``.
        key: A metric name of ``Task.evaluate``'s result on ``split``; with
            ``split=None``, a field of a run's ``metrics.json`` (dots go into
            nested dicts, e.g. ``"length_scores.test_long"``).
        split: The evaluation split the metric is read from (``None``: a run-level field).
        fmt: Format of one number (``str.format``).
        best: Which seed is the best: ``"max"`` (higher is better, the default),
            ``"min"`` (lower is better, e.g. a loss or sequences needed), or ``None``
            (not an outcome, e.g. the label entropy); tables show it beside the mean.
    """

    label: str
    key: str
    split: str | None = "test"
    fmt: str = "{:.3f}"
    best: str | None = "max"

    def __post_init__(self) -> None:
        if self.best not in ("max", "min", None):
            raise ValueError(f"invalid best={self.best!r}; allowed: 'max', 'min' or None")

    def read(self, run: Mapping[str, Any]) -> float | str | None:
        """The column's value in one run's ``metrics.json``; ``"n/a"`` when the run has no such split."""
        if self.split is not None:
            final = run.get("final", {})
            return final[self.split].get(self.key) if self.split in final else NOT_APPLICABLE
        value: Any = run
        for part in self.key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value


@dataclasses.dataclass(frozen=True)
class PublishedReference:
    """A published number a task's table shows beside its baselines (``Task.published_references``).

    Attributes:
        source: Short citation, e.g. ``"Hochreiter & Schmidhuber (1997), Table 1"``.
        model: The published model, e.g. ``"LSTM"``.
        column: The label of the ``ReportColumn`` the number compares with.
        value: The number as published (text keeps its unit and precision).
        aggregate: How the source aggregates its runs, e.g. ``"best of 10 seeds"``.
        differences: What differs between its protocol and this table's (``""``: none).
        our_model: The baselines' model kind measured beside it (e.g. ``"lstm"``;
            ``""``: none of ours), so the table shows the two side by side.
    """

    source: str
    model: str
    column: str
    value: str
    aggregate: str
    differences: str = ""
    our_model: str = ""


@dataclasses.dataclass(frozen=True)
class ReferencePredictor:
    """A non-neural predictor fit on the published ``train`` split (``Task.reference_predictors``).

    Attributes:
        name: Row label, e.g. ``"n-gram ridge regression"``.
        description: How it predicts, in one sentence.
        metrics: ``{split: {metric: value}}`` on the published evaluation splits.
        bound: True for an oracle that uses knowledge no model has (an upper bound, not a baseline).
    """

    name: str
    description: str
    metrics: Mapping[str, Mapping[str, float]]
    bound: bool = False


def check_leading_shape(what: str, predictions: np.ndarray, expected: tuple[int, ...]) -> None:
    """Raises ``ValueError`` unless ``predictions`` starts with the dimensions ``expected``."""
    if predictions.shape[: len(expected)] != tuple(expected):
        raise ValueError(
            f"invalid predictions shape={predictions.shape} for {what}; allowed: leading dimensions {tuple(expected)}"
        )


def scalars(result: Mapping[str, Any]) -> dict[str, float]:
    """The scalar entries of an evaluation result, as floats (arrays such as per-position accuracy dropped)."""
    return {key: float(value) for key, value in result.items() if np.ndim(value) == 0 and not isinstance(value, str)}


def masked_id_accuracy(
    predictions: np.ndarray, targets: np.ndarray, mask: np.ndarray, what: str = "per-step ids"
) -> dict[str, float | np.ndarray]:
    """Accuracy of per-step id predictions on the scored steps.

    Args:
        predictions: ``(n, T, depth)`` scores or ``(n, T)`` predicted ids.
        targets: ``(n, T)`` target ids.
        mask: ``(n, T)``, True at the scored steps.
        what: Names the predictions in error messages.

    Returns:
        ``token_accuracy`` (over all scored steps), ``sequence_accuracy`` (every
        scored step of an example right) and ``per_position_accuracy``: an array
        over output positions ``k = 0 .. T - 1``, where position ``k`` of an
        example is its ``k``-th scored step (NaN where no example has one).
    """
    predictions = np.asarray(predictions)
    targets, mask = np.asarray(targets), np.asarray(mask, dtype=bool)
    check_leading_shape(what, predictions, targets.shape)
    predicted = predictions.argmax(axis=-1) if predictions.ndim == targets.ndim + 1 else predictions
    correct = (predicted == targets) & mask
    n, width = mask.shape
    position = np.cumsum(mask, axis=1) - 1  # rank of each scored step within its example
    counts = np.bincount(position[mask], minlength=width).astype(np.float64)
    hits = np.bincount(position[mask], weights=correct[mask].astype(np.float64), minlength=width)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_position = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)[:width]
    scored = int(mask.sum())
    return {
        "token_accuracy": float(correct.sum() / scored) if scored else math.nan,
        "sequence_accuracy": float((correct.sum(axis=1) == mask.sum(axis=1)).mean()) if n else math.nan,
        "per_position_accuracy": per_position.astype(np.float64),
    }


def cosines(predicted: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-example cosine similarity; a zero vector on either side counts as 0."""
    predicted, targets = np.asarray(predicted, np.float64), np.asarray(targets, np.float64)
    norms = np.linalg.norm(predicted, axis=-1) * np.linalg.norm(targets, axis=-1)
    return np.where(norms > 0, (predicted * targets).sum(axis=-1) / np.where(norms > 0, norms, 1.0), 0.0)


def mse_and_cosine(predicted: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Mean squared error (over examples and dimensions, as Keras' ``mse``) and mean cosine similarity."""
    predicted, targets = np.asarray(predicted, np.float64), np.asarray(targets, np.float64)
    if len(targets) == 0:
        return math.nan, math.nan
    return float(((predicted - targets) ** 2).mean()), float(cosines(predicted, targets).mean())


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties counted half.

    Args:
        labels: 0/1 labels.
        scores: Scores, higher meaning more likely 1.

    Returns:
        The AUC, or NaN when one class is absent.
    """
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # Average rank within each run of tied scores.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def binary_scores(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """AUC, cross-entropy and accuracy of probabilities of label 1.

    Args:
        labels: ``(n,)`` 0/1 labels.
        predictions: ``(n,)`` or ``(n, 1)`` probabilities of label 1.

    Returns:
        ``auc``, ``loss`` (binary cross-entropy in nats, probabilities clipped as
        Keras does; NaN if any prediction is not finite), ``accuracy`` (threshold
        0.5) and ``finite_fraction`` (share of finite predictions).
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(labels), -1)
    if predictions.shape[1] != 1:
        raise ValueError(f"invalid predictions shape={predictions.shape}; allowed: (n,) or (n, 1)")
    probabilities = predictions[:, 0]
    finite = np.isfinite(probabilities)
    clipped = np.clip(probabilities, PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON)
    loss = -(labels * np.log(clipped) + (1.0 - labels) * np.log(1.0 - clipped))
    return {
        "auc": roc_auc(labels[finite], probabilities[finite]),
        "loss": float(loss.mean()) if finite.all() and len(labels) else math.nan,
        "accuracy": float(((probabilities > 0.5) == (labels > 0.5)).mean()) if len(labels) else math.nan,
        "finite_fraction": float(finite.mean()) if len(finite) else math.nan,
    }


# Default headline metric of each kind of supervised view (a task may declare another).
HEADLINE_BY_TARGET_KIND = {
    "sparse": "token_accuracy",
    "multi_hot": "set_accuracy",
    "dense": "mean_cosine",
    "binary": "auc",
}


def score_supervised(
    task: SupervisedTask, batch: Mapping[str, np.ndarray], predictions: np.ndarray, target: str | None = None
) -> dict[str, Any]:
    """The default evaluation of any task, from its supervised view alone.

    Per-step targets are scored at the steps of ``task.accuracy_mask`` (by
    default the steps that carry a training target).

    Args:
        task: The task.
        batch: A batch of it.
        predictions: The model's outputs (see the module docstring).
        target: The supervised view (``None``: the task's default).

    Returns:
        ``"sparse"``: ``token_accuracy``, ``sequence_accuracy``, ``per_position_accuracy``;
        ``"multi_hot"``: ``set_accuracy`` (thresholded at 0.5, exact set per step), ``sequence_accuracy``;
        ``"dense"``: ``mse``, ``mean_cosine``;
        ``"binary"``: ``auc``, ``loss``, ``accuracy``, ``finite_fraction``.
    """
    spec = task.supervised_spec(target)
    predictions = np.asarray(predictions)
    if spec.target_kind == "binary":
        return binary_scores(np.asarray(batch[spec.target_field]), predictions)
    if spec.target_kind == "dense":
        targets = np.asarray(batch[spec.target_field], dtype=np.float64)
        check_leading_shape(task.name, predictions, targets.shape)
        mse, cosine = mse_and_cosine(predictions, targets)
        return {"mse": mse, "mean_cosine": cosine}
    _, y, _ = to_supervised(task, batch, inputs="ids", target=target)
    mask = np.asarray(task.accuracy_mask(batch, target), dtype=bool)
    if spec.target_kind == "sparse":
        return masked_id_accuracy(predictions, y, mask, task.name)
    check_leading_shape(task.name, predictions, y.shape)
    step_ok = ((predictions > 0.5) == (y > 0.5)).all(axis=-1) | ~mask
    scored = int(mask.sum())
    return {
        "set_accuracy": float((step_ok & mask).sum() / scored) if scored else math.nan,
        "sequence_accuracy": float(step_ok.all(axis=1).mean()) if len(mask) else math.nan,
    }


def evaluate(task: SupervisedTask, batch: Mapping[str, np.ndarray], predictions: np.ndarray, **options: Any) -> dict[str, Any]:
    """Scores predictions with the evaluation the task owns (``task.evaluate``).

    Args:
        task: Any registered task (``seqtasks.make(...)``).
        batch: A batch of that task (numpy, from ``task.generate`` or read back from tfds).
        predictions: The model's outputs for ``batch`` (see the module docstring).
        **options: Passed to ``task.evaluate``: ``target`` (the supervised view) and
            task-specific options (for example ``train_mean`` for ``char_to_vector``).

    Returns:
        A dict of floats (per-step views add a per-position array).
    """
    if not callable(getattr(task, "evaluate", None)) or not callable(getattr(task, "supervised_spec", None)):
        raise ValueError(f"invalid task={getattr(task, 'name', task)!r} for evaluate; allowed: a seqtasks Task")
    return task.evaluate(batch, predictions, **options)


def select_rows(batch: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The examples ``rows`` of a batch (padding kept)."""
    return {key: np.asarray(value)[rows] for key, value in batch.items()}


def length_report(
    task: SupervisedTask,
    batch: Mapping[str, np.ndarray],
    predictions: np.ndarray,
    *,
    split: str | None = None,
    target: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Scores a batch length by length: ``task.evaluate`` of the examples of each length.

    Args:
        task: The task.
        batch: A batch of it (typically a whole evaluation split, e.g. ``test_long``).
        predictions: The model's outputs for ``batch``.
        split: Recorded in the report.
        target: The supervised view.
        **options: Passed to ``task.evaluate``.

    Returns:
        ``{"split", "metric", "score", "lengths", "examples", "rows"}``: ``rows``
        holds one dict per length (``length``, ``examples`` and every scalar
        metric); ``score`` is the mean over lengths of ``metric``
        (``task.length_metric``), lengths with a NaN value left out.

    Raises:
        ValueError: The task has no per-example length.
    """
    lengths = task.content_lengths(batch)
    if lengths is None:
        raise ValueError(f"{task.name}: invalid task for length_report; allowed: a task whose examples have a length")
    lengths = np.asarray(lengths).reshape(-1)
    predictions = np.asarray(predictions)
    check_leading_shape(task.name, predictions, (len(lengths),))
    metric = task.length_metric(target)
    rows = []
    for length in np.unique(lengths):
        chosen = np.flatnonzero(lengths == length)
        result = scalars(task.evaluate(select_rows(batch, chosen), predictions[chosen], target=target, **options))
        rows.append({"length": int(length), "examples": int(len(chosen)), **result})
    values = [row.get(metric, math.nan) for row in rows]
    finite = [value for value in values if math.isfinite(value)]
    return {
        "split": split,
        "metric": metric,
        "score": float(np.mean(finite)) if finite else math.nan,
        "lengths": [int(lengths.min()), int(lengths.max())] if len(lengths) else None,
        "examples": int(len(lengths)),
        "rows": rows,
    }


def _number(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.4f}"
    return str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_length_report(
    reports: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    train_lengths: tuple[int, int] | None = None,
    ceiling: float | None = None,
    title: str = "",
) -> list[Path]:
    """Writes per-length reports as ``<path>.md``, ``.csv``, ``.json`` and a ``.png`` curve.

    Args:
        reports: Results of :func:`length_report`, e.g. one for ``test`` and one for ``test_long``.
        path: Output path without suffix, e.g. ``run/length_report``.
        train_lengths: Inclusive range of training lengths, shaded on the curve.
        ceiling: The metric's ceiling (a dashed line), if known.
        title: Title of the table and the figure.

    Returns:
        The written files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metric = reports[0]["metric"] if reports else ""
    keys: list[str] = []
    for report in reports:
        for row in report["rows"]:
            keys += [key for key in row if key not in keys]
    columns = ["split", *keys]
    files = [path.with_suffix(suffix) for suffix in (".json", ".csv", ".md", ".png")]
    payload = {"title": title, "metric": metric, "train_lengths": list(train_lengths) if train_lengths else None,
               "ceiling": ceiling, "reports": list(reports)}
    files[0].write_text(json.dumps(_json_safe(payload), indent=1, allow_nan=False) + "\n")
    with files[1].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for report in reports:
            for row in report["rows"]:
                writer.writerow([report["split"], *[_number(row.get(key, "")) for key in keys]])
    lines = [f"# {title or 'Accuracy per length'}", ""]
    if train_lengths:
        lines.append(f"- training lengths: {train_lengths[0]}..{train_lengths[1]}")
    if ceiling is not None:
        lines.append(f"- ceiling of {metric}: {ceiling:.4f}")
    for report in reports:
        lengths = report["lengths"] or ["-", "-"]
        lines.append(
            f"- `{report['split']}` (lengths {lengths[0]}..{lengths[1]}, {report['examples']} examples): "
            f"length score {_number(report['score'])} = mean over lengths of `{metric}`"
        )
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for report in reports:
        for row in report["rows"]:
            lines.append("| " + " | ".join([str(report["split"]), *[_number(row.get(key, "")) for key in keys]]) + " |")
    files[2].write_text("\n".join(lines) + "\n")
    _plot_length_curve(reports, files[3], metric, train_lengths, ceiling, title)
    return files


def _plot_length_curve(
    reports: Sequence[Mapping[str, Any]],
    path: Path,
    metric: str,
    train_lengths: tuple[int, int] | None,
    ceiling: float | None,
    title: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.8))
    if train_lengths:
        axis.axvspan(train_lengths[0] - 0.5, train_lengths[1] + 0.5, color="tab:green", alpha=0.12,
                     label=f"training lengths {train_lengths[0]}..{train_lengths[1]}")
    for report in reports:
        x = [row["length"] for row in report["rows"]]
        y = [row.get(metric, math.nan) for row in report["rows"]]
        axis.plot(x, y, marker="." if len(x) > 30 else "o", markersize=3 if len(x) > 30 else 5,
                  label=f"{report['split']} (score {_number(report['score'])})")
    if ceiling is not None:
        axis.axhline(ceiling, color="grey", linestyle="--", linewidth=1, label=f"ceiling {ceiling:.3f}")
    axis.set_xlabel("length")
    axis.set_ylabel(metric)
    axis.set_title(textwrap.fill(title, 90), fontsize=9)  # long recipe names wrap instead of running off
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
