"""Each benchmark config's protocol as data, and its training batches in numpy.

* ``seqtasks.protocol(name)`` is frozen, validated, and states the budget the recipes train with;
* ``protocol.train_batches(seed)`` yields byte for byte the batches the Keras trainer trains on,
  for every config and two seeds, without importing TensorFlow;
* an epoch over the published split holds every training example once; evaluation batches are
  the published split in order.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import seqtasks
from seqtasks.protocols import Protocol, protocol
from seqtasks.registry import list_presets, list_tasks
from seqtasks.training import TrainingSpec

ALL_CONFIGS = [f"{task}/{config}" for task in list_tasks() for config in list_presets(task)]


def test_seqtasks_protocol_is_the_frozen_protocol_of_a_config():
    p = seqtasks.protocol("sequence_reversal/reverse_string")
    assert isinstance(p, Protocol) and p is protocol("sequence_reversal/reverse_string")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "other"  # type: ignore[misc]
    assert p.dataset_version == seqtasks.make(p.name).version
    assert p.training.fresh and p.training.length_grouped and p.training.batch_size == 128
    # 7 epochs of 64,000 fresh strings in batches of 128: 3,500 updates, as the recipe table says.
    assert (p.updates_per_epoch, p.updates) == (500, 3500)
    assert p.eval_splits == ("validation", "test", "test_long") and p.eval_sizes["test_long"] == 460 * 32
    assert "run length_scores.test_long" in p.metrics and p.headline_metric == "token_accuracy"
    assert {reference.model for reference in p.references} >= {"LSTM", "Stack-RNN", "Transformer"}
    assert p.seeds >= 5 and "mean ± std and best over" in p.aggregate
    reber = seqtasks.protocol("reber_grammar")  # a task name means its default config
    assert reber.name == "reber_grammar/embedded" and reber.seeds == 10
    assert (reber.updates_per_epoch, reber.updates) == (16, 512)  # 256 strings / 16, 32 epochs
    assert reber.training.stop_when_solved and reber.training.solve_check_every == 64
    assert json.loads(json.dumps(p.to_dict()))["training"]["updates"] == 3500


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data": "stream"}, "invalid data='stream'; allowed: one of published_train, fresh"),
        ({"batching": "one_length_per_batch"}, "invalid batching='one_length_per_batch' for data='published_train'"),
        ({"batch_size": 0}, "invalid batch_size=0; allowed: an integer >= 1"),
        ({"epochs": 1.5}, "invalid epochs=1.5; allowed: an integer >= 1"),
        ({"seeds": 3}, "invalid seeds=3; allowed: an integer >= 5"),
        ({"examples_per_epoch": 100}, "invalid examples_per_epoch=100 for data='published_train'"),
        ({"stop_when_solved": True}, "invalid stop_when_solved=True; allowed: True only with solve_check_every"),
    ],
)
def test_a_training_spec_names_the_bad_value(change, message):
    with pytest.raises(ValueError, match="training spec: " + message.replace("(", r"\(").replace(")", r"\)")):
        TrainingSpec(**change)


def test_an_unknown_config_is_refused_naming_the_registered_ones():
    with pytest.raises(ValueError, match="reverse_string"):
        seqtasks.protocol("sequence_reversal/reverse_strng")


def test_the_stable_recipes_train_with_their_configs_protocol():
    pytest.importorskip("keras")
    from baselines.catalog import get_recipe
    from baselines.models import recipe_name

    for name in ("reber_grammar", "sequence_reversal", "sequence_reversal/reverse_string", "char_to_vector",
                 "random_labels"):
        recipe = get_recipe(recipe_name(name, "lstm"))
        spec = seqtasks.protocol(recipe.task).training
        assert (recipe.batch_size, recipe.epochs, recipe.fresh_data, recipe.length_grouped) == (
            spec.batch_size, spec.epochs, spec.fresh, spec.length_grouped), name
        assert recipe.train_size == spec.examples_per_epoch and recipe.stop_when_solved == spec.stop_when_solved


def _keras_batches(name: str, seed: int):
    """The Keras trainer's training batches for ``name`` at ``seed`` (its own data step)."""
    from baselines.catalog import get_recipe
    from baselines.data import training_batches
    from baselines.models import config_recipe_tasks, recipe_name
    from seqtasks.registry import get_preset

    family = name.partition("/")[0]
    recipe = get_recipe(recipe_name(name if name in config_recipe_tasks() else family, "lstm"))
    _, preset = get_preset(name)
    return training_batches(
        seqtasks.make(name), preset, recipe, fresh_data=recipe.fresh_data, epoch_size=recipe.train_size, steps=None,
        seed=seed, data_seed=0, full_batches_only=False,
    ).batches


@pytest.mark.parametrize("name", ALL_CONFIGS)
def test_train_batches_are_byte_for_byte_the_keras_trainers(name):
    """The first updates of the first two epochs, for two seeds: inputs, targets and weights equal in
    value, dtype and shape to what `python -m baselines train --seed S` feeds `model.fit`."""
    pytest.importorskip("keras")
    p = seqtasks.protocol(name)
    for seed in (0, 3):
        keras_batches = _keras_batches(name, seed)
        assert len(keras_batches) == p.updates_per_epoch
        updates = [0, 1, 2, p.updates_per_epoch, p.updates_per_epoch + 1]
        ours = {batch.update: batch for update in updates for batch in p.train_batches(seed, update, update + 1)}
        for update in updates:
            epoch, index = divmod(update, p.updates_per_epoch)
            keras_batches.set_epoch(epoch)
            x, y, weight = keras_batches[index]
            batch = ours[update]
            for mine, theirs in ((batch.inputs, x), (batch.targets.reshape(y.shape), y), (batch.weights, weight)):
                assert mine.dtype == theirs.dtype and mine.shape == theirs.shape, (name, seed, update)
                assert mine.tobytes() == theirs.tobytes(), (name, seed, update)


def test_an_epoch_of_the_published_split_holds_every_training_example_once():
    p = seqtasks.protocol("reber_grammar/embedded")
    train = p.task.generate("train", 0, 256, seed=0)
    for seed in (0, 1):
        epoch = list(p.train_batches(seed, 0, p.updates_per_epoch))
        seen = sorted(text for batch in epoch for text in batch.examples["text"])
        assert seen == sorted(train["text"]) and sum(len(batch) for batch in epoch) == 256
    first = [tuple(batch.examples["text"]) for batch in p.train_batches(0, 0, 2)]
    other = [tuple(batch.examples["text"]) for batch in p.train_batches(1, 0, 2)]
    assert first != other  # the order is keyed by the seed


def test_fresh_batches_follow_their_batching_rule():
    p = seqtasks.protocol("sequence_reversal/reverse_string")
    batches = list(p.train_batches(seed=0, start=0, stop=40))
    assert [batch.update for batch in batches] == list(range(40))
    for batch in batches:
        lengths = np.asarray(batch.examples["length"])
        assert batch.ids.shape == (128, lengths.max()) and batch.one_hot.shape == (*batch.ids.shape, 3)
        n = lengths // 2  # the read-then-write layout: n reading steps, then n writing steps
        assert n.max() - n.min() <= 2  # (nearly) one length per batch
        # Only the writing steps are scored: 2n steps hold n reading and n writing steps.
        np.testing.assert_array_equal(batch.weights.sum(axis=1), n)
        # The targets of the writing steps are the string reversed (the task's definition).
        row = int(np.argmax(n))
        string = batch.ids[row, : n[row]]  # symbols 0 and 1 (2 is the blank of the writing steps)
        written = batch.targets[row][batch.weights[row] > 0]
        np.testing.assert_array_equal(written, string[::-1])
    # Every seed trains on the same fresh stream (the seed sets the weights); a data seed changes it.
    again = next(p.train_batches(seed=4, start=7, stop=8))
    np.testing.assert_array_equal(again.ids, batches[7].ids)
    assert not np.array_equal(next(p.train_batches(0, 7, 8, data_seed=1)).ids, batches[7].ids)


def test_evaluation_batches_are_the_published_split_in_order():
    p = seqtasks.protocol("sequence_reversal/reverse_string")
    examples = p.eval_examples("test")
    batches = list(p.eval_batches("test", batch_size=300))
    assert [len(batch) for batch in batches] == [300] * 6 + [200]
    inputs = np.concatenate([batch.examples["inputs"][:, :8] for batch in batches])
    np.testing.assert_array_equal(inputs, np.asarray(examples["inputs"])[:, :8])
    for batch in batches:  # each batch cut to its own longest sequence
        assert batch.ids.shape[1] == int(np.asarray(batch.examples["length"]).max())
    with pytest.raises(ValueError, match="invalid split='train'; allowed: one of validation, test, test_long"):
        p.eval_examples("train")


def test_train_batches_need_no_tensorflow():
    code = textwrap.dedent(
        """
        import sys, seqtasks
        for name in ("sequence_reversal/reverse_string", "random_labels", "reber_grammar", "char_to_vector"):
            p = seqtasks.protocol(name)
            for batch in p.train_batches(seed=0, start=0, stop=2):
                batch.inputs
            next(p.eval_batches("test"))
        print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tensorflow_datasets', 'jax'}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_protocol_command_prints_the_protocol_and_refuses_a_bad_name(capsys):
    from seqtasks.cli import main

    assert main(["protocol", "sequence_reversal/reverse_string", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(seqtasks.protocol("sequence_reversal/reverse_string").to_dict()))
    assert main(["protocol", "reber_grammar"]) == 0
    table = capsys.readouterr().out
    assert "8,192 training sequences" in table and "512 updates (32 epochs of 16)" in table
    assert main(["protocol", "reber_gramar/embedded"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "reber_grammar" in captured.err
