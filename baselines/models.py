"""Stable recurrent baselines: ``lstm``, ``gru``, ``bilstm`` and ``bigru`` for every task.

The stable recipe, the same for every task (the fixes of the stability issue):

* tanh cells with the default sigmoid gates, no ``recurrent_dropout`` and
  ``unroll=False``, so Keras can use the fused cuDNN kernel on a GPU;
* a ``Masking`` layer, so zero-padded steps never update the state or count
  in the loss (inputs are one-hot, so a real step is never all zeros);
* an output head whose activation matches the target: softmax for sparse ids,
  sigmoid for multi-hot sets and binary labels, linear for dense vectors;
* Adam with ``clipnorm=1.0`` and a per-task learning rate (decayed to zero where
  the task's settings ask, ``learning_rate_schedule``).

Every (task, model) pair is registered as the recipe ``stable_<model>_<task>``,
for every registered task: a task without tuned settings below gets the
default ones, so a new task trains with no edit here. Input and output sizes
come from the task's supervised view and one generated example.
"""

from __future__ import annotations

import functools
from typing import Any

import keras

from baselines.learning_rates import PENDING_LEARNING_RATE, SELECTED_LEARNING_RATES
from baselines.recipes import (
    ALL_MODEL_KINDS,
    MODEL_KINDS,
    REFERENCE_MODELS,
    QuickSettings,
    Recipe,
    register_recipe,
    registered_recipe,
)
from seqtasks.config import check_integer
from seqtasks.protocols import protocol
from seqtasks.registry import get_preset, list_tasks, task_class
from seqtasks.tasks.base import SupervisedSpec, Task


def recipe_name(task_name: str, model: str) -> str:
    """The registry name of the stable recipe of ``model`` on a task or ``task/config``.

    A config with settings of its own (``"configs"`` in its task's settings, e.g. a
    protocol that trains differently) has its own recipe, ``stable_<model>_<task>.<config>``;
    any other config uses its task's recipe.
    """
    if model not in ALL_MODEL_KINDS:
        raise ValueError(f"invalid model={model!r}; allowed: one of " + ", ".join(ALL_MODEL_KINDS))
    task_class(task_name.partition("/")[0])  # raises for an unregistered task, naming the registered ones
    if model in REFERENCE_MODELS and protocol_exclusion(task_name, model):
        raise ValueError(
            f"invalid model={model!r} for task {task_name!r}; allowed: " + ", ".join(reference_model_tasks(model))
        )
    if task_name in config_recipe_tasks():
        return f"stable_{model}_{task_name.replace('/', '.')}"
    return f"stable_{model}_{task_name.partition('/')[0]}"


def config_recipe_tasks() -> tuple[str, ...]:
    """The ``task/config`` names with settings of their own (``"configs"`` in a task's settings)."""
    return tuple(f"{task}/{config}" for task, settings in _TASK_SETTINGS.items() for config in settings.get("configs", {}))


@functools.lru_cache(maxsize=32)
def _example_shapes(task: Task, target: str | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per-example shapes of one encoded example's ``x`` and ``y``."""
    from seqtasks.encoding import to_supervised

    x, y, _ = to_supervised(task, task.generate(task.splits[0], 0, 1, seed=0), inputs="one_hot", target=target)
    return tuple(x.shape[1:]), tuple(y.shape[1:])


def output_units(task: Task, spec: SupervisedSpec, target: str | None = None) -> int:
    """Width of the output layer for a task's supervised view."""
    if spec.target_kind == "binary":
        return 1
    if spec.target_kind == "dense":
        return int(_example_shapes(task, target)[1][-1])
    return int(spec.input_depth)  # sparse ids and multi-hot sets share the input alphabet


_LOSSES = {
    "sparse": ("softmax", keras.losses.SparseCategoricalCrossentropy, keras.metrics.SparseCategoricalAccuracy),
    "multi_hot": ("sigmoid", keras.losses.BinaryCrossentropy, keras.metrics.BinaryAccuracy),
    "dense": ("linear", keras.losses.MeanSquaredError, keras.metrics.CosineSimilarity),
    "binary": ("sigmoid", keras.losses.BinaryCrossentropy, keras.metrics.AUC),
}
DENSE_LOSSES = {"mse": keras.losses.MeanSquaredError, "cosine": keras.losses.CosineSimilarity}
"""Losses a dense (vector) target may train with; ``mse`` is the recipes' (``baselines.experiments.vector_loss``)."""


def build_model(
    task: Task,
    spec: SupervisedSpec,
    *,
    model: str,
    units: int,
    learning_rate: float,
    clipnorm: float = 1.0,
    target: str | None = None,
    loss: str | None = None,
) -> keras.Model:
    """Builds and compiles one stable baseline.

    Args:
        task: The task (supplies input and output sizes).
        spec: Its supervised view (``task.supervised_spec(target)``).
        model: One of ``lstm``, ``gru``, ``bilstm``, ``bigru``, or a reference model (``rnn``,
            ``transformer``, ``stack_rnn``: :func:`reference_network`).
        units: Units per direction of the recurrent layer, >= 1 (the transformer has its fixed width).
        learning_rate: Adam learning rate, > 0.
        clipnorm: Gradient norm clipping of Adam, > 0.
        target: The supervised view ``spec`` describes (``None``: the default).
        loss: For a dense target, one of :data:`DENSE_LOSSES` (``None``: ``mse``); other targets
            take their one loss (``None`` only).

    Returns:
        A compiled ``keras.Model`` mapping ``(batch, time, features)`` inputs to
        per-step outputs (sparse and multi-hot targets) or one output per sequence.
    """
    if model not in ALL_MODEL_KINDS:
        raise ValueError(f"invalid model={model!r}; allowed: one of " + ", ".join(ALL_MODEL_KINDS))
    check_integer("units", units, 1, numpy=False)
    if not learning_rate > 0:
        raise ValueError(f"invalid learning_rate={learning_rate!r}; allowed: a number > 0")
    if spec.target_kind not in _LOSSES:
        raise ValueError(f"invalid target_kind={spec.target_kind!r}; allowed: one of " + ", ".join(_LOSSES))
    activation, loss_class, metric_class = _LOSSES[spec.target_kind]
    if loss is not None:
        if spec.target_kind != "dense" or loss not in DENSE_LOSSES:
            allowed = "one of " + ", ".join(DENSE_LOSSES) if spec.target_kind == "dense" else "None"
            raise ValueError(f"invalid loss={loss!r} for a {spec.target_kind} target; allowed: {allowed}")
        loss_class = DENSE_LOSSES[loss]
    if spec.input_depth is None:  # float inputs of a fixed shape (e.g. random_labels)
        inputs = keras.Input(shape=_example_shapes(task, target)[0], name="inputs")
        hidden = inputs
    else:  # one-hot inputs, zero rows at padding
        inputs = keras.Input(shape=(None, spec.input_depth), name="inputs")
        hidden = keras.layers.Masking(mask_value=0.0, name="padding_mask")(inputs)
    if model in REFERENCE_MODELS:
        hidden = reference_network(model, hidden, spec, units)
    else:
        cell_class = keras.layers.LSTM if model.endswith("lstm") else keras.layers.GRU
        recurrent = cell_class(units, return_sequences=spec.per_step, name=model.removeprefix("bi"))
        if model.startswith("bi"):
            recurrent = keras.layers.Bidirectional(recurrent, name=model)
        hidden = recurrent(hidden)
    outputs = keras.layers.Dense(output_units(task, spec, target), activation=activation, name="head")(hidden)
    network = keras.Model(inputs, outputs, name=f"{model}_{task.name}")
    network.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        # Per-step losses average over the weighted (real, predicted) steps, not over padding too,
        # so the loss is in the unit of ``task.loss_floor`` whatever the padding of a batch.
        loss=loss_class(reduction="mean_with_sample_weight"),
        weighted_metrics=[metric_class()],
    )
    return network


# -- Reference models of Deletang et al. (2023) (issue 26) ------------------------------------------------
# rnn, transformer and stack_rnn (baselines/architectures.py) beside the recurrent baselines, on the configs
# whose settings list them in "models" (reverse_string and embedded Reber), on the same data and budget.

STACK_CELL_SIZE = 8
"""Numbers per stack cell of ``stack_rnn`` (Deletang et al.'s memory cell size, ``experiments/example.py``)."""


def reference_network(model: str, hidden: Any, spec: SupervisedSpec, units: int) -> Any:
    """The body of a reference model on masked one-hot inputs ``hidden`` (before the output layer).

    ``rnn`` and ``stack_rnn`` end with a ReLU, as ``make_rnn`` of Deletang et al. applies one to the core's
    outputs before its linear output layer; ``rnn`` is Keras's ``SimpleRNN`` (tanh), the vanilla core of
    their ``hk.VanillaRNN`` (one bias where theirs has two). The transformer is causal on a next-symbol
    view (targets ``target_offset`` steps ahead, e.g. Reber) and reads the whole sequence otherwise.
    """
    from baselines.architectures import StackRNN, TransformerEncoder

    if spec.input_depth is None:
        raise ValueError(f"invalid model={model!r} for float inputs; allowed: a task with one-hot inputs")
    if model == "transformer":
        if not spec.per_step:
            raise ValueError(f"invalid model={model!r} for a per-sequence target; allowed: a per-step target")
        return TransformerEncoder(causal=spec.target_offset > 0, name="transformer")(hidden)
    if model == "rnn":
        core = keras.layers.SimpleRNN(units, activation="tanh", return_sequences=spec.per_step, name="rnn")
    else:
        core = StackRNN(units, cell_size=STACK_CELL_SIZE, return_sequences=spec.per_step, name="stack_rnn")
    return keras.layers.Activation("relu", name="relu")(core(hidden))


def reference_model_tasks(model: str) -> tuple[str, ...]:
    """The task and ``task/config`` names whose protocol trains a reference ``model``."""
    names = [*_TASK_SETTINGS, *config_recipe_tasks()]
    return tuple(name for name in names if model in stable_settings(name).get("models", MODEL_KINDS))


# The stable recipe's settings for a task without tuned ones: its default preset, a mid-sized model.
# "quick" shrinks a run for `reproduce --quick` and smoke tests (minutes on 2 CPU cores).
_DEFAULT_SETTINGS: dict[str, Any] = {
    "units": 64,
    "learning_rate": 3e-3,
    "quick": {"epochs": 1, "train_size": 512, "eval_size": 256},
    "description": "the stable recipe at its default settings",
}

# Tuned settings of the stable recipe per task: model hyperparameters only. What a model trains on, its
# batch size, budget and seeds are the task's protocol (`seqtasks.protocol(name).training`, declared in the
# task's file), and how it is scored is the task's too.
_TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "reber_grammar": {
        "task": "reber_grammar/embedded",
        "units": 64,
        "learning_rate": 3e-3,
        "models": (*MODEL_KINDS, "rnn", "transformer", "stack_rnn"),  # the reference models too (issue 26)
        "quick": {"epochs": 4, "eval_size": 256},
        "description": "next-symbol softmax on embedded Reber strings (1997 protocol: 256 training strings)",
    },
    "sequence_reversal": {
        "task": "sequence_reversal/len5_vocab10",
        # The protocol's 20 epochs: the bidirectional models reverse the validation set by epoch 5 to 10, but Adam
        # at 3e-3 can spike once it is solved (BiGRU seed 2: 0.917 sequence accuracy at epoch 10, 1.000 before and
        # from epoch 11 on; docs/results_runs/len5_bigru_seed2_e20).
        "units": 64,
        "learning_rate": 3e-3,
        "quick": {"epochs": 2, "train_size": 2048, "eval_size": 256},
        "description": "per-step softmax over the reversed sequence",
        # A config whose protocol trains differently has its own recipe (merged over the task's settings).
        "configs": {
            "reverse_string": {
                # Adam with clipping as Deletang et al. (2023); each model's rate is its SELECTED_LEARNING_RATES entry
                # (5e-4 for all five), which this default equals.
                "units": 256,
                "learning_rate": 5e-4,
                "quick": {"epochs": 1, "train_size": 2048, "eval_size": 256},
                "description": "read-then-write reversal on fresh strings, 3,500 updates (Deletang et al.: 1,000,000)",
                # The models the protocol compares; `reproduce` leaves the others out, with this reason.
                "models": ("lstm", "gru", "rnn", "transformer", "stack_rnn"),
                "models_reason": "the protocol of Deletang et al. (2023) has unidirectional recurrent models only (in "
                "the read-then-write layout a backward pass reads only blanks at every scored step)",
            },
        },
    },
    "char_to_vector": {
        "task": "char_to_vector/synthetic_d100",
        "units": 128,
        "learning_rate": 2e-3,
        "quick": {"epochs": 2, "task_overrides": {"vocab_size": 2000}, "eval_size": 256},
        "description": "linear 100-d vector head, MSE loss, on held-out words",
    },
    "random_labels": {
        "task": "random_labels/t672_f16",
        # The protocol's 600 updates on fresh data, with the rate decaying to zero. After 200 updates at a constant 1e-3 the
        # models still respond to the noise: 0.8% to 1.7% above the label entropy over the last epoch
        # (the 2.0.0 grid). GRU, last-epoch gap: 200 updates with the decay 1.2%, 1.6% (seeds 0, 1);
        # 400 at a constant rate 0.33% (seed 0); 400 with the decay 0.17%, 0.30%. The 2.1.0 grid at 400
        # with the decay: 19 of 20 runs within 1%, BiGRU seed 1 at 1.23%; that run at 600: 0.31%.
        "units": 32,
        "learning_rate": 1e-3,
        "learning_rate_schedule": "cosine",
        "quick": {"epochs": 2, "train_size": 512, "eval_size": 128, "task": "random_labels/t48_f16"},
        "description": "sigmoid head, binary cross-entropy, on pure noise",
    },
}
TASK_NAMES = tuple(_TASK_SETTINGS)
"""Tasks whose stable recipe has tuned settings (every registered task has a stable recipe)."""


def stable_settings(task_name: str) -> dict[str, Any]:
    """The stable recipe's settings for a task (its tuned ones, else the defaults on its default
    preset) or for a ``task/config`` with settings of its own (merged over its task's), with the
    data, batch size, budget and seeds of the config's protocol (:func:`protocol_budget`)."""
    family, _, config = task_name.partition("/")
    if task_name in config_recipe_tasks():
        base = {key: value for key, value in _TASK_SETTINGS[family].items() if key != "configs"}
        settings = {**base, **_TASK_SETTINGS[family]["configs"][config], "task": task_name}
    else:
        settings = _TASK_SETTINGS.get(task_name)
        if settings is None:
            settings = {**_DEFAULT_SETTINGS, "task": f"{task_name}/{task_class(task_name).default_preset}"}
    return {**settings, **protocol_budget(settings["task"])}


def protocol_budget(task_name: str) -> dict[str, Any]:
    """A config's protocol as recipe fields: its training data, batching, batch size, budget and seeds.

    Only the settings a recipe sets are given (e.g. no ``train_size`` on the published split), so a
    recipe records the same ``recipe_settings`` as the runs archived before the protocol was data.
    """
    spec = protocol(task_name).training
    fields = {
        "batch_size": spec.batch_size,
        "epochs": spec.epochs,
        "train_size": spec.examples_per_epoch,
        "fresh_data": spec.fresh or None,
        "length_grouped": spec.length_grouped or None,
        "eval_every_sequences": spec.solve_check_every,
        "stop_when_solved": spec.stop_when_solved or None,
        "select_epoch_by": spec.select_epoch_by,
        "seeds": spec.seeds,
    }
    return {key: value for key, value in fields.items() if value is not None}


def protocol_exclusion(task_name: str, model: str) -> str | None:
    """Why ``model`` is not part of a task's (or ``task/config``'s) protocol, or ``None``."""
    settings = stable_settings(task_name)
    if model in settings.get("models", MODEL_KINDS):
        return None
    if model in REFERENCE_MODELS and "models" not in settings:
        trained_on = ", ".join(reference_model_tasks(model))
        return f"the reference models of Deletang et al. (2023) are trained on {trained_on}"
    return settings.get("models_reason", "not a model of this protocol")


_RECIPE_KEYS = (
    "batch_size", "epochs", "units", "learning_rate", "learning_rate_schedule", "train_size", "fresh_data", "length_grouped",
    "eval_every_sequences", "stop_when_solved", "select_epoch_by", "quick",
)
"""Settings that become fields of the stable :class:`Recipe`."""
_PROTOCOL_KEYS = ("task", "description", "configs", "models", "models_reason", "seeds")
"""Settings of the protocol around the recipe (its dataset, models, seeds and prose)."""


def _stable_recipe(task_name: str, model: str) -> Recipe:
    settings = stable_settings(task_name)
    unknown = sorted(set(settings) - set(_RECIPE_KEYS) - set(_PROTOCOL_KEYS))
    if unknown:
        allowed = ", ".join(_RECIPE_KEYS + _PROTOCOL_KEYS)
        raise ValueError(f"invalid stable setting {unknown[0]!r} for {task_name!r}; allowed: {allowed}")
    fields = {key: settings[key] for key in _RECIPE_KEYS if key in settings}
    if (settings["task"], model) in SELECTED_LEARNING_RATES:
        fields["learning_rate"] = SELECTED_LEARNING_RATES[settings["task"], model]
    elif model in REFERENCE_MODELS:
        fields["learning_rate"] = PENDING_LEARNING_RATE
    if "quick" in fields:
        fields["quick"] = QuickSettings(**fields["quick"])
    build = functools.partial(build_model, model=model, units=fields["units"], learning_rate=fields["learning_rate"])
    if model == "transformer":
        fields["units"] = None  # its width is Deletang et al.'s, whatever the recipe's recurrent width
    bidirectional = model.startswith("bi")
    description = f"Stable {model}: {settings['description']}."
    cls, preset = get_preset(settings["task"])
    leak = cls(preset.config).bidirectional_leak(None) if bidirectional else None
    if leak:
        description += f" Not a valid baseline ({leak}); kept as a leakage check."
    return Recipe(
        name=recipe_name(task_name, model),
        task=settings["task"],
        description=description,
        build=build,
        inputs="one_hot",
        target=None,
        bidirectional=bidirectional,
        model=model,
        **fields,
    )


def register_stable_recipes() -> None:
    """Registers ``stable_<model>_<task>`` for every registered task that has none yet."""
    for task_name in [*list_tasks(), *config_recipe_tasks()]:
        for model in MODEL_KINDS + tuple(m for m in REFERENCE_MODELS if not protocol_exclusion(task_name, m)):
            if registered_recipe(recipe_name(task_name, model)) is None:
                register_recipe(_stable_recipe(task_name, model))


register_stable_recipes()
