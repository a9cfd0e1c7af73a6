"""``python -m baselines reproduce [--quick]``: the grid tasks x models x seeds.

Trains every stable recipe on its task for several seeds (each run is a
``baselines.train.train`` call with its own output directory, so an
interrupted grid resumes: finished runs are reused unless ``--fresh``), then
writes the results table as markdown (``docs/results.md``, mean ± std over
seeds, with the command, versions, machine and run time), as LaTeX
(``docs/results.tex``) and one figure per task (``docs/figures/<task>.png``).

Each task declares its table (``Task.report_columns``), its headline metric and
its ceiling; every run is scored on the published evaluation splits. Models that
are no valid baseline on a task's view (``Task.bidirectional_leak``: on Reber,
the bidirectional ones) are neither trained nor shown; the table says why.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.models import MODEL_KINDS, config_recipe_tasks, protocol_exclusion, recipe_name, stable_settings
from baselines.recipes import get_recipe
from seqtasks.metrics import NOT_APPLICABLE, ReportColumn
from seqtasks.registry import get_preset, list_tasks, make
from seqtasks.tasks.base import Task

COMMON_COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("epochs", "epochs_completed", None, "{:.0f}"),
    ReportColumn("train size", "train_size", None, "{:.0f}"),
    ReportColumn("wall s/run", "wall_time_s", None, "{:.0f}"),
)


def task_of_run(run: Mapping[str, Any]) -> Task:
    """The task (with its exact config) a run's ``metrics.json`` was trained and scored on."""
    cls, _ = get_preset(run["task"])
    return cls(cls.config_class(**run["task_config"]))


def excluded_models(tasks: Sequence[str], models: Sequence[str]) -> dict[tuple[str, str], str]:
    """``{(task, model): reason}`` for the stable models a task's table leaves out: those that are no
    valid baseline on its view, and those its protocol does not compare (``models`` in its settings)."""
    out = {}
    for task in tasks:
        for model in models:
            recipe = get_recipe(recipe_name(task, model))
            reason = make(recipe.task).bidirectional_leak(recipe.target) if recipe.bidirectional else None
            if reason:
                out[(task, model)] = f"no valid baseline here ({reason})"
            elif protocol_exclusion(task, model):
                out[(task, model)] = f"not in the protocol ({protocol_exclusion(task, model)})"
    return out


def columns_of(run: Mapping[str, Any]) -> list[ReportColumn]:
    """The task's own columns, its headline's ceiling, then the common ones."""
    task = task_of_run(run)
    target = None if run.get("target") in (None, task.targets()[0]) else run["target"]
    headline = task.headline_metric(target)
    columns = list(task.report_columns(target))
    if headline in task.ceiling(target=target):
        columns.append(ReportColumn(f"ceiling (test {headline})", f"ceiling.test.{headline}", None))
    return columns + list(COMMON_COLUMNS)


def _aggregate(values: Sequence[float | None], fmt: str) -> str:
    """``mean ± std`` over seeds (sample std); missing values (e.g. never solved) are counted, not averaged."""
    if values and all(v == NOT_APPLICABLE for v in values):
        return NOT_APPLICABLE
    present = [float(v) for v in values if v is not None and v != NOT_APPLICABLE and math.isfinite(float(v))]
    if not present:
        return "–" if not values else f"none of {len(values)}"
    mean = fmt.format(float(np.mean(present)))
    constant = len(set(present)) == 1  # one seed, or a setting such as the training set size
    text = mean if constant else f"{mean} ± {fmt.format(float(np.std(present, ddof=1)))}"
    if len(present) < len(values):
        text += f" ({len(present)} of {len(values)})"
    return text


def _escape_latex(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("±", r"$\pm$").replace("–", "--")


DEFAULT_SEEDS = 5
QUICK_SEEDS = 2


def seeds_of(task: str, seeds: int | None = None, quick: bool = False) -> int:
    """Seeds per cell on ``task``: ``seeds`` when given, else 2 with ``--quick``, else the task's
    own number (``"seeds"`` in its settings: 10 on embedded Reber, as 1997's Table 1) or 5."""
    if seeds is not None:
        return seeds
    return QUICK_SEEDS if quick else int(stable_settings(task).get("seeds", DEFAULT_SEEDS))


def stale_reason(
    run: Mapping[str, Any], recipe: Any, quick: bool, train_options: Mapping[str, Any] | None = None
) -> str | None:
    """Why a finished run's ``metrics.json`` cannot stand for ``recipe`` now (``None``: it can be reused)."""
    from baselines.train import _jsonable

    train_options = dict(train_options or {})
    if bool(run.get("quick")) != bool(quick):
        return "trained with another --quick setting"
    if run.get("recipe_settings") != _jsonable(dict(recipe.extra)):
        return "trained with other recipe settings"
    quick_settings = dict(recipe.extra.get("quick", {})) if quick else {}
    epochs = train_options.get("epochs") or quick_settings.get("epochs") or recipe.epochs
    if run.get("epochs") != epochs:
        return f"trained for {run.get('epochs')} epochs, the recipe now takes {epochs}"
    if "train_size" in train_options and run.get("train_size") != train_options["train_size"]:
        return "trained on another number of examples"
    sizes = run.get("eval_sizes", {}).values()
    if "eval_size" in train_options and any(size > train_options["eval_size"] for size in sizes):
        return "scored on more examples than --eval-size"
    splits = run.get("protocol", {}).get("evaluation", {}).get("splits", {})
    if not quick and "eval_size" not in train_options and not all(info["complete"] for info in splits.values()):
        return "scored on part of the published splits"
    if "cpu_time_s" not in run:
        return "recorded before runs recorded their CPU time"
    return None


def run_grid(
    tasks: Sequence[str],
    models: Sequence[str],
    seeds: int | None,
    quick: bool,
    runs_dir: Path,
    fresh: bool,
    deterministic: bool,
    train_options: Mapping[str, Any] | None = None,
    vary_data: bool = False,
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Trains (or reuses) every run of the grid and returns their ``metrics.json`` contents.

    Args:
        tasks: Task names (each trains on its recipe's default config).
        models: Model kinds.
        seeds: Seeds per cell (``0 .. seeds - 1``); ``None``: each task's own (:func:`seeds_of`).
        quick: Use each recipe's quick settings.
        runs_dir: Parent of the per-run output directories.
        fresh: Retrain runs that already finished.
        deterministic: Turn on op determinism.
        train_options: Extra keywords of ``baselines.train.train`` (``epochs``,
            ``train_size``, ``eval_size``, ``task_overrides``).
        vary_data: Train seed ``s`` on the training data of data seed ``s`` (a
            data-variance study; the tables say so). Default: every seed trains on
            the published ``train`` split. Scoring is on the published splits either way.

    Returns:
        ``{(task, model): [metrics of seed 0, seed 1, ...]}``; models that are no valid
        baseline on a task (:func:`excluded_models`) are not trained and not in it.
    """
    train_options = dict(train_options or {})
    flags = "".join(
        f" --{key.replace('_', '-')} {value}" for key, value in train_options.items() if key != "task_overrides"
    )
    import keras
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from baselines.train import train

    excluded = excluded_models(tasks, models)
    grid = [
        (task, model, seed)
        for task in tasks
        for model in models
        if (task, model) not in excluded
        for seed in range(seeds_of(task, seeds))
    ]
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        bar = progress.add_task("grid", total=len(grid))
        for task, model, seed in grid:
            progress.update(bar, description=f"{model} on {task}, seed {seed}")
            data_seed = seed if vary_data else 0
            out = runs_dir / task / model / (f"seed{seed}_data{data_seed}" if vary_data else f"seed{seed}")
            metrics_path = out / "metrics.json"
            run = None
            if metrics_path.exists() and not fresh and not (out / "backup").exists():
                run = json.loads(metrics_path.read_text())
                if stale_reason(run, get_recipe(recipe_name(task, model)), quick, train_options):
                    run = None  # trained with other settings: train again
            if run is None:
                run = train(
                    recipe_name(task, model),
                    seed=seed,
                    out=out,
                    quick=quick,
                    deterministic=deterministic,
                    verbose=0,
                    command=f"python -m baselines train --model {model} --task {task} --seed {seed}"
                    + (" --quick" if quick else "")
                    + (" --deterministic" if deterministic else "")
                    + (f" --data-seed {data_seed}" if vary_data else "")
                    + flags
                    + f" --out {out}",
                    data_seed=data_seed,
                    **train_options,
                )
                keras.backend.clear_session()
            results.setdefault((task, model), []).append(run)
            progress.advance(bar)
    return results


def _table_rows(task: str, models: Sequence[str], results: Mapping) -> tuple[list[str], list[list[str]]]:
    """Header and one row per model; the columns are the task's (read from any of its runs)."""
    any_run = next((run for model in models for run in results.get((task, model), [])), None)
    if any_run is None:
        return ["model"], [[model, "–"] for model in models]
    columns = columns_of(any_run)
    header = ["model", *[column.label for column in columns]]
    rows = []
    for model in models:
        runs = results.get((task, model), [])
        rows.append([model, *[_aggregate([column.read(run) for run in runs], column.fmt) for column in columns]])
    return header, rows


def _protocol_notes(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Lines that say how a table's runs depart from the published protocol."""
    notes = []
    data_seeds = sorted({int(run.get("data_seed", 0)) for run in runs})
    if data_seeds != [0]:
        notes.append(
            f"- training data varies with the run (data seeds {', '.join(map(str, data_seeds))}): a data-variance "
            "study, not the published training split"
        )
    if any(run.get("fresh_data") for run in runs):
        notes.append("- trained on fresh examples every update (`seqtasks.stream`), scored on the published splits")
    partial = sorted(
        {
            f"{split} ({info['examples']} of {info['published_examples']})"
            for run in runs
            for split, info in run.get("protocol", {}).get("evaluation", {}).get("splits", {}).items()
            if not info["complete"]
        }
    )
    if partial:
        notes.append("- scored on the first examples of the published splits only: " + ", ".join(partial))
    if runs and "protocol" in runs[0]:
        protocol = runs[0]["protocol"]
        notes.append(
            f"- dataset `{protocol['dataset']}` version {protocol['dataset_version']}"
            + ("" if protocol["published_config"] else f", config overrides {protocol['config_overrides']}")
        )
    return notes


def plot_task(task: str, models: Sequence[str], results: Mapping, path: Path) -> bool:
    """Per model (mean over seeds): training loss and the task's headline validation metric per epoch;
    for per-step views also the test accuracy per output position. Returns False when no run exists."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task_runs = [run for model in models for run in results.get((task, model), [])]
    if not task_runs:
        return False
    headline = f"val_{task_runs[0].get('headline_metric') or task_of_run(task_runs[0]).headline_metric()}"
    per_position = "per_position_accuracy" in task_runs[0]["final"].get("test", {})
    panels = 3 if per_position else 2
    figure, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 3.6))
    for model in models:
        runs = results.get((task, model), [])
        if not runs:
            continue
        for axis, key in zip(axes[:2], ("loss", headline)):
            curves = [[row.get(key) for row in run["per_epoch"]] for run in runs]
            width = min(len(c) for c in curves)
            values = np.array([[np.nan if v is None else v for v in c[:width]] for c in curves], dtype=float)
            axis.plot(np.arange(1, width + 1), np.nanmean(values, axis=0), marker="o", label=model)
        if per_position:
            curves = [run["final"]["test"]["per_position_accuracy"] for run in runs]
            width = min(len(p) for p in curves)
            values = np.array([[np.nan if v is None else v for v in p[:width]] for p in curves], dtype=float)
            axes[2].plot(np.arange(width), np.nanmean(values, axis=0), marker="o", label=model)
    axes[0].set(xlabel="epoch", ylabel="train loss")
    axes[1].set(xlabel="epoch", ylabel=headline.replace("val_", "validation "))
    if per_position:
        chance = task_runs[0]["final"]["test"].get("chance_accuracy")
        if chance is not None:
            axes[2].axhline(chance, color="grey", linestyle="--", label="chance")
        axes[2].set(xlabel="output position", ylabel="test accuracy")
    for axis in axes:
        axis.legend(fontsize=8)
    figure.suptitle(task)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write_reports(
    results: Mapping,
    tasks: Sequence[str],
    models: Sequence[str],
    seeds: int,
    quick: bool,
    command: str,
    wall_seconds: float,
    output: Path,
    train_options: Mapping[str, Any] | None = None,
) -> None:
    """Writes the markdown and LaTeX tables and one figure per task."""
    from baselines.train import environment_versions

    figures_dir = output.parent / "figures"
    prefix = "" if output.stem == "results" else f"{output.stem}-"
    mode = (
        "`--quick`: small training sets and few epochs, a smoke test of the pipeline, not the published numbers"
        if quick
        else "each recipe's full settings"
    )
    if train_options:
        mode += ", except " + ", ".join(f"{key}={value}" for key, value in train_options.items())
    any_run = next(iter(results.values()))[0]
    versions = any_run["versions"]
    lines = [
        f"# Baseline results{' (quick grid)' if quick else ''}",
        "",
        "Produced by:",
        "",
        "```bash",
        command,
        "```",
        "",
        f"- grid: {len(tasks)} task(s) x {len(models)} model(s); seeds per cell: "
        + ", ".join(f"{task} {seeds_of(task, seeds, quick)}" for task in tasks) + f"; {mode}",
        f"- run time: {sum(run['wall_time_s'] for runs in results.values() for run in runs) / 60:.1f} min summed over"
        f" the runs; this invocation took {wall_seconds / 60:.1f} min (runs finished earlier are reused unless"
        " `--fresh`)",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU core(s) visible, {platform.platform()}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform"),
        "- cells: mean ± sample std over seeds; `(k of n)`: the metric exists for only k of n seeds "
        "(for example the test set was never solved in the others).",
        "- every run's `metrics.json`, `history.csv`, `curves.png` and `model.keras` are under the runs directory.",
        "",
    ]
    latex = [
        "% Produced by: " + command,
        "% " + ", ".join(f"{k} {v}" for k, v in environment_versions().items() if k != "platform"),
    ]
    excluded = excluded_models(tasks, models)
    for task in tasks:
        shown = [model for model in models if (task, model) not in excluded]
        header, rows = _table_rows(task, shown, results)
        task_runs = [run for model in shown for run in results.get((task, model), [])]
        dataset = task_runs[0]["task"] if task_runs else task
        lines += [f"## {dataset}", ""]
        lines += _protocol_notes(task_runs)
        reasons: dict[str, list[str]] = {}
        for model in models:
            if (task, model) in excluded:
                reasons.setdefault(excluded[(task, model)], []).append(model)
        lines += [f"- not shown: {', '.join(names)}: {reason}" for reason, names in reasons.items()]
        lines += ["", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        figure = figures_dir / f"{prefix}{task.replace('/', '-')}.png"
        if plot_task(task, shown, results, figure):
            lines += ["", f"![{task}](figures/{figure.name})"]
        lines.append("")
        latex += [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{Stable recurrent baselines on \\texttt{{{_escape_latex(dataset)}}} "
            f"(mean $\\pm$ std over {seeds_of(task, seeds, quick)} seeds{', quick grid' if quick else ''}).}}",
            "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
            "\\hline",
            " & ".join(_escape_latex(cell) for cell in header) + " \\\\",
            "\\hline",
            *[" & ".join(_escape_latex(cell) for cell in row) + " \\\\" for row in rows],
            "\\hline",
            "\\end{tabular}",
            *[
                f"\\par\\footnotesize Not shown: {_escape_latex(', '.join(names))} ({_escape_latex(reason)})."
                for reason, names in reasons.items()
            ],
            "\\end{table}",
            "",
        ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    output.with_suffix(".tex").write_text("\n".join(latex) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``reproduce`` command's flags."""
    parser.add_argument("--quick", action="store_true", help="small sizes and few epochs: minutes on 2 CPU cores")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default: 2 with --quick, else each task's own: 10 on embedded Reber, 5 elsewhere)")
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=[*list_tasks(), *config_recipe_tasks()],
        default=[*list_tasks(), *config_recipe_tasks()],
        help="tasks (each on its recipe's default config), or task/config names that have recipes of their own",
    )
    parser.add_argument("--models", nargs="+", choices=MODEL_KINDS, default=list(MODEL_KINDS))
    parser.add_argument("--output", default="docs/results.md", help="markdown file; .tex and figures/ go next to it")
    parser.add_argument("--runs-dir", default=None, help="per-run outputs (default runs/reproduce[-quick])")
    parser.add_argument("--fresh", action="store_true", help="retrain runs that already have a metrics.json")
    parser.add_argument("--deterministic", action="store_true", help="tf.config.experimental.enable_op_determinism")
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    parser.add_argument("--train-size", type=int, default=None, help="override every recipe's training set size")
    parser.add_argument("--eval-size", type=int, default=None, help="cap every evaluation split")
    parser.add_argument(
        "--vary-training-data",
        action="store_true",
        help="train seed s on the training data of data seed s (a data-variance study; the tables say so)",
    )


def run_from_args(args: argparse.Namespace, command: str) -> int:
    """Runs the grid from parsed flags and writes the reports."""
    seeds = args.seeds if args.seeds is not None else (QUICK_SEEDS if args.quick else None)
    if seeds is not None and seeds < 1:
        raise ValueError(f"invalid seeds={seeds!r}; allowed: an integer >= 1")
    runs_dir = Path(args.runs_dir or ("runs/reproduce-quick" if args.quick else "runs/reproduce"))
    started = time.perf_counter()
    options = {"epochs": args.epochs, "train_size": args.train_size, "eval_size": args.eval_size}
    options = {key: value for key, value in options.items() if value is not None}
    results = run_grid(
        args.tasks, args.models, seeds, args.quick, runs_dir, args.fresh, args.deterministic, options,
        vary_data=args.vary_training_data,
    )
    wall = time.perf_counter() - started
    output = Path(args.output)
    write_reports(results, args.tasks, args.models, seeds, args.quick, command, wall, output, options)
    print(f"wrote {output}, {output.with_suffix('.tex')} and {output.parent / 'figures'}/ in {wall / 60:.1f} min")
    return 0
