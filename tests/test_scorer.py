"""The strict scorer: malformed predictions are refused with one clear error and nothing written;
well-formed ones get the task's own numbers, and the record fits ``docs/results.schema.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import seqtasks
from seqtasks import scorer
from seqtasks.fingerprint import fingerprint
from seqtasks.encoding import to_supervised
from seqtasks.protocols import protocol

ROOT = Path(__file__).resolve().parents[1]
REBER = "reber_grammar/embedded"  # sparse next-symbol softmax over 7 symbols; 256 examples per split
REVERSAL = "sequence_reversal/len5_vocab10"  # sparse ids over 10 symbols
NOISE = "random_labels/t48_f16"  # one sigmoid probability per example
SOLVED = {"model_name": "oracle", "seed": 0, "framework": "numpy"}


def _oracle(name: str) -> dict[str, np.ndarray]:
    """Per split: a softmax that puts 0.9 on the target id (0.1 spread) at every step; computed from the
    published examples directly (not through the scorer)."""
    p = protocol(name)
    out = {}
    for split in p.eval_splits:
        examples = p.eval_examples(split)
        _, targets, _ = to_supervised(p.task, examples, inputs="ids")
        depth = p.task.supervised_spec().input_depth
        out[split] = (np.eye(depth, dtype=np.float32)[targets] * 0.9 + 0.1 / depth).astype(np.float32)
    return out


def _noise_probabilities() -> dict[str, np.ndarray]:
    p = protocol(NOISE)
    return {split: np.full(p.eval_sizes[split], 0.15625, dtype=np.float32) for split in p.eval_splits}


def _replace(predictions: dict, split: str, value) -> dict:
    return {**predictions, split: value}


def _nan_at_first_step(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array[0, 0, 0] = np.nan
    return array


# One line per malformed case: (config, how the well-formed predictions are spoiled, score options,
# the field the error must name, a fragment of what was expected, a fragment of what came).
MALFORMED = [
    (REBER, lambda p: _replace(p, "test", p["test"].argmax(-1)), {}, "dtype", "float", "int64"),
    (REBER, lambda p: _replace(p, "test", p["test"][..., :6]), {}, "class depth", "7", "=6"),
    (REVERSAL, lambda p: _replace(p, "test", p["test"][..., :3]), {}, "class depth", "10", "=3"),
    (REBER, lambda p: _replace(p, "test", p["test"][:-1]), {}, "count", "256", "=255"),
    (REBER, lambda p: _replace(p, "validation", np.concatenate([p["validation"]] * 2)), {}, "count", "256", "=512"),
    (REBER, lambda p: _replace(p, "test", np.pad(p["test"], [(0, 0), (0, 1), (0, 0)])), {}, "steps", "32", "=33"),
    (REBER, lambda p: _replace(p, "test", p["test"][..., 0]), {}, "shape", "(256,", "(256,"),
    (REBER, lambda p: _replace(p, "test", _nan_at_first_step(p["test"])), {}, "finiteness", "finite", "1 non-finite"),
    (REBER, lambda p: _replace(p, "test", p["test"] * np.inf), {}, "finiteness", "finite", "non-finite"),
    (REBER, lambda p: _replace(p, "test", np.log(p["test"]) * 3), {}, "values", "[0, 1]", "logits=True"),
    (REBER, lambda p: _replace(p, "test", p["test"] * 0.5), {}, "sum over classes", "1 within", "0.5"),
    (REBER, lambda p: p, {"logits": True}, "logits", "False", "probabilities"),
    (REBER, lambda p: {k: v for k, v in p.items() if k != "test_long"}, {}, "predictions splits", "test_long",
     "missing test_long"),
    (REBER, lambda p: {**p, "train": p["test"]}, {}, "predictions splits", "exactly", "unknown train"),
    (REBER, lambda p: _replace(p, "test", [[0.5, 0.5], [1.0]]), {}, "type", "numpy array", "list"),
    (NOISE, lambda p: _replace(p, "test", np.log(p["test"] / (1 - p["test"]))), {}, "values", "[0, 1]", "logits"),
    (NOISE, lambda p: _replace(p, "test", np.stack([p["test"], 1 - p["test"]], -1)), {}, "shape", "(n,)", "(3200, 2)"),
]


@pytest.mark.parametrize("name, spoil, options, field, expected, got", MALFORMED,
                         ids=[f"{case[0].split('/')[0]}-{case[3]}-{i}" for i, case in enumerate(MALFORMED)])
def test_malformed_predictions_raise_one_error_and_write_nothing(name, spoil, options, field, expected, got, tmp_path):
    good = _noise_probabilities() if name == NOISE else _oracle(name)
    out = tmp_path / "record.json"
    with pytest.raises(scorer.PredictionError) as caught:
        scorer.score_predictions(name, spoil(good), **SOLVED, updates=1, out=out, **options)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError) and "\n" not in message
    assert f"invalid {field}" in message or f"{field}=" in message or field in caught.value.field
    assert expected in message and got in message, message
    assert not out.exists() and not list(tmp_path.iterdir())


def test_well_formed_predictions_get_the_tasks_own_numbers(tmp_path):
    good = _oracle(REBER)
    record = scorer.score_predictions(REBER, good, **SOLVED, updates=protocol(REBER).updates, out=tmp_path / "r.json")
    task = protocol(REBER).task
    for split, predictions in good.items():
        examples = protocol(REBER).eval_examples(split)
        expected = seqtasks.metrics.scalars(seqtasks.metrics.evaluate(task, examples, predictions))
        assert record["metrics"][split] == pytest.approx(expected, abs=0, rel=0)
        assert record["fingerprints"][split] == fingerprint(task, examples)
    # The oracle puts its largest output on the actual next symbol, which is always legal.
    assert record["metrics"]["test"]["symbols_correct"] == 1.0
    assert json.loads((tmp_path / "r.json").read_text()) == record


def test_logits_are_turned_into_probabilities_only_when_asked():
    good = _noise_probabilities()
    logit = {split: np.log(value / (1 - value)) for split, value in good.items()}
    plain = scorer.score_predictions(NOISE, good, **SOLVED)
    from_logits = scorer.score_predictions(NOISE, logit, **SOLVED, logits=True)
    # A constant 5/32 for every example: binary cross-entropy = the label entropy in nats.
    entropy = -(5 / 32 * np.log(5 / 32) + 27 / 32 * np.log(27 / 32))
    assert plain["metrics"]["test"]["loss"] == pytest.approx(entropy, rel=1e-6)
    assert from_logits["metrics"]["test"]["loss"] == pytest.approx(entropy, rel=1e-6)


def test_the_record_follows_the_schema_and_marks_departures():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "results.schema.json").read_text())
    record_schema = {**schema["$defs"]["scored_run"], "$defs": schema["$defs"]}
    p = protocol(REBER)
    follows = scorer.score_predictions(REBER, _oracle(REBER), **SOLVED, updates=p.updates, parameter_count=1234)
    jsonschema.validate(follows, record_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert follows["follows_protocol"] and follows["departures"] == [] and follows["parameter_count"] == 1234
    assert follows["budget"]["protocol_updates"] == p.updates == follows["budget"]["updates"]
    assert follows["dataset_version"] == p.task.version
    unstated = scorer.score_predictions(REBER, _oracle(REBER), **SOLVED)
    other = scorer.score_predictions(REBER, _oracle(REBER), **SOLVED, updates=p.updates * 2 + 1,
                                     train_data="my own 10,000 strings")
    for record in (unstated, other):
        jsonschema.validate(record, record_schema)
        assert not record["follows_protocol"] and record["sequences_seen"] is None
    assert "not stated" in unstated["departures"][0]
    assert f"{p.updates * 2 + 1:,} training updates" in other["departures"][0]
    assert "my own 10,000 strings" in other["departures"][1]


@pytest.mark.parametrize("argument, value", [("seed", -1), ("model_name", ""), ("parameter_count", 0),
                                             ("updates", 1.5), ("logits", "yes"), ("framework", None)])
def test_bad_arguments_are_refused_before_any_work(argument, value):
    options = {**SOLVED, argument: value}
    with pytest.raises(ValueError, match=f"invalid {argument}="):
        scorer.score_predictions(REBER, {}, **options)


def test_the_predict_path_feeds_the_published_batches_in_order():
    seen = []

    def predict(batch):
        seen.append(batch.examples["text"].tolist())
        depth = batch.input_depth
        return np.eye(depth, dtype=np.float32)[batch.ids]  # "the next symbol is this one": often wrong

    record = seqtasks.score(REBER, predict, **SOLVED, batch_size=100)
    p = protocol(REBER)
    assert sum(seen, []) == sum((p.eval_examples(s)["text"].tolist() for s in p.eval_splits), [])
    assert [len(texts) for texts in seen[:3]] == [100, 100, 56]
    repeats = {}
    for split in p.eval_splits:  # the same predictions, made here on the whole split
        examples = p.eval_examples(split)
        ids, _, _ = to_supervised(p.task, examples, inputs="ids")
        repeats[split] = np.eye(7, dtype=np.float32)[ids]
    assert record["metrics"] == scorer.score_predictions(REBER, repeats, **SOLVED)["metrics"]


def test_the_predict_path_names_the_batch_that_went_wrong():
    def predict(batch):
        return np.full((len(batch), batch.ids.shape[1], 7), 1 / 7, np.float32)[:, :-1]

    with pytest.raises(scorer.PredictionError, match=r"predict\(batch 0 of 'validation'\) steps=.*allowed: \d+"):
        seqtasks.score(REBER, predict, **SOLVED)


# -- Predictions computed elsewhere: the .npz file and the command line ---------------------------------


def _save(tmp_path: Path, name: str, predictions: dict, order: dict | None = None) -> Path:
    p = protocol(name)
    inputs = {}
    for split in p.eval_splits:
        examples = p.eval_examples(split)
        rows = (order or {}).get(split)
        inputs[split] = examples if rows is None else seqtasks.metrics.select_rows(examples, rows)
    return scorer.save_predictions(tmp_path / "predictions.npz", name, predictions, inputs)


def test_the_inputs_digest_does_not_depend_on_padding_or_batching():
    p = protocol(REBER)
    whole = p.eval_examples("test")
    assert scorer.inputs_digest(p, whole) == scorer.inputs_digest(p, list(p.eval_batches("test", 37)))
    swapped = seqtasks.metrics.select_rows(whole, np.r_[1, 0, 2:len(whole["length"])])
    assert scorer.inputs_digest(p, swapped) != scorer.inputs_digest(p, whole)


@pytest.mark.parametrize("order, hint", [("reversed", "other examples, or in another order"),
                                         ("by_length", "sorted by length")])
def test_predictions_on_reordered_examples_are_refused(order, hint, tmp_path):
    p = protocol(REBER)
    lengths = p.eval_examples("test")["length"]
    rows = np.arange(len(lengths))[::-1] if order == "reversed" else np.argsort(lengths, kind="stable")
    path = _save(tmp_path, REBER, _oracle(REBER), {"test": rows})
    predictions, digests = scorer.load_predictions(path, REBER)
    with pytest.raises(scorer.PredictionError, match=f"invalid inputs_sha256_test=.*{hint}"):
        scorer.score_predictions(REBER, predictions, **SOLVED, inputs_sha256=digests)


def test_a_file_for_another_dataset_or_without_digests_is_refused(tmp_path):
    path = _save(tmp_path, REBER, _oracle(REBER))
    with pytest.raises(scorer.PredictionError, match="invalid predictions file dataset=reber_grammar/embedded; "
                       "allowed: 'reber_grammar/reber'"):
        scorer.load_predictions(path, "reber_grammar/reber")
    with np.load(path) as data:
        entries = {key: data[key] for key in data.files if not key.startswith("inputs_sha256_")}
    np.savez(tmp_path / "bare.npz", **entries)
    with pytest.raises(scorer.PredictionError, match="missing inputs_sha256_validation"):
        scorer.load_predictions(tmp_path / "bare.npz", REBER)


def test_the_command_scores_a_file_or_prints_one_error_line(tmp_path, capsys):
    from seqtasks.cli import main

    good = _save(tmp_path, REBER, _oracle(REBER))
    out = tmp_path / "out" / "record.json"
    out.parent.mkdir()  # the command line writes into an existing folder (it creates none)
    args = ["score", REBER, "--model-name", "oracle", "--seed", "3", "--framework", "numpy", "--out", str(out)]
    assert main([*args, "--predictions", str(good), "--updates", str(protocol(REBER).updates)]) == 0
    record = json.loads(out.read_text())
    assert record["seed"] == 3 and record["follows_protocol"] and record["command"].startswith("seqtasks score ")
    assert record["metrics"] == scorer.score_predictions(REBER, _oracle(REBER), **SOLVED)["metrics"]
    out.unlink()
    spoiled = _save(tmp_path, REBER, {**_oracle(REBER), "test": _oracle(REBER)["test"][..., :5]})
    capsys.readouterr()
    assert main([*args, "--predictions", str(spoiled)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith("error:") and "class depth=5" in error
    assert not out.exists()


@pytest.mark.slow
def test_a_keras_baselines_predictions_score_alike_through_the_trainer_and_the_scorer():
    """The same Keras LSTM (trained for 60 updates of the protocol's batches) scored by the trainer's own step
    (``baselines.trainer.score_run``) and by ``seqtasks.score``: the same numbers, length scores included."""
    pytest.importorskip("tensorflow")
    import keras

    from baselines.catalog import get_recipe
    from baselines.data import evaluation_arrays
    from baselines.models import recipe_name
    from baselines.trainer import score_run
    from seqtasks.registry import get_preset

    recipe = get_recipe(recipe_name(REBER, "lstm"))
    p = protocol(REBER)
    keras.utils.set_random_seed(0)
    model = recipe.build(p.task, p.task.supervised_spec(recipe.target), target=recipe.target)
    for batch in p.train_batches(0, stop=60):
        model.train_on_batch(batch.one_hot, batch.targets, sample_weight=batch.weights)
    arrays = evaluation_arrays(p.task, get_preset(REBER)[1], recipe, None).arrays
    trainer = score_run(model, p.task, arrays, recipe.target, {"batch_size": 256})
    record = seqtasks.score(REBER, lambda batch: np.asarray(model(batch.one_hot, training=False)), **SOLVED)
    assert record["metrics"] == {split: seqtasks.metrics.scalars(result) for split, result in trainer.final.items()}
    assert record["length_scores"] == {report["split"]: report["score"] for report in trainer.length_reports}
    assert 0 < record["metrics"]["test"]["symbols_correct"] < 1  # neither untrained nor solved: a real comparison
    # And the trainer's own prediction arrays, given to the scorer as a file would give them, score the same.
    from baselines.scoring import predict

    keras_outputs = {split: predict(model, split_arrays) for split, split_arrays in arrays.items()}
    assert scorer.score_predictions(REBER, keras_outputs, **SOLVED)["metrics"] == record["metrics"]
