"""Static checks of a compiled Keras recurrent model for the seed threads' failure modes.

``check(model, dataset=None, task=None)`` inspects the layers, the compiled loss
and metrics, and (when given) a few batches of data, and returns one
:class:`Finding` per problem, each with the fix. Every rule comes from a seed
thread that reproduced in the failure zoo (``baselines/zoo/``); see
``docs/stability.md`` for the evidence behind each one.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np

SEVERITIES = ("error", "warning", "info")

# Activations that keep the LSTM/GRU state bounded; anything else inside the recurrence
# can blow up (relu, elu, linear) or collapse to zero (softmax).
BOUNDED_STATE_ACTIVATIONS = ("tanh",)
UNBOUNDED_ACTIVATIONS = ("relu", "elu", "selu", "linear", "softplus", "exponential", "gelu", "silu", "swish", "leaky_relu", "relu6", "mish")
REGRESSION_LOSSES = (
    "mse",
    "mae",
    "mape",
    "msle",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "cosine_similarity",
)
ACCURACY_METRICS = ("accuracy", "acc", "categorical_accuracy", "binary_accuracy", "sparse_categorical_accuracy")
CATEGORICAL_CROSSENTROPY = ("categorical_crossentropy", "CategoricalCrossentropy")
RECURRENT_LAYERS = ("LSTM", "GRU", "SimpleRNN")
MASK_PRODUCING_LAYERS = ("Masking",)
NORMALISING_LAYERS = ("Normalization", "BatchNormalization", "LayerNormalization", "Rescaling", "GroupNormalization", "UnitNormalization")
NON_CAUSAL_LAYERS = ("Bidirectional", "MultiHeadAttention", "Attention", "AdditiveAttention")

# Input statistics beyond which a float input counts as unnormalised.
MAX_ABS_MEAN = 3.0
MAX_STD = 10.0
DATASET_BATCHES = 4


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem found by :func:`check`.

    Attributes:
        rule_id: Stable identifier, e.g. ``"recurrent-activation"`` (see :data:`RULES`).
        severity: ``"error"`` (training is known to fail), ``"warning"`` (likely wrong or
            much worse than it should be) or ``"info"`` (slower than needed).
        message: What was found, naming the layer and the setting.
        fix: The change that removes the problem.
        layer: Name of the offending layer, or ``None`` for model-level findings.
    """

    rule_id: str
    severity: str
    message: str
    fix: str
    layer: str | None = None

    def __str__(self) -> str:
        where = f" [{self.layer}]" if self.layer else ""
        return f"{self.severity.upper()} {self.rule_id}{where}: {self.message} Fix: {self.fix}"


RULES: dict[str, str] = {
    "recurrent-activation": "Non-tanh activation inside a recurrent cell (seed 000: softmax, seed 001: relu).",
    "sigmoid-categorical-crossentropy": "Sigmoid output trained with categorical cross-entropy (seed 003).",
    "stateful-independent-sequences": "stateful=True while every batch holds independent sequences (seed 004).",
    "unidirectional-future-context": "Causal model on a task whose targets need later inputs (seed 004).",
    "unnormalised-inputs": "Float inputs far from zero mean / unit scale (seed 003).",
    "padding-without-masking": "Padded sequences read by a recurrent layer without a mask (seed 002).",
    "accuracy-on-regression": "'accuracy' metric on a regression loss (seed 002).",
    "cudnn-disabled": "Settings that drop the fused cuDNN kernel on GPU (seed 001).",
}


def check(model: Any, dataset: Any = None, task: Any = None) -> list[Finding]:
    """Lints a compiled Keras model for known recurrent-training failures.

    Args:
        model: A built (and, for the loss/metric rules, compiled) ``keras.Model``.
        dataset: Optional training data: a ``tf.data.Dataset`` or any iterable of
            ``(x, y[, sample_weight])`` batches, or one ``(x, y[, sample_weight])``
            tuple of arrays. Used for the input-statistics and padding rules; a
            dataset with a ``task`` attribute also supplies ``task``.
        task: Optional ``seqtasks.Task`` or ``"task/config"`` name; supplies
            ``needs_future_context`` and padding information.

    Returns:
        The findings, errors first; empty when nothing was found.
    """
    task = _resolve_task(task if task is not None else getattr(dataset, "task", None))
    layers = list(_walk_layers(model))
    inputs = _first_input_batch(dataset) if dataset is not None else None
    findings: list[Finding] = []
    findings += _recurrent_activation(layers)
    findings += _sigmoid_categorical_crossentropy(model, layers)
    findings += _stateful(layers, task)
    findings += _future_context(layers, task)
    findings += _unnormalised_inputs(layers, inputs)
    findings += _padding_without_masking(layers, inputs, task)
    findings += _accuracy_on_regression(model)
    findings += _cudnn_disabled(layers)
    return sorted(findings, key=lambda finding: SEVERITIES.index(finding.severity))


def _resolve_task(task: Any) -> Any:
    if isinstance(task, str):
        import seqtasks

        return seqtasks.make(task)
    return task


def _walk_layers(layer: Any) -> Iterable[Any]:
    """Every layer once, depth first, including nested models and wrapped layers."""
    seen: set[int] = set()

    def visit(parent: Any) -> Iterable[Any]:
        children = list(getattr(parent, "layers", None) or [])
        # A Bidirectional's two directions share one config: lint the forward copy only, once.
        wrapped = getattr(parent, "forward_layer", None) if _kind(parent) == "Bidirectional" else getattr(parent, "layer", None)
        if wrapped is not None and hasattr(wrapped, "get_config"):
            children.append(wrapped)
        for child in children:
            if id(child) in seen or child is parent:
                continue
            seen.add(id(child))
            yield child
            yield from visit(child)

    yield from visit(layer)


def _kind(layer: Any) -> str:
    return type(layer).__name__


def _activation_name(activation: Any) -> str:
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", type(activation).__name__)


def _recurrent(layers: list[Any]) -> list[Any]:
    return [layer for layer in layers if _kind(layer) in RECURRENT_LAYERS]


def _recurrent_activation(layers: list[Any]) -> list[Finding]:
    findings = []
    for layer in _recurrent(layers):
        name = _activation_name(getattr(layer, "activation", None))
        if name in BOUNDED_STATE_ACTIVATIONS:
            continue
        if name == "softmax":
            why = (
                "softmax inside the cell normalises the candidate and output over units, so once the output gates "
                "close every unit's output underflows to 0; a softmax cross-entropy on outputs that sum to 0 computes 0/0 "
                "(seed 000)."
            )
        elif name in UNBOUNDED_ACTIVATIONS:
            why = (
                f"{name} is applied to the cell input and the cell state, so the state can grow geometrically "
                "over time steps and overflow to inf in the forward pass, where gradient clipping cannot help (seed 001)."
            )
        else:
            why = f"{name} replaces tanh on the cell input and the cell state, which the gates assume is bounded in [-1, 1]."
        findings.append(
            Finding(
                "recurrent-activation",
                "error",
                f"{_kind(layer)} '{layer.name}' uses activation='{name}' inside the recurrence: {why}",
                f"Keep activation='tanh' in the {_kind(layer)}; put any other nonlinearity in a layer after it "
                "(e.g. Dense(units, activation=...) or a softmax output layer).",
                layer.name,
            )
        )
    return findings


def _loss_and_metrics(model: Any) -> tuple[list[str], list[str]]:
    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    losses = _names(config.get("loss"))
    metrics = _names(config.get("metrics")) + _names(config.get("weighted_metrics"))
    return losses, metrics


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return list(itertools.chain.from_iterable(_names(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return list(itertools.chain.from_iterable(_names(v) for v in value))
    return [getattr(value, "name", None) or getattr(value, "__name__", None) or type(value).__name__]


def _loss_objects(model: Any) -> list[Any]:
    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    loss = config.get("loss")
    if isinstance(loss, dict):
        return list(loss.values())
    if isinstance(loss, (list, tuple)):
        return list(loss)
    return [loss] if loss is not None else []


def _output_layers(model: Any, layers: list[Any]) -> list[Any]:
    outputs = getattr(model, "outputs", None)
    found = []
    for tensor in outputs or []:
        history = getattr(tensor, "_keras_history", None)
        if history is not None:
            found.append(history[0])
    if not found and layers:
        found = [layers[-1]]
    resolved = []
    for layer in found:
        # A TimeDistributed(Dense) output: the activation lives on the wrapped layer.
        resolved.append(getattr(layer, "layer", layer) if _kind(layer) == "TimeDistributed" else layer)
    return resolved


def _sigmoid_categorical_crossentropy(model: Any, layers: list[Any]) -> list[Finding]:
    losses, _ = _loss_and_metrics(model)
    uses_cce = any(name in CATEGORICAL_CROSSENTROPY for name in losses)
    from_logits = any(getattr(loss, "from_logits", False) for loss in _loss_objects(model))
    if not uses_cce or from_logits:
        return []
    findings = []
    for layer in _output_layers(model, layers):
        name = _activation_name(getattr(layer, "activation", None))
        if _kind(layer) == "Activation":
            name = _activation_name(layer.activation)
        if name != "sigmoid":
            continue
        units = getattr(layer, "units", None)
        single = " With a single output unit the softmax is 1 and the loss is exactly 0." if units == 1 else ""
        findings.append(
            Finding(
                "sigmoid-categorical-crossentropy",
                "error",
                f"output layer '{layer.name}' has activation='sigmoid' but the loss is categorical cross-entropy: Keras 3 "
                "silently takes the sigmoid's logits and computes a softmax cross-entropy, so the loss no longer "
                f"measures the sigmoid outputs (seed 003).{single}",
                "Use softmax with categorical_crossentropy for one label per example, or sigmoid with "
                "binary_crossentropy for independent (multi-hot or binary) labels.",
                layer.name,
            )
        )
    return findings


def _is_non_causal(layers: list[Any]) -> bool:
    return any(_kind(layer) in NON_CAUSAL_LAYERS for layer in layers)


def _stateful(layers: list[Any], task: Any) -> list[Finding]:
    findings = []
    for layer in _recurrent(layers):
        if not getattr(layer, "stateful", False):
            continue
        severity = "error" if task is not None else "warning"
        source = f"{task.name} examples are" if task is not None else "unless consecutive batches continue the same sequences, examples are"
        findings.append(
            Finding(
                "stateful-independent-sequences",
                severity,
                f"{_kind(layer)} '{layer.name}' has stateful=True, so each batch starts from the previous batch's final "
                f"state, but {source} independent sequences: the state leaks one sequence into another (seed 004).",
                "Set stateful=False (the default); use stateful=True only when batch i+1 continues the sequences "
                "of batch i, and then call reset_states() between independent streams.",
                layer.name,
            )
        )
    return findings


def _future_context(layers: list[Any], task: Any) -> list[Finding]:
    if task is None or not getattr(task, "needs_future_context", False):
        return []
    recurrent = _recurrent(layers)
    if not recurrent or _is_non_causal(layers):
        return []
    return [
        Finding(
            "unidirectional-future-context",
            "error",
            f"{task.name}: the target at step t depends on inputs after t, but the model only has unidirectional "
            f"recurrent layers ({', '.join(layer.name for layer in recurrent)}), which must emit each step's output "
            "before seeing those inputs (seed 004).",
            "Wrap the recurrent layer in keras.layers.Bidirectional(...), or use an encoder-decoder that reads "
            "the whole input before emitting.",
            recurrent[0].name,
        )
    ]


def _has_normalisation_before_recurrence(layers: list[Any]) -> bool:
    for layer in layers:
        if _kind(layer) in RECURRENT_LAYERS or _kind(layer) == "Bidirectional":
            return False
        if _kind(layer) in NORMALISING_LAYERS:
            return True
    return False


def _unnormalised_inputs(layers: list[Any], inputs: np.ndarray | None) -> list[Finding]:
    if inputs is None or not np.issubdtype(inputs.dtype, np.floating) or inputs.size == 0:
        return []
    if _has_normalisation_before_recurrence(layers):
        return []
    values = inputs.astype(np.float64)
    mean, std = float(values.mean()), float(values.std())
    if abs(mean) <= MAX_ABS_MEAN and std <= MAX_STD:
        return []
    return [
        Finding(
            "unnormalised-inputs",
            "warning",
            f"training inputs have mean {mean:.3g} and standard deviation {std:.3g} (allowed: |mean| <= {MAX_ABS_MEAN}, "
            f"std <= {MAX_STD}); large inputs saturate gates and blow up the first updates (seed 003).",
            "Standardise the inputs (subtract the training mean, divide by the standard deviation), e.g. with a "
            "keras.layers.Normalization layer adapted on the training data as the first layer.",
            None,
        )
    ]


def _has_mask(layers: list[Any]) -> bool:
    for layer in layers:
        if _kind(layer) in MASK_PRODUCING_LAYERS:
            return True
        if _kind(layer) == "Embedding" and getattr(layer, "mask_zero", False):
            return True
    return False


def _is_padded(inputs: np.ndarray | None, task: Any) -> bool:
    # Integer ids can use 0 as a real token, so only float (one-hot or feature) rows identify padding.
    floating = inputs is not None and np.issubdtype(inputs.dtype, np.floating)
    if floating and inputs.ndim >= 2 and inputs.shape[1] > 1:
        steps = inputs.reshape(inputs.shape[0], inputs.shape[1], -1)
        empty = ~np.any(steps != 0, axis=-1)
        # Padding: a row whose last step is empty while an earlier step is not.
        return bool(np.any(empty[:, -1] & ~empty.all(axis=1)))
    if task is not None and getattr(task, "sequence_fields", ()):
        lengths = np.asarray(task.sample(64, seed=0).get("length", []))
        return lengths.size > 0 and int(lengths.min()) != int(lengths.max())
    return False


def _padding_without_masking(layers: list[Any], inputs: np.ndarray | None, task: Any) -> list[Finding]:
    recurrent = _recurrent(layers)
    if not recurrent or _has_mask(layers) or not _is_padded(inputs, task):
        return []
    # Per-step outputs of a causal layer are unaffected by later padding (the loss weights drop the padded
    # steps); a final state, or a backward direction, reads the padding.
    reads_padding = [
        layer for layer in recurrent if not getattr(layer, "return_sequences", False) or getattr(layer, "go_backwards", False)
    ]
    reads_padding += [layer for layer in layers if _kind(layer) == "Bidirectional"]
    if not reads_padding:
        return []
    layer = reads_padding[0]
    return [
        Finding(
            "padding-without-masking",
            "warning",
            f"sequences are zero-padded to a common length but no layer produces a mask, so '{layer.name}' runs its "
            "recurrence over the padding and its result depends on how much padding an example got (seed 002).",
            "Add keras.layers.Masking(mask_value=0.0) before the recurrent layer (one-hot inputs) or use "
            "Embedding(..., mask_zero=True) (integer inputs with 0 reserved for padding).",
            layer.name,
        )
    ]


def _accuracy_on_regression(model: Any) -> list[Finding]:
    losses, metrics = _loss_and_metrics(model)
    regression = [name for name in losses if name.lower() in REGRESSION_LOSSES or name in ("MeanSquaredError", "MeanAbsoluteError")]
    accuracy = [name for name in metrics if name in ACCURACY_METRICS]
    if not regression or not accuracy:
        return []
    return [
        Finding(
            "accuracy-on-regression",
            "warning",
            f"metric '{accuracy[0]}' on the regression loss '{regression[0]}': accuracy compares rounded or arg-maxed "
            "real-valued vectors and says nothing about the regression (seed 002).",
            "Report the loss itself or a regression metric (mean absolute error, cosine similarity, or the rank of "
            "the true vector among all targets).",
            None,
        )
    ]


def _cudnn_disabled(layers: list[Any]) -> list[Finding]:
    findings = []
    for layer in _recurrent(layers):
        if _kind(layer) == "SimpleRNN":
            continue
        reasons = []
        if getattr(layer, "recurrent_dropout", 0.0):
            reasons.append(f"recurrent_dropout={layer.recurrent_dropout}")
        activation = _activation_name(getattr(layer, "activation", None))
        if activation != "tanh":
            reasons.append(f"activation='{activation}'")
        recurrent_activation = _activation_name(getattr(layer, "recurrent_activation", None))
        if recurrent_activation != "sigmoid":
            reasons.append(f"recurrent_activation='{recurrent_activation}'")
        if getattr(layer, "unroll", False):
            reasons.append("unroll=True")
        if not getattr(layer, "use_bias", True):
            reasons.append("use_bias=False")
        if _kind(layer) == "GRU" and not getattr(layer, "reset_after", True):
            reasons.append("reset_after=False")
        if getattr(layer, "use_cudnn", "auto") is False:
            reasons.append("use_cudnn=False")
        if not reasons:
            continue
        findings.append(
            Finding(
                "cudnn-disabled",
                "info",
                f"{_kind(layer)} '{layer.name}' cannot use the fused cuDNN kernel on GPU because of "
                f"{', '.join(reasons)}; it falls back to a step-by-step loop that is typically several times slower.",
                "Keep the cuDNN defaults (activation='tanh', recurrent_activation='sigmoid', recurrent_dropout=0, "
                "unroll=False, use_bias=True); regularise with dropout on the inputs or between layers instead.",
                layer.name,
            )
        )
    return findings


def _first_input_batch(dataset: Any) -> np.ndarray | None:
    """Float inputs from up to ``DATASET_BATCHES`` batches of ``dataset``, concatenated."""
    if isinstance(dataset, (tuple, list)) and dataset and hasattr(dataset[0], "shape"):
        return _inputs_array(dataset[0])
    batches = []
    for element in itertools.islice(iter(dataset), DATASET_BATCHES):
        x = element[0] if isinstance(element, (tuple, list)) else element
        array = _inputs_array(x)
        if array is not None:
            batches.append(array)
    if not batches:
        return None
    width = max(batch.shape[1] if batch.ndim > 1 else 0 for batch in batches)
    if any(batch.ndim > 1 and batch.shape[1] != width for batch in batches):
        batches = [batch for batch in batches if batch.ndim > 1 and batch.shape[1] == width]
    return np.concatenate(batches, axis=0)


def _inputs_array(x: Any) -> np.ndarray | None:
    if isinstance(x, dict):
        x = next(iter(x.values()), None)
    if x is None:
        return None
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)
