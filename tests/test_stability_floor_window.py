"""FloorDetector(task) in its ordinary use: ``model.fit`` on shuffled arrays, no per-batch labels.

It then knows only the task's population floor and tests windows of updates
against the spread of batch floors the task's label distribution gives. The
expected thresholds are derived here independently (hypergeometric positives,
Monte Carlo), not from the detector's code.
"""

import math
import warnings

import keras
import numpy as np
import pytest

import seqtasks
from baselines.data import split_arrays
from seqtasks.stability import BelowFloorWarning, FloorDetector, MemorisationWarning
from seqtasks.stability.floor import batch_floor_distribution, window_threshold

TASK = "random_labels/t48_f16"


def entropy(rate):
    rate = np.asarray(rate, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -(rate * np.log(rate)) - (1 - rate) * np.log(1 - rate)
    return np.nan_to_num(terms, nan=0.0)


def constant_model(rate: float, features: tuple[int, int] = (48, 16)) -> keras.Model:
    """Predicts ``rate`` for every example and never moves (SGD with learning rate 0)."""
    model = keras.Sequential([
        keras.Input(features),
        keras.layers.Flatten(),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(math.log(rate / (1 - rate)))),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="binary_crossentropy")
    return model


def fit(model, x, y, detector, epochs, batch_size=32):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, callbacks=[detector], verbose=0)
    return history.history, [warning.category for warning in caught]


def test_the_issues_calibrated_constant_predictor_gives_no_alarm():
    """3,200 examples, batch 32, 3 epochs, model.fit(shuffle=True): the loss is exactly the label entropy on average."""
    task = seqtasks.make(TASK)
    arrays = split_arrays(task, "train", 3200, seed=0)
    rate = float(arrays.y.mean())
    assert rate == 500 / 3200  # 5 positives in every 32
    keras.utils.set_random_seed(0)
    detector = FloorDetector(task)
    old = FloorDetector(floor=task.label_entropy(), patience=1)  # each update against the population floor

    class Old(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            old.on_train_batch_end(batch, logs)

        def on_epoch_begin(self, epoch, logs=None):
            old.on_epoch_begin(epoch, logs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_model = constant_model(rate)
        history = keras_model.fit(arrays.x, arrays.y, batch_size=32, epochs=3, shuffle=True, callbacks=[detector, Old()], verbose=0).history
    assert history["loss"] == pytest.approx([entropy(rate)] * 3, abs=1e-6)
    verdict = detector.verdict
    assert detector.events == [] and verdict["verdict"] == "ok" and verdict["updates"] == 300
    assert verdict["floor_source"] == "population" and verdict["window"] == 16 and verdict["batch_size"] == 32
    assert verdict["closest"]["unseen"] < -0.1  # single batches do fall far below the population floor ...
    assert len(old.events) > 50  # ... which the old per-update comparison flagged (the issue's 129 events)


def test_window_threshold_matches_an_independent_hypergeometric_derivation():
    """Batches of 32 drawn from a pool of 4096 examples with 640 positives: k ~ Hypergeometric(4096, 640, 32)."""
    rng = np.random.default_rng(1)
    positives = rng.hypergeometric(640, 4096 - 640, 32, size=(2_000_000, 16))
    window_means = entropy(positives / 32).mean(axis=1)
    expected = float(np.quantile(window_means, 1e-4))
    detector_threshold = window_threshold(batch_floor_distribution(TASK, 32), 16, 1e-4)
    assert detector_threshold == pytest.approx(expected, abs=0.012)
    floors = batch_floor_distribution(TASK, 32)
    single = entropy(np.arange(33) / 32)
    assert np.isin(np.round(floors, 9), np.round(single, 9)).all()  # every floor is H(k/32) for an integer k
    assert floors.mean() == pytest.approx(entropy(rng.hypergeometric(640, 3456, 32, 200_000) / 32).mean(), abs=0.006)


def test_window_threshold_is_the_quantile_of_the_mean_of_draws():
    """Two-point floors {0, 1} with P(1) = 1/2: the mean of 4 draws is < 0.25 only when all are 0 (prob 1/16)."""
    floors = np.array([0.0, 1.0] * 50)
    assert window_threshold(floors, 4, 1 / 16 - 1e-9) == pytest.approx(0.0)
    assert window_threshold(floors, 4, 1 / 16 + 1e-9) == pytest.approx(0.25)
    assert window_threshold(floors, 1, 0.4) == pytest.approx(0.0)
    assert window_threshold(np.full(10, 0.3), 5, 0.01) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="invalid false_alarm_rate=0; allowed"):
        window_threshold(floors, 4, 0)


def test_many_shuffled_epochs_of_the_calibrated_loss_stay_below_the_stated_false_alarm_rate():
    """1,250 windows of the calibrated predictor's exact batch losses (observe, no Keras): expected alarms <= 0.125."""
    task = seqtasks.make(TASK)
    labels = split_arrays(task, "train", 3200, seed=0).y[:, 0]
    rate = labels.mean()
    rng = np.random.default_rng(0)
    detector = FloorDetector(task)
    for epoch in range(200):
        order = rng.permutation(len(labels))
        for batch in range(100):
            k = labels[order[32 * batch : 32 * batch + 32]].mean()
            detector.observe(-(k * math.log(rate) + (1 - k) * math.log(1 - rate)), unseen=True, epoch=epoch)
    assert detector.verdict["updates"] == 20_000 and detector.events == []


def test_an_impossible_loss_is_an_error_after_one_window():
    """A loss bug that returns 0 on data the model has not trained on."""
    task = seqtasks.make(TASK)
    arrays = split_arrays(task, "train", 3200, seed=0)
    model = constant_model(0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=lambda y, p: 0.0 * keras.ops.mean(p))
    detector = FloorDetector(task, stop_training=True)
    history, categories = fit(model, arrays.x, arrays.y, detector, epochs=3)
    assert BelowFloorWarning in categories and len(history["loss"]) == 1  # stopped in the first epoch
    assert detector.fired_at == 16 and detector.events[0]["data"] == "unseen" and detector.events[0]["loss"] == 0.0
    assert detector.verdict["verdict"] == "error"


def test_a_label_leak_is_an_error_in_the_first_epoch():
    """The label copied into every input step: a model learns it on data it has not seen."""
    task = seqtasks.make(TASK)
    arrays = split_arrays(task, "train", 3200, seed=0)
    leaked = np.concatenate([arrays.x, np.repeat(arrays.y[:, None, :], 48, axis=1)], axis=-1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((48, 17)), keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy")
    detector = FloorDetector(task)
    history, categories = fit(model, leaked, arrays.y, detector, epochs=1)
    assert BelowFloorWarning in categories
    assert detector.verdict["verdict"] == "error" and detector.fired_at <= 100
    assert all(event["data"] == "unseen" for event in detector.events)


def test_a_model_that_memorises_a_fixed_training_set_is_flagged_as_memorisation():
    """256 random-label examples, an MLP that learns them by heart; validation stays at chance."""
    task = seqtasks.make(TASK)
    train = split_arrays(task, "train", 256, seed=0)
    validation = split_arrays(task, "validation", 320, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((48, 16)), keras.layers.Flatten(), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    detector = FloorDetector(task)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(train.x, train.y, batch_size=32, epochs=20, shuffle=True, verbose=0,
                            validation_data=(validation.x, validation.y), callbacks=[detector]).history
    categories = [warning.category for warning in caught]
    assert history["loss"][-1] < 0.05 and history["val_loss"][-1] > task.label_entropy()
    verdict = detector.verdict
    assert verdict["verdict"] == "memorisation" and verdict["error_flags"] == 0
    assert MemorisationWarning in categories and BelowFloorWarning not in categories
    assert verdict["first_memorisation_update"] > 8  # never in the first epoch (8 updates, all unseen)


def test_population_mode_rejects_bad_settings():
    with pytest.raises(ValueError, match="invalid window=0; allowed"):
        FloorDetector(TASK, window=0)
    with pytest.raises(ValueError, match="invalid false_alarm_rate=1.5; allowed: 0 < false_alarm_rate < 1"):
        FloorDetector(TASK, false_alarm_rate=1.5)
    with pytest.raises(ValueError, match="invalid batch_size=0; allowed"):
        FloorDetector(TASK, batch_size=0)
