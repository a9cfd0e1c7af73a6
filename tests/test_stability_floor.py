"""The below-floor detector and the seed-000 zero-sum mechanism on constructed cases."""

import math
import warnings

import keras
import numpy as np
import pytest

import seqtasks
from seqtasks.encoding import to_supervised
from seqtasks.stability import FloorDetector, NaNLocator, below_floor, check, task_floor


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


def test_task_floors():
    labels = seqtasks.make("random_labels/t48_f16")
    p = 5 / 32
    assert task_floor(labels) == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    reber = seqtasks.make("reber_grammar/reber")
    assert 0.3 < task_floor(reber) < math.log(2)  # every position has one or two legal successors
    with pytest.raises(ValueError, match="invalid target='legal_set'"):
        task_floor(reber, target="legal_set")


def test_detector_flags_a_constructed_loss_curve_at_the_right_update():
    detector = FloorDetector(floor=0.5, patience=1)
    with pytest.warns(RuntimeWarning, match="below the task's loss floor 0.5"):
        flags = [detector.observe(loss) for loss in (0.9, 0.6, 0.48, 1e-7, float("nan"), 1e-8)]
    assert flags == [False, False, False, True, False, True]
    assert [event["update"] for event in detector.events] == [4, 6] and detector.fired_at == 4


def test_detector_patience_ignores_a_lucky_batch_but_not_a_collapse():
    detector = FloorDetector(floor=0.5)  # patience 3
    losses = (0.6, 0.4, 0.55, 0.4, 0.4, 0.52, 1e-7, 1e-7, 1e-7, 1e-7)
    with pytest.warns(RuntimeWarning, match="3 updates in a row"):
        flags = [detector.observe(loss) for loss in losses]
    assert flags == [False] * 8 + [True, True]
    assert detector.fired_at == 9 and len(detector.events) == 7
    with pytest.raises(ValueError, match="invalid patience=0; allowed: an integer >= 1"):
        FloorDetector(floor=0.5, patience=0)


def test_detector_reads_per_batch_losses_from_keras_running_means():
    detector = FloorDetector(floor=1.0, patience=1)
    detector.on_epoch_begin(0)
    # Batch losses 2, 2, 0.1: the running means Keras reports are 2, 2, 1.3667.
    for batch, mean in enumerate((2.0, 2.0, (2 + 2 + 0.1) / 3)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detector.on_train_batch_end(batch, {"loss": mean})
    [event] = detector.events
    assert event["batch"] == 2 and event["loss"] == pytest.approx(0.1, abs=1e-6)


def test_detector_needs_a_floor_or_a_task():
    with pytest.raises(ValueError, match="invalid task=None"):
        FloorDetector()


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy, expected y_pred.shape")
def test_seed003_sigmoid_with_categorical_crossentropy_trains_below_the_label_entropy():
    task = seqtasks.make("random_labels/t48_f16")
    x, y, _ = to_supervised(task, task.sample(64, seed=0))
    model = keras.Sequential([keras.Input((48, 16)), keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert [f.rule_id for f in check(model)] == ["sigmoid-categorical-crossentropy"]
    detector = FloorDetector(task, stop_training=True, patience=1)
    with pytest.warns(RuntimeWarning):
        history = model.fit(x, y[:, None], batch_size=32, epochs=2, verbose=0, callbacks=[detector])
    assert detector.fired_at == 1 and detector.events[0]["loss"] == 0.0
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
