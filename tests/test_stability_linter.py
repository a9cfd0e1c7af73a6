"""The stability linter flags every naive seed recipe and nothing on stable models."""

import dataclasses

import keras
import numpy as np
import pytest

import seqtasks
from baselines import zoo
from baselines.data import StreamBatches, training_width
from baselines.catalog import get_recipe, list_recipes
from seqtasks.stability import RULES, Finding, check

# Rules each naive recipe must trigger (it may trigger more).
EXPECTED = {
    "reber_softmax_lstm": {"recurrent-activation", "cudnn-disabled"},
    "noise_relu_lstm": {"recurrent-activation", "cudnn-disabled"},
    "noise_relu_lstm_no_recurrent_dropout": {"recurrent-activation", "cudnn-disabled"},
    "word_vector_wide_mse": {"padding-without-masking", "accuracy-on-regression"},
    "word_vector_wide_gru": {"padding-without-masking", "accuracy-on-regression"},
    "word_vector_two_layer_lstm": {"padding-without-masking", "accuracy-on-regression"},
    "unnormalised_sigmoid_cce": {"sigmoid-categorical-crossentropy", "unnormalised-inputs"},
    "unnormalised_sigmoid_bce": {"unnormalised-inputs"},
    "reversal_stateful_lstm": {"stateful-independent-sequences", "unidirectional-future-context"},
    "reversal_stateless_lstm": {"unidirectional-future-context"},
}
# Small widths keep the builds fast; the rules do not depend on width.
SMALL_UNITS = {"reber_softmax_lstm": None}  # its LSTM is the 7-way output
FAST_TASK = {name: "random_labels/t48_f16" for name in ("noise_relu_lstm", "noise_relu_lstm_no_recurrent_dropout", "noise_relu_lstm_fixed")}


def first_batch(task, recipe):
    """The first training batch ``baselines.train`` gives the recipe (what it lints)."""
    one_hot = recipe.one_hot_targets
    width = training_width(task) if recipe.fixed_width else None
    x, y, _ = StreamBatches(task, recipe.batch_size, 1, 0, recipe.inputs, recipe.target, one_hot, width=width)[0]
    return x, y


def build(name: str):
    recipe = get_recipe(name)
    task = seqtasks.make(FAST_TASK.get(name, recipe.task))
    units = SMALL_UNITS.get(name, 8)
    model = recipe.build(task, task.supervised_spec(recipe.target), **({"units": units} if units else {}))
    return model, task, first_batch(task, recipe)


def test_every_seed_thread_has_naive_and_fixed_recipes():
    assert set(zoo.NAIVE_RECIPES) == set(EXPECTED)
    assert len(zoo.ZOO) == 5 and all(len(names) >= 2 for names in zoo.ZOO.values())
    for name in zoo.NAIVE_RECIPES + zoo.FIXED_RECIPES:
        assert name in list_recipes()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_naive_recipe_is_flagged(name):
    model, task, data = build(name)
    findings = check(model, dataset=data, task=task)
    assert EXPECTED[name] <= {finding.rule_id for finding in findings}, findings
    assert all(finding.severity in ("error", "warning", "info") and finding.fix for finding in findings)


@pytest.mark.parametrize("name", zoo.FIXED_RECIPES)
def test_fixed_recipe_is_clean(name):
    model, task, data = build(name)
    assert check(model, dataset=data, task=task) == []


@pytest.mark.slow
def test_stable_baseline_recipes_are_clean():
    stable = [name for name in list_recipes() if not get_recipe(name).zoo]
    if not stable:
        pytest.skip("baselines/models.py registers no stable recipes yet")
    for name in stable:
        recipe = get_recipe(name)
        task = seqtasks.make(recipe.task)
        model = recipe.build(task, task.supervised_spec(recipe.target))
        rules = [finding.rule_id for finding in check(model, dataset=first_batch(task, recipe), task=task)]
        # The unidirectional baselines on a task that needs future context are kept as the causal
        # reference; the linter must still say they cannot solve it, and nothing else.
        causal_on_future_task = task.needs_future_context and not (recipe.model or "").startswith("bi")
        assert rules == (["unidirectional-future-context"] if causal_on_future_task else []), name


def _compiled(layers, loss="sparse_categorical_crossentropy", metrics=("accuracy",)):
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


@pytest.mark.parametrize(
    "task_name, model_factory",
    [
        ("reber_grammar/embedded", lambda: _compiled([keras.Input((None, 7)), keras.layers.LSTM(16, return_sequences=True), keras.layers.Dense(7, activation="softmax")])),
        ("reber_grammar/reber", lambda: _compiled([keras.Input((None, 7)), keras.layers.GRU(16, return_sequences=True), keras.layers.Dense(7, activation="softmax")])),
        (
            "sequence_reversal/len1to40_vocab10",
            lambda: _compiled(
                [keras.Input((None, 10)), keras.layers.Masking(), keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True)), keras.layers.Dense(10, activation="softmax")]
            ),
        ),
        ("random_labels/t48_f16", lambda: _compiled([keras.Input((48, 16)), keras.layers.LSTM(8), keras.layers.Dense(1, activation="sigmoid")], loss="binary_crossentropy")),
        (
            "char_to_vector/synthetic_d100",
            lambda: _compiled([keras.Input((None, 27)), keras.layers.Masking(), keras.layers.LSTM(8), keras.layers.Dense(100)], loss="mse", metrics=["cosine_similarity"]),
        ),
    ],
)
def test_simple_stable_models_are_clean(task_name, model_factory):
    task = seqtasks.make(task_name)
    x, y, _ = to_xy(task)
    model = model_factory()
    assert check(model, dataset=(x, y), task=task) == []


def to_xy(task):
    from seqtasks.encoding import to_supervised

    return to_supervised(task, task.sample(32, seed=1))


@pytest.mark.parametrize("activation, message", [("softmax", "0/0"), ("relu", "overflow"), ("elu", "overflow"), ("sigmoid", "bounded")])
def test_recurrent_activation_names_layer_and_setting(activation, message):
    model = _compiled([keras.Input((None, 7)), keras.layers.LSTM(4, activation=activation, name="cell")])
    [finding, cudnn] = check(model)
    assert (finding.rule_id, finding.severity, finding.layer) == ("recurrent-activation", "error", "cell")
    assert f"activation='{activation}'" in finding.message and message in finding.message
    assert "tanh" in finding.fix
    assert (cudnn.rule_id, cudnn.severity) == ("cudnn-disabled", "info")


def test_findings_inside_nested_and_wrapped_layers():
    inner = keras.Sequential([keras.Input((None, 3)), keras.layers.Bidirectional(keras.layers.GRU(4, activation="relu", return_sequences=True))])
    model = _compiled([keras.Input((None, 3)), inner, keras.layers.Dense(3, activation="softmax")])
    rules = [finding.rule_id for finding in check(model)]
    assert sorted(rules) == ["cudnn-disabled", "recurrent-activation"]  # once, not once per direction


@pytest.mark.parametrize("setting", [{"recurrent_dropout": 0.1}, {"unroll": True}, {"recurrent_activation": "hard_sigmoid"}, {"use_bias": False}])
def test_cudnn_rule_lists_the_setting(setting):
    model = _compiled([keras.Input((5, 3)), keras.layers.LSTM(4, **setting)])
    [finding] = check(model)
    assert finding.rule_id == "cudnn-disabled" and next(iter(setting)) in finding.message


def test_stateful_without_a_task_is_a_warning_and_with_a_task_an_error():
    model = _compiled([keras.Input(batch_shape=(2, 5, 10)), keras.layers.LSTM(4, stateful=True, return_sequences=True)])
    assert [(f.rule_id, f.severity) for f in check(model)] == [("stateful-independent-sequences", "warning")]
    rules = {(f.rule_id, f.severity) for f in check(model, task="sequence_reversal/len5_vocab10")}
    assert rules == {("stateful-independent-sequences", "error"), ("unidirectional-future-context", "error")}


def test_future_context_rule_needs_the_task_flag():
    model = _compiled([keras.Input((5, 10)), keras.layers.LSTM(4, return_sequences=True)])
    assert check(model, task="reber_grammar/reber") == []  # next-symbol prediction is causal
    [finding] = check(model, task=seqtasks.make("sequence_reversal/len5_vocab10"))
    assert finding.rule_id == "unidirectional-future-context" and "Bidirectional" in finding.fix


def test_task_comes_from_the_dataset_attribute():
    class Data(list):
        task = seqtasks.make("sequence_reversal/len5_vocab10")

    model = _compiled([keras.Input((5, 10)), keras.layers.LSTM(4, return_sequences=True)])
    data = Data([(np.zeros((2, 5, 10), np.float32), np.zeros((2, 5), np.int32))])
    assert [f.rule_id for f in check(model, dataset=data)] == ["unidirectional-future-context"]


def test_unnormalised_inputs_from_a_tf_data_dataset_and_normalisation_silences_it():
    import tensorflow as tf

    x = np.random.default_rng(0).normal(128.0, 64.0, (16, 6, 3)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(16, np.float32))).batch(4)
    raw = _compiled([keras.Input((6, 3)), keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")], loss="binary_crossentropy")
    [finding] = check(raw, dataset=dataset)
    assert finding.rule_id == "unnormalised-inputs" and "mean 12" in finding.message
    normalised = _compiled(
        [keras.Input((6, 3)), keras.layers.Normalization(mean=128.0, variance=4096.0), keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")],
        loss="binary_crossentropy",
    )
    assert check(normalised, dataset=dataset) == []
    assert check(raw, dataset=(x / 64.0 - 2.0, None)) == []


def test_padding_rule_reads_padding_from_inputs_and_respects_masks():
    x = np.zeros((4, 6, 3), np.float32)
    x[:, :3, 0] = 1.0  # three real steps, three zero-padded
    final_state = _compiled([keras.Input((6, 3)), keras.layers.LSTM(4), keras.layers.Dense(2)], loss="mse", metrics=())
    [finding] = check(final_state, dataset=(x, None))
    assert finding.rule_id == "padding-without-masking" and "Masking" in finding.fix
    masked = _compiled([keras.Input((6, 3)), keras.layers.Masking(), keras.layers.LSTM(4), keras.layers.Dense(2)], loss="mse", metrics=())
    assert check(masked, dataset=(x, None)) == []
    per_step = _compiled([keras.Input((6, 3)), keras.layers.LSTM(4, return_sequences=True)], metrics=())
    assert check(per_step, dataset=(x, None)) == []  # causal per-step outputs never see later padding
    x[:, 3:, 0] = 1.0
    assert check(final_state, dataset=(x, None)) == []


def test_accuracy_on_regression_and_sigmoid_cce():
    regression = _compiled([keras.Input((3, 2)), keras.layers.LSTM(2)], loss="mse", metrics=["accuracy"])
    assert [f.rule_id for f in check(regression)] == ["accuracy-on-regression"]
    sigmoid_cce = _compiled([keras.Input((3, 2)), keras.layers.LSTM(2), keras.layers.Dense(1, activation="sigmoid")], loss="categorical_crossentropy")
    [finding] = check(sigmoid_cce)
    assert finding.rule_id == "sigmoid-categorical-crossentropy" and "exactly 0" in finding.message
    logits = _compiled(
        [keras.Input((3, 2)), keras.layers.LSTM(2), keras.layers.Dense(2)], loss=keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    assert check(logits) == []


def test_finding_is_frozen_and_rules_are_documented():
    finding = Finding("recurrent-activation", "error", "m", "f", "l")
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.severity = "info"
    assert str(finding) == "ERROR recurrent-activation [l]: m Fix: f"
    assert set(RULES) >= set().union(*EXPECTED.values()) | {"cudnn-disabled"}
