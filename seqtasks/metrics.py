"""Task-owned evaluation metrics (pure numpy).

Every model, ours or a user's, is scored by the same functions: they take the
task, a batch from ``task.generate`` (numpy) and the model's predictions
(numpy) and return a dict of floats (and, for sequence reversal, one
per-position array). :func:`evaluate` dispatches on the task.

Conventions for ``predictions``:

* ``reber_grammar``: ``(n, T, 7)`` output activations, one row per input
  position ``t`` predicting the symbol after ``tokens[t]`` (softmax
  probabilities for the ``next_symbol`` view or sigmoid outputs for the
  ``legal_set`` view; only their order matters).
* ``sequence_reversal``: ``(n, T, vocab)`` scores or ``(n, T)`` predicted ids.
* ``char_to_vector``: ``(n, dim)`` predicted vectors.
* ``random_labels``: ``(n,)`` or ``(n, 1)`` predicted probabilities of label 1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np

from seqtasks.tasks.base import Task

_PROBABILITY_EPSILON = 1e-7  # Keras' clipping epsilon, so losses match model.evaluate


def _check_leading_shape(name: str, predictions: np.ndarray, expected: tuple[int, ...]) -> None:
    if predictions.shape[: len(expected)] != expected:
        raise ValueError(
            f"invalid predictions shape={predictions.shape} for {name}; allowed: leading dimensions {expected}"
        )


def reber_grammar(task: Task, batch: Mapping[str, np.ndarray], predictions: np.ndarray) -> dict[str, float]:
    """Scores next-symbol predictions on Reber strings with the 1997 criterion.

    A string counts as solved when at every position whose legal next set is
    non-empty, the ``k = |legal set|`` largest outputs are exactly the legal
    symbols (every legal output strictly above every illegal one), as in
    Hochreiter & Schmidhuber (1997).

    Args:
        task: A ``reber_grammar`` task.
        batch: Its batch (``tokens``, ``next_symbols``, ``length``).
        predictions: ``(n, T, 7)`` output activations.

    Returns:
        ``strings_solved`` (fraction of strings solved), ``symbols_correct``
        (fraction of positions whose arg-max output is a legal symbol) and, for
        embedded strings, ``long_range_correct``: the fraction of strings whose
        arg-max output at the position before the second-to-last symbol equals
        the second symbol (the remembered branch).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    legal = np.asarray(batch["next_symbols"]).astype(bool)
    lengths = np.asarray(batch["length"])
    n, width, depth = legal.shape
    _check_leading_shape("reber_grammar", predictions, (n, width, depth))
    scored = legal.any(axis=-1) & (np.arange(width)[None, :] < lengths[:, None])
    lowest_legal = np.where(legal, predictions, np.inf).min(axis=-1)
    highest_illegal = np.where(legal, -np.inf, predictions).max(axis=-1)
    position_ok = (lowest_legal > highest_illegal) | ~scored
    best = predictions.argmax(axis=-1)
    argmax_legal = np.take_along_axis(legal, best[..., None], axis=-1)[..., 0]
    out = {
        "strings_solved": float(position_ok.all(axis=1).mean()) if n else math.nan,
        "symbols_correct": float(argmax_legal[scored].mean()) if scored.any() else math.nan,
    }
    if getattr(task.config, "embedding_depth", 0) > 0:
        tokens = np.asarray(batch["tokens"])
        before_last_branch = lengths - 3
        predicted = best[np.arange(n), before_last_branch]
        out["long_range_correct"] = float((predicted == tokens[:, 1]).mean()) if n else math.nan
    return out


def sequence_reversal(
    task: Task, batch: Mapping[str, np.ndarray], predictions: np.ndarray
) -> dict[str, float | np.ndarray]:
    """Per-token, whole-sequence and per-position accuracy of reversed sequences.

    Args:
        task: A ``sequence_reversal`` task.
        batch: Its batch (``targets``, ``length``).
        predictions: ``(n, T, vocab)`` scores or ``(n, T)`` predicted ids.

    Returns:
        ``token_accuracy`` over all real positions, ``sequence_accuracy``
        (every position right), ``first_position_accuracy`` (output position
        0, the one a causal model must emit before reading its answer),
        ``chance_accuracy`` (1 / vocab) and ``per_position_accuracy``: an
        array over output positions ``0 .. T - 1`` (NaN where no sequence is
        that long).
    """
    predictions = np.asarray(predictions)
    targets = np.asarray(batch["targets"])
    lengths = np.asarray(batch["length"])
    _check_leading_shape("sequence_reversal", predictions, targets.shape)
    predicted = predictions.argmax(axis=-1) if predictions.ndim == 3 else predictions
    valid = np.arange(targets.shape[1])[None, :] < lengths[:, None]
    correct = (predicted == targets) & valid
    counts = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_position = np.where(counts > 0, correct.sum(axis=0) / np.maximum(counts, 1), np.nan)
    return {
        "token_accuracy": float(correct.sum() / valid.sum()) if valid.any() else math.nan,
        "sequence_accuracy": float((correct == valid).all(axis=1).mean()) if len(lengths) else math.nan,
        "first_position_accuracy": float(per_position[0]) if len(per_position) else math.nan,
        "chance_accuracy": 1.0 / task.config.vocab_size,
        "per_position_accuracy": per_position.astype(np.float64),
    }


@functools.lru_cache(maxsize=4)
def _train_mean_vector(task: Task) -> np.ndarray:
    split_size = task.natural_size("train")
    return np.asarray(task.generate("train", 0, split_size)["vector"], dtype=np.float64).mean(axis=0)


def _mse_and_cosine(predicted: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    mse = float(((predicted - targets) ** 2).mean())
    norms = np.linalg.norm(predicted, axis=-1) * np.linalg.norm(targets, axis=-1)
    cosine = np.where(norms > 0, (predicted * targets).sum(axis=-1) / np.where(norms > 0, norms, 1.0), 0.0)
    return mse, float(cosine.mean())


def char_to_vector(
    task: Task, batch: Mapping[str, np.ndarray], predictions: np.ndarray, train_mean: np.ndarray | None = None
) -> dict[str, float]:
    """MSE and mean cosine similarity of predicted word vectors, next to the mean-vector predictor.

    Args:
        task: A ``char_to_vector`` task.
        batch: Its batch (``vector``).
        predictions: ``(n, dim)`` predicted vectors.
        train_mean: Mean of the training vectors; ``None`` computes it from the
            task's whole ``train`` split (cached per task).

    Returns:
        ``mse`` (mean over examples and dimensions, as Keras' ``mse``),
        ``mean_cosine`` (a zero prediction counts as cosine 0) and the same two
        numbers, ``mean_vector_mse`` and ``mean_vector_cosine``, for the
        predictor that outputs the training mean for every word: a model must
        beat it to have learned anything from spelling.
    """
    targets = np.asarray(batch["vector"], dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    _check_leading_shape("char_to_vector", predictions, targets.shape)
    mean = _train_mean_vector(task) if train_mean is None else np.asarray(train_mean, dtype=np.float64)
    if mean.shape != targets.shape[1:]:
        raise ValueError(f"invalid train_mean shape={mean.shape}; allowed: {targets.shape[1:]}")
    mse, cosine = _mse_and_cosine(predictions, targets)
    baseline_mse, baseline_cosine = _mse_and_cosine(np.broadcast_to(mean, targets.shape), targets)
    return {"mse": mse, "mean_cosine": cosine, "mean_vector_mse": baseline_mse, "mean_vector_cosine": baseline_cosine}


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


def random_labels(task: Task, batch: Mapping[str, np.ndarray], predictions: np.ndarray) -> dict[str, float]:
    """AUC and cross-entropy of label predictions on pure noise, against the label entropy.

    Args:
        task: A ``random_labels`` task.
        batch: Its batch (``label``).
        predictions: ``(n,)`` or ``(n, 1)`` probabilities of label 1.

    Returns:
        ``auc`` (0.5 expected on held-out data; clearly higher means leakage),
        ``loss`` (binary cross-entropy in nats, probabilities clipped as Keras
        does), ``label_entropy`` (the loss a model without memorisation
        settles at), ``loss_minus_entropy`` and ``finite_fraction`` (share of
        predictions that are not NaN or infinite).
    """
    labels = np.asarray(batch["label"], dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(labels), -1)
    if predictions.shape[1] != 1:
        raise ValueError(f"invalid predictions shape={predictions.shape}; allowed: (n,) or (n, 1)")
    probabilities = predictions[:, 0]
    finite = np.isfinite(probabilities)
    clipped = np.clip(probabilities, _PROBABILITY_EPSILON, 1.0 - _PROBABILITY_EPSILON)
    loss = -(labels * np.log(clipped) + (1.0 - labels) * np.log(1.0 - clipped))
    entropy = task.label_entropy()
    mean_loss = float(loss.mean()) if finite.all() else math.nan
    return {
        "auc": roc_auc(labels[finite], probabilities[finite]),
        "loss": mean_loss,
        "label_entropy": entropy,
        "loss_minus_entropy": mean_loss - entropy,
        "finite_fraction": float(finite.mean()) if len(finite) else math.nan,
    }


_BY_TASK = {
    "reber_grammar": reber_grammar,
    "sequence_reversal": sequence_reversal,
    "char_to_vector": char_to_vector,
    "random_labels": random_labels,
}


def evaluate(task: Task, batch: Mapping[str, np.ndarray], predictions: np.ndarray, **options) -> dict:
    """Scores predictions with the metrics the task owns.

    Args:
        task: Any registered task.
        batch: A batch of that task (numpy, from ``task.generate``).
        predictions: The model's outputs for ``batch`` (see the module docstring).
        **options: Passed to the task's metric function (``train_mean`` for ``char_to_vector``).

    Returns:
        A dict of floats (``sequence_reversal`` adds a per-position array).
    """
    if task.name not in _BY_TASK:
        raise ValueError(f"invalid task={task.name!r} for evaluate; allowed: one of " + ", ".join(sorted(_BY_TASK)))
    return _BY_TASK[task.name](task, batch, predictions, **options)
