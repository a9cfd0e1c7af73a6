"""Stable recurrent baselines: ``lstm``, ``gru``, ``bilstm`` and ``bigru`` for every task.

The stable recipe, the same for every task (the fixes of the stability issue):

* tanh cells with the default sigmoid gates, no ``recurrent_dropout`` and
  ``unroll=False``, so Keras can use the fused cuDNN kernel on a GPU;
* a ``Masking`` layer, so zero-padded steps never update the state or count
  in the loss (inputs are one-hot, so a real step is never all zeros);
* an output head whose activation matches the target: softmax for sparse ids,
  sigmoid for multi-hot sets and binary labels, linear for dense vectors;
* Adam with ``clipnorm=1.0`` and a per-task learning rate.

Every (task, model) pair is registered as the recipe ``stable_<model>_<task>``.
"""

from __future__ import annotations

import functools
from typing import Any

import keras

from baselines.recipes import Recipe, register_recipe
from seqtasks.tasks.base import SupervisedSpec, Task

MODEL_KINDS = ("lstm", "gru", "bilstm", "bigru")
TASK_NAMES = ("reber_grammar", "sequence_reversal", "char_to_vector", "random_labels")


def recipe_name(task_name: str, model: str) -> str:
    """The registry name of the stable recipe of ``model`` on ``task_name``."""
    if model not in MODEL_KINDS:
        raise ValueError(f"invalid model={model!r}; allowed: one of " + ", ".join(MODEL_KINDS))
    if task_name not in TASK_NAMES:
        raise ValueError(f"invalid task={task_name!r} for the stable baselines; allowed: one of " + ", ".join(TASK_NAMES))
    return f"stable_{model}_{task_name}"


def output_units(task: Task, spec: SupervisedSpec) -> int:
    """Width of the output layer for a task's supervised view."""
    if spec.target_kind == "binary":
        return 1
    if spec.target_kind == "dense":
        return int(task.config.dim)
    return int(spec.input_depth)  # sparse ids and multi-hot sets share the input alphabet


_LOSSES = {
    "sparse": ("softmax", keras.losses.SparseCategoricalCrossentropy, keras.metrics.SparseCategoricalAccuracy),
    "multi_hot": ("sigmoid", keras.losses.BinaryCrossentropy, keras.metrics.BinaryAccuracy),
    "dense": ("linear", keras.losses.MeanSquaredError, keras.metrics.CosineSimilarity),
    "binary": ("sigmoid", keras.losses.BinaryCrossentropy, keras.metrics.AUC),
}


def build_model(
    task: Task,
    spec: SupervisedSpec,
    *,
    model: str,
    units: int,
    learning_rate: float,
    clipnorm: float = 1.0,
) -> keras.Model:
    """Builds and compiles one stable baseline.

    Args:
        task: The task (supplies input and output sizes).
        spec: Its supervised view (``task.supervised_spec(target)``).
        model: One of ``lstm``, ``gru``, ``bilstm``, ``bigru``.
        units: Units per direction of the recurrent layer, >= 1.
        learning_rate: Adam learning rate, > 0.
        clipnorm: Gradient norm clipping of Adam, > 0.

    Returns:
        A compiled ``keras.Model`` mapping ``(batch, time, features)`` inputs to
        per-step outputs (sparse and multi-hot targets) or one output per sequence.
    """
    if model not in MODEL_KINDS:
        raise ValueError(f"invalid model={model!r}; allowed: one of " + ", ".join(MODEL_KINDS))
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"invalid units={units!r}; allowed: an integer >= 1")
    if not learning_rate > 0:
        raise ValueError(f"invalid learning_rate={learning_rate!r}; allowed: a number > 0")
    if spec.target_kind not in _LOSSES:
        raise ValueError(f"invalid target_kind={spec.target_kind!r}; allowed: one of " + ", ".join(_LOSSES))
    activation, loss_class, metric_class = _LOSSES[spec.target_kind]
    if spec.input_depth is None:  # float inputs of a fixed shape (random_labels)
        inputs = keras.Input(shape=(task.config.time_steps, task.config.features), name="inputs")
        hidden = inputs
    else:  # one-hot inputs, zero rows at padding
        inputs = keras.Input(shape=(None, spec.input_depth), name="inputs")
        hidden = keras.layers.Masking(mask_value=0.0, name="padding_mask")(inputs)
    cell_class = keras.layers.LSTM if model.endswith("lstm") else keras.layers.GRU
    recurrent = cell_class(units, return_sequences=spec.per_step, name=model.removeprefix("bi"))
    if model.startswith("bi"):
        recurrent = keras.layers.Bidirectional(recurrent, name=model)
    hidden = recurrent(hidden)
    outputs = keras.layers.Dense(output_units(task, spec), activation=activation, name="head")(hidden)
    network = keras.Model(inputs, outputs, name=f"{model}_{task.name}")
    network.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        # Per-step losses average over the weighted (real, predicted) steps, not over padding too,
        # so the loss is in the unit of ``task.loss_floor`` whatever the padding of a batch.
        loss=loss_class(reduction="mean_with_sample_weight"),
        weighted_metrics=[metric_class()],
    )
    return network


# Per task: the default dataset, the schedule and the settings of the stable recipe.
# "quick" shrinks a run for `reproduce --quick` and smoke tests (minutes on 2 CPU cores).
_TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "reber_grammar": {
        "task": "reber_grammar/embedded",
        "batch_size": 16,
        "epochs": 32,  # 8,192 sequences: just under the 8,440 the 1997 paper's best LSTM needed
        "units": 64,
        "learning_rate": 3e-3,
        "eval_every_sequences": 64,
        "stop_when_solved": True,  # the 1997 protocol stops training once the test set is solved
        "quick": {"epochs": 4, "eval_size": 256},
        "description": "next-symbol softmax on embedded Reber strings (1997 protocol: 256 training strings)",
    },
    "sequence_reversal": {
        "task": "sequence_reversal/len5_vocab10",
        "batch_size": 64,
        "epochs": 20,
        "units": 64,
        "learning_rate": 3e-3,
        "quick": {"epochs": 2, "train_size": 2048, "eval_size": 256},
        "description": "per-step softmax over the reversed sequence",
    },
    "char_to_vector": {
        "task": "char_to_vector/synthetic_d100",
        "batch_size": 64,
        "epochs": 20,
        "units": 128,
        "learning_rate": 2e-3,
        "quick": {"epochs": 2, "task_overrides": {"vocab_size": 2000}, "eval_size": 256},
        "description": "linear 100-d vector head, MSE loss, on held-out words",
    },
    "random_labels": {
        "task": "random_labels/t672_f16",
        "batch_size": 32,
        "epochs": 5,
        "units": 32,
        "learning_rate": 1e-3,
        "quick": {"epochs": 2, "train_size": 512, "eval_size": 128, "task": "random_labels/t48_f16"},
        "description": "sigmoid head, binary cross-entropy, on pure noise",
    },
}


def _register_all() -> None:
    for task_name, settings in _TASK_SETTINGS.items():
        for model in MODEL_KINDS:
            hyper = {"units": settings["units"], "learning_rate": settings["learning_rate"]}
            extra = {key: value for key, value in settings.items() if key not in ("task", "description")}
            extra["model"] = model
            description = f"Stable {model}: {settings['description']}."
            if model.startswith("bi") and task_name == "reber_grammar":
                description += (
                    " Not a valid next-symbol predictor: its backward direction reads the symbol it must predict;"
                    " kept as a leakage check."
                )
            register_recipe(
                Recipe(
                    name=recipe_name(task_name, model),
                    task=settings["task"],
                    description=description,
                    build=functools.partial(build_model, model=model, **hyper),
                    batch_size=settings["batch_size"],
                    epochs=settings["epochs"],
                    inputs="one_hot",
                    target=None,
                    extra=extra,
                )
            )


_register_all()
