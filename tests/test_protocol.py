"""The benchmark protocol: one data path, task-owned scoring, recorded protocol, no task-name branches.

* ``baselines train`` scores the published splits: the bytes ``tfds.load`` returns, and the
  trainer's numbers equal an independent ``seqtasks.metrics.evaluate`` on the tfds-loaded data;
* ``--seed`` changes the weights, not the data; ``--data-seed`` changes only the training data;
* fresh-data training sees exactly what ``seqtasks.stream`` yields;
* no module outside ``seqtasks/tasks/`` branches on a task name;
* the example task of ``docs/adding_a_task.md`` trains and reproduces with no other file touched.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import seqtasks
from seqtasks.fingerprint import fingerprint

ROOT = Path(__file__).resolve().parents[1]


# -- No task-name branches outside the task files ----------------------------------------------------

# Scanned: the library, the trainer and everything that scores models. The generator and tfds-build
# benchmarks are left out: they time generators, score nothing, and their per-task workloads (and the
# per-example reference generators they race against) are their subject.
SCANNED = ("seqtasks", "baselines", "benchmarks/bench_input_pipeline.py", "benchmarks/_common.py")
# Per-task tables that are allowed: a recipe's hyperparameters (how to train a baseline), not task facts.
ALLOWED_TABLES = {("baselines/models.py", "_TASK_SETTINGS")}


def _task_name_findings(source: str, path: str, names: set[str]) -> list[str]:
    """Comparisons with task names, per-task dict tables, lookups and match cases keyed by task names."""

    def is_name(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.partition("/")[0] in names

    def names_literal(node: ast.AST) -> bool:
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(is_name(e) for e in node.elts)

    def keyed_by_names(node: ast.AST) -> bool:
        return isinstance(node, ast.Dict) and any(key is not None and is_name(key) for key in node.keys)

    tree = ast.parse(source)
    tables, allowed = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            ids = {target.id for target in targets if isinstance(target, ast.Name)}
            if names_literal(node.value) or keyed_by_names(node.value):
                tables |= ids
            if any((path, name) in ALLOWED_TABLES for name in ids):
                allowed.add(id(node.value))
    found = []
    for node in ast.walk(tree):
        where = f"{path}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(is_name(s) or names_literal(s) or (isinstance(s, ast.Name) and s.id in tables) for s in sides):
                found.append(f"{where}: compares with a task name")
        elif keyed_by_names(node) and id(node) not in allowed:
            found.append(f"{where}: a table keyed by task names")
        elif isinstance(node, ast.Subscript) and is_name(node.slice):
            found.append(f"{where}: looks up a task name")
        elif isinstance(node, ast.MatchValue) and is_name(node.value):
            found.append(f"{where}: matches a task name")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and is_name(node.args[0])):
            found.append(f"{where}: looks up a task name")
    return found


def test_the_task_name_check_catches_branches():
    names = {"reber_grammar", "char_to_vector"}
    bad = textwrap.dedent(
        """
        HEADLINE = {"reber_grammar": "strings_solved"}
        KNOWN = ("char_to_vector",)
        def f(task, run):
            if task.name == "reber_grammar":
                pass
            if task.name in KNOWN or task.name in ("char_to_vector", "x"):
                pass
            match task.name:
                case "reber_grammar":
                    pass
            return COLUMNS["char_to_vector/synthetic_d100"], run.get("reber_grammar")
        """
    )
    found = _task_name_findings(bad, "x.py", names)
    assert [line.split(": ", 1)[0] for line in found] == ["x.py:2", "x.py:5", "x.py:7", "x.py:7", "x.py:10", "x.py:12",
                                                         "x.py:12"]
    good = 'def f(task):\n    return recipe_name("reber_grammar", "lstm"), task.headline_metric()\n'
    assert _task_name_findings(good, "x.py", names) == []


def test_no_module_outside_the_task_files_branches_on_a_task_name():
    names = set(seqtasks.list_tasks())
    files = []
    for entry in SCANNED:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
    found = []
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith("seqtasks/tasks/"):
            found += _task_name_findings(path.read_text(encoding="utf-8"), relative, names)
    assert len(files) > 20 and found == []


# -- One data path: the trainer scores the bytes tfds.load returns ------------------------------------


def _tfds_batch(task: seqtasks.Task, examples: list[dict]) -> dict[str, np.ndarray]:
    """A numpy batch from tfds examples, zero-padded like ``task.generate``."""
    batch = {}
    for key in examples[0]:
        values = [np.asarray(example[key]) for example in examples]
        if values[0].dtype.kind in "SO":
            batch[key] = np.array([v.item().decode() if isinstance(v.item(), bytes) else str(v) for v in values])
        elif key in task.sequence_fields:
            width = max(len(v) for v in values)
            padded = np.zeros((len(values), width, *values[0].shape[1:]), values[0].dtype)
            for row, value in enumerate(values):
                padded[row, : len(value)] = value
            batch[key] = padded
        else:
            batch[key] = np.stack(values)
    return batch


def _test_preset_run(recipe: str, name: str, train_sizes: dict[str, int]) -> tuple:
    """(recipe, task, the overrides that turn the preset ``name`` into the task's test preset, the test
    preset's split sizes (None: natural), trainer sizes)."""
    cls, preset = seqtasks.get_preset(name)
    published, small = preset.config.to_dict(), cls.test_preset.config.to_dict()
    overrides = {key: value for key, value in small.items() if value != published[key]}
    return recipe, name, overrides, dict(cls.test_preset.split_sizes), train_sizes


_TINY = {
    "sequence_reversal": _test_preset_run(
        "stable_lstm_sequence_reversal", "sequence_reversal/len1to40_vocab2", {"train_size": 40, "eval_size": 10}
    ),
    "char_to_vector": _test_preset_run("stable_gru_char_to_vector", "char_to_vector/synthetic_d100", {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(_TINY))
def test_trainer_scores_equal_independent_scores_on_tfds_loaded_data(tmp_path, family):
    keras = pytest.importorskip("keras")
    tfds = pytest.importorskip("tensorflow_datasets")
    from baselines.train import _jsonable, train
    from seqtasks import metrics
    from seqtasks.tasks.base import Preset
    from seqtasks.tf.builders import builder_config_for
    from seqtasks.tf.pipelines import load

    recipe, name, overrides, sizes, train_sizes = _TINY[family]
    task = seqtasks.make(name, **overrides)
    result = train(recipe, task=name, task_overrides=overrides, seed=1, epochs=1, out=tmp_path / "run",
                   verbose=0, command="test", floor_check=False, **train_sizes)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    config = builder_config_for(Preset("protocol_test", task.config, sizes, "Protocol test config."), type(task).version)
    builder = tfds.builder(family, data_dir=tmp_path / "tfds", config=config)
    builder.download_and_prepare()
    assert set(result["final"]) == set(task.splits) - {"train"}
    for split, scored in result["final"].items():
        examples = list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))
        batch = _tfds_batch(task, examples)
        recorded = result["protocol"]["evaluation"]["splits"][split]
        # The trainer scored exactly the published bytes of this split...
        assert recorded["examples"] == len(examples) and recorded["seed"] == 0
        assert recorded["fingerprint"] == fingerprint(task, batch) == fingerprint(task, task.generate(split, 0, len(examples)))
        # ...and an independent scoring of the tfds-loaded data gives the trainer's numbers, bit for bit.
        x, _, _ = next(iter(load(family, split, len(examples), data_dir=tmp_path / "tfds", builder_config=config)))
        predictions = model.predict(np.asarray(x), batch_size=256, verbose=0)
        assert _jsonable(metrics.evaluate(task, batch, predictions)) == scored
        assert result["ceiling"][split] == _jsonable(task.ceiling(batch))
    protocol = result["protocol"]
    assert protocol["dataset"] == name and protocol["dataset_version"] == type(task).version
    assert protocol["config_overrides"] == overrides and not protocol["published_config"]
    assert protocol["evaluation"]["headline_metric"] == task.headline_metric() == result["headline_metric"]
    assert protocol["train_data"]["seed"] == 0 and protocol["train_data"]["source"] == "published train split"
    train_examples = protocol["train_data"]["examples"]
    assert protocol["train_data"]["fingerprint"] == fingerprint(task, task.generate("train", 0, train_examples))
    # test_long: the per-length report, with its one-number score, next to the run.
    report = result["length_report"]
    assert [r["split"] for r in report["reports"]] == ["test", "test_long"]
    assert set(result["length_scores"]) == {"test", "test_long"}
    for file in report["files"]:
        assert (tmp_path / "run" / file).stat().st_size > 0
    lengths = [row["length"] for row in report["reports"][1]["rows"]]
    assert lengths == sorted(lengths) and min(lengths) > report["train_lengths"][1]


@pytest.mark.slow
def test_seed_drives_weights_data_seed_drives_training_data(tmp_path):
    pytest.importorskip("keras")
    from baselines.train import train

    options = dict(task="sequence_reversal/len5_vocab10", epochs=1, train_size=64, eval_size=16, verbose=0,
                   command="test", floor_check=False)
    first = train("stable_gru_sequence_reversal", seed=0, out=tmp_path / "a", **options)
    second = train("stable_gru_sequence_reversal", seed=5, out=tmp_path / "b", **options)
    varied = train("stable_gru_sequence_reversal", seed=0, data_seed=3, out=tmp_path / "c", **options)
    a, b, c = (run["protocol"] for run in (first, second, varied))
    assert a["train_data"]["fingerprint"] == b["train_data"]["fingerprint"] != c["train_data"]["fingerprint"]
    assert a["evaluation"]["splits"] == b["evaluation"]["splits"] == c["evaluation"]["splits"]
    assert first["per_epoch"][0]["loss"] != second["per_epoch"][0]["loss"]  # other weights, same data
    assert varied["data_seed"] == 3 and c["train_data"]["source"] == "train split of data seed 3"
    assert not c["train_data"]["published"] and not a["train_data"]["published"]  # 64 of 20,000: not the split
    task = seqtasks.make("sequence_reversal/len5_vocab10")
    assert c["train_data"]["fingerprint"] == fingerprint(task, task.generate("train", 0, 64, seed=3))


def test_fresh_data_batches_are_what_seqtasks_stream_yields():
    pytest.importorskip("tensorflow")
    from baselines.data import StreamBatches

    name, batch_size = "sequence_reversal/len1to40_vocab10", 24
    task = seqtasks.make(name)
    batches = StreamBatches(task, batch_size, steps_per_epoch=3, seed=2)
    stream = iter(seqtasks.stream(name, seed=2, batch_size=batch_size))
    assert batches.width == 40  # every batch padded to the longest training sequence (Keras fixes shapes)
    for epoch in range(2):
        batches.set_epoch(epoch)
        for index in range(len(batches)):
            for ours, theirs in zip(batches[index], next(stream)):
                theirs = np.asarray(theirs)
                np.testing.assert_array_equal(ours[:, : theirs.shape[1]], theirs)
                assert ours.shape[1] == 40 and not ours[:, theirs.shape[1] :].any()
    assert batches.batch_sizes() == [batch_size] * 3


def test_length_grouped_batches_hold_one_length_and_every_stream_example_once():
    """Deletang et al.'s loop draws one length per batch: grouped batches reorder the stream's examples
    within a chunk so each batch holds (nearly) one length, and cut each batch to its own width."""
    pytest.importorskip("tensorflow")
    from baselines.data import StreamBatches

    task = seqtasks.make("sequence_reversal/reverse_string")
    batch_size = 32
    grouped = StreamBatches(task, batch_size, steps_per_epoch=60, seed=5, length_grouped=True)
    mixed = StreamBatches(task, batch_size, steps_per_epoch=60, seed=5)
    assert grouped.width is None and grouped.batches_per_chunk * batch_size >= 40 * batch_size
    updates = range(grouped.batches_per_chunk)  # one whole chunk
    ours = [grouped.examples(update) for update in updates]
    theirs = [mixed.examples(update) for update in updates]
    # The same examples as the stream's chunk (as multisets of strings), each exactly once.
    def strings(batches):
        return sorted(bytes(row[:n].astype(np.uint8)) for b in batches for row, n in zip(b["inputs"], b["length"]))
    assert strings(ours) == strings(theirs)
    string_lengths = [np.asarray(task.content_lengths(b)) for b in ours]  # string lengths; 2L steps each
    spreads = [int(lengths.max() - lengths.min()) for lengths in string_lengths]
    assert max(spreads) <= 2 and np.mean(spreads) < 1  # a mixed batch of 32 spans about 37 lengths
    widths = [grouped[index][0].shape[1] for index in range(2)]
    assert widths[0] != widths[1]  # Keras reads the signature from batches 0 and 1: a None time axis
    x, y, weight = grouped[3]
    assert x.shape[1] == 2 * string_lengths[3].max() and weight.shape == y.shape
    with pytest.raises(ValueError, match="length_grouped"):
        StreamBatches(seqtasks.make("random_labels/t48_f16"), 8, 2, 0, length_grouped=True)


@pytest.mark.slow
def test_fresh_data_training_scores_on_the_published_splits(tmp_path):
    pytest.importorskip("keras")
    from baselines.train import train

    result = train("stable_lstm_sequence_reversal", task="sequence_reversal/len5_vocab10", fresh_data=True, epochs=2,
                   train_size=64, eval_size=16, out=tmp_path, verbose=0, command="test", floor_check=False)
    assert result["fresh_data"] and result["sequences_seen"] == 2 * 64
    assert result["protocol"]["train_data"]["source"].startswith("fresh examples")
    task = seqtasks.make("sequence_reversal/len5_vocab10")
    assert result["protocol"]["evaluation"]["splits"]["test"]["fingerprint"] == fingerprint(
        task, task.generate("test", 0, 16, seed=0))


# -- Bidirectional models on Reber are left out, with the reason ---------------------------------------


def test_bidirectional_models_are_left_out_of_reber_tables_with_the_reason(tmp_path):
    pytest.importorskip("keras")
    from baselines import reproduce
    from baselines.models import MODEL_KINDS

    excluded = reproduce.excluded_models(seqtasks.list_tasks(), MODEL_KINDS)
    assert set(excluded) == {("reber_grammar", "bilstm"), ("reber_grammar", "bigru")}
    reason = excluded[("reber_grammar", "bilstm")]
    assert reason == f"no valid baseline here ({seqtasks.make('reber_grammar/embedded').bidirectional_leak()})"
    assert reproduce.run_grid(["reber_grammar"], ["bilstm", "bigru"], 2, True, tmp_path, False, False) == {}
    task = seqtasks.make("reber_grammar/embedded")
    run = {
        "task": "reber_grammar/embedded", "task_config": task.config.to_dict(), "target": "next_symbol",
        "headline_metric": "strings_solved", "versions": {"python": "3"}, "wall_time_s": 1.0, "epochs_completed": 1,
        "train_size": 256, "per_epoch": [{"epoch": 0, "loss": 1.0, "val_strings_solved": 0.5}], "data_seed": 0,
        "final": {"test": {"strings_solved": 0.5, "long_range_correct": 0.5}, "test_long": {"strings_solved": 0.25}},
        "ceiling": {"test": task.ceiling()}, "sequences_to_solve_test": None,
    }
    output = tmp_path / "docs" / "results.md"
    reproduce.write_reports({("reber_grammar", "lstm"): [run]}, ["reber_grammar"], list(MODEL_KINDS), 1, True,
                            "python -m baselines x", 1.0, output)
    text = output.read_text()
    assert "| lstm | 1 | – | 0.500 | 0.500 | 0.250 | none of 1 | 1.000 |" in text  # no recipe named: no count
    assert "| bilstm |" not in text and "| bigru |" not in text
    assert f"not shown: bilstm, bigru: {reason}" in text
    assert "Not shown: bilstm, bigru" in output.with_suffix(".tex").read_text()
    varied = {**run, "data_seed": 4}
    reproduce.write_reports({("reber_grammar", "lstm"): [run, varied]}, ["reber_grammar"], ["lstm"], 2, True,
                            "python -m baselines x", 1.0, output)
    assert "a data-variance study, not the published training split" in output.read_text()


# -- Adding a task is its file plus its test ----------------------------------------------------------


@pytest.mark.slow
def test_the_adding_a_task_example_trains_and_reproduces(tmp_path):
    """docs/adding_a_task.md's example task, registered from its own file alone, through train and reproduce."""
    pytest.importorskip("keras")
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "docs" / "examples")!r}]
        import running_parity  # registers the task: nothing else is edited
        from baselines import reproduce
        from baselines.models import recipe_name
        from baselines.train import train

        run = train(recipe_name("running_parity", "lstm"), epochs=1, train_size=64, eval_size=32, out="run",
                    verbose=0, command="test")
        results = reproduce.run_grid(["running_parity"], ["lstm", "bilstm"], 1, True, __import__("pathlib").Path("grid"),
                                     False, False, {{"train_size": 64, "eval_size": 32}})
        reproduce.write_reports(results, ["running_parity"], ["lstm", "bilstm"], 1, True, "cmd", 1.0,
                                __import__("pathlib").Path("docs/results.md"))
        print(json.dumps({{"final": run["final"], "headline": run["headline_metric"], "ceiling": run["ceiling"],
                          "runs": {{"/".join(k): len(v) for k, v in results.items()}},
                          "table": open("docs/results.md").read()}}))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    completed = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    assert out["headline"] == "token_accuracy" and 0.0 <= out["final"]["test"]["token_accuracy"] <= 1.0
    assert out["ceiling"]["test"]["token_accuracy"] == 1.0
    assert out["runs"] == {"running_parity/lstm": 1, "running_parity/bilstm": 1}
    assert "## running_parity/len8to20" in out["table"] and "| bilstm |" in out["table"]
    assert "test token_accuracy" in out["table"]
