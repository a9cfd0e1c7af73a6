"""The strict scorer: any framework's predictions on a benchmark config's published splits, as a record.

:func:`score` runs a ``predict`` function (numpy in, numpy out: PyTorch, JAX, numpy or
Keras behind it) on every evaluation split of a protocol (``seqtasks.protocol(name)``);
:func:`score_predictions` scores predictions computed elsewhere (``seqtasks score NAME
--predictions FILE.npz``, file layout in :func:`save_predictions`). Both check the
predictions against the published split before scoring: shape, dtype, class depth,
finiteness, count and order (a digest of the inputs predicted on), and probabilities
against logits. Each violation raises one :class:`PredictionError` that names the field,
what was expected and what came; nothing is written then. The numbers are those of the
task's own evaluation (``seqtasks.metrics.evaluate`` and ``length_report``), and the record
has the run format of ``docs/results.schema.json`` (``$defs/scored_run``) that
``python -m baselines compare`` puts next to the published grid.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqtasks import metrics as task_metrics
from seqtasks.cli_common import current_umask
from seqtasks.config import check_integer, short_repr
from seqtasks.fingerprint import fingerprint

if TYPE_CHECKING:
    from seqtasks.protocols import ModelBatch, Protocol

PREDICTIONS_FORMAT = "seqtasks-predictions-1"
"""The ``format`` entry of a predictions file (:func:`save_predictions`)."""
INPUTS_DIGEST_KEY = "inputs_sha256_{split}"
"""Key of a split's inputs digest in a predictions file."""
PROTOCOL_TRAIN_DATA = "protocol"
"""``train_data`` of a run trained on ``protocol.train_batches(seed)``."""
RECORD_KIND = "seqtasks.score"
SUM_TOLERANCE = 1e-3
"""How far a softmax row's sum may be from 1 (float16 outputs round to about 1e-3)."""
RANGE_TOLERANCE = 1e-6
"""How far a probability may lie outside [0, 1] (rounding of float outputs)."""


class PredictionError(ValueError):
    """Predictions that do not fit the published split: one field, what was expected, what came."""

    def __init__(self, name: str, field: str, got: Any, allowed: str, hint: str = "") -> None:
        self.field = field
        text = f"{name}: invalid {field}={got if isinstance(got, str) else short_repr(got)}; allowed: {allowed}"
        super().__init__(text + (f" ({hint})" if hint else ""))


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What a model must output for a protocol's supervised view.

    Attributes:
        kind: ``"sparse"`` (a distribution over ids per step), ``"multi_hot"`` (a probability per
            symbol and step), ``"dense"`` (a vector per example) or ``"binary"`` (a probability per example).
        depth: Classes per step, or the vector's dimension (``None`` for ``binary``).
        activation: What turns logits into what is scored: ``"softmax"``, ``"sigmoid"`` or ``None``.
    """

    kind: str
    depth: int | None
    activation: str | None

    @property
    def per_step(self) -> bool:
        """True when there is an output per time step."""
        return self.kind in ("sparse", "multi_hot")

    def shape(self, examples: int, steps: int | None) -> tuple[int, ...]:
        """The expected array shape for ``examples`` examples padded to ``steps`` steps."""
        if self.per_step:
            return (examples, int(steps), int(self.depth))
        return (examples, int(self.depth)) if self.kind == "dense" else (examples,)

    def describe(self) -> str:
        """The expected layout in words, for messages and ``seqtasks score --help``."""
        return {
            "sparse": f"(n, T, {self.depth}) float probabilities (a softmax over {self.depth} classes per step)",
            "multi_hot": f"(n, T, {self.depth}) float probabilities (a sigmoid per symbol and step)",
            "dense": f"(n, {self.depth}) float vectors",
            "binary": "(n,) or (n, 1) float probabilities of label 1 (a sigmoid)",
        }[self.kind]


def output_spec(protocol: Protocol) -> OutputSpec:
    """The output a model must give for ``protocol`` (the head the Keras baselines have)."""
    task = protocol.task
    spec = task.supervised_spec(protocol.target)
    if spec.target_kind == "binary":
        return OutputSpec("binary", None, "sigmoid")
    if spec.target_kind == "dense":
        sample = task.generate(protocol.eval_splits[0], 0, 1, seed=0)
        return OutputSpec("dense", int(np.asarray(sample[spec.target_field]).shape[-1]), None)
    activation = "softmax" if spec.target_kind == "sparse" else "sigmoid"
    return OutputSpec(spec.target_kind, int(spec.input_depth), activation)


# -- Which examples were predicted: the inputs digest --------------------------------------------------


def inputs_digest(protocol: Protocol, examples: Mapping[str, np.ndarray] | Iterable[Any]) -> str:
    """SHA-256 of the model inputs of ``examples``, in order, whatever their padding.

    For each example its input field (``task.supervised_spec().input_field``) cut to its
    ``length``: ids as little-endian int32, float features as float32; preceded by the
    number of examples and their lengths. Equal for the published split read with
    ``protocol.eval_batches``, ``protocol.eval_examples``, ``tfds.load`` or ``seqtasks.load``
    when the same examples come in the same order.

    Args:
        protocol: The protocol (``seqtasks.protocol(name)``).
        examples: One dict of arrays (a batch of the task's fields, e.g. ``ModelBatch.examples``
            or a ``tfds.as_numpy`` batch), or an iterable of them or of ``ModelBatch`` objects, in order.
    """
    batches = [examples] if isinstance(examples, Mapping) else list(examples)
    task = protocol.task
    field = task.supervised_spec(protocol.target).input_field
    per_step = field in task.sequence_fields
    lengths, chunks = [], []
    for batch in batches:
        batch = getattr(batch, "examples", batch)  # a ModelBatch: its raw examples
        values = np.asarray(batch[field])
        dtype = "<f4" if values.dtype.kind == "f" else "<i4"
        if per_step:
            length = np.asarray(batch["length"]).reshape(-1).astype("<i8")
            mask = np.arange(values.shape[1])[None, :] < length[:, None]
            lengths.append(length)
            chunks.append(np.ascontiguousarray(values[mask], dtype=dtype))
        else:
            lengths.append(np.zeros(len(values), dtype="<i8"))
            chunks.append(np.ascontiguousarray(values, dtype=dtype))
    digest = hashlib.sha256(b"seqtasks-inputs-1\0")
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype="<i8")
    digest.update(np.asarray(len(all_lengths), dtype="<i8").tobytes() + all_lengths.tobytes())
    for chunk in chunks:
        digest.update(chunk.tobytes())
    return digest.hexdigest()


def _check_order(protocol: Protocol, split: str, claimed: str, examples: Mapping[str, np.ndarray]) -> None:
    """Raises unless ``claimed`` is the digest of the published split's inputs in published order."""
    expected = inputs_digest(protocol, examples)
    if claimed == expected:
        return
    hint = "the predictions were made on other examples, or in another order, than the published split"
    lengths = examples.get("length")
    if lengths is not None:
        order = np.argsort(np.asarray(lengths), kind="stable")
        if claimed == inputs_digest(protocol, task_metrics.select_rows(examples, order)):
            hint = "these are the published examples sorted by length: put the predictions back in published order"
    raise PredictionError(protocol.name, f"{INPUTS_DIGEST_KEY.format(split=split)}", claimed[:16] + "...",
                          f"{expected} (the published {split} split in published order)", hint)


# -- The checks of one split's predictions --------------------------------------------------------------


def _valid_steps(examples: Mapping[str, np.ndarray], steps: int) -> np.ndarray:
    """``(n, steps)`` True at each example's unpadded steps."""
    lengths = np.asarray(examples["length"]).reshape(-1)
    return np.arange(steps)[None, :] < lengths[:, None]


def _as_array(name: str, field: str, predictions: Any) -> np.ndarray:
    """``predictions`` as a float numpy array, or a :class:`PredictionError` for its type or dtype."""
    try:
        array = np.asarray(predictions)
    except Exception as error:  # noqa: BLE001 - e.g. a tensor that needs .detach() first
        raise PredictionError(name, f"{field} type", type(predictions).__name__,
                              "a numpy array (or what np.asarray converts)", f"np.asarray failed: {error}") from error
    if array.dtype.kind != "f":
        raise PredictionError(name, f"{field} dtype", str(array.dtype), "float16, float32 or float64",
                              "scores or probabilities, not predicted ids or labels")
    return array


def _check_shape(name: str, field: str, array: np.ndarray, spec: OutputSpec, examples: int,
                 steps: int | None) -> np.ndarray:
    """Count (axis 0), steps (axis 1) and class depth (last axis), each with its own message."""
    expected = spec.shape(examples, steps)
    if spec.kind == "binary" and array.ndim == 2 and array.shape[1:] == (1,):
        array = array[:, 0]
    if array.ndim != len(expected):
        raise PredictionError(name, f"{field} shape", str(array.shape), f"{expected}: {spec.describe()}")
    if array.shape[0] != examples:
        raise PredictionError(name, f"{field} count", array.shape[0], f"{examples} (the split's examples, in order)")
    if spec.per_step and array.shape[1] != steps:
        raise PredictionError(name, f"{field} steps", array.shape[1],
                              f"{steps} (the split padded to its longest example; pad each batch with zeros)")
    if spec.depth is not None and array.shape[-1] != spec.depth:
        what = "class depth" if spec.per_step else "vector dimension"
        raise PredictionError(name, f"{field} {what}", array.shape[-1], f"{spec.depth}: {spec.describe()}")
    return array


def _activate(name: str, field: str, array: np.ndarray, spec: OutputSpec, valid: np.ndarray) -> np.ndarray:
    """Softmax or sigmoid of logits (float64); refuses ``logits=True`` where the values are probabilities."""
    if spec.activation is None:
        raise PredictionError(name, "logits", True, f"False for {spec.kind} targets (scored as they are)")
    values = array.astype(np.float64)
    if spec.activation == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * values))
    scored = values[valid]
    if scored.size and (scored.min() >= 0) and np.allclose(scored.sum(axis=-1), 1.0, atol=1e-6):
        raise PredictionError(name, "logits", True, "False for these predictions",
                              f"{field} already sums to 1 over the classes at every step: they are probabilities")
    shifted = values - values.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _check_probabilities(name: str, field: str, array: np.ndarray, spec: OutputSpec, valid: np.ndarray) -> None:
    """Values in [0, 1] and, for a softmax, rows that sum to 1 (at the unpadded steps)."""
    if spec.activation is None:
        return
    scored = array[valid].astype(np.float64)
    low, high = (float(scored.min()), float(scored.max())) if scored.size else (0.0, 1.0)
    if low < -RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
        raise PredictionError(name, f"{field} values", f"[{low:.4g}, {high:.4g}]",
                              f"probabilities in [0, 1] ({spec.activation} outputs)",
                              "these look like logits: pass logits=True (--logits) to apply the "
                              f"{spec.activation}")
    if spec.activation == "softmax" and scored.size:
        sums = scored.sum(axis=-1)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[worst] - 1.0) > SUM_TOLERANCE:
            raise PredictionError(name, f"{field} sum over classes", f"{sums[worst]:.6g}",
                                  f"1 within {SUM_TOLERANCE} at every unpadded step (a softmax)",
                                  "these look like sigmoid outputs or unnormalised scores; for logits pass "
                                  "logits=True (--logits)")


def check_predictions(protocol: Protocol, split: str, predictions: Any, examples: Mapping[str, np.ndarray], *,
                      logits: bool = False) -> np.ndarray:
    """The checked predictions of one split, ready for ``Task.evaluate``.

    Args:
        protocol: The protocol.
        split: One of ``protocol.eval_splits``.
        predictions: The model's outputs on the whole split, in published order (layout: :class:`OutputSpec`).
        examples: The published examples of the split (``protocol.eval_examples(split)``).
        logits: The outputs are logits: apply the softmax or sigmoid first.

    Returns:
        The predictions (unchanged, or the activation of the logits).

    Raises:
        PredictionError: The first check that fails.
    """
    name, spec, field = protocol.name, output_spec(protocol), f"predictions[{split!r}]"
    array = _as_array(name, field, predictions)
    input_field = protocol.task.supervised_spec(protocol.target).input_field
    steps = np.asarray(examples[input_field]).shape[1] if spec.per_step else None
    array = _check_shape(name, field, array, spec, protocol.eval_sizes[split], steps)
    valid = _valid_steps(examples, steps) if spec.per_step else np.ones(len(array), dtype=bool)
    finite = np.isfinite(array[valid])
    if not finite.all():
        bad = int(np.size(finite) - np.count_nonzero(finite))
        raise PredictionError(name, f"{field} finiteness", f"{bad} non-finite value(s)",
                              "finite values at every unpadded step", "NaN or inf in the model's outputs")
    if logits:
        return _activate(name, field, array, spec, valid)
    _check_probabilities(name, field, array, spec, valid)
    return array


# -- Scoring and the record --------------------------------------------------------------------------


def _check_arguments(model_name: Any, seed: Any, framework: Any, parameter_count: Any, updates: Any,
                     logits: Any, train_data: Any) -> None:
    """``ValueError`` for a bad argument of :func:`score`, before any work."""
    for parameter, value in (("model_name", model_name), ("framework", framework), ("train_data", train_data)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"invalid {parameter}={short_repr(value)}; allowed: a non-empty string")
    check_integer("seed", seed, 0)
    if parameter_count is not None:
        check_integer("parameter_count", parameter_count, 1, allowed="an integer >= 1, or None")
    if updates is not None:
        check_integer("updates", updates, 0, allowed="an integer >= 0 (training updates made), or None")
    if logits not in (False, True):
        raise ValueError(f"invalid logits={short_repr(logits)}; allowed: True or False")


def departures(protocol: Protocol, updates: int | None, train_data: str) -> list[str]:
    """How a run departs from the protocol, one phrase each (empty: it follows the protocol)."""
    out = []
    if updates is None:
        out.append(f"training updates not stated (the protocol: {protocol.updates:,})")
    elif updates != protocol.updates and not (protocol.training.stop_when_solved and updates < protocol.updates):
        out.append(f"{updates:,} training updates (the protocol: {protocol.updates:,})")
    if train_data != PROTOCOL_TRAIN_DATA:
        out.append(f"training data: {train_data} (the protocol: protocol.train_batches(seed))")
    return out


def _evaluate_split(protocol: Protocol, split: str, examples: Mapping[str, np.ndarray],
                    predictions: np.ndarray) -> tuple[dict[str, float], dict[str, Any] | None]:
    """The split's scalar metrics and, where the trainer makes one, its length report."""
    task = protocol.task
    result = task_metrics.evaluate(task, examples, predictions, target=protocol.target)
    report = None
    if "test_long" in protocol.eval_splits and split != "validation" and task.content_lengths(examples) is not None:
        report = task_metrics.length_report(task, examples, predictions, split=split, target=protocol.target)
    return task_metrics.scalars(result), report


def score_predictions(
    name: str,
    predictions: Mapping[str, Any],
    *,
    model_name: str,
    seed: int,
    framework: str = "unstated",
    parameter_count: int | None = None,
    updates: int | None = None,
    logits: bool = False,
    train_data: str = PROTOCOL_TRAIN_DATA,
    inputs_sha256: Mapping[str, str] | None = None,
    command: str | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Checks and scores predictions of every evaluation split; returns (and with ``out``, writes) the record.

    Args:
        name: ``"task/config"`` (its protocol: ``seqtasks.protocol(name)``).
        predictions: ``{split: array}`` for every split of ``protocol.eval_splits``, each the
            whole split in published order (layout: :func:`output_spec`).
        model_name: The model's name in the table.
        seed: The run's seed.
        framework: What trained it, e.g. ``"jax"``.
        parameter_count: Trainable parameters, if known.
        updates: Training updates made (``None``: not stated, so not a protocol run).
        logits: The outputs are logits (the softmax or sigmoid is applied here).
        train_data: ``"protocol"`` for ``protocol.train_batches(seed)``, else what was trained on.
        inputs_sha256: ``{split: digest}`` (:func:`inputs_digest`) of the inputs predicted on;
            required for predictions computed elsewhere, ``None`` where this module fed them.
        command: How the record was made (recorded).
        out: Where to write the record as JSON (nothing is written if any check fails).

    Raises:
        PredictionError: Predictions that do not fit the published splits.
        ValueError: A bad argument.
    """
    from seqtasks.protocols import protocol as get_protocol

    _check_arguments(model_name, seed, framework, parameter_count, updates, logits, train_data)
    protocol = get_protocol(name)
    _check_splits(protocol, "predictions", predictions)
    if inputs_sha256 is not None:
        _check_splits(protocol, "inputs_sha256", inputs_sha256)
    scored, fingerprints, reports = {}, {}, []
    for split in protocol.eval_splits:
        examples = protocol.eval_examples(split)
        if inputs_sha256 is not None:
            _check_order(protocol, split, str(inputs_sha256[split]), examples)
        checked = check_predictions(protocol, split, predictions[split], examples, logits=logits)
        scored[split], report = _evaluate_split(protocol, split, examples, checked)
        fingerprints[split] = fingerprint(protocol.task, examples)
        if report is not None:
            reports.append(report)
    record = scored_record(protocol, scored, reports, fingerprints, model_name=model_name, seed=seed,
                           framework=framework, parameter_count=parameter_count, updates=updates,
                           train_data=train_data, command=command or f"seqtasks.score({name!r}, ...)")
    if out is not None:
        write_record(record, out)
    return record


def _check_splits(protocol: Protocol, what: str, given: Mapping[str, Any]) -> None:
    """Every evaluation split present, nothing else."""
    if not isinstance(given, Mapping):
        raise PredictionError(protocol.name, what, type(given).__name__, "a dict {split: value}")
    missing = [split for split in protocol.eval_splits if split not in given]
    extra = sorted(set(given) - set(protocol.eval_splits))
    if missing or extra:
        raise PredictionError(protocol.name, f"{what} splits", str(sorted(given)), "exactly " + ", ".join(protocol.eval_splits),
                              ("missing " + ", ".join(missing)) if missing else ("unknown " + ", ".join(extra)))


def score(
    name: str,
    predict: Callable[[ModelBatch], Any],
    *,
    model_name: str,
    seed: int,
    framework: str = "unstated",
    parameter_count: int | None = None,
    updates: int | None = None,
    logits: bool = False,
    train_data: str = PROTOCOL_TRAIN_DATA,
    batch_size: int = 256,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Scores a model on every evaluation split of a benchmark config under its protocol.

    ``predict`` gets each evaluation batch (``protocol.eval_batches(split, batch_size)``: a
    ``ModelBatch`` with ``ids``, ``one_hot`` or ``features`` as numpy, padded to its own
    longest example) and returns the model's outputs for it as anything ``np.asarray``
    takes (a numpy, JAX or detached PyTorch array), in the layout of :func:`output_spec`.

    Returns:
        The record (``docs/results.schema.json``, ``$defs/scored_run``); see :func:`score_predictions`
        for the other arguments and the checks.

    Raises:
        PredictionError: Outputs that do not fit the published split (nothing is written).
    """
    from seqtasks.protocols import protocol as get_protocol

    _check_arguments(model_name, seed, framework, parameter_count, updates, logits, train_data)
    check_integer("batch_size", batch_size, 1)
    if not callable(predict):
        raise ValueError(f"invalid predict={short_repr(predict)}; allowed: a function of a ModelBatch")
    protocol = get_protocol(name)
    predictions = {split: _predict_split(protocol, split, predict, batch_size) for split in protocol.eval_splits}
    return score_predictions(name, predictions, model_name=model_name, seed=seed, framework=framework,
                             parameter_count=parameter_count, updates=updates, logits=logits,
                             train_data=train_data, command=f"seqtasks.score({name!r}, predict, ...)", out=out)


def _predict_split(protocol: Protocol, split: str, predict: Callable[[Any], Any], batch_size: int) -> np.ndarray:
    """``predict`` on each evaluation batch, checked per batch and joined in split order at the split's width."""
    spec = output_spec(protocol)
    parts: list[np.ndarray] = []
    for index, batch in enumerate(protocol.eval_batches(split, batch_size)):
        field = f"predict(batch {index} of {split!r})"
        array = _as_array(protocol.name, field, predict(batch))
        steps = batch.targets.shape[1] if spec.per_step else None
        parts.append(_check_shape(protocol.name, field, array, spec, len(batch), steps))
    if not spec.per_step:
        return np.concatenate(parts)
    width = max(part.shape[1] for part in parts)
    joined = np.zeros((sum(len(part) for part in parts), width, spec.depth), dtype=parts[0].dtype)
    row = 0
    for part in parts:
        joined[row : row + len(part), : part.shape[1]] = part
        row += len(part)
    return joined


def scored_record(protocol: Protocol, metrics: Mapping[str, Mapping[str, float]], reports: Sequence[Mapping[str, Any]],
                  fingerprints: Mapping[str, str], *, model_name: str, seed: int, framework: str,
                  parameter_count: int | None, updates: int | None, train_data: str, command: str) -> dict[str, Any]:
    """The record of a scored model: the run format of ``docs/results.json`` plus what the framework run states."""
    from seqtasks.environment import machine_description, software_versions

    task = protocol.task
    differs = departures(protocol, updates, train_data)
    training = protocol.training
    return task_metrics._json_safe({  # noqa: SLF001 - the one strict-JSON conversion of the numpy core
        "kind": RECORD_KIND,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": task.name,
        "dataset": protocol.name,
        "config": task.config.to_dict(),
        "dataset_version": protocol.dataset_version,
        "published_config": True,
        "fingerprints": dict(fingerprints),
        "target": protocol.target or task.targets()[0],
        "model": model_name,
        "framework": framework,
        "parameter_count": parameter_count,
        "seed": seed,
        "follows_protocol": not differs,
        "departures": differs,
        "budget": {"updates": updates, "protocol_updates": protocol.updates, "batch_size": training.batch_size,
                   "matched_to": training.budget_matched_to},
        "train_data": {"source": ("protocol.train_batches(seed)" if train_data == PROTOCOL_TRAIN_DATA else train_data),
                       "follows_protocol": train_data == PROTOCOL_TRAIN_DATA, "protocol_data": training.data,
                       "protocol_batching": training.batching},
        "sequences_seen": updates * training.batch_size if updates is not None and not differs else None,
        "metrics": {split: dict(values) for split, values in metrics.items()},
        "length_scores": {report["split"]: report["score"] for report in reports} or None,
        "length_curves": {report["split"]: [[row["length"], row.get(report["metric"])] for row in report["rows"]]
                          for report in reports},
        "versions": software_versions(),
        "machine": machine_description(),
        "command": command,
    })


def write_record(record: Mapping[str, Any], path: str | Path) -> Path:
    """Writes a record as indented strict JSON, atomically (a temporary file renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~current_umask())  # mkstemp makes 0600; the record gets what umask implies
        with os.fdopen(handle, "w") as stream:
            stream.write(json.dumps(record, indent=1, allow_nan=False) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# -- Predictions files (``seqtasks score NAME --predictions FILE.npz``) -----------------------------------


def save_predictions(path: str | Path, name: str, predictions: Mapping[str, Any],
                     inputs: Mapping[str, Any]) -> Path:
    """Writes a predictions file for ``seqtasks score``.

    Layout of the ``.npz`` (``np.savez_compressed``):

    * ``format``: the string ``"seqtasks-predictions-1"``; ``dataset``: ``"task/config"``;
      ``dataset_version``: the protocol's dataset version;
    * ``<split>``, for every split of ``protocol.eval_splits``: the outputs on the whole split in
      published order, float, in the layout of :func:`output_spec` (per-step outputs padded
      with zeros to the split's longest example);
    * ``inputs_sha256_<split>``: :func:`inputs_digest` of the examples predicted on, in order.

    Args:
        path: The ``.npz`` file.
        name: ``"task/config"``.
        predictions: ``{split: array}``, or ``{split: [per-batch arrays]}`` (joined in order, each
            padded with zeros to the widest).
        inputs: ``{split: examples}``: what the model was fed, as :func:`inputs_digest` takes.
    """
    from seqtasks.protocols import protocol as get_protocol

    protocol = get_protocol(name)
    arrays: dict[str, np.ndarray] = {"format": np.asarray(PREDICTIONS_FORMAT), "dataset": np.asarray(protocol.name),
                                     "dataset_version": np.asarray(protocol.dataset_version)}
    for split, value in predictions.items():
        arrays[str(split)] = _join_batches(value) if isinstance(value, (list, tuple)) else np.asarray(value)
    for split, examples in inputs.items():
        arrays[INPUTS_DIGEST_KEY.format(split=split)] = np.asarray(inputs_digest(protocol, examples))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def _join_batches(parts: Sequence[Any]) -> np.ndarray:
    """Per-batch outputs joined along axis 0, each zero-padded along axis 1 to the widest."""
    arrays = [np.asarray(part) for part in parts]
    if arrays[0].ndim < 3:
        return np.concatenate(arrays)
    width = max(array.shape[1] for array in arrays)
    return np.concatenate([np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2)) for a in arrays])


def load_predictions(path: str | Path, name: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Reads and checks a predictions file's layout (:func:`save_predictions`).

    Returns:
        ``({split: predictions}, {split: inputs digest})``.

    Raises:
        PredictionError: A missing, unknown or mismatched entry.
    """
    from seqtasks.protocols import protocol as get_protocol

    protocol = get_protocol(name)
    try:
        with np.load(path, allow_pickle=False) as data:
            entries = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise PredictionError(protocol.name, "predictions file", str(path), "an .npz file (np.savez)",
                              str(error)) from error
    splits = protocol.eval_splits
    digests = [INPUTS_DIGEST_KEY.format(split=split) for split in splits]
    allowed = ["format", "dataset", "dataset_version", *splits, *digests]
    extra = sorted(set(entries) - set(allowed))
    missing = [key for key in allowed if key not in entries]
    if extra or missing:
        raise PredictionError(protocol.name, "predictions file entries", f"{sorted(entries)}",
                              "exactly " + ", ".join(allowed),
                              ("missing " + ", ".join(missing)) if missing else ("unknown " + ", ".join(extra)))
    for key, expected in (("format", PREDICTIONS_FORMAT), ("dataset", protocol.name),
                          ("dataset_version", protocol.dataset_version)):
        got = str(entries[key]) if entries[key].dtype.kind in "US" else repr(entries[key])
        if got != expected:
            raise PredictionError(protocol.name, f"predictions file {key}", got, repr(expected))
    return ({split: entries[split] for split in splits},
            {split: str(entries[key]) for split, key in zip(splits, digests)})
