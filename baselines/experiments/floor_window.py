"""False-alarm rate and power of ``FloorDetector(task)`` when it sees no per-batch labels.

    python -m baselines.experiments.floor_window [--epochs 2000] [--out docs/stability_runs/floor_window.json]

On ``random_labels/t48_f16`` (3,200 training examples, batch 32, shuffled every
epoch as ``model.fit(shuffle=True)`` does) it measures, for each window length:

* the threshold (the 1e-4 quantile of the mean of ``window`` batch floors) and
  how far below the label entropy it sits;
* the false-alarm rate: windows flagged for the calibrated constant predictor
  (its exact batch losses, ``--epochs`` shuffled epochs; no Keras needed);
* the power against a loss ``delta`` below that predictor's on every batch:
  the share of windows flagged and the updates until the first flag;
* a real memoriser: an MLP that learns 256 training examples by heart
  (``model.fit``, 20 epochs), the update of its first flag and its mean loss then.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

TASK = "random_labels/t48_f16"
WINDOWS = (8, 16, 32, 64)
DELTAS = (0.05, 0.1, 0.15, 0.2, 0.3)


def calibrated_losses(labels: np.ndarray, epochs: int, batch_size: int, seed: int) -> np.ndarray:
    """Each update's loss of the constant predictor at the training rate, over shuffled epochs."""
    rate = float(labels.mean())
    rng = np.random.default_rng(seed)
    steps = len(labels) // batch_size
    losses = np.empty(epochs * steps)
    for epoch in range(epochs):
        positives = labels[rng.permutation(len(labels))][: steps * batch_size].reshape(steps, batch_size).mean(axis=1)
        losses[epoch * steps : (epoch + 1) * steps] = -(positives * math.log(rate) + (1 - positives) * math.log(1 - rate))
    return losses


def flags(detector_args: dict[str, Any], losses: np.ndarray) -> list[int]:
    """The updates at which a fresh ``FloorDetector(task, **detector_args)`` flags ``losses`` (all unseen)."""
    import warnings

    from seqtasks.stability import FloorDetector

    detector = FloorDetector(TASK, **detector_args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for loss in losses:
            detector.observe(float(loss), unseen=True)
    return [event["update"] for event in detector.events]


def memoriser(window: int) -> dict[str, Any]:
    """An MLP memorising 256 examples (``model.fit``, shuffled): where ``FloorDetector(task)`` first flags it."""
    import warnings

    import keras

    import seqtasks
    from baselines.data import split_arrays
    from seqtasks.stability import FloorDetector

    task = seqtasks.make(TASK)
    train = split_arrays(task, "train", 256, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((48, 16)), keras.layers.Flatten(), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    detector = FloorDetector(task, window=window)

    class Losses(keras.callbacks.Callback):
        means: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            self.means.append(float(logs["loss"]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(train.x, train.y, batch_size=32, epochs=20, shuffle=True, verbose=0, callbacks=[detector, Losses()]).history
    first = detector.events[0] if detector.events else None
    epoch_of_first = None if first is None else first["epoch"] + 1
    return {
        "window": window,
        "verdict": detector.verdict["verdict"],
        "first_flag_update": None if first is None else first["update"],
        "first_flag_epoch": epoch_of_first,
        "window_mean_loss_at_first_flag": None if first is None else first["loss"],
        "epoch_losses": [round(value, 4) for value in history["loss"]],
        "threshold": detector.threshold,
    }


def measure(epochs: int, seed: int = 0) -> dict[str, Any]:
    """Every number of the module docstring, as one JSON-able dict."""
    import seqtasks
    from baselines.data import split_arrays
    from seqtasks.stability.floor import batch_floor_distribution, window_threshold

    task = seqtasks.make(TASK)
    labels = split_arrays(task, "train", 3200, seed=0).y[:, 0]
    entropy = task.label_entropy()
    floors = batch_floor_distribution(task, 32)
    losses = calibrated_losses(labels, epochs, 32, seed)
    rows = []
    for window in WINDOWS:
        threshold = window_threshold(floors, window, 1e-4) - 1e-3
        windows = len(losses) // window
        false_alarms = len(flags({"window": window}, losses))
        power = {}
        for delta in DELTAS:
            flagged = flags({"window": window}, np.maximum(losses[: 200 * window] - delta, 0.0))
            power[str(delta)] = {"share_of_windows_flagged": len(flagged) / 200, "first_flag_update": flagged[0] if flagged else None}
        rows.append({
            "window": window, "threshold": threshold, "below_entropy": entropy - threshold,
            "below_entropy_fraction": (entropy - threshold) / entropy, "windows": windows, "false_alarms": false_alarms,
            "power": power,
        })
    return {
        "task": TASK, "label_entropy": entropy, "batch_size": 32, "train_size": 3200, "false_alarm_rate": 1e-4,
        "calibrated_epochs": epochs, "updates": len(losses), "windows": rows, "memoriser": [memoriser(16), memoriser(64)],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m baselines.experiments.floor_window", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000, help="shuffled epochs of the calibrated predictor (100 updates each)")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="also write the numbers as JSON here")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        print(f"error: invalid --epochs={args.epochs}; allowed: an integer >= 1", file=sys.stderr)
        return 2
    result = measure(args.epochs)
    print(f"{TASK}: label entropy {result['label_entropy']:.4f}; batch 32 of 3,200; false-alarm rate 1e-4 per window")
    print("| window | threshold | below the entropy | windows of the calibrated predictor | false alarms | "
          + " | ".join(f"windows flagged, {delta} below" for delta in DELTAS) + " |")
    print("|---|---|---|---|---|" + "---|" * len(DELTAS))
    for row in result["windows"]:
        shares = " | ".join(f"{row['power'][str(delta)]['share_of_windows_flagged']:.3f}" for delta in DELTAS)
        print(f"| {row['window']} | {row['threshold']:.4f} | {row['below_entropy']:.4f} ({100 * row['below_entropy_fraction']:.1f} %) | "
              f"{row['windows']} | {row['false_alarms']} | {shares} |")
    for run in result["memoriser"]:
        print(f"memoriser, window {run['window']}: {run['verdict']}, first flag at update {run['first_flag_update']} "
              f"(epoch {run['first_flag_epoch']}), window mean loss {run['window_mean_loss_at_first_flag']}, "
              f"threshold {run['threshold']:.4f}; epoch losses {run['epoch_losses']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
