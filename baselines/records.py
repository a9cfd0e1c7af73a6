"""What a run leaves on disk and records about itself: ``metrics.json``, its protocol, the environment, the curves.

``metrics.json`` is strict JSON (:func:`jsonable`: dataclasses and numpy values
converted, non-finite floats written as ``null``); its ``protocol`` says what was
trained on and what was scored (:func:`protocol`); ``versions`` and ``machine``
come from :mod:`seqtasks.environment`; ``curves.png`` is :func:`plot_curves` of
the per-epoch log (:func:`read_history` of ``history.csv``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.data import PUBLISHED_SEED, SplitArrays
from baselines.scoring import PREDICT_BATCH_SIZE
from seqtasks.fingerprint import fingerprint
from seqtasks.registry import get_preset
from seqtasks.tasks.base import Task

METRICS_FILE = "metrics.json"


def jsonable(value: Any) -> Any:
    """Converts dataclasses, numpy values and non-finite floats (to ``None``) for strict JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(item) for item in np.asarray(value, dtype=object).tolist()] if isinstance(
            value, np.ndarray
        ) else [jsonable(item) for item in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_metrics(out_dir: Path, result: Mapping[str, Any]) -> dict[str, Any]:
    """Writes ``result`` to ``out_dir/metrics.json`` as strict, indented JSON.

    Returns:
        The JSON value written (:func:`jsonable` of ``result``).
    """
    written = jsonable(result)
    (out_dir / METRICS_FILE).write_text(json.dumps(written, indent=2, allow_nan=False) + "\n")
    return written


def environment_versions() -> dict[str, str]:
    """Versions of the software that produced a result (:func:`seqtasks.environment.software_versions`)."""
    from seqtasks.environment import software_versions

    return software_versions()


def machine_description() -> dict[str, Any]:
    """The machine a run was trained on, with its accelerators (:func:`seqtasks.environment.machine_description`)."""
    from seqtasks.environment import machine_description as describe

    return describe(accelerators=True)


def protocol(
    task_name: str,
    task: Task,
    overrides: Mapping[str, Any],
    target: str | None,
    eval_arrays: Mapping[str, SplitArrays],
    published_sizes: Mapping[str, int],
    train_arrays: SplitArrays | None,
    fresh_data: bool,
    data_seed: int,
    train_size: int,
    batch_size: int,
) -> dict[str, Any]:
    """What was trained on and what was scored, for ``metrics.json``."""
    _, preset = get_preset(task_name)
    published_config = task.config == preset.config
    train_published = task.published_size("train", preset)
    if fresh_data:
        train = {
            "source": "fresh examples every update (seqtasks.stream)",
            "split": "train",
            "seed": data_seed,
            "examples_per_epoch": train_size,
            "batch_size": batch_size,
        }
    else:
        train = {
            "source": "published train split" if data_seed == PUBLISHED_SEED else f"train split of data seed {data_seed}",
            "split": "train",
            "seed": data_seed,
            "examples": len(train_arrays),
            "published_examples": train_published,
            "fingerprint": fingerprint(task, train_arrays.batch),
        }
    train["published"] = bool(
        published_config and not fresh_data and data_seed == PUBLISHED_SEED and len(train_arrays) == train_published
    )
    splits = {
        split: {
            "seed": PUBLISHED_SEED,
            "examples": len(arrays),
            "published_examples": published_sizes[split],
            "complete": len(arrays) == published_sizes[split],
            "fingerprint": fingerprint(task, arrays.batch),
        }
        for split, arrays in eval_arrays.items()
    }
    return {
        "dataset": task_name,
        "dataset_version": task.version,
        "published_config": published_config,
        "config_overrides": dict(overrides),
        "fingerprint": "SHA-256 of seqtasks.fingerprint.canonical_bytes of exactly the examples used",
        "train_data": train,
        "evaluation": {
            "splits": splits,
            "published": published_config and all(info["complete"] for info in splits.values()),
            "predict_batch_size": PREDICT_BATCH_SIZE,
            **task.evaluation_protocol(target),
        },
    }


def read_history(path: Path) -> list[dict[str, float]]:
    """Per-epoch rows of the CSV log, the last row of each epoch winning (a resumed epoch is rewritten)."""
    if not path.exists():
        return []
    rows: dict[int, dict[str, float]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            epoch = int(row.pop("epoch"))
            rows[epoch] = {"epoch": epoch, **{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()}}
    return [rows[epoch] for epoch in sorted(rows)]


def plot_curves(
    history: Sequence[Mapping[str, float]], path: Path, title: str, headline: str, loss_floor: float | None = None
) -> None:
    """Learning curves: training and validation loss (with the task's loss floor), and the headline validation metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] + 1 for row in history]
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key, label in (("loss", "train loss"), ("val_loss", "validation loss")):
        if history and key in history[0]:
            loss_axis.plot(epochs, [row[key] for row in history], marker="o", label=label)
    if loss_floor is not None:
        loss_axis.axhline(loss_floor, color="grey", linestyle="--", label=f"loss floor {loss_floor:.3f}")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss")
    loss_axis.legend()
    key = f"val_{headline}"
    if history and key in history[0]:
        metric_axis.plot(epochs, [row[key] for row in history], marker="o", color="tab:green")
    metric_axis.set_xlabel("epoch")
    metric_axis.set_ylabel(f"validation {headline}")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
