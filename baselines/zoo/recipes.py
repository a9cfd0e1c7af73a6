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


@keras.saving.register_keras_serializable(package="seqtasks_zoo")
class DollarPadding(keras.layers.Layer):
    """The post's ``$football$$$$``: zero-padded one-hot letters to ``$``-padded ones, inside the model.

    Adds a ``$`` channel that is 1 on every all-zero (padded) step, and a leading ``$``
    step, so the recurrent layer reads the post's encoding (padding as a symbol, no mask)
    from the zero-padded batches every recipe gets.
    """

    def call(self, inputs: Any) -> Any:
        dollar = 1.0 - keras.ops.sum(inputs, axis=-1, keepdims=True)
        padded = keras.ops.concatenate([inputs, dollar], axis=-1)
        first = keras.ops.concatenate([keras.ops.zeros_like(padded[:, :1, :-1]), keras.ops.ones_like(padded[:, :1, -1:])], axis=-1)
        return keras.ops.concatenate([first, padded], axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        steps = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], steps, input_shape[2] + 1)


def _word_vector_post(task: Any, spec: Any, layers: list[Any], learning_rate: float | None) -> keras.Model:
    """The post's compile: Adam with default settings (learning rate 0.001), MSE, the 'accuracy' metric, on `$`-padded letters."""
    model = keras.Sequential(
        [keras.Input((None, spec.input_depth)), DollarPadding(), *layers, keras.layers.Dense(task.config.dim, activation="linear")]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate or 0.001), loss="mse", metrics=["accuracy"])
    return model


def build_word_vector_wide_mse(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's single-layer model: LSTM(1024) on `$`-padded one-hot letters, linear Dense(100), MSE, 'accuracy'."""
    return _word_vector_post(task, spec, [keras.layers.LSTM(units or 1024, return_sequences=False)], learning_rate)


def build_word_vector_wide_gru(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's second model: GRU(1024) in place of the LSTM, everything else the same."""
    return _word_vector_post(task, spec, [keras.layers.GRU(units or 1024, return_sequences=False)], learning_rate)


def build_word_vector_two_layer_lstm(task: Any, spec: Any, units: int | None = None, learning_rate: float | None = None) -> keras.Model:
    """The post's third model: LSTM(512) -> TimeDistributed(Dense(512, sigmoid)) -> LSTM(512) -> Dense(256, tanh) -> Dense(100).

    The per-step Dense is a plain ``Dense`` (on a sequence it acts on every step, the same
    weights and values as ``TimeDistributed(Dense)``, which Keras 3 cannot run on sequences of
    another length than it was built on).
    """
    width = units or 512
    layers = [
        keras.layers.LSTM(width, return_sequences=True),
        keras.layers.Dense(width, activation="sigmoid"),
        keras.layers.LSTM(width, return_sequences=False),
        keras.layers.Dense(256, activation="tanh"),
    ]
    return _word_vector_post(task, spec, layers, learning_rate)


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
    "word_vector_wide_mse": ("word_vector_wide_mse", "word_vector_wide_gru", "word_vector_two_layer_lstm", "word_vector_wide_mse_fixed"),
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
        epochs: Train epochs over a fixed training set instead of ``steps`` updates on fresh
            data (the posts' own ``model.fit``); ``steps`` is then ``None``.
        train_size: With ``epochs``: examples of the fixed training set (the published
            ``train`` split's generator, seed 0, first ``train_size``).
        task_overrides: Task config fields the post's data needs, as ``((field, value), ...)``.
        early_stopping: With ``epochs``: ``EarlyStopping(monitor='loss', min_delta=0, patience=N)``, as the post.
        output_sums: Record each epoch's per-step output sums on validation strings (thread 000's print).
        reading: How the settings were read from the post, for the page.
    """

    name: str
    recipes: tuple[str, ...]
    steps: int | None
    seeds: int = 3
    task: str | None = None
    units: int | None = None
    learning_rate: float | None = None
    figure: str | None = None
    epochs: int | None = None
    train_size: int | None = None
    task_overrides: tuple[tuple[str, Any], ...] = ()
    early_stopping: int | None = None
    output_sums: bool = False
    reading: str = ""

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(f"evidence {self.name}: invalid steps={self.steps!r}, epochs={self.epochs!r}; allowed: exactly one of the two")
        if self.epochs is None and (self.train_size or self.early_stopping or self.task_overrides):
            raise ValueError(f"evidence {self.name}: invalid train_size/early_stopping/task_overrides; allowed: only with epochs")

    @property
    def schedule(self) -> str:
        """The training length in words, e.g. ``"1000 updates"`` or ``"250 epochs of 2048 examples, early stopping (patience 10)"``."""
        if self.epochs is None:
            return f"{self.steps} updates"
        text = f"{self.epochs} epochs of {self.train_size} examples" if self.train_size else f"{self.epochs} epochs"
        return text + (f", early stopping on the training loss (patience {self.early_stopping})" if self.early_stopping else "")


REBER_POST_READING = (
    "the post's notebook (github.com/Coni63/SO, Reber.ipynb) trains on 2048 strings and validates on 256, every "
    "string of at least 10 input symbols (`get_one_example(min_length=10)`; the input leaves out the final E, "
    "the target is the input shifted by one with E last), zero-padded after the end to maxlen 20 without a mask; "
    "here: the first 2048 training strings (seed 0) of `reber_grammar/reber` with min_length=11 and max_length=20 "
    "(the whole string, E included: 10 to 19 input symbols; the notebook also kept 20 and cut longer strings), "
    "padded to 20 steps, one-hot next-symbol targets"
)
WORD_VECTOR_POST_READING = (
    "the thread's text states the models, Adam with default settings, MSE, the 'accuracy' metric and `$` padding "
    "(`$football$$$$`); its curves are figures that the text we have does not contain, so the number of updates "
    "before the collapse could not be read from them; here: epochs over the published `char_to_vector` training "
    "words (13,503), batch 32 (Keras's default; the post gives none), `$`-padded by a layer inside the model"
)

EVIDENCE: tuple[Evidence, ...] = (
    Evidence(
        "reber_softmax_lstm", ZOO["reber_softmax_lstm"], None, seeds=5, figure="stability_seed000.png", epochs=250,
        train_size=2048, task_overrides=(("min_length", 11), ("max_length", 20)), early_stopping=10, output_sums=True,
        reading=REBER_POST_READING,
    ),
    Evidence("reber_softmax_lstm_fresh", ZOO["reber_softmax_lstm"], 1000),
    Evidence("reber_softmax_lstm_long", ("reber_softmax_lstm",), 3000, seeds=1),
    Evidence("noise_relu_lstm", ZOO["noise_relu_lstm"], 12, figure="stability_seed001.png"),
    Evidence("noise_relu_lstm_t48", ("noise_relu_lstm", "noise_relu_lstm_fixed"), 40, task="random_labels/t48_f16"),
    Evidence(
        "word_vector_wide_mse", ZOO["word_vector_wide_mse"], None, figure="stability_seed002.png", epochs=5,
        reading=WORD_VECTOR_POST_READING,
    ),
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
        "Thread 002: LSTM(1024) spelling a word on `$`-padded letters without masking, MSE to its word vector, "
        "'accuracy' metric.",
        build_word_vector_wide_mse,
        batch_size=32,
        epochs=50,
        **_PADDED,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "word_vector_wide_gru",
        "char_to_vector/synthetic_d100",
        "Thread 002: GRU(1024) on `$`-padded letters without masking, MSE to the word vector, 'accuracy' metric.",
        build_word_vector_wide_gru,
        batch_size=32,
        epochs=50,
        **_PADDED,
        zoo=True,
        naive=True,
    ),
    Recipe(
        "word_vector_two_layer_lstm",
        "char_to_vector/synthetic_d100",
        "Thread 002: the post's two-layer LSTM(512) model on `$`-padded letters, MSE, 'accuracy' metric.",
        build_word_vector_two_layer_lstm,
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
