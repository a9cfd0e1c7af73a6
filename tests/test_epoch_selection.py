"""The protocol's model selection (``TrainingSpec.select_epoch_by``): the run keeps its best validation epoch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import seqtasks
from seqtasks.training import TrainingSpec

ROOT = Path(__file__).resolve().parents[1]


def test_char_to_vector_keeps_the_epoch_with_the_best_validation_cosine():
    p = seqtasks.protocol("char_to_vector")
    assert p.training.select_epoch_by == "mean_cosine"
    assert ("model kept", "the epoch with the highest validation mean_cosine (its weights restored)") in p.rows()
    assert seqtasks.protocol("sequence_reversal/reverse_string").training.select_epoch_by is None
    with pytest.raises(ValueError, match="invalid select_epoch_by=''"):
        TrainingSpec(select_epoch_by="")


def test_early_stopping_restores_the_best_epoch_without_stopping():
    """The library behaviour the trainer relies on: Keras 3 restores the best weights at the end of a full run."""
    keras = pytest.importorskip("keras")

    values = iter([0.1, 0.5, 0.2, 0.3])  # the monitored metric peaks at epoch 2 of 4
    snapshots = []

    class FakeValidation(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_mean_cosine"] = next(values)
            snapshots.append([w.copy() for w in self.model.get_weights()])

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    selector = keras.callbacks.EarlyStopping(monitor="val_mean_cosine", mode="max", patience=5, restore_best_weights=True)
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.ones((16, 2))
    model.fit(x, y, epochs=4, verbose=0, callbacks=[FakeValidation(), selector])
    assert selector.stopped_epoch == 0 and selector.best_epoch == 1
    for kept, at_two, at_four in zip(model.get_weights(), snapshots[1], snapshots[3]):
        np.testing.assert_array_equal(kept, at_two)
        assert not np.array_equal(kept, at_four)

    from baselines.trainer import selected_epoch

    history = [{"val_mean_cosine": v} for v in (0.1, 0.5, 0.2, 0.3)]
    assert selected_epoch(selector, 0, history, "mean_cosine") == {
        "by": "validation mean_cosine", "epoch": 2, "of": 4, "best_in_history": 2}


def test_a_char_to_vector_run_records_the_epoch_it_kept(tmp_path):
    pytest.importorskip("keras")
    from baselines.catalog import get_recipe
    from baselines.models import recipe_name

    recipe = get_recipe(recipe_name("char_to_vector", "gru"))
    assert recipe.select_epoch_by == "mean_cosine" and recipe.settings["select_epoch_by"] == "mean_cosine"
    assert get_recipe(recipe_name("reber_grammar", "lstm")).select_epoch_by is None
    # A quick run records the epoch it kept.
    from baselines.trainer import train

    run = train(recipe, quick=True, out=tmp_path / "run", verbose=0, floor_check=False, lint=False)
    assert run["selected_epoch"]["by"] == "validation mean_cosine"
    assert 1 <= run["selected_epoch"]["epoch"] <= run["selected_epoch"]["of"] == 2
    curve = [row["val_mean_cosine"] for row in run["per_epoch"]]
    assert run["selected_epoch"]["epoch"] == int(np.argmax(curve)) + 1


def test_runs_from_before_the_rule_stand_only_where_their_last_epoch_was_best():
    from baselines.catalog import get_recipe
    from baselines.models import recipe_name
    from baselines.reproduce import last_epoch_was_best, stale_reason

    recipe = get_recipe(recipe_name("char_to_vector", "bigru"))
    before = {key: value for key, value in recipe.settings.items() if key != "select_epoch_by"}

    def run(curve):
        archived = json.loads((ROOT / "docs/results_runs/grid/char_to_vector/bigru/seed1.json").read_text())
        return {**archived, "recipe_settings": before, "per_epoch": [{"val_mean_cosine": v} for v in curve]}

    assert last_epoch_was_best(run([0.1, 0.2, 0.3]), "mean_cosine")
    assert not last_epoch_was_best(run([0.1, 0.3, 0.3]), "mean_cosine")  # a tie keeps the earlier epoch
    assert not last_epoch_was_best(run([0.1, 0.4, 0.3]), "mean_cosine")
    assert stale_reason(run([0.1, 0.2, 0.3]), recipe, False) is None
    assert stale_reason(run([0.1, 0.4, 0.3]), recipe, False) == "trained with other recipe settings"
    other = {**run([0.1, 0.2, 0.3]), "recipe_settings": {**before, "units": 7}}
    assert stale_reason(other, recipe, False) == "trained with other recipe settings"


def test_a_cosine_loss_trains_without_the_mse_floor_and_bad_losses_are_refused(tmp_path):
    pytest.importorskip("keras")
    import warnings

    from baselines.catalog import get_recipe
    from baselines.models import build_model, recipe_name
    from baselines.trainer import train

    from seqtasks.stability import BelowFloorWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", BelowFloorWarning)  # a cosine loss is negative: the MSE floor must not watch it
        run = train(get_recipe(recipe_name("char_to_vector", "gru")), quick=True, out=tmp_path / "run", verbose=0,
                    build_overrides={"loss": "cosine"}, lint=False)
    assert run["floor_check"] is None and run["final_train_loss"] < 0
    task = seqtasks.make("reber_grammar/reber")
    with pytest.raises(ValueError, match="invalid loss='cosine' for a sparse target; allowed: None"):
        build_model(task, task.supervised_spec(), model="gru", units=4, learning_rate=1e-3, loss="cosine")
    vectors = seqtasks.make("char_to_vector")
    with pytest.raises(ValueError, match="invalid loss='mae' for a dense target; allowed: one of mse, cosine"):
        build_model(vectors, vectors.supervised_spec(), model="gru", units=4, learning_rate=1e-3, loss="mae")


def test_best_epoch_is_the_first_highest_finite_value():
    from seqtasks.training import best_epoch

    history = [{"val_c": 0.1}, {"val_c": float("nan")}, {"val_c": 0.3}, {}, {"val_c": 0.3}, {"val_c": None}]
    assert best_epoch(history, "c") == 3
    assert best_epoch([{"val_c": 0.2}], "c") == 1
    assert best_epoch([{}, {"val_c": float("inf") * 0}], "c") is None and best_epoch([], "c") is None
