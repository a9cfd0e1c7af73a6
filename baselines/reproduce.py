"""``python -m baselines reproduce [--quick]``: the grid tasks x models x seeds.

Trains every stable recipe on its task for several seeds (each run is a
``baselines.train.train`` call with its own output directory, so an
interrupted grid resumes: finished runs are reused unless ``--fresh``, and runs
made with other settings are trained again), then writes the results pages
(:mod:`baselines.report`): ``docs/results.md`` (mean ± std and the best seed,
the ceiling, published references, reference predictors, the task's criteria,
CPU time and machine), ``docs/results.tex``, ``docs/results.json`` (one record
per run) and one figure per task. A ``--quick`` grid never writes that page.

Each task declares its table (``Task.report_columns``), its headline metric and
its ceiling; every run is scored on the published evaluation splits. Models that
are no valid baseline on a task's view (``Task.bidirectional_leak``: on Reber,
the bidirectional ones), or not part of a config's protocol, are neither
trained nor shown; the table says why.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baselines.catalog import get_recipe
from baselines.models import (
    ALL_MODEL_KINDS,
    REFERENCE_MODELS,
    config_recipe_tasks,
    protocol_exclusion,
    recipe_name,
    stable_settings,
)
from baselines.report import GridDescription, columns_of, task_of_run  # noqa: F401  (re-exported)
from baselines.report import write_reports as write_pages
from seqtasks.config import is_integer
from seqtasks.registry import list_tasks, make
from seqtasks.training import best_epoch


def excluded_models(tasks: Sequence[str], models: Sequence[str]) -> dict[tuple[str, str], str]:
    """``{(task, model): reason}`` for the stable models a task's table leaves out: those that are no
    valid baseline on its view, and those its protocol does not compare (``models`` in its settings)."""
    out = {}
    for task in tasks:
        for model in models:
            if model in REFERENCE_MODELS and protocol_exclusion(task, model):  # no recipe there
                out[(task, model)] = f"not in the protocol ({protocol_exclusion(task, model)})"
                continue
            recipe = get_recipe(recipe_name(task, model))
            reason = make(recipe.task).bidirectional_leak(recipe.target) if recipe.bidirectional else None
            if reason:
                out[(task, model)] = f"no valid baseline here ({reason})"
            elif protocol_exclusion(task, model):
                out[(task, model)] = f"not in the protocol ({protocol_exclusion(task, model)})"
    return out


DEFAULT_SEEDS = 5
QUICK_SEEDS = 2


def seeds_of(task: str, seeds: int | None = None, quick: bool = False) -> int:
    """Seeds per cell on ``task``: ``seeds`` when given, else 2 with ``--quick``, else the task's
    own number (``"seeds"`` in its settings: 10 on embedded Reber, as 1997's Table 1) or 5."""
    if seeds is not None:
        return seeds
    return QUICK_SEEDS if quick else int(stable_settings(task).get("seeds", DEFAULT_SEEDS))


def last_epoch_was_best(run: Mapping[str, Any], metric: str) -> bool:
    """True when a run's last epoch had its highest validation ``metric`` (strictly above every earlier one).

    A run trained before its recipe kept the best epoch (``Recipe.select_epoch_by``) still stands
    for the recipe then: keeping the best epoch would have kept the very weights it was scored with.
    """
    per_epoch = run.get("per_epoch") or []
    return bool(per_epoch) and best_epoch(per_epoch, metric) == len(per_epoch)


def stale_reason(
    run: Mapping[str, Any], recipe: Any, quick: bool, train_options: Mapping[str, Any] | None = None
) -> str | None:
    """Why a finished run's ``metrics.json`` cannot stand for ``recipe`` now (``None``: it can be reused)."""
    from baselines.records import jsonable as _jsonable

    train_options = dict(train_options or {})
    if bool(run.get("quick")) != bool(quick):
        return "trained with another --quick setting"
    settings = _jsonable(recipe.settings)
    if run.get("recipe_settings") != settings:
        before_rule = {key: value for key, value in settings.items() if key != "select_epoch_by"}
        if run.get("recipe_settings") != before_rule or not last_epoch_was_best(run, settings["select_epoch_by"]):
            return "trained with other recipe settings"
    quick_epochs = recipe.quick.epochs if quick and recipe.quick is not None else None
    epochs = train_options.get("epochs") or quick_epochs or recipe.epochs
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
    trained_on, current = run.get("protocol", {}).get("dataset_version"), task_of_run(run).version
    if trained_on != current:
        return f"trained on dataset version {trained_on}; the task is now at {current}"
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
    train_missing: bool = True,
    archive_dir: Path | None = None,
    jobs: int = 1,
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
        train_missing: Train the runs that have not finished (``False``: collect the
            finished ones only, e.g. to write the pages while a grid still runs).
        archive_dir: The committed ``metrics.json`` of the published grid (:data:`ARCHIVE_DIR`):
            a run missing from ``runs_dir`` is taken from there when it still stands for its
            recipe (:func:`stale_reason`), and every run of the grid is written there (a trained one as
            soon as it finishes, so an interrupted grid loses none), so a fresh
            checkout rewrites the pages, and trains only what changed, without the runs directory.
        jobs: Runs trained at once. ``1``: one after the other in this process; more: each run is
            its ``python -m baselines train`` command in a process of its own (its output in the
            run's ``train.log``), the same recipe and seeds, so the same record; the small
            recurrent models of the grid use about one core each.

    Returns:
        ``{(task, model): [metrics of seed 0, seed 1, ...]}``; models that are no valid
        baseline on a task (:func:`excluded_models`) are not trained and not in it.

    Raises:
        ValueError: For ``jobs`` < 1, or ``jobs`` > 1 with ``task_overrides`` (no command-line flag).
        RuntimeError: When a run's process fails (with the end of its log).
    """
    train_options = dict(train_options or {})
    if not is_integer(jobs) or jobs < 1:
        raise ValueError(f"invalid jobs={jobs!r}; allowed: an integer >= 1")
    if jobs > 1 and "task_overrides" in train_options:
        raise ValueError(f"invalid jobs={jobs!r} with task_overrides; allowed: 1 (overrides have no command-line flag)")
    plan = plan_grid(tasks, models, seeds, quick, runs_dir, fresh, deterministic, train_options, vary_data,
                     train_missing, archive_dir)

    def archived(key: tuple[str, str, int], run: dict[str, Any]) -> None:
        plan.finished[key] = run
        if archive_dir is not None:  # at once, so an interrupted grid keeps every run it finished
            archive_run(run, archive_path(archive_dir, key[0], key[1], plan.run_names[key]))

    train_pending(plan, jobs, quick, deterministic, vary_data, train_options, archived)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for key in plan.grid:
        if key in plan.finished:
            archived(key, plan.finished[key])
            results.setdefault(key[:2], []).append(plan.finished[key])
    return results


@dataclasses.dataclass
class GridPlan:
    """The runs of a grid: every ``(task, model, seed)``, its run directory's name, the finished ones and the rest.

    Attributes:
        grid: Every run, in table order.
        run_names: Each run's directory name (also its archive file's stem).
        finished: The runs that still stand for their recipe, by key.
        pending: ``(key, out, argv)`` of each run to train (``argv``: its ``baselines train`` flags).
    """

    grid: list[tuple[str, str, int]]
    run_names: dict[tuple[str, str, int], str]
    finished: dict[tuple[str, str, int], dict[str, Any]]
    pending: list[tuple[tuple[str, str, int], Path, list[str]]]


def plan_grid(
    tasks: Sequence[str], models: Sequence[str], seeds: int | None, quick: bool, runs_dir: Path, fresh: bool,
    deterministic: bool, train_options: Mapping[str, Any], vary_data: bool, train_missing: bool,
    archive_dir: Path | None,
) -> GridPlan:
    """Which runs of the grid are finished (in ``runs_dir`` or the archive) and which to train (see :func:`run_grid`)."""
    excluded = excluded_models(tasks, models)
    grid = [
        (task, model, seed)
        for task in tasks
        for model in models
        if (task, model) not in excluded
        for seed in range(seeds_of(task, seeds))
    ]
    plan = GridPlan(grid, {}, {}, [])
    for task, model, seed in grid:
        key, data_seed = (task, model, seed), seed if vary_data else 0
        plan.run_names[key] = f"seed{seed}_data{data_seed}" if vary_data else f"seed{seed}"
        out = runs_dir / task / model / plan.run_names[key]
        run = None if fresh else _reusable_run(task, model, out, archive_dir, quick, train_options)
        if run is not None:
            plan.finished[key] = run
        elif train_missing:
            argv = ["--model", model, "--task", _trained_config(task, model, quick), "--seed", str(seed)]
            argv += ["--quick"] * quick + ["--deterministic"] * deterministic
            argv += ["--data-seed", str(data_seed)] if vary_data else []
            for option, value in train_options.items():
                if option != "task_overrides":
                    argv += [f"--{option.replace('_', '-')}", str(value)]
            plan.pending.append((key, out, [*argv, "--out", str(out)]))
    return plan


def train_pending(
    plan: GridPlan, jobs: int, quick: bool, deterministic: bool, vary_data: bool, train_options: Mapping[str, Any],
    on_done: Any,
) -> None:
    """Trains the plan's pending runs, ``jobs`` at a time, with a progress bar; ``on_done(key, run)`` after each."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        bar = progress.add_task(f"grid: {len(plan.finished)} finished runs reused", total=len(plan.grid))
        progress.advance(bar, len(plan.grid) - len(plan.pending))

        def done(key: tuple[str, str, int], run: dict[str, Any]) -> None:
            on_done(key, run)
            progress.update(bar, advance=1, description=f"{key[1]} on {key[0]}, seed {key[2]}: done")

        if jobs == 1:
            import keras

            from baselines.trainer import train

            for key, out, argv in plan.pending:
                progress.update(bar, description=f"{key[1]} on {key[0]}, seed {key[2]}")
                run = train(
                    recipe_name(key[0], key[1]), seed=key[2], out=out, quick=quick, deterministic=deterministic,
                    verbose=0, command="python -m baselines train " + shlex.join(argv),
                    data_seed=key[2] if vary_data else 0, **train_options,
                )
                keras.backend.clear_session()
                done(key, run)
            return
        progress.update(bar, description=f"{len(plan.pending)} runs, {jobs} at a time")
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_train_in_process, out, argv): key for key, out, argv in plan.pending}
            try:
                for future in concurrent.futures.as_completed(futures):
                    done(futures[future], future.result())
            except BaseException:  # a failed run (or Ctrl-C): start no further runs
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def _reusable_run(
    task: str, model: str, out: Path, archive_dir: Path | None, quick: bool, train_options: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The finished run in ``out`` (else in the archive) that still stands for its recipe, or ``None``."""
    candidates = [] if (out / "backup").exists() else [out / "metrics.json"]  # a backup: it was interrupted
    if archive_dir is not None:
        candidates.append(archive_path(archive_dir, task, model, out.name))
    for candidate in candidates:
        if candidate.exists():
            run = json.loads(candidate.read_text())
            if not stale_reason(run, get_recipe(recipe_name(task, model)), quick, train_options):
                return run
    return None


def _trained_config(task: str, model: str, quick: bool) -> str:
    """The ``task/config`` that a run of the grid trains on: its recipe's, or its quick setting's.

    Named in full on the command line, so that a run in a process of its own (``--jobs``) trains on
    and records the same dataset as one in this process (a bare ``--task`` would override a quick
    setting's config).
    """
    recipe = get_recipe(recipe_name(task, model))
    quick_config = recipe.quick.task if quick and recipe.quick is not None else None
    return quick_config or recipe.task


def _train_in_process(out: Path, argv: Sequence[str]) -> dict[str, Any]:
    """Runs ``python -m baselines train ARGV`` in a process of its own; returns its ``metrics.json``."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "train.log"
    # baselines runs from the checkout, not from an installed package: the child finds it wherever its cwd.
    checkout = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [checkout, os.environ.get("PYTHONPATH")]))}
    with log.open("w") as stream:
        code = subprocess.call([sys.executable, "-m", "baselines", "train", *argv], stdout=stream,
                               stderr=subprocess.STDOUT, env=env)
    if code != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise RuntimeError(f"python -m baselines train {shlex.join(argv)} failed with exit code {code}:\n{tail}")
    return json.loads((out / "metrics.json").read_text())


HEADLINE_PAGE = Path(__file__).resolve().parents[1] / "docs" / "results.md"
"""The published results page of this checkout: only a full grid may write it."""
ARCHIVE_DIR = HEADLINE_PAGE.parent / "results_runs" / "grid"
"""The committed ``metrics.json`` of every run on the headline page, ``<task>/<model>/seed<k>.json``."""


def archive_path(archive_dir: Path, task: str, model: str, run_name: str) -> Path:
    """Where the archived ``metrics.json`` of one grid run lives."""
    return Path(archive_dir) / task / model / f"{run_name}.json"


def archive_run(run: Mapping[str, Any], path: Path) -> None:
    """Writes a run's ``metrics.json`` to the archive (compact, keys sorted; untouched if unchanged)."""
    from baselines.records import jsonable

    text = json.dumps(jsonable(run), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def check_output(output: Path, quick: bool) -> None:
    """Refuses a ``--quick`` grid aimed at the headline page ``docs/results.md``."""
    if quick and Path(output).resolve() == HEADLINE_PAGE.resolve():
        raise ValueError(f"invalid output={str(output)!r} with --quick; allowed: any page but docs/results.md, "
                         "which holds the full grid only")


def _relative_to_page(path: Path, page: Path) -> str:
    """``path`` as the page's reader finds it: relative to the page's folder where it is below it."""
    try:
        return path.resolve().relative_to(page.resolve().parent).as_posix() + "/"
    except ValueError:
        return path.as_posix() + "/"


def write_reports(
    results: Mapping,
    tasks: Sequence[str],
    models: Sequence[str],
    seeds: int | None,
    quick: bool,
    command: str,
    wall_seconds: float,
    output: Path,
    train_options: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    archive_dir: Path | None = None,
) -> None:
    """Writes the results pages of a grid (:func:`baselines.report.write_reports`).

    Raises:
        ValueError: For a ``--quick`` grid aimed at the headline page ``docs/results.md``.
    """
    check_output(Path(output), quick)
    from baselines.models import stable_settings

    grid = GridDescription(
        command=command,
        tasks=list(tasks),
        models=list(models),
        seeds={task: seeds_of(task, seeds, quick) for task in tasks},
        quick=quick,
        wall_seconds=wall_seconds,
        train_options=dict(train_options or {}),
        excluded=excluded_models(tasks, models),
        recipes={task: stable_settings(task)["description"] for task in tasks},
        archive=None if archive_dir is None else _relative_to_page(Path(archive_dir), Path(output)),
    )
    write_pages(results, grid, Path(output), cache_dir)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``reproduce`` command's flags."""
    parser.add_argument("--quick", action="store_true", help="small sizes and few epochs: minutes on 2 CPU cores")
    parser.add_argument(
        "--seeds", type=int, default=None,
        help="seeds per cell (default: 2 with --quick, else each task's own: 10 on embedded Reber, 5 elsewhere)",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=[*list_tasks(), *config_recipe_tasks()],
        default=[*list_tasks(), *config_recipe_tasks()],
        help="tasks (each on its recipe's default config), or task/config names that have recipes of their own",
    )
    parser.add_argument("--models", nargs="+", choices=ALL_MODEL_KINDS, default=list(ALL_MODEL_KINDS))
    parser.add_argument(
        "--output", default=None,
        help="markdown page; .tex, .json and figures/ go next to it (default docs/results.md, with --quick "
        "runs/reproduce-quick/results.md: a smoke grid never writes the headline page)",
    )
    parser.add_argument("--runs-dir", default=None, help="per-run outputs (default runs/reproduce[-quick])")
    parser.add_argument("--fresh", action="store_true", help="retrain runs that already have a metrics.json")
    parser.add_argument(
        "--jobs", type=int, default=1,
        help="runs trained at once, each in a process of its own (default 1; 2 on 2 CPU cores halves the grid's wall "
        "time)",
    )
    parser.add_argument(
        "--archive-dir", default=None,
        help="committed metrics.json of the grid, reused where --runs-dir lacks a run and rewritten after it "
        "(default docs/results_runs/grid when writing docs/results.md, else none)",
    )
    parser.add_argument("--deterministic", action="store_true", help="tf.config.experimental.enable_op_determinism")
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    parser.add_argument("--train-size", type=int, default=None, help="override every recipe's training set size")
    parser.add_argument("--eval-size", type=int, default=None, help="cap every evaluation split")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the pages from the finished runs (cells say how many seeds finished)",
    )
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
    output = Path(args.output or ("runs/reproduce-quick/results.md" if args.quick else "docs/results.md"))
    check_output(output, args.quick)  # before any training
    runs_dir = Path(args.runs_dir or ("runs/reproduce-quick" if args.quick else "runs/reproduce"))
    started = time.perf_counter()
    options = {"epochs": args.epochs, "train_size": args.train_size, "eval_size": args.eval_size}
    options = {key: value for key, value in options.items() if value is not None}
    headline = output.resolve() == HEADLINE_PAGE.resolve()
    archive = Path(args.archive_dir) if args.archive_dir else (ARCHIVE_DIR if headline else None)
    results = run_grid(
        args.tasks, args.models, seeds, args.quick, runs_dir, args.fresh, args.deterministic, options,
        vary_data=args.vary_training_data, train_missing=not args.report_only, archive_dir=archive,
        jobs=args.jobs,
    )
    wall = time.perf_counter() - started
    write_reports(
        results, args.tasks, args.models, seeds, args.quick, command, wall, output, options, runs_dir, archive
    )
    print(f"wrote {output} and its .tex, .json and figures/ in {wall / 60:.1f} min")
    return 0
