"""The failure zoo runs through the one trainer.

Every zoo recipe trains with ``python -m baselines train --recipe NAME --steps N``
(fixed batch shapes and fixed-width padding included); the floor detector fires
on thread 000's clipped 0/0 and thread 003's sigmoid + categorical cross-entropy
through ``baselines.train``; ``python -m baselines zoo`` writes ``results.json``
from the runs' ``metrics.json``. (That the stability
kit stays out of ``import seqtasks`` is the import rule of ``tests/test_config_and_registry.py``.)
"""

import dataclasses
import json

import keras
import numpy as np
import pytest

from baselines import zoo
from baselines.zoo import runner as zoo_run
from baselines.zoo import summary as zoo_summary
from baselines.__main__ import main as baselines_main
from baselines.catalog import get_recipe, list_recipes
from baselines.train import train
from seqtasks.stability import BelowFloorWarning

ZOO_RECIPES = [name for names in zoo.ZOO.values() for name in names]
# Tiny settings: a 4-unit model where the build takes a width (thread 000's LSTM is its 7-way output),
# and thread 001 on 48 instead of 672 steps.
UNITS = {name: 4 for name in ZOO_RECIPES if name != "reber_softmax_lstm"}
TASKS = {name: "random_labels/t48_f16" for name in zoo.ZOO["noise_relu_lstm"]}
# Models built for one batch size (keras.Input(batch_shape=...), stateful layers) and fixed-width recipes.
FIXED_BATCH = {**{name: 32 for name in zoo.ZOO["noise_relu_lstm"]}, "reversal_stateful_lstm": 588}
FIXED_WIDTH = {"reber": 40, "word": 12, "reversal": 5}
# The slowest (char_to_vector's 20,000-word vocabulary; below on 2,000 words) and the ones other tests here
# cover run in the full suite only.
SLOW = {"word_vector_wide_mse", "word_vector_wide_mse_fixed", "noise_relu_lstm_no_recurrent_dropout", "unnormalised_sigmoid_cce"}


def _train_command(name: str, out, steps: int = 2) -> list[str]:
    command = ["train", "--recipe", name, "--steps", str(steps), "--eval-size", "32", "--verbose", "0", "--out", str(out)]
    if name in UNITS:
        command += ["--units", str(UNITS[name])]
    if name in TASKS:
        command += ["--task", TASKS[name]]
    return command


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore:In loss categorical_crossentropy")
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in ZOO_RECIPES])
def test_every_zoo_recipe_trains_through_baselines_train(name, tmp_path):
    assert baselines_main(_train_command(name, tmp_path)) == 0
    run = json.loads((tmp_path / "metrics.json").read_text())
    recipe = get_recipe(name)
    assert run["recipe"] == name and run["steps"] == 2 and run["updates"] == 2 and run["epochs"] == 1
    assert len(run["per_update_loss"]) == 2 and run["fresh_data"] and run["sequences_seen"] == 2 * recipe.batch_size
    assert run["build_overrides"] == ({"units": UNITS[name]} if name in UNITS else {})
    assert run["final"]["validation"] and all(run["finite_predictions"].values())
    # The model's batch shape and the posts' padding are the recipe's.
    assert run["fixed_batch_size"] == FIXED_BATCH.get(name)
    assert run["fixed_width"] == FIXED_WIDTH.get(name.partition("_")[0])
    rules = {finding["rule_id"] for finding in run["lint"]}
    if name in zoo.NAIVE_RECIPES:
        assert rules, "the linter flags every naive recipe"
    else:
        assert rules == set(), run["lint"]
    assert run["floor_check"]["updates"] == 2 and "below_floor_updates" in run["floor_check"]


def test_fixed_width_recipe_pads_words_to_the_longest_training_word(tmp_path):
    """Thread 002's post padded every word to one length; char_to_vector declares no length strata."""
    run = train("word_vector_wide_mse", task_overrides={"vocab_size": 2000}, steps=1, eval_size=32,
                build_overrides={"units": 4}, out=tmp_path, verbose=0)
    assert run["fixed_width"] == 12 and run["fixed_batch_size"] is None and run["updates"] == 1
    assert {finding["rule_id"] for finding in run["lint"]} == {"padding-without-masking", "accuracy-on-regression"}
    assert set(run["final"]) == {"validation", "test", "test_long"} and all(run["finite_predictions"].values())


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy")
def test_floor_detector_fires_on_sigmoid_with_categorical_crossentropy_through_train(tmp_path):
    """Thread 003: the loss is exactly 0 at every update, below the label entropy of every batch."""
    with pytest.warns(BelowFloorWarning, match="on data the model has not trained on"):
        run = train("unnormalised_sigmoid_cce", steps=4, eval_size=32, build_overrides={"units": 4}, out=tmp_path, verbose=0)
    assert run["per_update_loss"] == [0.0] * 4 and run["nan_update"] is None
    verdict = run["floor_check"]
    assert verdict["verdict"] == "error" and verdict["first_error_update"] == 3  # patience 3
    assert verdict["below_floor_updates"] == [1, 2, 3, 4] and verdict["floor_source"] == "batch_floor"
    assert run["loss_floor"] > 0.2


def _keras2_clipped_crossentropy(y_true, y_pred):
    """Categorical cross-entropy whose clip turns the 0/0 of all-zero outputs into 1 - 1e-7 (a loss of ~1e-7)."""
    epsilon = 1e-7
    normalised = y_pred / keras.ops.sum(y_pred, axis=-1, keepdims=True)
    clipped = keras.ops.where(keras.ops.isnan(normalised), 1 - epsilon, keras.ops.clip(normalised, epsilon, 1 - epsilon))
    return -keras.ops.sum(y_true * keras.ops.log(clipped), axis=-1)


def _closed_gate_softmax_lstm(task, spec, **overrides):
    """Thread 000's LSTM(activation='softmax') with closed output gates, under the Keras 2-style clipped loss."""
    units = spec.input_depth
    model = keras.Sequential([keras.Input((None, units)), keras.layers.LSTM(units, activation="softmax", return_sequences=True)])
    kernel, recurrent_kernel, bias = model.layers[0].get_weights()
    bias[3 * units :] = -1e4  # Keras orders the gates i, f, c, o
    model.layers[0].set_weights([kernel, recurrent_kernel, bias])
    model.compile(optimizer="nadam", loss=_Keras2ClippedCrossentropy())
    return model


class _Keras2ClippedCrossentropy(keras.losses.Loss):
    def __init__(self, **kwargs):
        super().__init__(reduction="mean_with_sample_weight")  # the mean over weighted positions, as Keras 2

    def call(self, y_true, y_pred):
        return _keras2_clipped_crossentropy(y_true, y_pred)


def test_floor_detector_fires_on_the_clipped_zero_over_zero_loss_through_train(tmp_path):
    """Thread 000 as the post saw it: outputs sum to 0, the clip hides the 0/0, the loss is a finite 1e-7."""
    recipe = dataclasses.replace(get_recipe("reber_softmax_lstm"), name="reber_softmax_lstm_closed_gates", build=_closed_gate_softmax_lstm)
    with pytest.warns(BelowFloorWarning, match="on data the model has not trained on"):
        run = train(recipe, steps=3, eval_size=16, out=tmp_path, verbose=0)
    assert all(0 < loss < 1e-6 for loss in run["per_update_loss"]) and run["nan_update"] is None  # TerminateOnNaN saw nothing
    assert run["floor_check"]["first_error_update"] == 3 and run["floor_check"]["verdict"] == "error"
    assert 0.3 < run["loss_floor"] < np.log(2)
    assert not run["finite_predictions"]["validation"]  # the post: loss ~1e-7, every prediction NaN


def test_retired_zoo_names_are_no_recipes():
    # The zoo's pre-0.2 names (seedNNN_*) collided with --seed; they were aliases and are gone.
    names = list_recipes()
    assert set(ZOO_RECIPES) <= set(names) and not [name for name in names if name.startswith("seed0")]
    with pytest.raises(ValueError, match="invalid recipe 'seed003_unnormalised'; allowed: one of "):
        get_recipe("seed003_unnormalised")


def test_train_rejects_bad_zoo_options(tmp_path, capsys):
    base = ["train", "--recipe", "reversal_stateless_lstm", "--out", str(tmp_path), "--verbose", "0"]
    for extra, message in (
        (["--steps", "0"], "invalid steps=0; allowed: an integer >= 1"),
        (["--steps", "2", "--epochs", "2"], "invalid epochs=2 together with steps=2; allowed: one of the two"),
        (["--steps", "1", "--units", "0"], "invalid units=0; allowed: an integer >= 1"),
        (["--steps", "1", "--lr", "-1"], "invalid learning_rate=-1.0; allowed: a number > 0"),
    ):
        assert baselines_main(base + extra) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ValueError, match="invalid depth=3 for recipe 'reversal_stateless_lstm'; allowed: units, learning_rate"):
        train("reversal_stateless_lstm", steps=1, build_overrides={"depth": 3}, out=tmp_path)


def test_evidence_covers_every_zoo_pair():
    names = [evidence.name for evidence in zoo.EVIDENCE]
    assert len(names) == len(set(names))
    covered = {recipe for evidence in zoo.EVIDENCE for recipe in evidence.recipes}
    assert covered == set(ZOO_RECIPES) and covered <= set(list_recipes())
    for thread, recipes in zoo.ZOO.items():
        main = next(evidence for evidence in zoo.EVIDENCE if evidence.name == thread)
        assert main.recipes == recipes and main.seeds >= 3 and main.figure  # failing recipe(s) next to the fix


@pytest.mark.slow
def test_zoo_command_records_runs_reuses_them_and_summarises(tmp_path, capsys):
    out = tmp_path / "run"
    command = ["zoo", "reversal_stateless_lstm", "reversal_stateful_lstm_fixed", "--seeds", "2", "--steps", "3",
               "--units", "4", "--eval-size", "32", "--out", str(out)]
    assert baselines_main(command) == 0
    document = json.loads((out / "results.json").read_text())
    assert document["schema"] == zoo_run.SCHEMA and document["command"].startswith("python -m baselines zoo")
    runs = document["runs"]
    assert [(r["recipe"], r["seed"], r["data_seed"]) for r in runs] == [
        ("reversal_stateless_lstm", 0, 0),
        ("reversal_stateless_lstm", 1, 1),
        ("reversal_stateful_lstm_fixed", 0, 0),
        ("reversal_stateful_lstm_fixed", 1, 1),
    ]
    for run in runs:
        assert len(run["per_update_loss"]) == 3 and run["nan_update"] is None and run["loss_floor"] == 0.0
        assert len(run["final"]["validation"]["per_position_accuracy"]) == 5 and run["locate_nan"]
        on_disk = json.loads((out / "runs" / run["recipe"] / f"seed{run['seed']}" / "metrics.json").read_text())
        assert on_disk == run
    assert [f["rule_id"] for f in runs[0]["lint"]] == ["unidirectional-future-context"] and runs[2]["lint"] == []
    assert runs[0]["per_update_loss"] != runs[1]["per_update_loss"]  # the seed changes data and weights
    assert (out / "curves.png").stat().st_size > 1000
    rows = [zoo_summary.summarise(run) for run in runs]
    assert [row["updates"] for row in rows] == [3, 3, 3, 3] and all(row["below_floor"] == 0 for row in rows)
    assert rows[0]["first_loss"] == runs[0]["per_update_loss"][0]
    table = zoo_summary.markdown(rows)
    assert table.count("\n") == 2 + len(rows) and "| reversal_stateful_lstm_fixed | 1 | 3 | None |" in table
    capsys.readouterr()
    assert zoo_summary.main([str(out / "results.json")]) == 0 and table in capsys.readouterr().out
    # A finished run with the same settings is reused, not retrained.
    stamp = (out / "runs" / "reversal_stateless_lstm" / "seed0" / "metrics.json").stat().st_mtime_ns
    assert baselines_main(command) == 0
    assert (out / "runs" / "reversal_stateless_lstm" / "seed0" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "results.json").read_text())["runs"] == runs


@pytest.mark.slow
def test_zoo_all_reruns_every_evidence_set(tmp_path, monkeypatch):
    tiny = (
        zoo.Evidence("reversal_tiny", ("reversal_stateful_lstm", "reversal_stateful_lstm_fixed"), 2, seeds=1, units=4, figure="reversal.png"),
        zoo.Evidence("unnormalised_tiny", ("unnormalised_sigmoid_cce_fixed",), 1, seeds=2, units=4, learning_rate=0.01),
    )
    monkeypatch.setattr(zoo, "EVIDENCE", tiny)
    out, figures = tmp_path / "stability_runs", tmp_path / "figures"
    command = ["zoo", "--all", "--out", str(out), "--runs-dir", str(tmp_path / "runs"), "--figures", str(figures), "--eval-size", "32"]
    assert baselines_main(command) == 0
    assert sorted(path.name for path in out.iterdir()) == ["reversal_tiny.json", "unnormalised_tiny.json"]
    first = json.loads((out / "reversal_tiny.json").read_text())
    assert [run["recipe"] for run in first["runs"]] == ["reversal_stateful_lstm", "reversal_stateful_lstm_fixed"]
    assert first["settings"]["evidence"] == "reversal_tiny" and first["runs"][0]["fixed_batch_size"] == 588
    second = json.loads((out / "unnormalised_tiny.json").read_text())
    assert [run["seed"] for run in second["runs"]] == [0, 1]
    assert all(run["build_overrides"] == {"units": 4, "learning_rate": 0.01} for run in second["runs"])
    assert (figures / "reversal.png").stat().st_size > 1000 and not (figures / "unnormalised_tiny.png").exists()
    assert (tmp_path / "runs" / "reversal_tiny" / "reversal_stateful_lstm" / "seed0" / "metrics.json").exists()


def test_zoo_command_rejects_bad_arguments(tmp_path, capsys):
    for argv, message in (
        (["zoo", "reversal_stateful_lstm_fixed", "--steps", "0", "--out", str(tmp_path)], "invalid --steps=0; allowed: an integer >= 1"),
        (["zoo", "nope", "--steps", "1", "--out", str(tmp_path)], "invalid recipe 'nope'"),
        (["zoo", "--out", str(tmp_path)], "give recipe names, or --all"),
        (["zoo", "--all", "noise_relu_lstm", "--out", str(tmp_path)], "give recipe names, or --all"),
        (["zoo", "--all", "--steps", "3", "--out", str(tmp_path)], "with --all; allowed: each set's own settings"),
        (["zoo", "--all", "--only", "nope", "--out", str(tmp_path)], "invalid --only nope; allowed: reber_softmax_lstm"),
    ):
        assert baselines_main(argv) == 2
        assert message in capsys.readouterr().err
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"argv": None, "args": {}, "results": []}))
    assert zoo_summary.main([str(old)]) == 2
    assert "written by the old zoo runner" in capsys.readouterr().err
