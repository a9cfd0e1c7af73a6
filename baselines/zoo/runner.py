"""Runs failure-zoo recipes over several seeds through the one trainer: ``python -m baselines zoo``.

    python -m baselines zoo noise_relu_lstm noise_relu_lstm_fixed --seeds 3 --steps 12 --out runs/noise
    python -m baselines zoo --all --out docs/stability_runs --figures docs/figures   # every thread's evidence

Every run is :func:`baselines.trainer.train` of one recipe for ``--steps`` updates on
fresh training batches, with seed ``s`` for the weights and the data
(``seed=s, data_seed=s``), the :class:`~seqtasks.stability.NaNLocator` watching
every update (it stops at the first non-finite loss, weight or layer output) and
the :class:`~seqtasks.stability.FloorDetector` on; each run writes its own
``metrics.json`` (per-update losses, the first non-finite update and the NaN
report, the floor verdict, the linter's findings, the task's own evaluation) under
``--runs-dir``. ``results.json`` holds those ``metrics.json`` files, one per
recipe and seed, and ``curves.png`` every run's loss curve.

``--all`` runs every set of :data:`baselines.zoo.EVIDENCE` (each thread's failing
recipe next to its fix, 3 seeds, the settings ``docs/stability.md`` quotes) on
the current dataset version and writes ``OUT/<name>.json`` (and, with
``--figures``, the threads' figures). A finished run whose ``metrics.json``
matches is reused (``--fresh`` retrains), so an interrupted rerun continues.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import shlex
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.quiet import import_tensorflow
from seqtasks.config import check_integer

EVAL_EXAMPLES = 512
"""Each run is scored on about this many examples of every evaluation split (whole batches of the recipe)."""
SCHEMA = "baselines.zoo_run/2"
"""``results.json``: ``{"schema", "command", "settings", "runs": [metrics.json, ...]}``."""


def eval_size_for(batch_size: int, examples: int = EVAL_EXAMPLES) -> int:
    """``examples`` rounded up to whole batches (a fixed-batch-size model scores whole batches)."""
    return batch_size * max(1, math.ceil(examples / batch_size))


def run_dir(runs_dir: pathlib.Path, recipe: str, seed: int, name: str | None = None) -> pathlib.Path:
    """Where one run writes its files: ``RUNS/[<name>/]<recipe>/seed<seed>``."""
    return runs_dir / (name or "") / recipe / f"seed{seed}"


def _settings(recipe: str, seed: int, steps: int, task: str | None, overrides: Mapping[str, Any], eval_size: int) -> dict:
    return {"recipe": recipe, "seed": seed, "steps": steps, "task": task, "overrides": dict(overrides), "eval_size": eval_size}


def _reusable(path: pathlib.Path, settings: Mapping[str, Any], task_version: str) -> dict[str, Any] | None:
    """The run's ``metrics.json`` when it was trained with exactly ``settings`` on this dataset version
    (and finished: no ``backup`` of an interrupted epoch)."""
    if not (path / "metrics.json").exists() or (path / "backup").exists():
        return None
    try:
        run = json.loads((path / "metrics.json").read_text())
    except json.JSONDecodeError:
        return None
    splits = run.get("protocol", {}).get("evaluation", {}).get("splits", {})
    same = (
        run.get("recipe") == settings["recipe"]
        and run.get("seed") == run.get("data_seed") == settings["seed"]
        and run.get("steps") == settings["steps"]
        and run.get("task") == settings["task"]
        and run.get("build_overrides") == settings["overrides"]
        and run.get("recipe_settings") == settings["recipe_settings"]
        and bool(splits)
        and all(info["examples"] == min(info["published_examples"], settings["eval_size"]) for info in splits.values())
        and run.get("locate_nan") is True
        and run.get("protocol", {}).get("dataset_version") == task_version
    )
    return run if same else None


def run_one(
    recipe: str,
    seed: int,
    steps: int,
    out: pathlib.Path,
    *,
    task: str | None = None,
    units: int | None = None,
    learning_rate: float | None = None,
    eval_size: int | None = None,
    fresh: bool = False,
    verbose: int = 0,
    command: str | None = None,
    epochs: int | None = None,
    train_size: int | None = None,
    task_overrides: Sequence[tuple[str, Any]] = (),
    early_stopping: int | None = None,
    output_sums: bool = False,
) -> dict[str, Any]:
    """Trains ``recipe`` for ``steps`` updates with weights and fresh data seeded by ``seed``; its ``metrics.json``.

    With ``epochs`` (and ``steps=None``) it trains as the posts did instead: epochs over a
    fixed training set of ``train_size`` examples (the ``train`` split's generator, seed 0),
    optionally with the post's early stopping and the per-step output sums recorded
    (:func:`post_settings_callbacks`); those settings are recorded as ``zoo_post_settings``.

    Args:
        recipe: A recipe name.
        seed: Seed of the initial weights and of the fresh training data, >= 0.
        steps: Training updates, >= 1.
        out: The run's output directory.
        task: Another config of the recipe's task (``None``: the recipe's).
        units: Recurrent width override (``None``: the recipe's).
        learning_rate: Learning-rate override (``None``: the recipe's).
        eval_size: Examples scored per evaluation split (``None``: about 512, whole batches).
        fresh: Retrain even when ``out`` holds a matching finished run.
        verbose: Keras progress display.
        command: Recorded in ``metrics.json``.
    """
    import seqtasks
    from baselines.catalog import get_recipe
    from baselines.records import jsonable as _jsonable
    from baselines.trainer import train

    the_recipe = get_recipe(recipe)
    overrides = {key: value for key, value in (("units", units), ("learning_rate", learning_rate)) if value is not None}
    eval_size = eval_size or eval_size_for(the_recipe.batch_size)
    settings = {
        **_settings(the_recipe.name, seed, steps, task or the_recipe.task, overrides, eval_size),
        "recipe_settings": _jsonable(the_recipe.settings),
    }
    version = seqtasks.make(task or the_recipe.task).version
    if epochs is not None:
        return _run_at_post_settings(
            the_recipe, seed, out, settings, version, task=task, overrides=overrides, eval_size=eval_size, fresh=fresh,
            verbose=verbose, command=command, epochs=epochs, train_size=train_size, task_overrides=dict(task_overrides),
            early_stopping=early_stopping, output_sums=output_sums,
        )
    reused = None if fresh else _reusable(out, settings, version)
    if reused is not None:
        return reused
    return train(
        the_recipe,
        task=task,
        seed=seed,
        data_seed=seed,
        fresh_data=True,
        steps=steps,
        out=out,
        eval_size=eval_size,
        build_overrides=overrides,
        locate_nan=True,
        floor_check=True,
        verbose=verbose,
        command=command,
    )


def _run_at_post_settings(
    recipe: Any, seed: int, out: pathlib.Path, settings: dict[str, Any], version: str, *, task: str | None,
    overrides: Mapping[str, Any], eval_size: int, fresh: bool, verbose: int, command: str | None, epochs: int,
    train_size: int | None, task_overrides: Mapping[str, Any], early_stopping: int | None, output_sums: bool,
) -> dict[str, Any]:
    """One run at a post's own settings (epochs over a fixed set); reused when its recorded settings match."""
    from baselines.records import write_metrics
    from baselines.trainer import train

    post = {"epochs": epochs, "train_size": train_size, "task_overrides": dict(task_overrides),
            "early_stopping": early_stopping, "output_sums": output_sums}
    if not fresh and (out / "metrics.json").exists() and not (out / "backup").exists():
        run = json.loads((out / "metrics.json").read_text())
        same = (
            run.get("zoo_post_settings") == post
            and all(run.get(key) == settings[name] for key, name in (("recipe", "recipe"), ("seed", "seed"), ("task", "task"),
                                                                     ("build_overrides", "overrides"), ("recipe_settings", "recipe_settings")))
            and run.get("locate_nan") is True
            and run.get("protocol", {}).get("dataset_version") == version
        )
        if same:
            return run
    callbacks, sums = post_settings_callbacks(recipe, task or recipe.task, task_overrides, early_stopping, output_sums)
    result = train(
        recipe, task=task, seed=seed, data_seed=0, fresh_data=False, epochs=epochs, train_size=train_size, out=out,
        eval_size=eval_size, task_overrides=task_overrides, build_overrides=overrides, locate_nan=True, floor_check=True,
        callbacks=callbacks, verbose=verbose, command=command,
    )
    result["zoo_post_settings"] = post
    if sums is not None:
        result["output_sums"] = sums.record
    return write_metrics(out, result)


def post_settings_callbacks(
    recipe: Any, task: str, task_overrides: Mapping[str, Any], early_stopping: int | None, output_sums: bool
) -> tuple[list[Any], Any]:
    """The post's ``EarlyStopping(monitor='loss', min_delta=0, patience=N)`` and, optionally, an :class:`OutputSums`."""
    import keras

    import seqtasks
    from baselines.data import PUBLISHED_SEED, pad_split, split_arrays, training_width

    callbacks: list[Any] = []
    if early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="loss", min_delta=0, patience=early_stopping, mode="auto"))
    sums = None
    if output_sums:
        the_task = seqtasks.make(task, **task_overrides)
        spec = the_task.supervised_spec(recipe.target)
        arrays = split_arrays(the_task, "validation", 64, PUBLISHED_SEED, recipe.inputs, recipe.target, recipe.one_hot_targets)
        width = training_width(the_task) if recipe.fixed_width else None
        if width is not None:
            arrays = pad_split(arrays, width, spec.per_step)
        sums = OutputSums(arrays.x, arrays.sample_weight)
        callbacks.append(sums)
    return callbacks, sums


def _output_sums_class() -> type:
    import keras

    class OutputSums(keras.callbacks.Callback):
        """Each epoch's per-step output sums on validation strings, as thread 000's author printed them.

        ``record``: per epoch the smallest, median and largest sum of the model's outputs over
        the symbols, at the target (weighted) steps of 64 validation strings, and the first
        string's per-step sums (all steps, padding included) at the last epoch with finite outputs.
        """

        def __init__(self, x: np.ndarray, weight: np.ndarray) -> None:
            super().__init__()
            self.x, self.weight = x, np.asarray(weight) > 0
            self.record: dict[str, Any] = {"per_epoch": [], "first_string_last_finite": None, "probe_strings": int(len(x))}

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            sums = np.asarray(self.model(self.x, training=False)).sum(axis=-1)
            at_targets = sums[self.weight]
            finite = bool(np.all(np.isfinite(sums)))
            self.record["per_epoch"].append({
                "epoch": epoch + 1,
                "min": float(np.min(at_targets)) if finite else None,
                "median": float(np.median(at_targets)) if finite else None,
                "max": float(np.max(at_targets)) if finite else None,
                "finite": finite,
            })
            if finite:
                self.record["first_string_last_finite"] = {"epoch": epoch + 1, "sums": [round(float(v), 4) for v in sums[0]]}

    return OutputSums


def OutputSums(x: np.ndarray, weight: np.ndarray) -> Any:  # noqa: N802 (a class built on first use: keeps Keras out of import)
    """An ``OutputSums`` callback (see :func:`_output_sums_class`)."""
    return _output_sums_class()(x, weight)


def run_set(
    recipes: Sequence[str],
    seeds: Sequence[int],
    steps: int,
    runs_dir: pathlib.Path,
    results_path: pathlib.Path,
    *,
    name: str | None = None,
    settings: Mapping[str, Any] | None = None,
    command: str | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Runs every recipe with every seed and writes ``results_path`` after each run (see :data:`SCHEMA`)."""
    runs: list[dict[str, Any]] = []
    for recipe in recipes:
        for seed in seeds:
            run = run_one(recipe, seed, steps, run_dir(runs_dir, recipe, seed, name), command=command, **options)
            runs.append(run)
            print(line(run), flush=True)
            write_results(results_path, runs, command, settings)
    return runs


def write_results(path: pathlib.Path, runs: Sequence[Mapping[str, Any]], command: str | None, settings: Mapping[str, Any] | None) -> None:
    """``results.json``: the runs' ``metrics.json`` contents, with the command and settings that made them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"schema": SCHEMA, "command": command, "settings": dict(settings or {}), "runs": list(runs)}
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")


def line(run: Mapping[str, Any]) -> str:
    """One line about a finished run, for the console."""
    losses = run.get("per_update_loss") or []
    last = next((loss for loss in reversed(losses) if loss is not None), None)
    validation = {key: value for key, value in (run.get("final", {}).get("validation") or {}).items() if np.ndim(value) == 0}
    floor = run.get("floor_check") or {}
    seconds = run.get("median_seconds_per_update")
    return (
        f"{run['recipe']} seed={run['seed']}: updates={run['updates']} nan_update={run['nan_update']} "
        f"last_finite_loss={last if last is None else f'{last:.4g}'} below_floor={len(floor.get('below_floor_updates', []))} "
        f"s/update={seconds if seconds is None else f'{seconds:.3f}'} validation={json.dumps(validation)}"
    )


def plot(runs: Sequence[Mapping[str, Any]], path: pathlib.Path, title: str) -> None:
    """Per-seed training-loss curves, naive recipes in warm colours and fixed ones in blue; x marks a NaN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(run["recipe"] for run in runs))
    palette = ["tab:red", "tab:orange", "tab:purple", "tab:green", "tab:blue"]
    naive = {run["recipe"]: bool(run.get("recipe_settings", {}).get("naive", False)) for run in runs}
    colours = {name: (palette[i % 3] if naive[name] else "tab:blue") for i, name in enumerate(names)}
    figure, axis = plt.subplots(figsize=(7, 4))
    positive = [float(v) for run in runs for v in run["per_update_loss"] if v is not None and v > 0]
    use_log = bool(positive) and max(positive) / max(min(positive), 1e-12) > 100
    labelled: set[str] = set()
    floor_drawn = False
    for run in runs:
        values = np.array([np.nan if v is None else v for v in run["per_update_loss"]], dtype=float)
        updates = np.arange(1, len(values) + 1)
        label = None if run["recipe"] in labelled else run["recipe"]
        labelled.add(run["recipe"])
        axis.plot(updates, np.maximum(values, 1e-9) if use_log else values, color=colours[run["recipe"]], alpha=0.8, label=label)
        if run.get("nan_update") is not None:
            finite = values[np.isfinite(values)]
            axis.plot([run["nan_update"]], [finite[-1] if len(finite) else 1.0], "x", color="black", markersize=9)
        if run.get("loss_floor") is not None and not floor_drawn:
            floor_drawn = True
            axis.axhline(run["loss_floor"], color="grey", linestyle="--", linewidth=1, label=f"loss floor {run['loss_floor']:.3g}")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``zoo`` command's flags."""
    parser.add_argument("recipes", nargs="*", help="recipe names, e.g. noise_relu_lstm noise_relu_lstm_fixed")
    parser.add_argument("--all", action="store_true", help="every evidence set of docs/stability.md (baselines.zoo.EVIDENCE)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="with --all: just these evidence sets")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 per recipe (default 3; --all: each set's)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="training updates per run (default 50; --all: each set's)")
    parser.add_argument("--task", default=None, help="another config of the recipes' task, e.g. random_labels/t48_f16")
    parser.add_argument("--units", type=int, default=None, help="override the recurrent width")
    parser.add_argument("--lr", type=float, default=None, help="override the learning rate")
    parser.add_argument("--eval-size", type=int, default=None, help="examples per evaluation split (default ~512)")
    parser.add_argument("--out", required=True, help="results.json and curves.png go here (--all: one <name>.json each)")
    parser.add_argument("--runs-dir", default=None, help="the runs' own files (default OUT/runs; --all: runs/zoo)")
    parser.add_argument("--figure", default=None, help="also save the plot here (e.g. docs/figures/stability_seed001.png)")
    parser.add_argument("--figures", default=None, help="with --all: draw each thread's figure into this folder")
    parser.add_argument("--fresh", action="store_true", help="retrain runs that have a matching metrics.json")
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2))


def _check_arguments(args: argparse.Namespace) -> None:
    for name, value, low in (("seeds", args.seeds, 1), ("steps", args.steps, 1), ("first-seed", args.first_seed, 0)):
        if value is not None:
            check_integer(f"--{name}", value, low)
    if args.all == bool(args.recipes):
        raise ValueError("invalid arguments: give recipe names, or --all (not both)")
    if not args.all and (args.only or args.figures):
        raise ValueError("invalid --only/--figures without --all; allowed: only with --all")
    if args.all and (args.task or args.units or args.lr or args.figure or args.steps or args.seeds):
        raise ValueError("invalid --task/--units/--lr/--steps/--seeds/--figure with --all; allowed: each set's own settings")


def run_from_args(args: argparse.Namespace, command: str | None = None) -> int:
    """Runs the ``zoo`` command from parsed flags."""
    from baselines.catalog import get_recipe
    from baselines.zoo import EVIDENCE

    _check_arguments(args)
    out = pathlib.Path(args.out)
    common = {"eval_size": args.eval_size, "fresh": args.fresh, "verbose": args.verbose}
    if args.all:
        known = [evidence.name for evidence in EVIDENCE]
        unknown = [name for name in args.only or [] if name not in known]
        if unknown:
            raise ValueError(f"invalid --only {' '.join(unknown)}; allowed: " + ", ".join(known))
        runs_dir = pathlib.Path(args.runs_dir or "runs/zoo")
        for evidence in EVIDENCE:
            if args.only and evidence.name not in args.only:
                continue
            seeds = range(args.first_seed, args.first_seed + evidence.seeds)
            settings = {"evidence": evidence.name, "recipes": list(evidence.recipes), "seeds": list(seeds),
                        "steps": evidence.steps, "task": evidence.task, "units": evidence.units,
                        "learning_rate": evidence.learning_rate}
            post = {}
            if evidence.epochs is not None:
                post = {"epochs": evidence.epochs, "train_size": evidence.train_size, "task_overrides": evidence.task_overrides,
                        "early_stopping": evidence.early_stopping, "output_sums": evidence.output_sums}
                settings.update({**post, "task_overrides": dict(evidence.task_overrides)})
            runs = run_set(
                evidence.recipes, seeds, evidence.steps, runs_dir, out / f"{evidence.name}.json", name=evidence.name,
                settings=settings, command=command, task=evidence.task, units=evidence.units,
                learning_rate=evidence.learning_rate, **common, **post,
            )
            if args.figures and evidence.figure:
                plot(runs, pathlib.Path(args.figures) / evidence.figure, _title(evidence.recipes, runs, len(seeds)))
        return 0
    recipes = [get_recipe(name).name for name in args.recipes]  # validates names
    seeds = range(args.first_seed, args.first_seed + (args.seeds or 3))
    settings = {"recipes": recipes, "seeds": list(seeds), "steps": args.steps or 50, "task": args.task,
                "units": args.units, "learning_rate": args.lr}
    runs = run_set(
        recipes, seeds, args.steps or 50, pathlib.Path(args.runs_dir or out / "runs"), out / "results.json",
        settings=settings, command=command, task=args.task, units=args.units, learning_rate=args.lr, **common,
    )
    title = _title(recipes, runs, len(seeds))
    plot(runs, out / "curves.png", title)
    if args.figure:
        plot(runs, pathlib.Path(args.figure), title)
    return 0


def _title(recipes: Sequence[str], runs: Sequence[Mapping[str, Any]], seeds: int) -> str:
    return " vs ".join(recipes) + f" ({runs[0]['task']}, {seeds} seed{'s' if seeds != 1 else ''})"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m baselines.zoo.runner``: the same as ``python -m baselines zoo``."""
    import_tensorflow()
    parser = argparse.ArgumentParser(prog="python -m baselines zoo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args, command="python -m baselines zoo " + " ".join(shlex.quote(arg) for arg in argv))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
