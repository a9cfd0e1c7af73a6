"""The NaN locator stops at the first non-finite value, names the layer and restores finite weights."""

import json

import keras
import numpy as np

from seqtasks.stability import NaNLocator


def overflowing_model() -> keras.Model:
    """Big inputs through a relu LSTM with huge weights: the cell state grows ~1e11-fold per step and overflows."""
    inputs = keras.Input((6, 4), name="inputs")
    amplified = keras.layers.Dense(8, kernel_initializer="ones", name="amplifier")(inputs)
    huge = keras.initializers.Constant(1e10)
    hidden = keras.layers.LSTM(8, activation="relu", kernel_initializer=huge, recurrent_initializer=huge, name="relu_lstm")(amplified)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="head")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


def test_locator_names_the_overflowing_layer_and_restores_weights(tmp_path):
    model = overflowing_model()
    x = np.full((8, 6, 4), 1e3, np.float32)
    y = np.ones((8, 1), np.float32)
    before = [w.copy() for w in model.get_weights()]
    locator = NaNLocator(probe_inputs=x, report_path=tmp_path / "nan")
    model.fit(x, y, batch_size=4, epochs=3, verbose=0, shuffle=False, callbacks=[locator])
    report = locator.report
    assert report is not None and report["update"] == 1 and report["batch"] == 0
    assert report["first_non_finite_output"]["layer"] == "relu_lstm"
    assert report["first_non_finite_output"]["layer_class"] == "LSTM"
    assert report["origin"] == "forward pass (inference mode)"
    assert report["restored_weights_from_update"] == 0
    for restored, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(restored, original)
    assert model.stop_training
    assert json.loads((tmp_path / "nan.json").read_text())["first_non_finite_output"]["layer"] == "relu_lstm"
    assert "relu_lstm" in (tmp_path / "nan.md").read_text()


def test_locator_catches_an_update_that_makes_a_layer_overflow_while_the_loss_is_finite():
    # Seed 001 without recurrent dropout: after an update the LSTM output is inf while the loss and
    # the weights are still finite (the sigmoid head maps inf to 1.0).
    model = overflowing_model()
    lstm = model.get_layer("relu_lstm")
    kernel, recurrent_kernel, bias = lstm.get_weights()
    lstm.set_weights([kernel * 1e-10, recurrent_kernel * 1e-10, bias])
    x = np.full((4, 6, 4), 1e3, np.float32)
    locator = NaNLocator()
    locator.set_model(model)
    locator.on_train_begin()
    locator.set_batch(x)
    assert not locator.after_update(loss=0.7)
    good = [w.copy() for w in model.get_weights()]
    lstm.set_weights([kernel, recurrent_kernel, bias])  # "the update" brings back the huge weights
    assert locator.after_update(loss=0.5)
    report = locator.report
    assert (report["update"], report["trigger"], report["non_finite_weights"]) == (2, "activation", [])
    assert report["first_non_finite_output"]["layer"] == "relu_lstm" and report["origin"].startswith("update")
    for restored, original in zip(model.get_weights(), good):
        np.testing.assert_array_equal(restored, original)


def test_locator_names_the_step_and_restores_the_last_finite_weights_in_a_custom_loop():
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(4, name="lstm"), keras.layers.Dense(1, name="head")])
    model.compile(optimizer="sgd", loss="mse")
    locator = NaNLocator(check_activations=False)
    locator.set_model(model)
    locator.on_train_begin()
    x, y = np.ones((2, 3, 2), np.float32), np.zeros((2, 1), np.float32)
    for _ in range(3):
        assert not locator.after_update(model.train_on_batch(x, y))
    good = [w.copy() for w in model.get_weights()]
    broken = model.get_weights()
    broken[-2][0, 0] = np.nan  # the head's kernel goes NaN in "update 4"
    model.set_weights(broken)
    assert locator.after_update(0.1)
    report = locator.report
    assert (report["update"], report["trigger"], report["restored_weights_from_update"]) == (4, "weights", 3)
    assert report["non_finite_weights"][0]["layer"] == "head" and report["non_finite_weights"][0]["nan"] == 1
    for restored, original in zip(model.get_weights(), good):
        np.testing.assert_array_equal(restored, original)


def test_locator_stays_silent_on_finite_training():
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3, 2)).astype(np.float32)
    locator = NaNLocator(probe_inputs=lambda step: x[:4])
    history = model.fit(x, np.zeros((16, 1)), batch_size=4, epochs=2, verbose=0, callbacks=[locator])
    assert locator.report is None and locator.markdown() == ""
    assert len(history.history["loss"]) == 2
