"""``doctor``: the stability kit on a saved model, for a user's own model (``seqtasks doctor MODEL.keras --task NAME``).

It runs the linter on the model, then a short probe training (``steps`` updates on
the task's published ``train`` split, seed 0) watched by the NaN locator and the
floor detector, and returns every finding with its fix. The model file is not
changed; the probe trains a copy loaded from it.
"""

from __future__ import annotations

import dataclasses
import pathlib
import warnings
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from seqtasks.config import check_integer
from seqtasks.encoding import to_supervised
from seqtasks.stability.floor import FloorDetector, take_rows, task_floor
from seqtasks.stability.linter import Finding, check
from seqtasks.stability.nan_locator import NaNLocator

DEFAULT_STEPS = 50
DEFAULT_BATCH_SIZE = 32
PROBLEM_SEVERITIES = ("error", "warning")

_NAN_FIXES = {
    "forward": "the forward pass overflows: keep activation='tanh' inside recurrent layers (a relu cell state grows "
    "without bound), normalise the inputs, and lower the learning rate; gradient clipping cannot help a forward overflow",
    "loss": "the loss computed 0/0 or log(0): give the model a Dense output layer with the activation the loss expects "
    "(softmax for categorical cross-entropy, sigmoid for binary) instead of an activation inside the recurrent layer",
    "update": "an update overflowed the weights: lower the learning rate, clip gradients (clipnorm=1.0), and fix the "
    "linter's errors",
}


@dataclasses.dataclass(frozen=True)
class DoctorReport:
    """What :func:`doctor` found.

    Attributes:
        model: The model file (or ``"<model>"`` for a model object).
        task: The ``task/config`` name.
        findings: Linter findings, then the probe's (``nan-in-training``, ``loss-below-floor``), each with its fix.
        probe: The probe training: ``updates``, ``batch_size``, ``target``, ``losses`` (first and last),
            ``nan_report`` and ``floor_check`` (the detectors' records).
    """

    model: str
    task: str
    findings: tuple[Finding, ...]
    probe: Mapping[str, Any]

    @property
    def healthy(self) -> bool:
        """No finding of severity error or warning (infos are about speed only)."""
        return not any(finding.severity in PROBLEM_SEVERITIES for finding in self.findings)

    def text(self) -> str:
        """The report as printed by ``seqtasks doctor``: one finding per paragraph, or ``nothing to report``."""
        probe = self.probe
        lines = [
            f"doctor: {self.model} on {self.task} (linter, then {probe['updates']} probe updates of batch "
            f"{probe['batch_size']} on the published train split)"
        ]
        lines += [f"- {finding}" for finding in self.findings] or ["nothing to report"]
        return "\n".join(lines) + "\n"


def load_model(path: str | pathlib.Path) -> keras.Model:
    """The Keras model saved at ``path``; ``ValueError`` with one line when it is missing or not a model."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"invalid model={str(path)!r}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(path)
    except Exception as error:  # noqa: BLE001 (Keras raises many kinds; the user gets one line)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"invalid model={str(path)!r}: not a loadable Keras model ({reason[:200]})") from None
    if not isinstance(model, keras.Model) or model.optimizer is None or not hasattr(model, "loss"):
        raise ValueError(f"invalid model={str(path)!r}: not a compiled Keras model (save it after model.compile)")
    return model


def _loss_name(model: keras.Model) -> str:
    loss = model.loss
    return str(getattr(loss, "name", None) or getattr(loss, "__name__", None) or loss).lower()


def encode_for(task: Any, model: keras.Model, batch: Mapping[str, np.ndarray]) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """The task's supervised view that fits the model, encoded as the model reads it.

    Inputs are ids for a 2-D model input, else one-hot; the first of ``task.targets()``
    whose target fits the model's output is used (sparse ids become one-hot for a
    non-sparse categorical loss); a model built for a fixed width gets zero padding to it.

    Returns:
        ``(target, x, y, sample_weight)``.
    """
    input_shape, output_shape = model.inputs[0].shape, model.outputs[0].shape
    inputs = "ids" if len(input_shape) == 2 else "one_hot"
    sparse_loss, categorical_loss = "sparse" in _loss_name(model), "categorical" in _loss_name(model)
    for target in task.targets():
        x, y, weight = to_supervised(task, batch, inputs=inputs, target=target)
        ids = np.issubdtype(y.dtype, np.integer) and y.ndim == len(output_shape) - 1 and output_shape[-1] not in (None, 1)
        if ids and categorical_loss and not sparse_loss:
            y = np.eye(int(output_shape[-1]), dtype=np.float32)[y] * (weight > 0)[..., None]
        elif not ids and y.ndim == len(output_shape) - 1:
            y = y[..., None]
        if not (ids and sparse_loss) and (
            y.ndim != len(output_shape) or (output_shape[-1] is not None and y.shape[-1] != output_shape[-1])
        ):
            continue
        width = input_shape[1] if len(input_shape) >= 2 else None
        if width is not None and x.shape[1] != width:
            if x.shape[1] > width:
                continue
            pad = [(0, 0), (0, int(width) - x.shape[1])]
            x = np.pad(x, pad + [(0, 0)] * (x.ndim - 2))
            if weight.ndim == 2:  # per-step targets: padded steps carry no weight
                y = np.pad(y, pad + [(0, 0)] * (y.ndim - 2))
                weight = np.pad(weight, pad)
        return target, x, y, weight
    raise ValueError(
        f"invalid task={task.name!r} for this model: none of its targets ({', '.join(task.targets())}) fits the model's "
        f"output shape {tuple(output_shape)} with inputs of shape {tuple(input_shape)}"
    )


def _per_target_weights(weight: np.ndarray, batch_size: int) -> np.ndarray:
    """Sample weights scaled to mean 1 in every batch, so any loss reduction gives the mean over weighted targets
    (the unit of the task's loss floor)."""
    scaled = np.asarray(weight, dtype=np.float32).copy()
    for start in range(0, len(scaled), batch_size):
        block = scaled[start : start + batch_size]
        total = block.sum()
        if total > 0:
            scaled[start : start + batch_size] = block * (block.size / total)
    return scaled


def _nan_finding(report: Mapping[str, Any]) -> Finding:
    origin = str(report["origin"])
    kind = "forward" if origin.startswith("forward") else "loss" if origin.startswith("loss") else "update"
    output = report.get("first_non_finite_output") or {}
    where = f"; first non-finite output: layer '{output['layer']}'" if output else ""
    return Finding(
        "nan-in-training",
        "error",
        f"the probe training's {report['trigger']} became non-finite at update {report['update']}{where}; origin: {origin}.",
        _NAN_FIXES[kind],
        output.get("layer"),
    )


def _floor_finding(verdict: Mapping[str, Any]) -> Finding:
    return Finding(
        "loss-below-floor",
        "error",
        f"the training loss fell below the task's loss floor on data the model had not trained on (first at update "
        f"{verdict['first_error_update']}, {verdict['error_flags']} flags): no correct model gets there.",
        "make the loss measure the predictions: a sigmoid output needs binary cross-entropy, a softmax output "
        "categorical cross-entropy; check that no NaN is clipped into a tiny loss and that the targets are not in the inputs",
    )


def doctor(
    model: Any,
    task: Any,
    steps: int = DEFAULT_STEPS,
    *,
    batch_size: int | None = None,
) -> DoctorReport:
    """Lints a saved model and probes it with a short training on the task's published data.

    Args:
        model: A ``.keras`` file (path) or a compiled ``keras.Model`` (trained in place).
        task: A ``seqtasks.Task`` or ``"task/config"`` name.
        steps: Probe updates, >= 1 (each on new examples of the published train split).
        batch_size: Examples per update (default: the model's fixed batch size, else 32).

    Returns:
        The :class:`DoctorReport`.

    Raises:
        ValueError: A bad task name, step count, batch size or model file (one line).
    """
    import seqtasks

    the_task = seqtasks.make(task) if isinstance(task, str) else task
    check_integer("steps", steps, 1, numpy=False)
    if batch_size is not None:
        check_integer("batch_size", batch_size, 1, numpy=False)
    name = str(model) if isinstance(model, (str, pathlib.Path)) else "<model>"
    the_model = load_model(model) if isinstance(model, (str, pathlib.Path)) else model
    fixed = the_model.inputs[0].shape[0]
    size = int(fixed) if fixed is not None else batch_size or DEFAULT_BATCH_SIZE
    raw = the_task.generate("train", 0, steps * size, seed=0)
    target, x, y, weight = encode_for(the_task, the_model, raw)
    findings = list(check(the_model, dataset=(x[:size], y[:size]), task=the_task))
    locator = NaNLocator(probe_inputs=lambda step: x[step * size : (step + 1) * size])
    floor = None
    if target == the_task.targets()[0] and the_task.loss_floor(take_rows(raw, slice(0, size))) is not None:
        floor = FloorDetector(
            the_task, batch_floor=lambda epoch, batch: task_floor(the_task, take_rows(raw, slice(batch * size, (batch + 1) * size))),
            repeats=False,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every finding is returned; the detectors' warnings would repeat them
        history = the_model.fit(
            x, y, sample_weight=_per_target_weights(weight, size), batch_size=size, epochs=1, shuffle=False, verbose=0,
            callbacks=[locator, *([floor] if floor is not None else [])],
        ).history
    if locator.report is not None:
        findings.append(_nan_finding(locator.report))
    if floor is not None and floor.verdict["verdict"] == "error":
        findings.append(_floor_finding(floor.verdict))
    probe = {
        "updates": steps,
        "batch_size": size,
        "target": target,
        "epoch_loss": history.get("loss", [None])[-1],
        "nan_report": locator.report,
        "floor_check": floor.verdict if floor is not None else None,
    }
    return DoctorReport(name, task if isinstance(task, str) else the_task.name, tuple(findings), probe)
