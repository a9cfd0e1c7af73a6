"""The reference architectures (baselines/architectures.py): stack updates by hand, masking, causality,
stack depth, gradients, parameter counts by formula, and their recipes (issue 26)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import seqtasks  # noqa: E402
from baselines.architectures import StackRNN, TransformerEncoder, update_stack  # noqa: E402
from baselines.models import build_model, protocol_exclusion, recipe_name  # noqa: E402
from baselines.catalog import get_recipe, list_recipes  # noqa: E402
from baselines.recipes import REFERENCE_MODELS  # noqa: E402
from seqtasks.encoding import to_supervised  # noqa: E402

PUSH, POP, NO_OP = np.eye(3, dtype=np.float32)


def _stack(rows):
    return tf.constant(np.asarray(rows, np.float32)[None])  # (1, depth, cell)


def _update(stack, actions, value):
    actions, value = (tf.constant(np.asarray(a, np.float32)[None]) for a in (actions, value))
    out = update_stack(stack, actions, value)
    return out.numpy()[0]


# -- the stack update, against hand-computed stacks ---------------------------------------------------


def test_push_then_pop_returns_the_pushed_value_and_restores_the_stack():
    start = [[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]
    pushed = _update(_stack(start), PUSH, [7.0, 8.0])
    np.testing.assert_array_equal(pushed, [[7.0, 8.0], [1.0, 2.0], [3.0, 4.0]])
    popped = _update(tf.constant(pushed[None]), POP, [9.0, 9.0])
    np.testing.assert_array_equal(popped, start)  # top is the old top again; the pushed value is gone


def test_no_op_keeps_the_stack():
    start = [[1.0, -2.0], [3.0, 4.0], [5.0, 6.0]]
    np.testing.assert_array_equal(_update(_stack(start), NO_OP, [9.0, 9.0]), start)


def test_pop_reads_zeros_below_the_bottom():
    np.testing.assert_array_equal(_update(_stack([[1.0], [2.0]]), POP, [5.0]), [[2.0], [0.0]])


def test_a_mixed_action_is_the_documented_convex_combination():
    # p = (push 0.5, pop 0.3, no-op 0.2), stack [[1], [2], [4]], push value 10:
    # new[0] = 0.5*10 + 0.3*2 + 0.2*1 = 5.8; new[1] = 0.5*1 + 0.3*4 + 0.2*2 = 2.1; new[2] = 0.5*2 + 0.3*0 + 0.2*4 = 1.8
    out = _update(_stack([[1.0], [2.0], [4.0]]), [0.5, 0.3, 0.2], [10.0])
    np.testing.assert_allclose(out, [[5.8], [2.1], [1.8]], rtol=1e-6)


# -- the layers ------------------------------------------------------------------------------------


def _one_hot(ids, depth=3):
    return np.eye(depth, dtype=np.float32)[np.asarray(ids)]


def _random_sequences(batch, steps, depth=3, seed=0):
    return _one_hot(np.random.default_rng(seed).integers(0, depth, (batch, steps)), depth)


def test_a_deeper_stack_gives_the_same_outputs():
    """Depth T (the default) and depth 3T agree at every step: nothing reaches depth T in T steps."""
    layer = StackRNN(16, cell_size=4)
    x = _random_sequences(4, 12)
    layer(x)
    shallow, shallow_actions = layer(x, return_actions=True)
    deep, deep_actions = layer(x, return_actions=True, depth=36)
    np.testing.assert_allclose(shallow.numpy(), deep.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(shallow_actions.numpy(), deep_actions.numpy(), rtol=0, atol=1e-6)
    assert np.allclose(shallow_actions.numpy().sum(-1), 1.0, atol=1e-5)


def test_a_too_shallow_stack_can_differ():
    """The check above can fail: a stack of depth 1 forgets what lies below its top."""
    layer = StackRNN(16, cell_size=4)
    x = _random_sequences(4, 12, seed=1)
    layer(x)
    assert not np.allclose(layer(x).numpy(), layer(x, depth=1).numpy(), atol=1e-6)


def _network(body, depth=3):
    inputs = keras.Input((None, depth))
    hidden = keras.layers.Masking(0.0)(inputs)
    return keras.Model(inputs, body(hidden))


@pytest.mark.parametrize(
    "make", [lambda: StackRNN(8, cell_size=4), lambda: TransformerEncoder(16, 2, 4, dropout=0.0),
             lambda: TransformerEncoder(16, 2, 4, dropout=0.0, causal=True)],
    ids=["stack_rnn", "transformer", "causal_transformer"],
)
def test_outputs_at_real_steps_do_not_depend_on_padding(make):
    """Each example alone, and in a batch zero-padded to a longer one, gives the same outputs at its steps."""
    model = _network(make())
    lengths = (5, 9, 3)
    rows = [_random_sequences(1, n, seed=n)[0] for n in lengths]
    batch = np.zeros((3, 14, 3), np.float32)
    for i, row in enumerate(rows):
        batch[i, : len(row)] = row
    together = model(batch).numpy()
    for i, row in enumerate(rows):
        alone = model(row[None]).numpy()[0]
        np.testing.assert_allclose(together[i, : len(row)], alone, rtol=1e-5, atol=1e-5)


def test_the_causal_transformer_does_not_look_ahead_and_the_other_does():
    x = _random_sequences(2, 10, seed=3)
    changed = x.copy()
    changed[:, 6:] = _random_sequences(2, 4, seed=4)
    causal = _network(TransformerEncoder(16, 2, 4, dropout=0.0, causal=True))
    np.testing.assert_allclose(causal(x).numpy()[:, :6], causal(changed).numpy()[:, :6], rtol=1e-5, atol=1e-6)
    full = _network(TransformerEncoder(16, 2, 4, dropout=0.0))
    assert not np.allclose(full(x).numpy()[:, :6], full(changed).numpy()[:, :6], atol=1e-4)


@pytest.mark.parametrize("model_kind", REFERENCE_MODELS)
def test_gradients_are_finite_and_reach_every_weight(model_kind):
    task = seqtasks.make("sequence_reversal/reverse_string")
    model = build_model(task, task.supervised_spec(), model=model_kind, units=16, learning_rate=1e-3)
    x, y, weight = to_supervised(task, task.sample(6, seed=5))
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True), sample_weight=weight)
    gradients = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and np.all(np.isfinite(g.numpy())) for g in gradients)
    assert sum(float(np.abs(g.numpy()).sum()) > 0 for g in gradients) == len(gradients)


# -- parameter counts, by formula -------------------------------------------------------------------


def _expected_parameters(model_kind: str, inputs: int, outputs: int, units: int) -> int:
    head = units * outputs + outputs
    if model_kind == "rnn":  # SimpleRNN: W (inputs x units), U (units x units), b
        return inputs * units + units * units + units + head
    if model_kind == "stack_rnn":  # core reads [x, top] (cell 8); push value (units -> 8); actions (units -> 3)
        return (inputs + 8) * units + units * units + units + (units * 8 + 8) + (units * 3 + 3) + head
    width = 64  # transformer: embedding (no bias), 5 x [4 bias-free 64x64 projections, 2 LayerNorms, FFN 64-256-64]
    layer = 4 * width * width + 2 * 2 * width + (width * 4 * width + 4 * width) + (4 * width * width + width)
    return inputs * width + 5 * layer + width * outputs + outputs


@pytest.mark.parametrize("model_kind", REFERENCE_MODELS)
@pytest.mark.parametrize("task_name", ["sequence_reversal/reverse_string", "reber_grammar"])
def test_parameter_counts_match_the_formula(task_name, model_kind):
    recipe = get_recipe(recipe_name(task_name, model_kind))
    task = seqtasks.make(recipe.task)
    spec = task.supervised_spec()
    model = recipe.build(task, spec)
    units = recipe.units or 64
    assert model.count_params() == _expected_parameters(model_kind, spec.input_depth, spec.input_depth, units)


def test_reverse_string_counts_by_hand():
    """The formula's numbers for reverse_string (3 symbols, 256 units), worked out once by hand."""
    assert _expected_parameters("rnn", 3, 3, 256) == 768 + 65_536 + 256 + 771 == 67_331
    assert _expected_parameters("stack_rnn", 3, 3, 256) == 2_816 + 65_536 + 256 + 2_056 + 771 + 771 == 72_206
    assert _expected_parameters("transformer", 3, 3, 256) == 192 + 5 * 49_728 + 195 == 249_027


# -- recipes --------------------------------------------------------------------------------------


def test_reference_models_have_recipes_only_on_their_two_configs():
    names = [name for name in list_recipes() if get_recipe(name).model in REFERENCE_MODELS]
    assert sorted(names) == sorted(
        f"stable_{model}_{task}" for model in REFERENCE_MODELS
        for task in ("reber_grammar", "sequence_reversal.reverse_string")
    )
    for task_name in ("char_to_vector", "random_labels", "sequence_reversal"):
        assert "Deletang" in protocol_exclusion(task_name, "stack_rnn")
        with pytest.raises(ValueError, match=f"invalid model='rnn' for task '{task_name}'; allowed: reber_grammar"):
            recipe_name(task_name, "rnn")


def test_the_transformer_is_causal_exactly_on_next_symbol_views():
    for task_name, causal in (("reber_grammar", True), ("sequence_reversal/reverse_string", False)):
        recipe = get_recipe(recipe_name(task_name, "transformer"))
        task = seqtasks.make(recipe.task)
        model = recipe.build(task, task.supervised_spec())
        assert [layer.causal for layer in model.layers if isinstance(layer, TransformerEncoder)] == [causal]
        assert recipe.units is None  # its width is Deletang et al.'s, not the recurrent recipe's


def test_build_model_refuses_a_transformer_on_a_per_sequence_target():
    task = seqtasks.make("char_to_vector/synthetic_d100", vocab_size=200)
    with pytest.raises(ValueError, match="invalid model='transformer' for a per-sequence target"):
        build_model(task, task.supervised_spec(), model="transformer", units=8, learning_rate=1e-3)


def test_a_saved_stack_rnn_loads_with_the_same_outputs(tmp_path):
    task = seqtasks.make("sequence_reversal/reverse_string")
    model = build_model(task, task.supervised_spec(), model="stack_rnn", units=8, learning_rate=1e-3)
    x, _, _ = to_supervised(task, task.sample(3, seed=6))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6, atol=1e-6)


def test_quadratic_models_are_predicted_in_smaller_batches():
    from baselines.scoring import QUADRATIC_BUDGET, _row_chunks

    steps = np.array([10] * 300 + [1_001] * 40)
    order = np.argsort(steps, kind="stable")
    plain = _row_chunks(order, steps, 256, quadratic=False)
    assert [len(rows) for rows in plain] == [256, 84]
    chunks = _row_chunks(order, steps, 256, quadratic=True)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(340))
    assert all(len(rows) * int(steps[rows].max()) ** 2 <= QUADRATIC_BUDGET for rows in chunks)
    assert max(len(rows) for rows in chunks if steps[rows].max() == 1_001) == QUADRATIC_BUDGET // 1_001**2


def test_a_masked_step_keeps_the_stack_rnns_state():
    """A zero (masked) step inserted mid-sequence changes no output at the real steps: state and stack are held."""
    model = _network(StackRNN(8, cell_size=4))
    x = _random_sequences(2, 8, seed=7)
    gapped = np.concatenate([x[:, :4], np.zeros((2, 1, 3), np.float32), x[:, 4:]], axis=1)
    plain, with_gap = model(x).numpy(), model(gapped).numpy()
    np.testing.assert_allclose(with_gap[:, [0, 1, 2, 3, 5, 6, 7, 8]], plain, rtol=1e-5, atol=1e-6)


def test_the_results_pages_count_parameters_by_building_the_recipe():
    """An archived run without a recorded count gets its recipe's count (LSTM by formula); a recorded one wins."""
    from baselines.report import parameter_count

    task = seqtasks.make("reber_grammar/embedded")
    config = task.config.to_dict()
    run = {"recipe": "stable_lstm_reber_grammar", "task": "reber_grammar/embedded", "task_config": config}
    inputs, units = task.supervised_spec().input_depth, 64  # 7 symbols in and out; the recipe's 64 units
    lstm = 4 * (inputs * units + units * units + units)
    assert parameter_count(run) == lstm + units * inputs + inputs == 18_887
    assert parameter_count({**run, "build_overrides": {"units": 8}}) == 4 * (7 * 8 + 64 + 8) + 8 * 7 + 7
    assert parameter_count({**run, "parameters": 5}) == 5
    assert parameter_count({**run, "recipe": "no_such_recipe"}) is None


def test_the_reverse_string_criteria_say_whether_the_models_separate():
    task = seqtasks.make("sequence_reversal/reverse_string")

    def run(model, score):
        return {"model": model, "length_scores": {"test_long": score}}

    lines = task._separation([run("stack_rnn", 0.99), run("stack_rnn", 0.93), run("lstm", 0.57), run("gru", 0.56)])
    assert lines == [
        "met (target): stack_rnn's test_long length score, mean over 2 seeds 0.960 (min 0.930), at least 0.95",
        "met (target): the models separate: best stack_rnn 0.990 minus best LSTM/GRU 0.570 = +0.420 in test_long "
        "length score, at least 0.35",
    ]
    lines = task._separation([run("stack_rnn", 0.94), run("lstm", 0.57)])
    assert lines[0].startswith("NOT met (target): stack_rnn's") and lines[1].startswith("met (target)")
    assert task._separation([run("stack_rnn", 0.80), run("gru", 0.57)])[1].startswith("NOT met (target): the models")
    assert task._separation([run("lstm", 0.57)]) == []


def test_the_learning_rate_rule_takes_the_best_validation_metric_then_the_lower_loss():
    from baselines.experiments.learning_rate import select
    from baselines.learning_rates import RULE_RATES

    assert RULE_RATES == (1e-4, 3e-4, 5e-4)  # Deletang et al. (2023), Section 4
    assert select({1e-4: (0.70, 0.5), 3e-4: (0.90, 0.3), 5e-4: (0.85, 0.2)}) == 3e-4
    assert select({1e-4: (0.0, 0.9), 3e-4: (0.0, 0.4), 5e-4: (0.0, 0.6)}) == 3e-4  # a tie: the lower loss
    assert select({1e-4: (1.0, 0.1), 5e-4: (1.0, 0.1)}) == 1e-4  # a full tie: the lower rate
    assert select({}) is None


def test_the_results_schema_accepts_every_model_kind():
    import json
    from pathlib import Path

    from baselines.recipes import ALL_MODEL_KINDS

    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "results.schema.json").read_text())
    assert schema["$defs"]["run"]["properties"]["model"]["enum"] == list(ALL_MODEL_KINDS)


def test_every_selected_learning_rate_is_the_experiments_choice_and_the_recipes_rate():
    import json
    from pathlib import Path

    from baselines.catalog import get_recipe
    from baselines.learning_rates import OUTSIDE_THE_RULE, RULE_RATES, SELECTED_LEARNING_RATES
    from baselines.models import config_recipe_tasks, recipe_name, stable_settings

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    for (config, model), rate in SELECTED_LEARNING_RATES.items():
        assert rate in RULE_RATES
        selection = json.loads((results / f"learning_rate_{config.replace('/', '-')}.json").read_text())
        assert selection["results"][model]["selected"] == rate, (config, model)
        task = config if config in config_recipe_tasks() else config.partition("/")[0]  # a default config: the task's
        assert get_recipe(recipe_name(task, model)).settings["learning_rate"] == rate, (config, model)
        # Every model of a config under the rule is selected by it or a stated exception that keeps its recipe's
        # rate (bidirectional runs on a next-symbol task are leakage checks, not rows).
        for other in stable_settings(task)["models"]:
            if get_recipe(recipe_name(task, other)).bidirectional:
                continue
            assert ((config, other) in SELECTED_LEARNING_RATES) != ((config, other) in OUTSIDE_THE_RULE), (config, other)
            if (config, other) in OUTSIDE_THE_RULE:
                assert get_recipe(recipe_name(task, other)).settings["learning_rate"] == stable_settings(task)["learning_rate"]


def test_the_page_marks_a_rate_outside_the_rule_or_older_than_its_selection():
    from baselines.learning_rates import rate_note

    assert rate_note("sequence_reversal/reverse_string", "stack_rnn", 5e-4) == ""
    assert "not the rule's 0.0005" in rate_note("sequence_reversal/reverse_string", "lstm", 1e-3)
    assert rate_note("reber_grammar/embedded", "lstm", 3e-3).startswith("outside the rule")
    assert rate_note("reber_grammar/embedded", "rnn", 5e-4) == ""
    assert rate_note("reber_grammar/embedded", "rnn", 3e-4).startswith("**not the rule's")
