"""The below-floor detector: per-batch floors, errors on unseen data, memorisation on repeated data.

Also the seed-000 zero-sum mechanism on constructed cases.
"""

import math
import warnings

import keras
import numpy as np
import pytest

import seqtasks
from baselines.data import EpochShuffledBatches, SetEpoch, split_arrays
from seqtasks.encoding import to_supervised
from seqtasks.metrics import roc_auc
from seqtasks.stability import (
    BatchLabelEntropy,
    BelowFloorWarning,
    FloorDetector,
    MemorisationWarning,
    NaNLocator,
    below_floor,
    check,
    split_floor,
    task_floor,
)


def entropy(rate: float) -> float:
    return -sum(p * math.log(p) for p in (rate, 1 - rate) if p > 0)


def test_below_floor_uses_the_larger_margin():
    assert below_floor(0.5, 0.6)  # 0.1 below; margin max(1e-3, 0.06)
    assert not below_floor(0.55, 0.6)
    assert not below_floor(0.0, 0.0)  # a deterministic task's floor is reachable
    assert below_floor(7.5e-8, 0.49)  # seed 000's reported loss against a Reber floor
    assert not below_floor(float("nan"), 0.5)


@pytest.mark.parametrize(
    "kwargs, parameter",
    [({"floor": -1.0}, "floor"), ({"floor": float("inf")}, "floor"), ({"relative_tolerance": 1.0}, "relative_tolerance"), ({"absolute_tolerance": -0.1}, "absolute_tolerance")],
)
def test_below_floor_rejects_bad_parameters(kwargs, parameter):
    arguments = {"loss": 0.1, "floor": 0.5, **kwargs}
    with pytest.raises(ValueError, match=f"invalid {parameter}="):
        below_floor(**arguments)


def test_random_labels_floor_is_the_entropy_of_the_batch_own_labels():
    task = seqtasks.make("random_labels/t48_f16")
    p = 5 / 32
    assert task.label_entropy() == pytest.approx(entropy(p))  # the population value
    labels = np.zeros(32, dtype=np.int32)
    labels[:4] = 1
    assert task.loss_floor({"label": labels}) == pytest.approx(entropy(4 / 32)) and entropy(4 / 32) < task.label_entropy()
    assert task.loss_floor({"label": np.ones(8, np.int32)}) == 0.0  # an all-positive batch: nothing to be uncertain about
    batch = task.sample(96, seed=3)
    assert task.loss_floor(batch) == pytest.approx(entropy(batch["label"].mean()))
    with pytest.raises(ValueError, match="invalid batch without 'label'"):
        task.loss_floor({})


def test_task_floors():
    reber = seqtasks.make("reber_grammar/reber")
    assert 0.3 < task_floor(reber) < math.log(2)  # every position has one or two legal successors
    with pytest.raises(ValueError, match="invalid target='legal_set'"):
        task_floor(reber, target="legal_set")
    batch = reber.sample(40, seed=1)
    # A Keras evaluation in batches of 16, 16 and 8: the example-weighted mean of the three batches' floors.
    parts = [reber.loss_floor({k: v[a:b] for k, v in batch.items()}) for a, b in ((0, 16), (16, 32), (32, 40))]
    assert split_floor(reber, batch, 16) == pytest.approx((16 * parts[0] + 16 * parts[1] + 8 * parts[2]) / 40)
    assert split_floor(reber, batch, 64) == pytest.approx(reber.loss_floor(batch))


def test_detector_flags_a_constructed_loss_curve_at_the_right_update():
    detector = FloorDetector(floor=0.5, patience=1)
    with pytest.warns(BelowFloorWarning, match="below that batch's loss floor 0.5 on data the model has not trained on"):
        flags = [detector.observe(loss) for loss in (0.9, 0.6, 0.48, 1e-7, float("nan"), 1e-8)]
    assert flags == [False, False, False, True, False, True]
    assert [event["update"] for event in detector.events] == [4, 6] and detector.fired_at == 4
    assert detector.verdict["verdict"] == "error" and detector.verdict["error_flags"] == 2


def test_detector_compares_each_loss_with_its_own_batch_floor():
    detector = FloorDetector(floor=0.5, patience=1)
    # 0.32 is 32 % below the population floor 0.5 but above the floor 0.311 of a batch with 3 positives in 32.
    assert not detector.observe(0.32, floor=entropy(3 / 32))
    task = seqtasks.make("random_labels/t48_f16")
    tasked = FloorDetector(task, patience=1)
    labels = {"label": np.array([1, 0, 0, 0] * 8)}
    assert not tasked.observe(entropy(0.25), batch=labels)
    with pytest.warns(BelowFloorWarning, match="1 update in a row"):
        assert tasked.observe(0.01, batch=labels)
    assert tasked.events[0]["floor"] == pytest.approx(entropy(0.25))


def test_detector_patience_ignores_a_lucky_batch_but_not_a_collapse():
    detector = FloorDetector(floor=0.5)  # patience 3
    losses = (0.6, 0.4, 0.55, 0.4, 0.4, 0.52, 1e-7, 1e-7, 1e-7, 1e-7)
    with pytest.warns(BelowFloorWarning, match="3 updates in a row"):
        flags = [detector.observe(loss) for loss in losses]
    assert flags == [False] * 8 + [True, True]
    assert detector.fired_at == 9 and len(detector.events) == 7
    with pytest.raises(ValueError, match="invalid patience=0; allowed: an integer >= 1"):
        FloorDetector(floor=0.5, patience=0)


def fit_logs(detector: FloorDetector, epochs: list[list[float]], sizes: list[int], val_losses: list[float] | None = None) -> None:
    """Drives the detector's Keras hooks with the running means Keras reports (float32, weighted by batch size)."""
    for epoch, losses in enumerate(epochs):
        detector.on_epoch_begin(epoch)
        tracker = keras.metrics.Mean()
        for batch, (loss, size) in enumerate(zip(losses, sizes)):
            tracker.update_state(loss, sample_weight=size)
            detector.on_train_batch_end(batch, {"loss": float(tracker.result())})
        logs = {"loss": float(tracker.result())}
        if val_losses is not None:
            logs["val_loss"] = val_losses[epoch]
        detector.on_epoch_end(epoch, logs)


def test_detector_recovers_per_batch_losses_from_keras_running_means():
    detector = FloorDetector(floor=1.0, patience=1, batch_sizes=[32, 32, 8])
    with pytest.warns(BelowFloorWarning):
        fit_logs(detector, [[2.0, 2.0, 0.1]], [32, 32, 8])  # a short last batch: the means are weighted 32:32:8
    [event] = detector.events
    assert event["batch"] == 2 and event["loss"] == pytest.approx(0.1, abs=1e-5)


def test_the_same_collapse_is_memorisation_on_repeated_data_and_an_error_on_unseen_data():
    epochs = [[0.45, 0.44, 0.44, 0.43], [0.2, 0.01, 1e-3, 1e-4]]  # floor 0.4: fine in the first pass, then far below
    repeated = FloorDetector(batch_floor=lambda epoch, batch: 0.4)  # a finite training set (the default)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BelowFloorWarning)
        with pytest.warns(MemorisationWarning, match=r"memorising the training set \(epoch 2: train loss 0.0528, validation loss 1.9, gap 1.85"):
            fit_logs(repeated, epochs, [32] * 4, val_losses=[0.47, 1.9])
    verdict = repeated.verdict
    assert verdict["verdict"] == "memorisation" and verdict["error_flags"] == 0 and verdict["memorisation_flags"] == 2
    assert verdict["first_memorisation_update"] == 7 and verdict["train_validation_gap"] == pytest.approx(1.8466, abs=1e-3)
    assert verdict["below_floor"] == {"unseen": 0, "repeated": 4, "validation": 0}

    stream = FloorDetector(batch_floor=lambda epoch, batch: 0.4, repeats=False)  # every batch new
    with pytest.warns(BelowFloorWarning, match="on data the model has not trained on"):
        fit_logs(stream, epochs, [32] * 4)
    assert stream.verdict["verdict"] == "error" and stream.fired_at == 7 and stream.verdict["memorisation_flags"] == 0


def test_a_validation_loss_below_the_validation_floor_is_an_error():
    detector = FloorDetector(batch_floor=lambda epoch, batch: 0.4, validation_floor=0.4)
    with pytest.warns(BelowFloorWarning, match="validation loss 0.2 after epoch 2 is below the validation data's loss floor 0.4"):
        fit_logs(detector, [[0.5, 0.5], [0.45, 0.45]], [16, 16], val_losses=[0.5, 0.2])
    assert detector.fired_at == 4 and detector.events[-1]["data"] == "validation"
    assert detector.verdict["error_flags"] == 1


def test_below_the_floor_on_repeated_data_and_on_validation_is_an_error_not_memorisation():
    """A target leak (e.g. a backward direction reading the next symbol) is exploited once learned: by then the
    training data repeats, but the validation loss is below its floor as well."""
    detector = FloorDetector(batch_floor=lambda epoch, batch: 0.4, validation_floor=0.4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemorisationWarning)
        with pytest.warns(BelowFloorWarning, match="validation loss 0.05"):
            fit_logs(detector, [[0.45, 0.45, 0.45], [0.1, 0.05, 0.05]], [16] * 3, val_losses=[0.5, 0.05])
    verdict = detector.verdict
    assert verdict["verdict"] == "error" and verdict["memorisation_flags"] == 0 and verdict["first_memorisation_update"] is None
    assert verdict["error_flags"] == 2  # the repeated batch at patience 3 and the validation check
    assert [event["verdict"] for event in detector.events] == [None, None, "error", "error"]


def test_detector_needs_a_floor_or_a_task():
    with pytest.raises(ValueError, match="invalid task=None"):
        FloorDetector()


@pytest.mark.parametrize("config", ["t672_f16", "t48_f16"])
def test_the_calibrated_constant_predictor_is_never_flagged_on_the_baselines_shuffled_batches(config):
    """The issue's measurement: p = 5/32 on every example, 500 shuffled batches of 32 of the preset's training set."""
    task = seqtasks.make(f"random_labels/{config}")
    arrays = split_arrays(task, "train", 3200, seed=0)
    batches = EpochShuffledBatches(arrays, 32, seed=0)
    detector = FloorDetector.for_batches(task, batches)
    population = FloorDetector(floor=task.label_entropy(), patience=1)  # the old comparison, for contrast
    bce = keras.losses.BinaryCrossentropy()
    for epoch in range(5):
        batches.set_epoch(epoch)
        detector.on_epoch_begin(epoch)
        tracker = keras.metrics.Mean()
        for index in range(len(batches)):
            y = batches[index][1]
            loss = float(bce(y, np.full(y.shape, 5 / 32, np.float32)))
            tracker.update_state(loss, sample_weight=len(y))
            detector.on_train_batch_end(index, {"loss": float(tracker.result())})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                population.observe(loss)
        detector.on_epoch_end(epoch, {"loss": float(tracker.result())})
    assert detector.verdict["updates"] == 500 and detector.verdict["floor_source"] == "batch_floor"
    assert detector.events == [] and detector.verdict["verdict"] == "ok"
    # Its loss on a batch is H(r) + KL(r || 5/32) >= H(r): never below the batch's own floor.
    assert -1e-5 < detector.closest["unseen"] and -1e-5 < detector.closest["repeated"]
    assert len(population.events) > 100  # against the dataset's entropy, about 40 % of the batches "fall below"


def test_for_batches_reads_a_stream_and_a_shuffled_finite_set():
    task = seqtasks.make("random_labels/t48_f16")

    class Stream:
        """The stream protocol: update ``u`` trains on examples [32 u, 32 u + 32) of the train split."""

        def __len__(self):
            return 4

        def examples(self, update):
            return task.generate("train", 32 * update, 32 * (update + 1), seed=0)

        def batch_sizes(self):
            return [32] * 4

    stream = FloorDetector.for_batches(task, Stream())
    assert not stream.repeats and stream.batch_sizes == [32] * 4
    labels = task.generate("train", 32 * 6, 32 * 7, seed=0)["label"]  # epoch 1, batch 2: update 6
    assert stream.batch_floor(1, 2) == pytest.approx(entropy(labels.mean()))

    arrays = split_arrays(task, "train", 96, seed=0)
    batches = EpochShuffledBatches(arrays, 32, seed=0)
    finite = FloorDetector.for_batches(task, batches)
    batches.set_epoch(3)
    assert finite.repeats and finite.batch_floor(3, 1) == pytest.approx(entropy(batches[1][1].mean()))
    assert FloorDetector.for_batches(seqtasks.make("reber_grammar/reber"), batches, target="legal_set") is None
    with pytest.raises(ValueError, match="invalid batches=list"):
        FloorDetector.for_batches(task, [])


@pytest.mark.slow
def test_memorising_random_labels_is_reported_as_memorisation_not_as_an_error():
    """A real run: an LSTM(128) memorises 256 random labels (train loss -> 0, validation at chance)."""
    task = seqtasks.make("random_labels/t48_f16")
    keras.utils.set_random_seed(0)
    train = split_arrays(task, "train", 256, seed=0)
    validation = split_arrays(task, "validation", 320, seed=0)
    batches = EpochShuffledBatches(train, 32, seed=0)
    model = keras.Sequential([keras.Input((48, 16)), keras.layers.LSTM(128), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0), loss="binary_crossentropy", metrics=[BatchLabelEntropy()])
    detector = FloorDetector.for_batches(task, batches, validation_data=validation.batch, validation_batch_size=256)

    class CompareFloors(keras.callbacks.Callback):
        """The floor the detector computes from the pipeline's rows vs. the labels the update really had."""

        gaps: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            self.gaps.append(abs(detector.batch_floor(0, batch) - logs["batch_label_entropy"]))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            batches, epochs=30, shuffle=False, validation_data=(validation.x, validation.y), validation_batch_size=256,
            callbacks=[SetEpoch(batches), detector, CompareFloors()], verbose=0,
        ).history
    probabilities = model.predict(validation.x, verbose=0)[:, 0]
    assert np.isfinite(history["loss"]).all() and np.isfinite(probabilities).all()
    assert history["loss"][-1] < 0.05 and history["val_loss"][-1] > task.label_entropy() + 0.5
    assert 0.35 < roc_auc(validation.batch["label"], probabilities) < 0.65  # chance: nothing was learned
    assert len(CompareFloors.gaps) == 240 and max(CompareFloors.gaps) < 1e-6
    verdict = detector.verdict
    assert verdict["verdict"] == "memorisation" and verdict["error_flags"] == 0 and verdict["below_floor"]["unseen"] == 0
    assert verdict["memorisation_flags"] > 100 and verdict["first_memorisation_update"] > len(batches)
    assert verdict["train_validation_gap"] > 1.0
    categories = [warning.category for warning in caught]
    assert MemorisationWarning in categories and BelowFloorWarning not in categories


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy, expected y_pred.shape")
def test_seed003_sigmoid_with_categorical_crossentropy_trains_below_the_label_entropy():
    """Seed 003 through a pipeline the detector cannot see into: the floor comes from the in-graph metric."""
    task = seqtasks.make("random_labels/t48_f16")
    x, y, _ = to_supervised(task, task.sample(64, seed=0))
    model = keras.Sequential([keras.Input((48, 16)), keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=[BatchLabelEntropy()])
    assert [f.rule_id for f in check(model)] == ["sigmoid-categorical-crossentropy"]
    detector = FloorDetector(task, stop_training=True, patience=1)
    with pytest.warns(BelowFloorWarning):
        history = model.fit(x, y[:, None], batch_size=32, epochs=2, shuffle=True, verbose=0, callbacks=[detector])
    assert detector.fired_at == 1 and detector.events[0]["loss"] == 0.0 and detector.events[0]["data"] == "unseen"
    assert detector.verdict["floor_source"] == "metric" and detector.events[0]["floor"] > 0.2
    assert len(history.history["loss"]) == 1  # stopped in the first epoch


def softmax_lstm_with_closed_output_gates(units: int = 7) -> keras.Model:
    """Seed 000's LSTM(activation='softmax') with the output-gate bias driven to -1e4."""
    model = keras.Sequential([keras.Input((None, units)), keras.layers.LSTM(units, activation="softmax", return_sequences=True, name="softmax_lstm")])
    kernel, recurrent_kernel, bias = model.layers[0].get_weights()
    bias[3 * units :] = -1e4  # Keras orders the gates i, f, c, o
    model.layers[0].set_weights([kernel, recurrent_kernel, bias])
    return model


def test_seed000_closed_output_gates_make_outputs_sum_to_zero_and_cross_entropy_nan():
    task = seqtasks.make("reber_grammar/reber")
    x, y, weight = to_supervised(task, task.sample(8, seed=0))
    model = softmax_lstm_with_closed_output_gates()
    outputs = model.predict(x, verbose=0)
    # h = o * softmax(c) with o = sigmoid(-1e4) = 0: every unit outputs 0, so the "distribution" sums to 0.
    assert np.all(outputs == 0.0)
    with np.errstate(invalid="ignore"):
        normalised = outputs / outputs.sum(-1, keepdims=True)
    assert np.all(np.isnan(normalised))  # 0/0
    targets = np.eye(7, dtype=np.float32)[y]
    assert np.all(np.isnan(keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(targets, outputs))))
    # With open gates the same layer's outputs sum to o * 1 <= 1: a softmax that is not a distribution.
    open_sums = keras.Sequential([keras.Input((None, 7)), keras.layers.LSTM(7, activation="softmax", return_sequences=True)]).predict(x, verbose=0).sum(-1)
    assert np.all((open_sums > 0) & (open_sums < 1))


def test_seed000_nan_loss_is_located_in_the_softmax_lstm():
    task = seqtasks.make("reber_grammar/reber")
    x, y, weight = to_supervised(task, task.sample(8, seed=0))
    model = softmax_lstm_with_closed_output_gates()
    model.compile(optimizer="nadam", loss="categorical_crossentropy")
    locator = NaNLocator(probe_inputs=x, check_activations=False)
    model.fit(x, np.eye(7, dtype=np.float32)[y], sample_weight=weight, batch_size=8, epochs=2, verbose=0, callbacks=[locator])
    assert locator.report["trigger"] == "loss" and locator.report["update"] == 1
    # The outputs are finite zeros: the NaN is born in the loss (0/0), not in a layer, and the locator says so.
    assert locator.report["first_non_finite_output"] is None
    assert locator.report["origin"].startswith("loss")


def keras2_clipped_categorical_crossentropy(y_true, y_pred):
    """Categorical cross-entropy whose clip turns the 0/0 of all-zero outputs into 1 - 1e-7.

    The per-position loss is then -log(1 - 1e-7), about 1e-7: the size of the post's 7.5e-8.
    """
    epsilon = 1e-7
    normalised = y_pred / keras.ops.sum(y_pred, axis=-1, keepdims=True)
    clipped = keras.ops.where(keras.ops.isnan(normalised), 1 - epsilon, keras.ops.clip(normalised, epsilon, 1 - epsilon))
    return -keras.ops.sum(y_true * keras.ops.log(clipped), axis=-1)


class Keras2ClippedCrossentropy(keras.losses.Loss):
    def __init__(self):
        super().__init__(reduction="mean_with_sample_weight")  # the mean over weighted positions, as Keras 2

    def call(self, y_true, y_pred):
        return keras2_clipped_categorical_crossentropy(y_true, y_pred)


def clipped_seed000_model() -> keras.Model:
    model = softmax_lstm_with_closed_output_gates()
    model.compile(optimizer="nadam", loss=Keras2ClippedCrossentropy())
    return model


def test_seed000_clipped_zero_over_zero_loss_fires_on_the_baselines_batches():
    """Outputs sum to 0, the clip hides the 0/0: the loss is a finite 1e-7 and only the floor detector sees it."""
    task = seqtasks.make("reber_grammar/reber")
    arrays = split_arrays(task, "train", 64, seed=0, one_hot_targets=True)
    batches = EpochShuffledBatches(arrays, 16, seed=0)
    model = clipped_seed000_model()
    detector = FloorDetector.for_batches(task, batches, stop_training=True)
    with pytest.warns(BelowFloorWarning, match="on data the model has not trained on"):
        history = model.fit(batches, epochs=2, shuffle=False, callbacks=[SetEpoch(batches), detector], verbose=0).history
    assert detector.fired_at == 3 and len(history["loss"]) == 1  # patience 3, stopped in the first epoch
    assert all(0 < event["loss"] < 1e-6 and 0.3 < event["floor"] < math.log(2) for event in detector.events)
    assert np.isfinite(history["loss"]).all()  # TerminateOnNaN would not have stopped it
    assert np.isnan(model.predict(arrays.x[:4], verbose=0)).all()  # the post: loss ~1e-7, every prediction NaN


def test_seed000_clipped_loss_fires_on_a_fresh_stream_in_a_custom_loop():
    task = seqtasks.make("reber_grammar/reber")
    model = clipped_seed000_model()
    detector = FloorDetector(task, repeats=False)
    flags = []
    with pytest.warns(BelowFloorWarning):
        for update in range(3):
            batch = task.generate("train", 16 * update, 16 * (update + 1), seed=0)
            x, y, weight = to_supervised(task, batch)
            targets = np.eye(7, dtype=np.float32)[y] * (weight > 0)[..., None]
            loss = float(model.train_on_batch(x, targets, sample_weight=weight))
            flags.append(detector.observe(loss, batch=batch))
    assert flags == [False, False, True] and detector.fired_at == 3
    assert [event["floor"] for event in detector.events] == pytest.approx([task.loss_floor(task.generate("train", 16 * u, 16 * (u + 1), seed=0)) for u in range(3)])


@pytest.mark.slow
def test_baselines_train_runs_the_detector_by_default_and_records_its_verdict(tmp_path):
    from baselines.models import recipe_name
    from baselines.train import train

    options = {"task": "random_labels/t48_f16", "task_overrides": {"time_steps": 6}, "train_size": 64, "eval_size": 32, "epochs": 2, "verbose": 0}
    result = train(recipe_name("random_labels", "lstm"), out=tmp_path / "on", **options)
    verdict = result["floor_check"]
    assert verdict["verdict"] == "ok" and verdict["error_flags"] == verdict["memorisation_flags"] == 0
    assert verdict["updates"] == 4 and verdict["floor_source"] == "batch_floor" and verdict["val_loss"] is not None
    off = train(recipe_name("random_labels", "lstm"), out=tmp_path / "off", floor_check=False, **options)
    assert off["floor_check"] is None
