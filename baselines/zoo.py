"""The failure zoo: each seed thread's naive model next to its fix, as registered recipes.

Naive recipes reproduce the posted model as faithfully as Keras 3 allows (same
layers, activations, loss, optimizer and batch size); the data is the seqtasks
task closest to the post's. Fixed recipes change what the stability linter
flags and nothing else where possible. Run them with
``python -m baselines.zoo_run NAME --seeds 3 --steps N --out DIR`` (or the
baselines CLI); ``docs/stability.md`` has what was measured.

Every ``build`` takes optional overrides (``units``, ``learning_rate``) so the
experiments can shrink a model for CPU; the defaults are the post's values.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from baselines.recipes import Recipe, register_recipe


def _per_target_cross_entropy() -> keras.losses.Loss:
    # Keras 3's default reduction divides by every position, padded ones included; Keras 2 (the post's)
    # averaged over the weighted positions, which is also the unit of the task's loss floor.
    return keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight")


# -- seed 000: LSTM(activation='softmax') on the Reber grammar ---------------------------------------------


def build_seed000_softmax_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
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


def build_seed000_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
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


# -- seed 001: LSTM(512, activation='relu', recurrent_dropout=0.3) on random labels -----------------------


def _seed001(task: Any, activation: str, recurrent_dropout: float, dropout: float, units: int | None, learning_rate: float | None) -> keras.Model:
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


def build_seed001_relu_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's model: LSTM(512, relu, recurrent_dropout=0.3, MaxNorm 0.5), Nadam(4e-4, clipnorm=1)."""
    return _seed001(task, "relu", 0.3, 0.0, units, learning_rate)


def build_seed001_relu_no_recurrent_dropout(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """Ablation: the post's relu LSTM without recurrent_dropout, to separate the two suspects."""
    return _seed001(task, "relu", 0.0, 0.0, units, learning_rate)


def build_seed001_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The same model with the default tanh; the 0.3 dropout moves to the inputs (keeps cuDNN on GPU)."""
    return _seed001(task, "tanh", 0.0, 0.3, units, learning_rate)


# -- seed 002: wide LSTM + MSE, from a word's letters to its vector ---------------------------------------


def build_seed002_wide_mse(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
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


def build_seed002_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
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


# -- seed 003: sigmoid output + categorical cross-entropy on unnormalised inputs --------------------------


def _seed003_raw_model(task: Any, units: int | None, learning_rate: float | None, loss: str) -> keras.Model:
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


def build_seed003_sigmoid_cce(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """A sequence analogue of the post's MNIST model: raw inputs, sigmoid output, categorical cross-entropy, SGD(1e-4)."""
    return _seed003_raw_model(task, units, learning_rate, "categorical_crossentropy")


def build_seed003_unnormalised(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's second cause alone: the right loss (sigmoid + binary cross-entropy) on raw, unnormalised inputs."""
    return _seed003_raw_model(task, units, learning_rate, "binary_crossentropy")


def build_seed003_fixed(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
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


# -- seed 004: reversing a sequence with a stateful unidirectional LSTM -----------------------------------

SEED004_BATCH = 588


def _seed004(task: Any, spec: Any, kind: str, units: int | None, learning_rate: float | None) -> keras.Model:
    width = task.config.max_length
    if kind == "stateful":
        inputs = keras.Input(batch_shape=(SEED004_BATCH, width, spec.input_depth))
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


def build_seed004_stateful_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's model: LSTM(100, stateful=True) with a fixed batch of 588 and a per-step softmax."""
    return _seed004(task, spec, "stateful", units, learning_rate)


def build_seed004_stateless_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The first answer's fix: stateful=False, still unidirectional."""
    return _seed004(task, spec, "stateless", units, learning_rate)


def build_seed004_bilstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The full fix: a Bidirectional LSTM sees the whole input before each output."""
    return _seed004(task, spec, "bidirectional", units, learning_rate)


# -- the registry ---------------------------------------------------------------------------------------

ZOO: dict[str, tuple[str, ...]] = {
    "seed000": ("seed000_softmax_lstm", "seed000_fixed"),
    "seed001": ("seed001_relu_lstm", "seed001_relu_no_recurrent_dropout", "seed001_fixed"),
    "seed002": ("seed002_wide_mse", "seed002_fixed"),
    "seed003": ("seed003_sigmoid_cce", "seed003_unnormalised", "seed003_fixed"),
    "seed004": ("seed004_stateful_lstm", "seed004_stateless_lstm", "seed004_bilstm"),
}
"""Per seed thread: the naive recipe(s) first, the fixed recipe last."""

NAIVE_RECIPES = tuple(name for names in ZOO.values() for name in names[:-1])
FIXED_RECIPES = tuple(names[-1] for names in ZOO.values())

_COMMON = {"zoo": True}

for _recipe in (
    Recipe(
        "seed000_softmax_lstm",
        "reber_grammar/reber",
        "Seed 000: LSTM(activation='softmax') as the output layer; output gates close, outputs sum to 0, "
        "categorical cross-entropy computes 0/0.",
        build_seed000_softmax_lstm,
        batch_size=64,
        epochs=250,
        target="next_symbol",
        extra={**_COMMON, "one_hot_targets": True, "naive": True},
    ),
    Recipe(
        "seed000_fixed",
        "reber_grammar/reber",
        "Seed 000 fixed: tanh LSTM(32) followed by Dense(7, softmax).",
        build_seed000_fixed,
        batch_size=64,
        epochs=250,
        target="next_symbol",
        extra={**_COMMON, "one_hot_targets": True, "naive": False},
    ),
    Recipe(
        "seed001_relu_lstm",
        "random_labels/t672_f16",
        "Seed 001: LSTM(512, activation='relu', recurrent_dropout=0.3); the relu cell state overflows in the forward pass.",
        build_seed001_relu_lstm,
        batch_size=32,
        epochs=1,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed001_relu_no_recurrent_dropout",
        "random_labels/t672_f16",
        "Seed 001 ablation: the relu LSTM(512) without recurrent_dropout.",
        build_seed001_relu_no_recurrent_dropout,
        batch_size=32,
        epochs=1,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed001_fixed",
        "random_labels/t672_f16",
        "Seed 001 fixed: the same LSTM(512) with activation='tanh' and input dropout instead of recurrent dropout.",
        build_seed001_fixed,
        batch_size=32,
        epochs=1,
        extra={**_COMMON, "naive": False},
    ),
    Recipe(
        "seed002_wide_mse",
        "char_to_vector/synthetic_d100",
        "Seed 002: LSTM(1024) on zero-padded letters without masking, MSE to the word vector, 'accuracy' metric.",
        build_seed002_wide_mse,
        batch_size=32,
        epochs=50,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed002_fixed",
        "char_to_vector/synthetic_d100",
        "Seed 002 fixed: Masking before the LSTM, Adam with clipnorm=1, cosine similarity instead of accuracy.",
        build_seed002_fixed,
        batch_size=32,
        epochs=50,
        extra={**_COMMON, "naive": False},
    ),
    Recipe(
        "seed003_sigmoid_cce",
        "random_labels/t48_f16_unnormalised",
        "Seed 003 (sequence analogue of the MNIST post): unnormalised inputs, Dense(1, sigmoid) trained with "
        "categorical cross-entropy, whose loss is identically 0.",
        build_seed003_sigmoid_cce,
        batch_size=32,
        epochs=10,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed003_unnormalised",
        "random_labels/t48_f16_unnormalised",
        "Seed 003, second cause alone: sigmoid with binary cross-entropy (correct) on unnormalised inputs.",
        build_seed003_unnormalised,
        batch_size=32,
        epochs=10,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed003_fixed",
        "random_labels/t48_f16_unnormalised",
        "Seed 003 fixed: a Normalization layer adapted on training data; sigmoid with binary cross-entropy; Adam(1e-3).",
        build_seed003_fixed,
        batch_size=32,
        epochs=10,
        extra={**_COMMON, "naive": False},
    ),
    Recipe(
        "seed004_stateful_lstm",
        "sequence_reversal/len5_vocab10",
        "Seed 004: stateful unidirectional LSTM(100) reversing independent sequences.",
        build_seed004_stateful_lstm,
        batch_size=SEED004_BATCH,
        epochs=50,
        stateful=True,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed004_stateless_lstm",
        "sequence_reversal/len5_vocab10",
        "Seed 004, first fix only: stateless but still unidirectional; the first positions stay at chance.",
        build_seed004_stateless_lstm,
        batch_size=SEED004_BATCH,
        epochs=50,
        extra={**_COMMON, "naive": True},
    ),
    Recipe(
        "seed004_bilstm",
        "sequence_reversal/len5_vocab10",
        "Seed 004 fixed: Bidirectional(LSTM(100)).",
        build_seed004_bilstm,
        batch_size=SEED004_BATCH,
        epochs=50,
        bidirectional=True,
        extra={**_COMMON, "naive": False},
    ),
):
    register_recipe(_recipe)
