"""The failure zoo: each forum thread's naive model next to its fix, as registered recipes.

Recipes are named after their thread's failure: ``reber_softmax_lstm`` and its
fix ``reber_softmax_lstm_fixed``, and so on (:data:`ZOO`; the retired names
``seed000_softmax_lstm``, ... still resolve, with a ``DeprecationWarning``).
Naive recipes reproduce the posted model as faithfully as Keras 3 allows (same
layers, activations, loss, optimizer and batch size); the data is the seqtasks
task closest to the post's. Fixed recipes change what the stability linter
flags and nothing else where possible. They train on fresh batches like any
recipe, ``python -m baselines train --recipe NAME --steps N``; ``python -m
baselines zoo`` runs recipes x seeds (``--all``: every thread's evidence,
:data:`EVIDENCE`), and ``docs/stability.md`` has what was measured.

Every ``build`` takes optional overrides (``units``, ``learning_rate``) so the
experiments can shrink a model for CPU; the defaults are the post's values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

from baselines.recipes import Recipe, register_recipe


def _per_target_cross_entropy() -> keras.losses.Loss:
    # Keras 3's default reduction divides by every position, padded ones included; Keras 2 (the post's)
    # averaged over the weighted positions, which is also the unit of the task's loss floor.
    return keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight")


# -- thread 000 (reber_*): LSTM(activation='softmax') on the Reber grammar -------------------------------


def build_reber_softmax_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's model: one LSTM whose 7 units are the softmax output, trained with categorical cross-entropy."""
    model = keras.Sequential(
        [
            keras.Input((None, spec.input_depth)),
            keras.layers.LSTM(units or spec.input_depth, return_sequences=True, activation="softmax"),
        ]
    )
    model.compile(
        loss=_per_target_cross_entropy(),
        optimizer=keras.optimizers.Nadam(learning_rate or 0.001),
        metrics=["categorical_crossentropy"],
    )
    return model


def build_reber_softmax_lstm_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """tanh LSTM, softmax in a separate output layer."""
    model = keras.Sequential(
        [
            keras.Input((None, spec.input_depth)),
            keras.layers.LSTM(units or 32, return_sequences=True),
            keras.layers.Dense(spec.input_depth, activation="softmax"),
        ]
    )
    model.compile(
        loss=_per_target_cross_entropy(),
        optimizer=keras.optimizers.Nadam(learning_rate or 0.001),
        metrics=["categorical_crossentropy"],
    )
    return model


# -- thread 001 (noise_*): LSTM(512, activation='relu', recurrent_dropout=0.3) on random labels ----------


def _noise_relu_lstm(task: Any, activation: str, recurrent_dropout: float, dropout: float, units: int | None, learning_rate: float | None) -> keras.Model:
    inputs = keras.Input(batch_shape=(32, task.config.time_steps, task.config.features))
    hidden = keras.layers.LSTM(
        units or 512,
        activation=activation,
        return_sequences=False,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        kernel_constraint=keras.constraints.MaxNorm(0.5, axis=0),
        recurrent_constraint=keras.constraints.MaxNorm(0.5, axis=0),
    )(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate or 4e-4, clipnorm=1.0), loss="binary_crossentropy")
    return model


def build_noise_relu_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's model: LSTM(512, relu, recurrent_dropout=0.3, MaxNorm 0.5), Nadam(4e-4, clipnorm=1)."""
    return _noise_relu_lstm(task, "relu", 0.3, 0.0, units, learning_rate)


def build_noise_relu_lstm_no_recurrent_dropout(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """Ablation: the post's relu LSTM without recurrent_dropout, to separate the two suspects."""
    return _noise_relu_lstm(task, "relu", 0.0, 0.0, units, learning_rate)


def build_noise_relu_lstm_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The same model with the default tanh; the 0.3 dropout moves to the inputs (keeps cuDNN on GPU)."""
    return _noise_relu_lstm(task, "tanh", 0.0, 0.3, units, learning_rate)


# -- thread 002 (word_vector_*): wide LSTM + MSE, from a word's letters to its vector --------------------


def build_word_vector_wide_mse(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's single-layer model: LSTM(1024) on padded one-hot letters, linear Dense(100), MSE, 'accuracy'."""
    model = keras.Sequential(
        [
            keras.Input((None, spec.input_depth)),
            keras.layers.LSTM(units or 1024, return_sequences=False),
            keras.layers.Dense(task.config.dim, activation="linear"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate or 0.001), loss="mse", metrics=["accuracy"])
    return model


def build_word_vector_wide_mse_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """Masked padding, clipped Adam, and a regression metric instead of accuracy."""
    model = keras.Sequential(
        [
            keras.Input((None, spec.input_depth)),
            keras.layers.Masking(mask_value=0.0),
            keras.layers.LSTM(units or 1024, return_sequences=False),
            keras.layers.Dense(task.config.dim, activation="linear"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate or 0.001, clipnorm=1.0),
        loss="mse",
        metrics=[keras.metrics.CosineSimilarity(name="cosine_similarity")],
    )
    return model


# -- thread 003 (unnormalised_*): sigmoid output + categorical cross-entropy on unnormalised inputs ------


def _unnormalised_raw_model(task: Any, units: int | None, learning_rate: float | None, loss: str) -> keras.Model:
    """The post's model on raw inputs: LSTM, one sigmoid output, SGD(1e-4); only the loss varies."""
    model = keras.Sequential(
        [
            keras.Input((task.config.time_steps, task.config.features)),
            keras.layers.LSTM(units or 50),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate or 1e-4), loss=loss, metrics=["accuracy"])
    return model


def build_unnormalised_sigmoid_cce(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """A sequence analogue of the post's MNIST model: raw inputs, sigmoid output, categorical cross-entropy, SGD(1e-4)."""
    return _unnormalised_raw_model(task, units, learning_rate, "categorical_crossentropy")


def build_unnormalised_sigmoid_bce(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's second cause alone: the right loss (sigmoid + binary cross-entropy) on raw, unnormalised inputs."""
    return _unnormalised_raw_model(task, units, learning_rate, "binary_crossentropy")


def build_unnormalised_sigmoid_cce_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """Inputs standardised by a Normalization layer adapted on training data; sigmoid with binary cross-entropy; Adam."""
    normalise = keras.layers.Normalization(axis=-1)
    normalise.adapt(np.asarray(task.sample(256, seed=0)[spec.input_field]).reshape(-1, task.config.features))
    model = keras.Sequential(
        [
            keras.Input((task.config.time_steps, task.config.features)),
            normalise,
            keras.layers.LSTM(units or 50),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate or 1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    return model


# -- thread 004 (reversal_*): reversing a sequence with a stateful unidirectional LSTM -------------------

REVERSAL_BATCH = 588


def _reversal(task: Any, spec: Any, kind: str, units: int | None, learning_rate: float | None) -> keras.Model:
    width = task.config.max_length
    if kind == "stateful":
        inputs = keras.Input(batch_shape=(REVERSAL_BATCH, width, spec.input_depth))
        hidden = keras.layers.LSTM(units or 100, return_sequences=True, stateful=True)(inputs)
    else:
        inputs = keras.Input((width, spec.input_depth))
        recurrent = keras.layers.LSTM(units or 100, return_sequences=True)
        hidden = keras.layers.Bidirectional(recurrent)(inputs) if kind == "bidirectional" else recurrent(inputs)
    outputs = keras.layers.TimeDistributed(keras.layers.Dense(spec.input_depth, activation="softmax"))(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate or 0.001),
        metrics=["accuracy"],
    )
    return model


def build_reversal_stateful_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's model: LSTM(100, stateful=True) with a fixed batch of 588 and a per-step softmax."""
    return _reversal(task, spec, "stateful", units, learning_rate)


def build_reversal_stateless_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The first answer's fix: stateful=False, still unidirectional."""
    return _reversal(task, spec, "stateless", units, learning_rate)


def build_reversal_stateful_lstm_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The full fix: a Bidirectional LSTM sees the whole input before each output."""
    return _reversal(task, spec, "bidirectional", units, learning_rate)


# -- the registry ------------------------------------------------------------------------------------------

ZOO: dict[str, tuple[str, ...]] = {
    "reber_softmax_lstm": ("reber_softmax_lstm", "reber_softmax_lstm_fixed"),
    "noise_relu_lstm": ("noise_relu_lstm", "noise_relu_lstm_no_recurrent_dropout", "noise_relu_lstm_fixed"),
    "word_vector_wide_mse": ("word_vector_wide_mse", "word_vector_wide_mse_fixed"),
    "unnormalised_sigmoid_cce": ("unnormalised_sigmoid_cce", "unnormalised_sigmoid_bce", "unnormalised_sigmoid_cce_fixed"),
    "reversal_stateful_lstm": ("reversal_stateful_lstm", "reversal_stateless_lstm", "reversal_stateful_lstm_fixed"),
}
"""Per forum thread (keyed by its failure): the naive recipe(s) first, the fixed recipe last."""

THREADS: dict[str, str] = {
    "reber_softmax_lstm": "000",
    "noise_relu_lstm": "001",
    "word_vector_wide_mse": "002",
    "unnormalised_sigmoid_cce": "003",
    "reversal_stateful_lstm": "004",
}
"""The forum thread (seed thread number) each entry of :data:`ZOO` reproduces."""

NAIVE_RECIPES = tuple(name for names in ZOO.values() for name in names[:-1])
FIXED_RECIPES = tuple(names[-1] for names in ZOO.values())


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One set of zoo runs quoted in ``docs/stability.md``: recipes x seeds, one ``<name>.json``.

    Attributes:
        name: File stem of its ``results.json`` in ``docs/stability_runs``.
        recipes: The recipes, naive first.
        steps: Training updates per run.
        seeds: Runs per recipe (seeds 0..seeds-1 seed the weights and the fresh data).
        task: Another config of the recipes' task (``None``: theirs).
        units: Recurrent width override (``None``: the post's).
        learning_rate: Learning-rate override (``None``: the recipe's).
        figure: File name of its curves in ``docs/figures`` (``None``: none).
    """

    name: str
    recipes: tuple[str, ...]
    steps: int
    seeds: int = 3
    task: str | None = None
    units: int | None = None
    learning_rate: float | None = None
    figure: str | None = None


EVIDENCE: tuple[Evidence, ...] = (
    Evidence("reber_softmax_lstm", ZOO["reber_softmax_lstm"], 1000, figure="stability_seed000.png"),
    Evidence("reber_softmax_lstm_long", ("reber_softmax_lstm",), 3000, seeds=1),
    Evidence("noise_relu_lstm", ZOO["noise_relu_lstm"], 12, figure="stability_seed001.png"),
    Evidence("noise_relu_lstm_t48", ("noise_relu_lstm", "noise_relu_lstm_fixed"), 40, task="random_labels/t48_f16"),
    Evidence("word_vector_wide_mse", ZOO["word_vector_wide_mse"], 300, units=128, figure="stability_seed002.png"),
    Evidence("unnormalised_sigmoid_cce", ZOO["unnormalised_sigmoid_cce"], 300, figure="stability_seed003.png"),
    *(
        Evidence(f"unnormalised_sigmoid_cce_lr{rate}", ZOO["unnormalised_sigmoid_cce"], 300, learning_rate=rate)
        for rate in (0.01, 0.1, 1.0)
    ),
    Evidence("reversal_stateful_lstm", ZOO["reversal_stateful_lstm"], 1000, figure="stability_seed004.png"),
    Evidence("reversal_stateful_lstm_300", ZOO["reversal_stateful_lstm"], 300),
)
"""Every zoo run set ``docs/stability.md`` quotes; ``python -m baselines zoo --all`` reruns them all."""

_PADDED = {"fresh_data": True, "fixed_width": True}  # the posts padded every sequence to one length

for _recipe in (
    Recipe(
        "reber_softmax_lstm",
        "reber_grammar/reber",
        "Thread 000: LSTM(activation='softmax') as the output layer; output gates close, outputs sum to 0, "
        "categorical cross-entropy computes 0/0.",
        build_reber_softmax_lstm,
        batch_size=64,
        epochs=250,
        target="next_symbol",
        **_PADDED,
        zoo=True,
        one_hot_targets=True,
        naive=True,
    ),
    Recipe(
        "reber_softmax_lstm_fixed",
        "reber_grammar/reber",
        "Thread 000 fixed: tanh LSTM(32) followed by Dense(7, softmax).",
        build_reber_softmax_lstm_fixed,
        batch_size=64,
        epochs=250,
        target="next_symbol",
        **_PADDED,
        zoo=True,
        one_hot_targets=True,
        naive=False,
    ),
    Recipe(
        "noise_relu_lstm",
        "random_labels/t672_f16",
        "Thread 001: LSTM(512, activation='relu', recurrent_dropout=0.3) on Gaussian noise with random labels; "
        "the relu cell state overflows in the forward pass.",
        build_noise_relu_lstm,
        batch_size=32,
        epochs=1,
        fresh_data=True,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "noise_relu_lstm_no_recurrent_dropout",
        "random_labels/t672_f16",
        "Thread 001 ablation: the relu LSTM(512) without recurrent_dropout.",
        build_noise_relu_lstm_no_recurrent_dropout,
        batch_size=32,
        epochs=1,
        fresh_data=True,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "noise_relu_lstm_fixed",
        "random_labels/t672_f16",
        "Thread 001 fixed: the same LSTM(512) with activation='tanh' and input dropout instead of recurrent dropout.",
        build_noise_relu_lstm_fixed,
        batch_size=32,
        epochs=1,
        fresh_data=True,
        zoo=True,
        naive=False,
    ),
    Recipe(
        "word_vector_wide_mse",
        "char_to_vector/synthetic_d100",
        "Thread 002: LSTM(1024) spelling a word on zero-padded letters without masking, MSE to its word vector, "
        "'accuracy' metric.",
        build_word_vector_wide_mse,
        batch_size=32,
        epochs=50,
        **_PADDED,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "word_vector_wide_mse_fixed",
        "char_to_vector/synthetic_d100",
        "Thread 002 fixed: Masking before the LSTM, Adam with clipnorm=1, cosine similarity instead of accuracy.",
        build_word_vector_wide_mse_fixed,
        batch_size=32,
        epochs=50,
        **_PADDED,
        zoo=True,
        naive=False,
    ),
    Recipe(
        "unnormalised_sigmoid_cce",
        "random_labels/t48_f16_unnormalised",
        "Thread 003 (sequence analogue of the MNIST post): unnormalised inputs, Dense(1, sigmoid) trained with "
        "categorical cross-entropy, whose loss is identically 0.",
        build_unnormalised_sigmoid_cce,
        batch_size=32,
        epochs=10,
        fresh_data=True,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "unnormalised_sigmoid_bce",
        "random_labels/t48_f16_unnormalised",
        "Thread 003, second cause alone: sigmoid with binary cross-entropy (correct) on unnormalised inputs.",
        build_unnormalised_sigmoid_bce,
        batch_size=32,
        epochs=10,
        fresh_data=True,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "unnormalised_sigmoid_cce_fixed",
        "random_labels/t48_f16_unnormalised",
        "Thread 003 fixed: a Normalization layer adapted on training data; sigmoid with binary cross-entropy; Adam(1e-3).",
        build_unnormalised_sigmoid_cce_fixed,
        batch_size=32,
        epochs=10,
        fresh_data=True,
        zoo=True,
        naive=False,
    ),
    Recipe(
        "reversal_stateful_lstm",
        "sequence_reversal/len5_vocab10",
        "Thread 004: stateful unidirectional LSTM(100) reversing independent integer sequences.",
        build_reversal_stateful_lstm,
        batch_size=REVERSAL_BATCH,
        epochs=50,
        stateful=True,
        **_PADDED,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "reversal_stateless_lstm",
        "sequence_reversal/len5_vocab10",
        "Thread 004, first fix only: stateless but still unidirectional; the first positions stay at chance.",
        build_reversal_stateless_lstm,
        batch_size=REVERSAL_BATCH,
        epochs=50,
        **_PADDED,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "reversal_stateful_lstm_fixed",
        "sequence_reversal/len5_vocab10",
        "Thread 004 fixed: Bidirectional(LSTM(100)), stateless.",
        build_reversal_stateful_lstm_fixed,
        batch_size=REVERSAL_BATCH,
        epochs=50,
        bidirectional=True,
        **_PADDED,
        zoo=True,
        naive=False,
    ),
):
    register_recipe(_recipe)
