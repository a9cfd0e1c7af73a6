"""A Keras callback that stops at the first non-finite loss, weight or activation and says where it started."""

from __future__ import annotations

import json
import math
import pathlib
from typing import Any

import keras
import numpy as np


class NaNLocator(keras.callbacks.Callback):
    """Stops training at the first non-finite value and locates it.

    After every training batch the callback checks the batch's loss and (by
    default) every weight. With ``probe_inputs`` it also runs the batch through
    a probe model that exposes every layer's output, which catches a layer
    whose output overflows while the loss is still finite (a saturated sigmoid
    after an ``inf`` hides it, as in seed 001). On the first non-finite value it

    1. names the step (epoch, batch, global update) and what went non-finite;
    2. restores the last weights for which everything was finite;
    3. re-runs the failing batch (when inputs are known) through the probe model
       with those weights and names the first layer whose output is non-finite;
       if every output is finite, the non-finite value was born in the loss
       (e.g. 0/0) or in the update (gradients), and the report says which and
       lists the weights that went non-finite;
    4. sets ``model.stop_training`` and writes ``report`` as JSON and markdown.

    Cost: keeping the last finite weights copies every weight to host memory
    after each batch: one extra model-sized buffer (4.3 MB for seed 001's
    LSTM(512) on 16 features) and one device-to-host copy per update (measured
    in ``docs/stability.md``). The activation probe adds one inference forward
    pass per batch. Pass ``restore_weights=False`` or ``check_activations=False``
    to skip either. At a failure, if the inference pass is finite the batch is
    probed again in training mode, where dropout (including
    ``recurrent_dropout``'s 1/(1-rate) scaling) is active; its masks are redrawn,
    so that probe finds the layer but not necessarily the exact failing mask.

    Args:
        probe_inputs: Inputs of the current batch, for the activation check and
            the post-mortem: an array (the same batch every step, e.g. a fixed
            validation batch) or a callable ``probe_inputs(step) -> x`` for the
            0-based global update ``step``. Custom loops can instead call
            :meth:`set_batch` before each update.
        report_path: Where to write ``<report_path>.json`` and ``<report_path>.md``;
            ``None`` writes nothing (the report stays in :attr:`report`).
        check_weights: Check every weight after each batch.
        check_activations: Probe the layer outputs after each batch (needs inputs).
        restore_weights: Keep a copy of the last finite weights and restore it.

    Attributes:
        report: ``None`` until a non-finite value is found, then a dict with the
            1-based ``update``, the ``trigger`` (loss, weights or activation), the
            ``origin``, the first non-finite layer output, the non-finite weights and
            ``restored_weights_from_update`` (0: the initial weights).
    """

    def __init__(
        self,
        probe_inputs: Any = None,
        report_path: str | pathlib.Path | None = None,
        check_weights: bool = True,
        check_activations: bool = True,
        restore_weights: bool = True,
    ) -> None:
        super().__init__()
        self.probe_inputs = probe_inputs
        self.report_path = pathlib.Path(report_path) if report_path is not None else None
        self.check_weights = check_weights
        self.check_activations = check_activations
        self.restore_weights = restore_weights
        self.report: dict[str, Any] | None = None
        self._step = 0
        self._epoch = 0
        self._batch_inputs: Any = None
        self._last_finite_weights: list[np.ndarray] | None = None
        self._last_finite_step: int | None = None
        self._probe: keras.Model | None = None
        self._previous_mean: float | None = None

    # -- custom loops -------------------------------------------------------
    def set_batch(self, inputs: Any) -> None:
        """Tells the locator which inputs the next update uses (for ``train_on_batch`` loops)."""
        self._batch_inputs = inputs

    def after_update(self, loss: float, epoch: int = 0, batch: int | None = None) -> bool:
        """Runs the checks for one update of a custom loop.

        Args:
            loss: The update's loss as returned by ``train_on_batch``.
            epoch: Epoch number for the report.
            batch: Batch index within the epoch (default: the global update).

        Returns:
            True when a non-finite value was found (training should stop).
        """
        self._epoch = epoch
        self._check(float(np.asarray(loss).reshape(-1)[0]), self._step if batch is None else batch)
        self._step += 1
        return self.report is not None

    # -- keras callback hooks ----------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.restore_weights:
            self._remember_weights(step=-1)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._previous_mean = None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.report is not None:
            return
        mean = float((logs or {}).get("loss", float("nan")))
        # Keras reports the running mean over the epoch; recover this batch's loss from it.
        loss = mean if self._previous_mean is None else (mean * (batch + 1) - self._previous_mean * batch)
        self._previous_mean = mean
        self._check(loss, batch)
        self._step += 1

    # -- the checks ---------------------------------------------------------
    def _current_inputs(self) -> Any:
        if self._batch_inputs is not None:
            return self._batch_inputs
        if callable(self.probe_inputs):
            return self.probe_inputs(self._step)
        return self.probe_inputs

    def _check(self, loss: float, batch: int) -> None:
        trigger, detail = None, None
        if not math.isfinite(loss):
            trigger, detail = "loss", f"loss = {loss}"
        bad_weights = self._non_finite_weights() if self.check_weights else []
        if trigger is None and bad_weights:
            trigger, detail = "weights", f"{len(bad_weights)} weight tensor(s) non-finite after the update"
        inputs = self._current_inputs()
        after_update_output = None
        if trigger is None and self.check_activations and inputs is not None:
            after_update_output = self._first_non_finite_output(inputs)
            if after_update_output is not None:
                trigger = "activation"
                detail = f"output of layer '{after_update_output['layer']}' non-finite with the weights after this update"
        if trigger is None:
            if self.restore_weights:
                self._remember_weights(self._step)
            return
        self._stop(trigger, detail, loss, batch, bad_weights, inputs, after_update_output)

    def _stop(
        self,
        trigger: str,
        detail: str,
        loss: float,
        batch: int,
        bad_weights: list[dict],
        inputs: Any,
        after_update_output: dict | None = None,
    ) -> None:
        restored = False
        if self.restore_weights and self._last_finite_weights is not None:
            self.model.set_weights(self._last_finite_weights)
            restored = True
        # With the restored (pre-update) weights, the failing batch's forward pass shows whether the
        # overflow is in the forward pass (a layer output) or came from the update.
        first_output = self._first_non_finite_output(inputs) if inputs is not None else None
        if first_output is None and inputs is not None:
            # Dropout (recurrent_dropout scales kept units by 1/(1-rate)) only runs in training mode; its
            # masks are redrawn here, so this finds the layer but not the exact failing mask.
            first_output = self._first_non_finite_output(inputs, training=True)
        if first_output is not None:
            origin = f"forward pass ({first_output['mode']} mode)"
        elif after_update_output is not None:
            # The weights before the update were fine on this batch; the update made the layer overflow.
            first_output = after_update_output
            origin = "update (the new weights overflow this layer's output in the forward pass; the restored weights do not)"
        elif inputs is not None and restored and trigger == "loss":
            origin = "loss (every layer output is finite; the loss function itself produced it, e.g. 0/0 or log(0))"
        elif inputs is not None and restored:
            origin = "update (the forward pass on the restored weights is finite; gradients or the optimizer step overflowed)"
        else:
            origin = "unknown (no inputs to probe)"
        self.report = {
            "update": self._step + 1,
            "epoch": self._epoch,
            "batch": batch,
            "trigger": trigger,
            "detail": detail,
            "loss": loss if math.isfinite(loss) else str(loss),
            "origin": origin,
            "first_non_finite_output": first_output,
            "non_finite_weights": bad_weights,
            "restored_weights_from_update": self._last_finite_step + 1 if restored else None,
            "report_files": (
                [str(self.report_path.with_suffix(".json")), str(self.report_path.with_suffix(".md"))] if self.report_path is not None else []
            ),
        }
        self.model.stop_training = True
        if self.report_path is not None:
            self.report_path.parent.mkdir(parents=True, exist_ok=True)
            self.report_path.with_suffix(".json").write_text(json.dumps(self.report, indent=2))
            self.report_path.with_suffix(".md").write_text(self.markdown())

    def markdown(self) -> str:
        """The report as a short markdown text (empty before a failure)."""
        if self.report is None:
            return ""
        r = self.report
        lines = [
            "# NaN locator report",
            "",
            f"- update: {r['update']} (1-based; epoch {r['epoch']}, batch {r['batch']})",
            f"- trigger: {r['trigger']} ({r['detail']})",
            f"- loss: {r['loss']}",
            f"- origin: {r['origin']}",
        ]
        if r["first_non_finite_output"]:
            o = r["first_non_finite_output"]
            lines.append(
                f"- first non-finite tensor: output {o['output_index']} of layer '{o['layer']}' ({o['layer_class']}), "
                f"{o['nan']} NaN and {o['inf']} inf of {o['size']} values in {o['mode']} mode; its input max |x| = {o['input_max_abs']}"
            )
        for w in r["non_finite_weights"][:5]:
            lines.append(f"- non-finite weight: {w['layer']}/{w['weight']} ({w['nan']} NaN, {w['inf']} inf of {w['size']})")
        restored = r["restored_weights_from_update"]
        if restored is None:
            lines.append("- weights not restored")
        else:
            lines.append(f"- weights restored to those after update {restored}" if restored else "- weights restored to the initial ones")
        return "\n".join(lines) + "\n"

    def _remember_weights(self, step: int) -> None:
        self._last_finite_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
        self._last_finite_step = step

    def _non_finite_weights(self) -> list[dict]:
        bad = []
        for layer in self.model.layers:
            for weight in layer.weights:
                value = keras.ops.convert_to_numpy(weight)
                if not np.all(np.isfinite(value)):
                    bad.append(
                        {
                            "layer": layer.name,
                            "weight": weight.path if hasattr(weight, "path") else weight.name,
                            "nan": int(np.isnan(value).sum()),
                            "inf": int(np.isinf(value).sum()),
                            "size": int(value.size),
                        }
                    )
        return bad

    def _probe_model(self) -> keras.Model:
        if self._probe is None:
            layers = [layer for layer in self.model.layers if not isinstance(layer, keras.layers.InputLayer)]
            outputs = [layer.output for layer in layers]
            inputs = self.model.inputs
            self._probe = keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs)
            self._probe_layers = layers
        return self._probe

    def _first_non_finite_output(self, inputs: Any, training: bool = False) -> dict | None:
        probe = self._probe_model()
        outputs = probe(inputs, training=True) if training else probe.predict_on_batch(inputs)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        previous_max = float(np.max(np.abs(np.asarray(inputs, dtype=np.float64)))) if _is_array(inputs) else None
        for layer, output in zip(self._probe_layers, outputs):
            tensors = output if isinstance(output, (list, tuple)) else [output]
            for index, tensor in enumerate(tensors):
                value = keras.ops.convert_to_numpy(tensor)
                finite = np.isfinite(value)
                if not np.all(finite):
                    return {
                        "layer": layer.name,
                        "layer_class": type(layer).__name__,
                        "output_index": index,
                        "tensor": getattr(tensor, "name", f"{layer.name}/output_{index}"),
                        "nan": int(np.isnan(value).sum()),
                        "inf": int(np.isinf(value).sum()),
                        "size": int(value.size),
                        "input_max_abs": previous_max,
                        "mode": "training" if training else "inference",
                    }
            first = keras.ops.convert_to_numpy(tensors[0])
            previous_max = float(np.max(np.abs(first))) if first.size else 0.0
        return None


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "shape") and not isinstance(value, (dict, list, tuple))

