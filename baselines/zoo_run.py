"""Runs failure-zoo recipes over several seeds and records what actually happens.

    python -m baselines.zoo_run seed001_relu_lstm seed001_fixed --seeds 3 --steps 20 --out runs/seed001

For every recipe and seed it trains with ``train_on_batch`` on fresh training
batches (``seqtasks`` generators + ``seqtasks.encoding.to_supervised``), with the
stability kit watching every update: the :class:`~seqtasks.stability.NaNLocator`
(stops at the first non-finite loss, weight or layer output) and the
:class:`~seqtasks.stability.FloorDetector`. It writes ``results.json`` (per-update
losses, the NaN step and report, floor events, final validation metrics, the
linter's findings) and ``curves.png`` (every recipe's per-seed loss curves).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import textwrap
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import seqtasks  # noqa: E402
import seqtasks.metrics  # noqa: E402
from baselines.recipes import get_recipe  # noqa: E402
from seqtasks.encoding import to_supervised  # noqa: E402
from seqtasks.stability import FloorDetector, NaNLocator, check  # noqa: E402

EVAL_EXAMPLES = 512


def supervised_batch(task: Any, recipe: Any, split: str, start: int, stop: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch of ``(x, y, sample_weight)`` shaped for ``recipe``'s model."""
    batch = task.generate(split, start, stop, seed)
    x, y, weight = to_supervised(task, batch, inputs=recipe.inputs, target=recipe.target)
    spec = task.supervised_spec(recipe.target)
    if recipe.extra.get("one_hot_targets") and spec.target_kind == "sparse":
        y = np.eye(spec.input_depth, dtype=np.float32)[y]
    if spec.target_kind == "binary":
        y = y[:, None]
    width = padded_width(task)
    if width is not None and x.ndim >= 2 and x.shape[1] < width:
        # One fixed width for every batch: no retracing, and the post's fixed-length padding.
        pad = width - x.shape[1]
        x = np.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (x.ndim - 2))
        if spec.per_step:
            y = np.pad(y, [(0, 0), (0, pad)] + [(0, 0)] * (y.ndim - 2))
            weight = np.pad(weight, [(0, 0), (0, pad)])
    return x, y, weight


def padded_width(task: Any) -> int | None:
    """The longest training sequence a task's config allows (``None``: not a padded sequence task)."""
    for attribute in ("max_length", "max_word_length"):
        if hasattr(task.config, attribute):
            return int(getattr(task.config, attribute))
    return None


def evaluate(model: keras.Model, task: Any, recipe: Any, seed: int) -> dict[str, Any]:
    """The task's own evaluation (``Task.evaluate``) on the first examples of the published validation split.

    ``seed`` is accepted for the callers' sake and ignored: every run is scored on the same published examples.
    """
    del seed
    size = recipe.batch_size * max(1, math.ceil(EVAL_EXAMPLES / recipe.batch_size))
    batch = task.generate("validation", 0, size, 0)
    x, _, _ = supervised_batch(task, recipe, "validation", 0, size, 0)
    if hasattr(model, "reset_states"):
        model.reset_states()
    prediction = np.asarray(model.predict(x, batch_size=recipe.batch_size, verbose=0))
    spec = task.supervised_spec(recipe.target)
    if spec.per_step:  # the fixed-width padding of supervised_batch is not part of the examples
        prediction = prediction[:, : np.asarray(batch[spec.target_field]).shape[1]]
    result: dict[str, Any] = {"examples": int(len(x)), "finite_predictions": bool(np.all(np.isfinite(prediction)))}
    for key, value in seqtasks.metrics.evaluate(task, batch, prediction, target=recipe.target).items():
        result[key] = [round(float(v), 4) for v in value] if np.ndim(value) else float(value)
    return result


def run_one(name: str, seed: int, steps: int, task_name: str | None, units: int | None, learning_rate: float | None, out: pathlib.Path) -> dict[str, Any]:
    """Trains recipe ``name`` for ``steps`` updates with data and weights seeded by ``seed``."""
    recipe = get_recipe(name)
    task = seqtasks.make(task_name or recipe.task)
    spec = task.supervised_spec(recipe.target)
    keras.utils.set_random_seed(seed)
    overrides = {key: value for key, value in (("units", units), ("learning_rate", learning_rate)) if value is not None}
    model = recipe.build(task, spec, **overrides)
    first = supervised_batch(task, recipe, "train", 0, recipe.batch_size, seed)
    findings = [str(finding) for finding in check(model, dataset=(first[0], first[1]), task=task)]
    locator = NaNLocator(report_path=out / f"{name}_seed{seed}_nan_report")
    locator.set_model(model)
    locator.on_train_begin()
    try:
        floor_detector = FloorDetector(task, target=recipe.target)
    except ValueError:
        floor_detector = None
    losses, seconds = [], []
    for step in range(steps):
        start = step * recipe.batch_size
        x, y, weight = supervised_batch(task, recipe, "train", start, start + recipe.batch_size, seed)
        locator.set_batch(x)
        began = time.perf_counter()
        loss = model.train_on_batch(x, y, sample_weight=weight)
        seconds.append(time.perf_counter() - began)
        loss = float(np.asarray(loss).reshape(-1)[0])
        losses.append(loss)
        if floor_detector is not None:
            floor_detector.observe(loss)
        if locator.after_update(loss):
            break
    result = {
        "recipe": name,
        "task": task_name or recipe.task,
        "seed": seed,
        "steps_requested": steps,
        "steps_run": len(losses),
        "overrides": overrides,
        "losses": [loss if math.isfinite(loss) else str(loss) for loss in losses],
        "nan_step": locator.report["update"] if locator.report else None,
        "nan_report": locator.report,
        "floor": floor_detector.floor if floor_detector else None,
        "below_floor_steps": [event["update"] for event in floor_detector.events] if floor_detector else [],
        "floor_detector_fired_at": floor_detector.fired_at if floor_detector else None,
        "median_seconds_per_update": float(np.median(seconds)) if seconds else None,
        "lint": findings,
        "validation": evaluate(model, task, recipe, seed),
    }
    return result


def plot(results: list[dict[str, Any]], path: pathlib.Path, title: str) -> None:
    """Per-seed training-loss curves, naive recipes in warm colours and fixed ones in blue; x marks a NaN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(result["recipe"] for result in results))
    palette = ["tab:red", "tab:orange", "tab:purple", "tab:green", "tab:blue"]
    colours = {name: ("tab:blue" if not get_recipe(name).extra.get("naive", False) else palette[i % 3]) for i, name in enumerate(names)}
    figure, axis = plt.subplots(figsize=(7, 4))
    positive = [float(v) for r in results for v in r["losses"] if isinstance(v, float) and v > 0]
    use_log = bool(positive) and max(positive) / max(min(positive), 1e-12) > 100
    for result in results:
        values = [v if isinstance(v, float) else np.nan for v in result["losses"]]
        steps = np.arange(1, len(values) + 1)
        label = result["recipe"] if result["seed"] == results[[r["recipe"] for r in results].index(result["recipe"])]["seed"] else None
        plotted = np.maximum(values, 1e-9) if use_log else values
        axis.plot(steps, plotted, color=colours[result["recipe"]], alpha=0.8, label=label)
        if result["nan_step"] is not None:
            finite = [v for v in values if np.isfinite(v)]
            axis.plot([result["nan_step"]], [finite[-1] if finite else 1.0], "x", color="black", markersize=9)
        if result["floor"] is not None and result is results[0]:
            axis.axhline(result["floor"], color="grey", linestyle="--", linewidth=1, label=f"loss floor {result['floor']:.3g}")
    if use_log:
        axis.set_yscale("log")
    axis.set_xlabel("update")
    axis.set_ylabel("training loss (x: first non-finite value)")
    axis.set_title(textwrap.fill(title, 80), fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m baselines.zoo_run", description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", help="recipe names, e.g. seed001_relu_lstm seed001_fixed")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50, help="training updates per run")
    parser.add_argument("--task", default=None, help="override the recipes' task, e.g. random_labels/t48_f16")
    parser.add_argument("--units", type=int, default=None, help="override the recurrent width")
    parser.add_argument("--lr", type=float, default=None, help="override the learning rate")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--figure", default=None, help="also save the plot here (e.g. docs/figures/stability_seed001.png)")
    args = parser.parse_args(argv)
    for name, value, low in (("seeds", args.seeds, 1), ("steps", args.steps, 1), ("first-seed", args.first_seed, 0)):
        if value < low:
            parser.error(f"invalid --{name}={value}; allowed: an integer >= {low}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.recipes:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            result = run_one(name, seed, args.steps, args.task, args.units, args.lr, out)
            results.append(result)
            print(
                f"{name} seed={seed}: updates={result['steps_run']} nan_step={result['nan_step']} "
                f"last_loss={result['losses'][-1]} below_floor={len(result['below_floor_steps'])} "
                f"s/update={result['median_seconds_per_update']:.3f} validation={json.dumps(result['validation'])}",
                flush=True,
            )
            (out / "results.json").write_text(json.dumps({"argv": argv, "args": vars(args), "results": results}, indent=1))
    title = " vs ".join(args.recipes) + f" ({args.task or get_recipe(args.recipes[0]).task}, {args.seeds} seeds)"
    plot(results, out / "curves.png", title)
    if args.figure:
        plot(results, pathlib.Path(args.figure), title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
