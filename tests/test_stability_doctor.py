"""``seqtasks doctor MODEL.keras --task NAME`` and ``seqtasks.stability.doctor``: linter, then a probe training."""

import inspect
import subprocess
import sys

import keras
import pytest

import baselines.zoo  # noqa: F401 (registers the zoo's recipes and layers, so their saved models load)
import seqtasks
from baselines.models import recipe_name
from baselines.catalog import get_recipe
from seqtasks.cli import main as seqtasks_main
from seqtasks.stability import doctor
from tests.cli_helpers import one_error_line

# Each thread's failure, as the rule ids that diagnose it (from the posts, docs/stability.md's table of rules).
DIAGNOSIS = {
    "reber_softmax_lstm": {"recurrent-activation"},
    "noise_relu_lstm": {"recurrent-activation"},
    "noise_relu_lstm_no_recurrent_dropout": {"recurrent-activation"},
    "word_vector_wide_mse": {"padding-without-masking", "accuracy-on-regression"},
    "word_vector_wide_gru": {"padding-without-masking", "accuracy-on-regression"},
    "word_vector_two_layer_lstm": {"padding-without-masking", "accuracy-on-regression"},
    "unnormalised_sigmoid_cce": {"sigmoid-categorical-crossentropy", "loss-below-floor"},
    "unnormalised_sigmoid_bce": {"unnormalised-inputs"},
    "reversal_stateful_lstm": {"stateful-independent-sequences", "unidirectional-future-context"},
    "reversal_stateless_lstm": {"unidirectional-future-context"},
}
SLOW = {"noise_relu_lstm", "noise_relu_lstm_no_recurrent_dropout", "word_vector_two_layer_lstm"}
SMALL = {"reber_softmax_lstm": None, "noise_relu_lstm": 4, "noise_relu_lstm_no_recurrent_dropout": 4}


def saved(name: str, folder, units: int | None = 8) -> tuple[str, str]:
    """The recipe's model at a small width (the rules do not depend on it), saved as .keras."""
    recipe = get_recipe(name)
    task = seqtasks.make(recipe.task)
    keras.utils.set_random_seed(0)
    options = {"units": units} if units and "units" in inspect.signature(recipe.build).parameters else {}
    path = folder / f"{name}.keras"
    recipe.build(task, task.supervised_spec(recipe.target), **options).save(path)
    return str(path), recipe.task


def test_every_naive_zoo_recipe_has_its_diagnosis():
    assert set(DIAGNOSIS) == set(baselines.zoo.NAIVE_RECIPES)


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in DIAGNOSIS]
)
def test_doctor_diagnoses_each_zoo_naive_model(name, tmp_path):
    path, task = saved(name, tmp_path, SMALL.get(name, 8))
    report = doctor(path, task, steps=12)
    found = {finding.rule_id for finding in report.findings}
    assert DIAGNOSIS[name] <= found, report.text()
    assert not report.healthy and report.probe["updates"] == 12
    assert all(f"Fix: {finding.fix}" in report.text() for finding in report.findings)


def test_doctor_has_nothing_to_report_on_a_stable_baseline(tmp_path):
    path, task = saved(recipe_name("reber_grammar", "lstm"), tmp_path, None)
    report = doctor(path, task, steps=12)
    assert report.findings == () and report.healthy
    assert report.text().splitlines()[-1] == "nothing to report"
    assert report.probe["floor_check"]["verdict"] == "ok" and report.probe["nan_report"] is None


def test_doctor_names_the_update_and_origin_of_a_nan(tmp_path):
    """Seed 000's mechanism, constructed: closed output gates, outputs sum to 0, cross-entropy computes 0/0."""
    model = keras.Sequential([keras.Input((None, 7)), keras.layers.LSTM(7, activation="softmax", return_sequences=True)])
    kernel, recurrent, bias = model.layers[0].get_weights()
    bias[21:] = -1e4  # gates i, f, c, o: the output gate's bias
    model.layers[0].set_weights([kernel, recurrent, bias])
    model.compile(optimizer="nadam", loss=keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight"))
    model.save(tmp_path / "closed.keras")
    report = doctor(tmp_path / "closed.keras", "reber_grammar/reber", steps=5)
    nan = [finding for finding in report.findings if finding.rule_id == "nan-in-training"]
    assert len(nan) == 1 and nan[0].severity == "error"
    assert "non-finite at update 1" in nan[0].message and "origin: loss" in nan[0].message
    assert "0/0" in nan[0].fix


def test_cli_exit_status_and_report(tmp_path, capsys):
    healthy, task = saved(recipe_name("reber_grammar", "lstm"), tmp_path, None)
    assert seqtasks_main(["doctor", healthy, "--task", task, "--steps", "6"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing to report"
    naive, task = saved("reversal_stateless_lstm", tmp_path)
    assert seqtasks_main(["doctor", naive, "--task", task, "--steps", "2"]) == 1
    assert "ERROR unidirectional-future-context" in capsys.readouterr().out


def test_cli_bad_model_file_or_task_name_is_one_line(tmp_path, capsys):
    healthy, task = saved(recipe_name("reber_grammar", "lstm"), tmp_path, None)
    assert seqtasks_main(["doctor", str(tmp_path / "missing.keras"), "--task", task]) == 2
    one_error_line(capsys, "invalid model=", "missing.keras", "no such file")
    (tmp_path / "text.keras").write_text("not a model")
    assert seqtasks_main(["doctor", str(tmp_path / "text.keras"), "--task", task]) == 2
    one_error_line(capsys, "invalid model=", "not a loadable Keras model")
    assert seqtasks_main(["doctor", healthy, "--task", "reber_grammar/nope"]) == 2
    one_error_line(capsys, "nope")
    assert seqtasks_main(["doctor", healthy, "--task", task, "--steps", "0"]) == 2
    one_error_line(capsys, "invalid steps=0")
    wrong_task = seqtasks_main(["doctor", healthy, "--task", "char_to_vector"])
    assert wrong_task == 2
    one_error_line(capsys, "none of its targets")


def test_the_cli_module_does_not_import_tensorflow():
    code = "import sys, seqtasks, seqtasks.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() == ["False", "False"]
