"""Stable baselines: models for every task x model, training outputs, the CLI, reproduce, distribution and resume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import seqtasks  # noqa: E402
from baselines import reproduce  # noqa: E402
from baselines.__main__ import main as baselines_main  # noqa: E402
from baselines.data import EpochShuffledBatches, split_arrays  # noqa: E402
from baselines.models import (  # noqa: E402
    MODEL_KINDS,
    TASK_NAMES,
    build_model,
    config_recipe_tasks,
    recipe_name,
    stable_settings,
)
from baselines.catalog import get_recipe, list_recipes  # noqa: E402
from baselines.recipes import REFERENCE_MODELS  # noqa: E402
from baselines.train import train  # noqa: E402
from seqtasks.encoding import to_supervised  # noqa: E402
from seqtasks.metrics import ReportColumn  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Small configs of each task, so every model trains a step in well under a second.
TINY_TASKS = {
    "reber_grammar": ("reber_grammar/embedded", {}),
    "sequence_reversal": ("sequence_reversal/len1to40_vocab10", {"max_length": 8, "long_max_length": 12}),
    "char_to_vector": ("char_to_vector/synthetic_d100", {"vocab_size": 200}),
    "random_labels": ("random_labels/t48_f16", {"time_steps": 6}),
}
TINY_TRAIN = {"train_size": 32, "eval_size": 16, "epochs": 1}


def _tiny_task(task_name: str) -> seqtasks.Task:
    name, overrides = TINY_TASKS[task_name]
    return seqtasks.make(name, **overrides)


def test_every_task_and_model_has_a_registered_stable_recipe():
    names = set(list_recipes())
    for task_name in TASK_NAMES:
        for model in MODEL_KINDS:
            recipe = get_recipe(recipe_name(task_name, model))
            assert recipe.name in names and recipe.task.startswith(task_name + "/")
            assert recipe.model == model


def test_the_recipe_table_in_the_docs_states_each_recipes_settings():
    """docs/baselines.md's table of the stable recipe lists every tuned task and config recipe with
    the units, learning rate, batch size and epochs that `stable_settings` trains with."""
    text = (REPO / "docs" / "baselines.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and "/" in cells[0]:
            rows[cells[0].strip("`")] = cells[1:5]
    expected = {}
    for name in (*TASK_NAMES, *config_recipe_tasks()):
        settings = stable_settings(name)
        expected[settings["task"]] = [
            str(settings["units"]),
            f"{settings['learning_rate']:.0e}".replace("e-0", "e-"),
            str(settings["batch_size"]),
            str(settings["epochs"]),
        ]
    assert set(rows) == set(expected)
    for task, (units, rate, batch, epochs) in rows.items():
        assert [units, rate, batch, epochs.split()[0]] == expected[task], task


def test_recipes_are_typed_and_checked_on_construction():
    import argparse
    import dataclasses

    from baselines.recipes import QuickSettings
    from baselines.train import add_arguments

    reber = get_recipe(recipe_name("reber_grammar", "lstm"))
    assert reber.eval_every_sequences == 64 and reber.stop_when_solved and reber.quick == QuickSettings(epochs=4, eval_size=256)
    assert list(reber.settings) == [
        "batch_size", "epochs", "units", "learning_rate", "eval_every_sequences", "stop_when_solved", "quick", "model",
    ]
    zoo = get_recipe("reber_softmax_lstm")
    assert zoo.settings == {"zoo": True, "one_hot_targets": True, "naive": True} and zoo.model is None
    for change, message in (
        ({"batch_size": 0}, "invalid batch_size=0; allowed: an integer >= 1"),
        ({"model": "mlp"}, "invalid model='mlp'; allowed: one of lstm, gru, bilstm, bigru, rnn, transformer, stack_rnn or None"),
        ({"stop_when_solved": "yes"}, "invalid stop_when_solved='yes'; allowed: True or False"),
        ({"eval_every_sequences": None}, "invalid stop_when_solved=True; allowed: True only with eval_every_sequences"),
        ({"naive": True}, "invalid naive=True; allowed: True only with zoo=True"),
        ({"inputs": "bytes"}, "invalid inputs='bytes'; allowed: one of one_hot, ids"),
    ):
        with pytest.raises(ValueError, match=f"recipe 'stable_lstm_reber_grammar': {message}"):
            dataclasses.replace(reber, **change)
    with pytest.raises(ValueError, match="invalid eval_size=0; allowed: an integer >= 1, or None"):
        QuickSettings(eval_size=0)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert next(action for action in parser._actions if action.dest == "model").choices == (*MODEL_KINDS, *REFERENCE_MODELS)


@pytest.mark.parametrize("model_kind", MODEL_KINDS)
@pytest.mark.parametrize("task_name", TASK_NAMES)
def test_model_shapes_recipe_and_one_training_step(task_name, model_kind):
    task = _tiny_task(task_name)
    spec = task.supervised_spec()
    model = get_recipe(recipe_name(task_name, model_kind)).build(task, spec)
    model.run_eagerly = True  # two steps do not repay compiling a graph
    x, y, weight = to_supervised(task, task.sample(8, seed=1))
    if y.ndim == 1:
        y = y[:, None]
    losses = [model.train_on_batch(x, y, sample_weight=weight, return_dict=True)["loss"] for _ in range(2)]
    assert np.isfinite(losses).all() and model.optimizer.iterations.numpy() == 2
    outputs = np.asarray(model(x))
    if spec.target_kind == "sparse":
        expected = (8, x.shape[1], spec.input_depth)
    else:
        expected = (8, task.config.dim) if spec.target_kind == "dense" else (8, 1)
    assert outputs.shape == expected
    if spec.target_kind == "sparse":
        np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, rtol=1e-5)  # softmax head
    # The stable recipe: cuDNN-eligible tanh cells, Adam with clipnorm=1.
    recurrent = [layer for layer in model.layers if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]
    assert len(recurrent) == 1
    cells = [recurrent[0].forward_layer, recurrent[0].backward_layer] if model_kind.startswith("bi") else recurrent
    for layer in cells:
        assert layer.activation is keras.activations.tanh and layer.recurrent_dropout == 0 and not layer.unroll
    assert model.optimizer.clipnorm == 1.0


@pytest.mark.parametrize("model_kind", MODEL_KINDS)
@pytest.mark.parametrize("task_name", ["sequence_reversal", "char_to_vector"])
def test_padding_is_ignored(task_name, model_kind):
    """Extra zero-padded steps change no output at a real step (the backward direction too)."""
    task = _tiny_task(task_name)
    model = build_model(task, task.supervised_spec(), model=model_kind, units=8, learning_rate=1e-3)
    x, _, weight = to_supervised(task, task.sample(6, seed=2))
    padded = np.concatenate([x, np.zeros((x.shape[0], 5, x.shape[2]), np.float32)], axis=1)
    short, long = np.asarray(model(x)), np.asarray(model(padded))
    if task.supervised_spec().per_step:
        real = weight > 0
        np.testing.assert_allclose(short[real], long[:, : x.shape[1]][real], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(short, long, rtol=1e-5, atol=1e-6)


def test_build_model_rejects_bad_parameters():
    task = _tiny_task("sequence_reversal")
    spec = task.supervised_spec()
    with pytest.raises(ValueError, match="invalid model='mlp'; allowed: one of lstm, gru, bilstm, bigru, rnn"):
        build_model(task, spec, model="mlp", units=4, learning_rate=1e-3)
    with pytest.raises(ValueError, match="invalid units=0; allowed: an integer >= 1"):
        build_model(task, spec, model="lstm", units=0, learning_rate=1e-3)
    with pytest.raises(ValueError, match="invalid learning_rate=0"):
        build_model(task, spec, model="lstm", units=4, learning_rate=0)


def test_epoch_order_depends_only_on_seed_and_epoch():
    task = _tiny_task("sequence_reversal")
    arrays = split_arrays(task, "train", 40, seed=0)
    first, second = EpochShuffledBatches(arrays, 16, seed=3), EpochShuffledBatches(arrays, 16, seed=3)
    first.set_epoch(2)
    second.set_epoch(0)
    second.set_epoch(2)
    np.testing.assert_array_equal(first.order, second.order)
    assert sorted(first.order.tolist()) == list(range(40))
    assert [len(first[i][0]) for i in range(len(first))] == first.batch_sizes() == [16, 16, 8]
    first.set_epoch(3)
    assert not np.array_equal(first.order, second.order)
    full_only = EpochShuffledBatches(arrays, 16, seed=0, shuffle=False, drop_remainder=True)
    assert full_only.batch_sizes() == [16, 16] and len(full_only) == 2
    np.testing.assert_array_equal(full_only[1][0], arrays.x[16:32])


@pytest.mark.slow
@pytest.mark.parametrize(
    "task_name, model_kind",
    [("reber_grammar", "lstm"), ("sequence_reversal", "bigru"), ("char_to_vector", "gru"), ("random_labels", "bilstm")],
)
def test_train_writes_model_metrics_and_curves(tmp_path, task_name, model_kind):
    name, overrides = TINY_TASKS[task_name]
    sizes = {**TINY_TRAIN, "train_size": 64 if task_name == "reber_grammar" else 32}  # Reber: one solve check
    result = train(
        recipe_name(task_name, model_kind),
        task=name,
        task_overrides=overrides,
        seed=1,
        out=tmp_path,
        verbose=0,
        command="test",
        **sizes,
    )
    for file in ("model.keras", "metrics.json", "history.csv", "curves.png"):
        assert (tmp_path / file).stat().st_size > 0
    assert not (tmp_path / "backup").exists()  # removed after a completed run
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == result
    task = seqtasks.make(name, **overrides)
    assert set(result["final"]) == set(task.splits) - {"train"}
    assert result["sequences_seen"] == result["train_size"] == sizes["train_size"]
    steps = -(-sizes["train_size"] // get_recipe(recipe_name(task_name, model_kind)).batch_size)
    assert result["nan_free_steps"] == steps and result["nonfinite_steps"] == 0
    assert len(result["per_epoch"]) == 1 and np.isfinite(result["per_epoch"][0]["loss"])
    assert set(result["versions"]) >= {"python", "numpy", "tensorflow", "keras", "tensorflow_datasets", "seqtasks"}
    assert result["command"] == "test" and result["wall_time_s"] > 0
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert reloaded.count_params() > 0
    headline = task.headline_metric()
    assert result["headline_metric"] == headline and np.isfinite(result["final"]["test"][headline])
    assert result["protocol"]["evaluation"]["splits"]["test"]["seed"] == 0  # the published split
    assert result["valid_baseline"] == (task.bidirectional_leak() is None or not model_kind.startswith("bi"))
    if task_name == "reber_grammar":
        assert result["sequences_to_solve_test"] is None  # 64 sequences are far too few
        assert result["solve_curve"] == [[64, result["final"]["test"]["strings_solved"]]]
    if task_name == "random_labels":
        assert result["final"]["test"]["label_entropy"] == pytest.approx(task.label_entropy())
    assert ("length_report" in result) == ("test_long" in task.splits)


def test_cosine_schedule_decays_the_rate_to_zero_over_exactly_the_runs_updates(tmp_path):
    """random_labels' recipe asks for "cosine": update k of n uses lr * (1 + cos(pi k / n)) / 2."""
    import dataclasses
    import math

    recipe = get_recipe(recipe_name("random_labels", "lstm"))
    assert recipe.learning_rate_schedule == "cosine" and recipe.settings["learning_rate_schedule"] == "cosine"
    with pytest.raises(ValueError, match="invalid learning_rate_schedule='linear'; allowed: one of 'cosine', or None"):
        dataclasses.replace(recipe, learning_rate_schedule="linear")

    class RecordRate(keras.callbacks.Callback):
        rates: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            self.rates.append(float(self.model.optimizer.learning_rate))

    name, overrides = TINY_TASKS["random_labels"]
    result = train(
        recipe, task=name, task_overrides=overrides, out=tmp_path, verbose=0, epochs=2, train_size=64, eval_size=16,
        callbacks=[RecordRate()],
    )
    updates = result["updates"]
    assert updates == 4  # 2 epochs of 64 / 32 fresh batches
    expected = [recipe.learning_rate * (1 + math.cos(math.pi * k / updates)) / 2 for k in range(updates)]
    assert RecordRate.rates == pytest.approx(expected, rel=1e-5)
    model = keras.models.load_model(tmp_path / "model.keras")
    assert int(model.optimizer.iterations) == updates and float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-12)


def test_train_rejects_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="invalid strategy='tpu'; allowed: one of default, mirrored, multiworker"):
        train(recipe_name("reber_grammar", "lstm"), out=tmp_path, strategy="tpu")
    with pytest.raises(ValueError, match="invalid seed=-1"):
        train(recipe_name("reber_grammar", "lstm"), out=tmp_path, seed=-1)
    with pytest.raises(ValueError, match="invalid task='sequence_reversal' for recipe"):
        train(recipe_name("reber_grammar", "lstm"), out=tmp_path, task="sequence_reversal")
    with pytest.raises(ValueError, match="invalid train_size=0; allowed: an integer >= 1"):
        train(recipe_name("reber_grammar", "lstm"), out=tmp_path, train_size=0)
    with pytest.raises(ValueError, match="invalid recipe 'nope'"):
        train("nope", out=tmp_path)
    with pytest.raises(ValueError, match="invalid locate_nan=True with strategy='mirrored'; allowed: True only"):
        train(recipe_name("reber_grammar", "lstm"), out=tmp_path, strategy="mirrored", locate_nan=True)


def test_locate_nan_stops_a_poisoned_run_and_reports_it(tmp_path):
    """--locate-nan: the first non-finite update is named, the last finite weights come back."""
    import keras

    class PoisonAfterThirdUpdate(keras.callbacks.Callback):  # runs after the locator (extra callbacks come last)
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.set_weights([w * np.nan for w in self.model.get_weights()])

    result = train(
        recipe_name("sequence_reversal", "lstm"), out=tmp_path, epochs=2, train_size=256, eval_size=32, verbose=0,
        locate_nan=True, callbacks=[PoisonAfterThirdUpdate()],
    )
    report = result["nan_report"]
    assert report["update"] == 4 and report["restored_weights_from_update"] == 3
    assert (tmp_path / "nan_report.json").exists() and (tmp_path / "nan_report.md").exists()
    assert result["sequences_seen"] == 4 * result["batch_size"]  # stopped right after the failing update
    assert result["nonfinite_steps"] == 1 and result["epochs"] == 2 and len(result["per_epoch"]) == 1
    model = keras.models.load_model(tmp_path / "model.keras")
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(result["final"]["test"]["token_accuracy"])


@pytest.mark.slow
def test_cli_train_and_recipes(tmp_path, capsys):
    out = tmp_path / "run"
    code = baselines_main(
        ["train", "--task", "sequence_reversal", "--model", "lstm", "--seed", "0", "--out", str(out),
         "--epochs", "1", "--train-size", "64", "--eval-size", "32", "--verbose", "0"]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["command"].startswith("python -m baselines train --task sequence_reversal --model lstm")
    # a bare task name trains its default config, and the record names that config
    assert metrics["task"] == metrics["protocol"]["dataset"] == "sequence_reversal/len5_vocab10"
    assert len(metrics["final"]["test"]["per_position_accuracy"]) == 5
    assert baselines_main(["recipes"]) == 0
    assert "stable_bigru_char_to_vector" in capsys.readouterr().out
    assert baselines_main(["train", "--model", "lstm"]) == 2  # no task: a clear error, not a traceback
    assert "give --recipe, or both --task and --model" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_writes_tables_and_figures(tmp_path):
    results = reproduce.run_grid(
        ["sequence_reversal"], ["lstm"], seeds=2, quick=True, runs_dir=tmp_path / "runs", fresh=False,
        deterministic=False, train_options={"train_size": 64, "eval_size": 32, "epochs": 1},
    )
    assert len(results[("sequence_reversal", "lstm")]) == 2
    output = tmp_path / "docs" / "results.md"
    reproduce.write_reports(results, ["sequence_reversal"], ["lstm", "bilstm"], 2, True, "python -m baselines x", 1.0, output)
    text = output.read_text()
    assert "python -m baselines x" in text and " ± " in text and "quick smoke grid: not results" in text
    assert "| bilstm |" not in text  # a model without runs has no row in a smoke grid ...
    full = tmp_path / "full" / "results.md"  # ... but a planned model of a full grid shows as unfinished
    reproduce.write_reports(results, ["sequence_reversal"], ["lstm", "bilstm"], 2, False, "x", 1.0, full)
    assert "| bilstm | 0 of 2 | – |" in full.read_text()
    first_row = next(line for line in text.splitlines() if line.startswith("| lstm |"))
    token_accuracy = [results[("sequence_reversal", "lstm")][s]["final"]["test"]["token_accuracy"] for s in (0, 1)]
    expected = f"{np.mean(token_accuracy):.3f}"
    if token_accuracy[0] != token_accuracy[1]:
        expected += f" ± {np.std(token_accuracy, ddof=1):.3f} (max {max(token_accuracy):.3f})"
    parameters = f"{results[('sequence_reversal', 'lstm')][0]['parameters']:,}"  # recorded by the run
    assert first_row.split(" | ")[1:4] == ["2", parameters, expected]
    assert "\\begin{tabular}" in output.with_suffix(".tex").read_text()
    document = json.loads(output.with_suffix(".json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(document, json.loads((REPO / "docs" / "results.schema.json").read_text()))
    records = document["runs"]
    assert sorted(record["seed"] for record in records) == [0, 1]
    assert [r["metrics"]["test"]["token_accuracy"] for r in sorted(records, key=lambda r: r["seed"])] == token_accuracy
    assert (tmp_path / "docs" / "figures" / "sequence_reversal.png").stat().st_size > 0
    # A second invocation with the same settings reuses the finished runs instead of training again ...
    options = {"train_size": 64, "eval_size": 32, "epochs": 1}
    again = reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs", False, False, options)
    assert again[("sequence_reversal", "lstm")] == results[("sequence_reversal", "lstm")]
    # The archive (docs/results_runs/grid for the headline page) keeps each run's metrics.json, so a
    # checkout without the runs directory rewrites the page from it without training ...
    archive = tmp_path / "archive"
    reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs", False, False, options,
                       archive_dir=archive)
    assert sorted(p.name for p in (archive / "sequence_reversal" / "lstm").iterdir()) == ["seed0.json", "seed1.json"]
    shutil.rmtree(tmp_path / "runs")
    from_archive = reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs", False, False,
                                      options, train_missing=False, archive_dir=archive)
    assert from_archive[("sequence_reversal", "lstm")] == json.loads(json.dumps(results[("sequence_reversal", "lstm")]))
    # ... but not one whose recipe changed since: with other settings the archived run is not reused.
    stale = reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs", False, False,
                               {**options, "epochs": 2}, train_missing=False, archive_dir=archive)
    assert stale == {}
    # With --jobs 2 each run is its own `python -m baselines train` process, recorded under that command.
    with pytest.raises(ValueError, match="invalid jobs=0"):
        reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs2", False, False, options, jobs=0)
    parallel = reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs2", False, False, options,
                                  jobs=2)
    runs = parallel[("sequence_reversal", "lstm")]
    assert [run["seed"] for run in runs] == [0, 1]
    for seed, run in enumerate(runs):
        out = tmp_path / "runs2" / "sequence_reversal" / "lstm" / f"seed{seed}"
        assert run["command"] == ("python -m baselines train --model lstm --task sequence_reversal/len5_vocab10 "
                                  f"--seed {seed} "
                                  f"--quick --train-size 64 --eval-size 32 --epochs 1 --out {out}")
        assert (out / "train.log").exists() and run["final"]["test"]["token_accuracy"] >= 0
        # a run in its own process trains on, and records, the config of the run in this process
        in_process = results[("sequence_reversal", "lstm")][seed]
        assert "/" in run["task"] and run["task"] == in_process["task"]
        assert run["protocol"]["dataset"] == in_process["protocol"]["dataset"] == run["task"]
    # A quick grid trains a recipe's quick config, also in a process of its own.
    assert reproduce._trained_config("random_labels", "lstm", quick=True) == "random_labels/t48_f16"
    assert reproduce._trained_config("random_labels", "lstm", quick=False) == "random_labels/t672_f16"
    # ... and a run made with other settings is no longer a result of the recipe.
    recipe = reproduce.get_recipe("stable_lstm_sequence_reversal")
    run = results[("sequence_reversal", "lstm")][0]
    assert reproduce.stale_reason(run, recipe, True, options) is None
    assert reproduce.stale_reason(run, recipe, True, {}) == "trained for 1 epochs, the recipe now takes 2"
    assert reproduce.stale_reason(run, recipe, False, options) == "trained with another --quick setting"
    older = {**run, "protocol": {**run["protocol"], "dataset_version": "0.9.0"}}
    assert reproduce.stale_reason(older, recipe, True, options) == (
        f"trained on dataset version 0.9.0; the task is now at {seqtasks.make('sequence_reversal').version}"
    )


def test_native_log_lines_below_the_level_are_held_back():
    from baselines.quiet import shown_lines

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.5 123 port.cc:153] oneDNN custom operations are on.\n"
        "W0000 00:00:1.6 123 port.cc:99] a native warning\n"
        "E0000 00:00:1.7 123 util.cc:131] a native error\n"
        "x.py:1: UserWarning: Python's own output\n"
    )
    lines = text.splitlines(keepends=True)
    assert shown_lines(text, 1) == "".join(lines[2:])
    assert shown_lines(text, 3) == lines[4]  # Python's lines always show
    assert shown_lines(text, 0) == "".join(lines[1:])


@pytest.mark.slow
def test_the_command_line_prints_no_tensorflow_banner(tmp_path):
    import re

    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)  # baselines runs from the checkout (the wheel ships seqtasks only)
    completed = subprocess.run(
        [sys.executable, "-m", "baselines", "recipes"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0 and "stable_lstm_reber_grammar" in completed.stdout
    assert not re.search(r"^[IWE]\d{4} |absl::InitializeLog|oneDNN", completed.stderr, re.MULTILINE), completed.stderr


def test_quick_grids_never_write_the_headline_page():
    with pytest.raises(ValueError, match="with --quick; allowed: any page but docs/results.md"):
        reproduce.write_reports({}, ["sequence_reversal"], ["lstm"], 1, True, "x", 1.0, REPO / "docs" / "results.md")
    assert baselines_main(["reproduce", "--quick", "--output", str(REPO / "docs" / "results.md")]) == 2


def test_aggregate_shows_mean_std_best_and_missing_values():
    from baselines.report import aggregate

    higher, lower, setting = ReportColumn("a", "x", fmt="{:.1f}"), ReportColumn("b", "x", fmt="{:.1f}", best="min"), \
        ReportColumn("c", "x", fmt="{:.0f}", best=None)
    assert aggregate([1.0, 3.0], higher) == "2.0 ± 1.4 (max 3.0)"
    assert aggregate([1.0, 3.0], lower) == "2.0 ± 1.4 (min 1.0)"
    assert aggregate([1.0, 3.0], setting) == "2 ± 1"
    assert aggregate([256, 256], setting) == "256"
    assert aggregate([100.0, None], setting) == "100 (1 of 2)"
    assert aggregate([None, None], setting) == "none of 2"
    assert aggregate(["n/a", "n/a"], setting) == "n/a"
    assert ReportColumn("x", "sequence_accuracy", "test_long").read({"final": {"test": {}}}) == "n/a"
    with pytest.raises(ValueError, match="invalid best='top'"):
        ReportColumn("x", "y", best="top")


def _run_python(code: str, tmp_path: Path, timeout: int = 300) -> dict:
    """Runs ``code`` in a fresh interpreter (device setup and op determinism are process-wide)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    result = _run_python(
        """
        import json, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from baselines.train import train
        result = train("stable_gru_sequence_reversal", task="sequence_reversal/len5_vocab10", strategy="mirrored",
                       seed=0, epochs=2, train_size=128, eval_size=64, out="run", verbose=0, command="test")
        print(json.dumps({"replicas": result["replicas"], "loss": [r["loss"] for r in result["per_epoch"]],
                          "accuracy": result["final"]["test"]["token_accuracy"],
                          "devices": len(tf.config.list_logical_devices("CPU"))}))
        """,
        tmp_path,
    )
    assert result["devices"] == 2 and result["replicas"] == 2
    assert all(np.isfinite(result["loss"])) and result["loss"][1] < result["loss"][0]
    assert 0.0 <= result["accuracy"] <= 1.0


@pytest.mark.slow
def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path):
    """Interrupt after 2 of 4 epochs, rerun with the same --out: it resumes at epoch 2 and, with op
    determinism on, ends with exactly the metrics of a run that was never interrupted."""
    result = _run_python(
        """
        import json, keras
        from baselines.train import train

        class Killed(Exception):
            pass

        class KillAtEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    raise Killed()

        options = dict(task="sequence_reversal/len5_vocab10", seed=3, epochs=4, train_size=96, eval_size=48,
                       deterministic=True, verbose=0, command="test")
        try:
            train("stable_lstm_sequence_reversal", out="interrupted", callbacks=[KillAtEpoch()], **options)
        except Killed:
            pass
        keras.backend.clear_session()
        resumed = train("stable_lstm_sequence_reversal", out="interrupted", **options)
        keras.backend.clear_session()
        straight = train("stable_lstm_sequence_reversal", out="straight", **options)
        keep = ("final", "per_epoch", "sequences_seen", "nan_free_steps", "epochs_completed", "resumed_from_epoch")
        print(json.dumps({"resumed": {k: resumed[k] for k in keep}, "straight": {k: straight[k] for k in keep}}))
        """,
        tmp_path,
    )
    resumed, straight = result["resumed"], result["straight"]
    assert resumed["resumed_from_epoch"] == 2 and straight["resumed_from_epoch"] == 0
    assert resumed["epochs_completed"] == straight["epochs_completed"] == 4
    assert resumed["sequences_seen"] == straight["sequences_seen"] == 4 * 96
    assert [row["epoch"] for row in resumed["per_epoch"]] == [0, 1, 2, 3]
    assert resumed["final"] == straight["final"]  # bit-identical metrics, per-position accuracies included
    assert resumed["per_epoch"] == straight["per_epoch"]


def test_a_config_with_its_own_protocol_has_its_own_recipe():
    """reverse_string trains on fresh strings (Deletang et al.); the other reversal configs share one recipe."""
    own = get_recipe(recipe_name("sequence_reversal/reverse_string", "lstm"))
    assert own.name == "stable_lstm_sequence_reversal.reverse_string" and own.task == "sequence_reversal/reverse_string"
    assert own.fresh_data and own.batch_size == 128 and own.train_size == 64_000
    shared = get_recipe(recipe_name("sequence_reversal/len1to40_vocab2", "lstm"))
    assert shared.name == "stable_lstm_sequence_reversal" and not shared.fresh_data


def test_reproduce_accepts_configs_with_recipes_of_their_own():
    import argparse

    parser = argparse.ArgumentParser()
    reproduce.add_arguments(parser)
    assert parser.parse_args(["--tasks", "sequence_reversal/reverse_string"]).tasks == ["sequence_reversal/reverse_string"]
    with pytest.raises(SystemExit):
        parser.parse_args(["--tasks", "sequence_reversal/len5_vocab10"])  # no recipe of its own: use the task


def test_an_interrupted_grid_keeps_the_runs_it_finished_in_the_archive(tmp_path, monkeypatch):
    import baselines.trainer

    def fake_train(recipe, *, seed, **options):
        if seed == 1:
            raise KeyboardInterrupt  # the session ends during the second run
        return {"recipe": recipe, "seed": seed}

    monkeypatch.setattr(baselines.trainer, "train", fake_train)
    archive = tmp_path / "archive"
    with pytest.raises(KeyboardInterrupt):
        reproduce.run_grid(["sequence_reversal"], ["lstm"], 2, True, tmp_path / "runs", False, False, {"epochs": 1},
                           archive_dir=archive)
    finished = archive / "sequence_reversal" / "lstm"
    assert sorted(p.name for p in finished.iterdir()) == ["seed0.json"]
    assert json.loads((finished / "seed0.json").read_text()) == {"recipe": "stable_lstm_sequence_reversal", "seed": 0}
