"""The results pages of a grid: markdown and LaTeX tables, ``results.json`` and one figure per task.

Everything on a page comes from the runs' ``metrics.json`` files and from the
tasks themselves (``Task.report_columns``, ``ceiling``, ``published_references``,
``reference_predictors``, ``results_criteria``): no number is typed by hand.
``results.json`` holds one record per run (schema: ``docs/results.schema.json``)
plus the references, the reference predictors and the criteria, so a reader can
recompute every cell.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from baselines.learning_rates import RULE_RATES, rate_note, under_the_rule
from baselines.records import jsonable as _jsonable
from seqtasks.metrics import NOT_APPLICABLE, ReportColumn
from seqtasks.registry import get_preset
from seqtasks.tasks.base import Task

SCHEMA_VERSION = 1
REFERENCE_PREDICTORS_REVISION = 2
"""Part of the reference predictors' cache key: raise it when a task's ``reference_predictors`` changes."""
COMMON_COLUMNS: tuple[ReportColumn, ...] = (
    ReportColumn("train size", "train_size", None, "{:.0f}", best=None),
    ReportColumn("CPU s/run", "cpu_time_s", None, "{:.0f}", best=None),
)
_RUN_FIELDS = (
    "recipe", "model", "seed", "data_seed", "fresh_data", "valid_baseline", "epochs", "epochs_completed",
    "batch_size", "train_size", "sequences_seen", "sequences_to_solve_test", "final_train_loss", "loss_floor",
    "nan_free_steps", "nonfinite_steps", "nan_free_fraction", "wall_time_s", "cpu_time_s", "train_time_s",
    "length_scores", "versions", "machine", "command", "quick", "deterministic", "strategy",
)


def task_of_run(run: Mapping[str, Any]) -> Task:
    """The task (with its exact config) a run's ``metrics.json`` was trained and scored on."""
    cls, _ = get_preset(run["task"])
    return cls(cls.config_class(**run["task_config"]))


def columns_of(run: Mapping[str, Any]) -> list[ReportColumn]:
    """The task's own columns, its headline's ceiling, then the common ones."""
    task = task_of_run(run)
    target = None if run.get("target") in (None, task.targets()[0]) else run["target"]
    headline = task.headline_metric(target)
    columns = list(task.report_columns(target))
    if headline in task.ceiling(target=target):
        columns.append(ReportColumn(f"ceiling (test {headline})", f"ceiling.test.{headline}", None, best=None))
    return columns + list(COMMON_COLUMNS)


def _numbers(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and v != NOT_APPLICABLE and math.isfinite(float(v))]


def aggregate(values: Sequence[float | None], column: ReportColumn) -> str:
    """``mean ± std (max x)`` over seeds (sample std; ``min`` for a lower-is-better column).

    A constant (one seed, or a setting such as the training set size) shows once;
    seeds without the metric (e.g. never solved) are counted: ``(k of n)``.
    """
    if values and all(v == NOT_APPLICABLE for v in values):
        return NOT_APPLICABLE
    present = _numbers(values)
    if not present:
        return "–" if not values else f"none of {len(values)}"
    fmt = column.fmt
    if len(set(present)) == 1:
        text = fmt.format(present[0])
    else:
        text = f"{fmt.format(float(np.mean(present)))} ± {fmt.format(float(np.std(present, ddof=1)))}"
        if column.best is not None:
            best = max(present) if column.best == "max" else min(present)
            text += f" ({column.best} {fmt.format(best)})"
    if len(present) < len(values):
        text += f" ({len(present)} of {len(values)})"
    return text


def _reference_cell(predictor: Mapping[str, Any], column: ReportColumn) -> str:
    if column.split is None:
        return "–"
    value = predictor["metrics"].get(column.split, {}).get(column.key)
    return "–" if value is None else column.fmt.format(value)


_PARAMETER_COUNTS: dict[tuple[str, ...], int | None] = {}


def parameter_count(run: Mapping[str, Any]) -> int | None:
    """How many parameters the run's model has: as the run recorded it (``parameters``), else counted by
    building its recipe's model on its task config (no training, so archived runs need no retraining);
    ``None`` for a run without a recipe or with one that is no longer registered."""
    for key in ("parameters", "parameter_count"):  # a grid run's record; a scored record (seqtasks.score)
        if run.get(key) is not None:
            return int(run[key])
    if run.get("recipe") is None:
        return None
    overrides = dict(run.get("build_overrides") or {})
    key = (run["recipe"], json.dumps(run["task_config"], sort_keys=True), json.dumps(overrides, sort_keys=True))
    if key not in _PARAMETER_COUNTS:
        from baselines.catalog import get_recipe

        try:
            recipe = get_recipe(run["recipe"])
        except ValueError:
            _PARAMETER_COUNTS[key] = None
        else:
            task = task_of_run(run)
            model = recipe.build(task, task.supervised_spec(recipe.target), **overrides)
            _PARAMETER_COUNTS[key] = int(model.count_params())
    return _PARAMETER_COUNTS[key]


def run_record(run: Mapping[str, Any]) -> dict[str, Any]:
    """One run of ``results.json``: what was trained, on which bytes, every metric, the cost."""
    protocol = run.get("protocol", {})
    splits = protocol.get("evaluation", {}).get("splits", {})
    metrics = {
        split: {key: value for key, value in values.items() if np.ndim(value) == 0 and not isinstance(value, str)}
        for split, values in run["final"].items()
    }
    return {
        "task": run["task"].partition("/")[0],
        "dataset": run["task"],
        "config": run["task_config"],
        "dataset_version": protocol.get("dataset_version"),
        "published_config": protocol.get("published_config"),
        "fingerprints": {split: info["fingerprint"] for split, info in splits.items()},
        "train_data": protocol.get("train_data"),
        "metrics": metrics,
        "floor_check": (run.get("floor_check") or {}).get("verdict"),
        "parameters": parameter_count(run),
        "length_curves": {
            report["split"]: [[row["length"], row.get(report["metric"])] for row in report["rows"]]
            for report in (run.get("length_report") or {}).get("reports", [])
        },
        **{key: run.get(key) for key in _RUN_FIELDS},
    }


def _protocol_notes(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Lines that say what a table's runs were trained and scored on, and how they depart from a protocol."""
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
    partial_cpu = sum(1 for run in runs if run.get("resumed_from_epoch") and not run.get("cpu_time_counts_resumes"))
    if partial_cpu:
        notes.append(f"- {partial_cpu} run(s) resumed after an interruption before runs counted the CPU time of "
                     "earlier attempts: their CPU time is that of the finishing process only (an undercount)")
    if runs and "protocol" in runs[0]:
        protocol = runs[0]["protocol"]
        notes.append(
            f"- dataset `{protocol['dataset']}` version {protocol['dataset_version']}"
            + ("" if protocol["published_config"] else f", config overrides {protocol['config_overrides']}")
        )
        note = stale_version_note(protocol["dataset_version"], task_of_run(runs[0]).version)
        if note:
            notes.append(note)
    rates: dict[str, set[float]] = {}
    for run in runs:
        rate = (run.get("recipe_settings") or {}).get("learning_rate")
        if rate is not None and run.get("model"):
            rates.setdefault(run["model"], set()).add(rate)
    if rates:
        notes.append(_rates_line(runs[0].get("task", ""), rates))
    return notes


def _rates_line(config: str, rates: Mapping[str, set[float]]) -> str:
    """The page's line on each model's learning rate; under the rule, each rate that is not the rule's says why."""

    def listed(values: set[float]) -> str:
        return "/".join(f"{rate:g}" for rate in sorted(values))

    if not under_the_rule(config):
        return "- learning rate (Adam) per model: " + ", ".join(
            f"{model} {listed(values)}" for model, values in rates.items())
    by_note: dict[str, list[str]] = {"": []}  # the rule's rates first; models that share a note, then the note
    for model, values in rates.items():
        note = "; ".join(why for rate in sorted(values) if (why := rate_note(config, model, rate)))
        by_note.setdefault(note, []).append(f"{model} {listed(values)}")
    parts = [", ".join(models) + (f" ({note})" if note else "") for note, models in by_note.items() if models]
    rule_rates = " / ".join(f"{rate:.0e}".replace("e-0", "e-") for rate in RULE_RATES)
    return (
        f"- learning rate (Adam) per model, each the best of Deletang et al.'s {rule_rates} on seed 0's "
        "validation (`python -m baselines.experiments.learning_rate`) unless marked: " + "; ".join(parts)
    )


def stale_version_note(trained_on: str | None, current: str) -> str | None:
    """The warning a table carries when its runs were made on another dataset version than the current one."""
    if trained_on == current:
        return None
    return (
        f"- **not on the current data**: measured on dataset version {trained_on}; the dataset is now at "
        f"version {current} (see the changelog); `python -m baselines reproduce` retrains these runs"
    )


def _updates_at_epoch_ends(run: Mapping[str, Any]) -> np.ndarray:
    """Training updates done at each epoch's end: sequences seen over the batch size (epoch numbers if not recorded)."""
    seen = [row.get("sequences_seen") for row in run["per_epoch"]]
    if run.get("batch_size") and all(value is not None for value in seen):
        return np.asarray(seen, dtype=float) / run["batch_size"]
    return np.arange(1, len(seen) + 1, dtype=float)


def plot_task(task: str, models: Sequence[str], results: Mapping, path: Path) -> bool:
    """Per model (mean over seeds, band: min..max): training loss and the headline validation metric at each
    epoch's end, over training updates; the test accuracy per output position for per-step views; the length metric per length on
    ``test_long`` where the runs have one. Returns False when no run exists."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task_runs = [run for model in models for run in results.get((task, model), [])]
    if not task_runs:
        return False
    headline = f"val_{task_runs[0].get('headline_metric') or task_of_run(task_runs[0]).headline_metric()}"
    per_position = "per_position_accuracy" in task_runs[0]["final"].get("test", {})
    per_length = any(run.get("length_report") for run in task_runs)
    panels = 2 + per_position + per_length
    figure, axes = plt.subplots(1, panels, figsize=(4.4 * panels, 3.6))

    def band(axis, x, rows, label):
        values = np.array([[np.nan if v is None else v for v in row[: len(x)]] for row in rows], dtype=float)
        with warnings.catch_warnings():  # positions no sequence reaches are NaN in every seed
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, low, high = np.nanmean(values, axis=0), np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        line = axis.plot(x, mean, marker="o" if len(x) <= 40 else None, markersize=3, label=label)[0]
        if len(rows) > 1:
            axis.fill_between(x, low, high, alpha=0.15, color=line.get_color())

    for model in models:
        runs = results.get((task, model), [])
        if not runs:
            continue
        for axis, key in zip(axes[:2], ("loss", headline)):
            curves = [[row.get(key) for row in run["per_epoch"]] for run in runs]
            width = min(len(c) for c in curves)
            if width:
                band(axis, _updates_at_epoch_ends(runs[0])[:width], curves, model)
        panel = 2
        if per_position:
            curves = [run["final"]["test"]["per_position_accuracy"] for run in runs]
            width = min(len(p) for p in curves)
            band(axes[panel], np.arange(width), curves, model)
            panel += 1
        if per_length:
            reports = [next(r for r in run["length_report"]["reports"] if r["split"] == "test_long") for run in runs
                       if run.get("length_report")]
            lengths = [row["length"] for row in reports[0]["rows"]]
            metric = reports[0]["metric"]
            band(axes[panel], np.array(lengths), [[row[metric] for row in r["rows"]] for r in reports], model)
    axes[0].set(xlabel="training updates", ylabel="train loss (epoch mean)")
    axes[1].set(xlabel="training updates", ylabel=headline.replace("val_", "validation "))
    panel = 2
    chance = task_runs[0]["final"].get("test", {}).get("chance_accuracy")
    if per_position:
        if chance is not None:
            axes[panel].axhline(chance, color="grey", linestyle="--", label="chance")
        axes[panel].set(xlabel="output position", ylabel="test accuracy")
        panel += 1
    if per_length:
        if chance is not None:
            axes[panel].axhline(chance, color="grey", linestyle="--", label="chance")
        axes[panel].set(xlabel="string length (test_long)", ylabel="token accuracy")
    for axis in axes:
        axis.legend(fontsize=8)
    figure.suptitle(f"{task}: mean over seeds, band min..max")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _floor_line(runs: Sequence[Mapping[str, Any]]) -> str:
    """How often the floor detector (on by default) flagged a run: on stable baselines, a false alarm."""
    verdicts = [(run.get("floor_check") or {}).get("verdict") for run in runs]
    checked = [verdict for verdict in verdicts if verdict is not None]
    flagged = len(checked) - checked.count("ok")
    return (f"- floor detector (`FloorDetector`, on by default): {flagged} of {len(checked)} checked runs flagged"
            + ("" if len(checked) == len(runs) else f" ({len(runs) - len(checked)} runs without the check)"))


def _nan_line(runs: Sequence[Mapping[str, Any]]) -> str:
    nonfinite = sum(1 for run in runs if (run.get("nonfinite_steps") or 0) > 0)
    return f"- non-finite training losses: {nonfinite} of {len(runs)} runs had any"


def _escape_latex(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("±", r"$\pm$").replace("–", "--")


def table_row(label: str, runs: Sequence[Mapping[str, Any]], columns: Sequence[ReportColumn], planned: int) -> list[str]:
    """One row of a table: the label, the seeds (``k of n`` when fewer than planned), the parameter count
    (``–`` when unknown or not the same for every run) and each column's aggregate."""
    seeds = str(len(runs)) + (f" of {planned}" if len(runs) < planned else "")
    counts = {parameter_count(run) for run in runs}
    parameters = f"{counts.pop():,}" if len(counts) == 1 and None not in counts else "–"
    return [label, seeds, parameters, *[aggregate([column.read(run) for run in runs], column) for column in columns]]


def reference_lines(
    references: Sequence[Mapping[str, str]], runs_by_model: Sequence[Sequence[Mapping[str, Any]]],
    models: Sequence[str], columns: Sequence[ReportColumn], planned: int,
) -> list[str]:
    """Published numbers beside ours: each reference's value next to the same column of the model it names
    (``our_model``), with what differs stated once when every row shares it."""
    runs_of = dict(zip(models, runs_by_model))
    by_label = {column.label: column for column in columns}
    shared = len({r["differences"] for r in references}) == 1
    header = ["source", "their model", "compares with", "theirs", "their aggregate", "ours (mean ± std, best seed)",
              "our seeds", *([] if shared else ["what differs"])]
    rows = []
    for r in references:
        runs, column = runs_of.get(r.get("our_model") or ""), by_label.get(r["column"])
        if not r.get("our_model") or column is None:
            ours, seeds = "– (no such model here)", "–"
        elif not runs:
            ours, seeds = "not trained yet", f"0 of {planned}"
        else:
            ours = f"{r['our_model']}: {aggregate([column.read(run) for run in runs], column)}"
            seeds = str(len(runs)) + (f" of {planned}" if len(runs) < planned else "")
        rows.append([r["source"], r["model"], r["column"], r["value"], r["aggregate"], ours, seeds,
                     *([] if shared else [r["differences"] or "–"])])
    lines = ["Published references beside ours (theirs are not measured here):", "", *markdown_table(header, rows)]
    if shared and references[0]["differences"]:
        lines += ["", f"What differs between their protocol and ours: {references[0]['differences']}"]
    return lines


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *["| " + " | ".join(row) + " |" for row in rows]]


def latex_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str] = ()) -> list[str]:
    """The lines of a LaTeX ``table`` (``caption`` is LaTeX already; cells and notes are escaped here)."""
    return [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{caption}}}",
        "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        "\\hline",
        " & ".join(_escape_latex(cell) for cell in header) + " \\\\",
        "\\hline",
        *[" & ".join(_escape_latex(cell.replace("*", "")) for cell in row) + " \\\\" for row in rows],
        "\\hline",
        "\\end{tabular}",
        *[f"\\par\\footnotesize {_escape_latex(note)}" for note in notes],
        "\\end{table}",
        "",
    ]


def reference_predictors(task: Task, cache_dir: Path | None) -> list[dict[str, Any]]:
    """The task's reference predictors as JSON, cached in ``cache_dir`` per config, dataset and package version."""
    import hashlib

    from seqtasks import __version__

    identity = {"task": task.name, "config": _jsonable(task.config.to_dict()), "version": task.version,
                "seqtasks": __version__, "revision": REFERENCE_PREDICTORS_REVISION}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    cache = None if cache_dir is None else cache_dir / "reference_predictors" / f"{task.name}-{digest}.json"
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("identity") == identity:
            return stored["predictors"]
    predictors = [_jsonable(predictor) for predictor in task.reference_predictors()]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"identity": identity, "predictors": predictors}, indent=1))
    return predictors


@dataclasses.dataclass(frozen=True)
class GridDescription:
    """What a results page says about the grid that produced it.

    Attributes:
        command: The command that produced the page.
        tasks: Task names, in page order.
        models: Model kinds.
        seeds: ``{task: seeds per cell}``.
        quick: The ``--quick`` smoke settings.
        wall_seconds: How long this invocation took.
        train_options: Overrides of every recipe (``epochs``, ``train_size``, ``eval_size``).
        excluded: ``{(task, model): reason}`` for models left out of a table.
        recipes: ``{task: one-sentence description of its recipe}`` (says where a budget is cut).
        archive: Where each run's ``metrics.json`` is committed, relative to the page (``None``: nowhere).
    """

    command: str
    tasks: Sequence[str]
    models: Sequence[str]
    seeds: Mapping[str, int]
    quick: bool
    wall_seconds: float
    train_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    excluded: Mapping[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    recipes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    archive: str | None = None


def _page_header(grid: GridDescription, output: Path, all_runs: Sequence[Mapping[str, Any]],
                 per_task_cpu: Mapping[str, float], cpu_total: float) -> list[str]:
    """The page's title, command and the notes on the whole grid (CPU time, machine, versions, how to read it)."""
    mode = (
        "`--quick`: small training sets and few epochs, a smoke test of the pipeline, not results"
        if grid.quick
        else "each recipe's full settings"
    )
    if grid.train_options:
        mode += ", except " + ", ".join(f"{key}={value}" for key, value in grid.train_options.items())
    versions = all_runs[0]["versions"]  # listed sorted: the same whether read from runs/ or the (key-sorted) archive
    machine = all_runs[0].get("machine", {})
    return [
        f"# Baseline results{' (quick smoke grid: not results)' if grid.quick else ''}",
        "",
        "Produced by:",
        "",
        "```bash",
        grid.command,
        "```",
        "",
        f"- grid: {len(grid.tasks)} task(s) x {len(grid.models)} model(s); seeds per cell: "
        + ", ".join(f"`{task}` {grid.seeds[task]}" for task in grid.tasks) + f"; {mode}",
        f"- CPU time: {cpu_total / 3600:.2f} h summed over the {len(all_runs)} runs ("
        + ", ".join(f"`{task}` {seconds / 60:.0f} min" for task, seconds in per_task_cpu.items())
        + f"); this invocation spent {grid.wall_seconds / 60:.1f} min of wall time training and loading runs (finished"
        " runs are reused unless `--fresh`; writing this page is not counted)",
        f"- machine: {machine.get('cpu', '?')}, {machine.get('logical_cpus', '?')} logical CPU(s), accelerators: "
        f"{', '.join(machine.get('accelerators') or []) or 'none'}; {machine.get('platform', '')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if k != "platform"),
        _floor_line(all_runs),
        _nan_line(all_runs),
        "- cells: mean ± sample std over seeds, then the best seed (`max`, or `min` where lower is better, as "
        "Deletang et al. report the best of their seeds); `(k of n)`: the metric exists for only k of n seeds "
        "(for example the test set was never solved in the others).",
        "- `seeds`: finished runs; `k of n`: only k of the n planned seeds had finished when the page was written "
        "(the table is incomplete there).",
        "- rows in italics are reference predictors fit on the published train split, not neural baselines; "
        "an oracle marked *(bound)* uses knowledge no model has.",
        f"- every run's record is in `{output.with_suffix('.json').name}` (schema `results.schema.json`); "
        + (f"its whole `metrics.json` is committed under `{grid.archive}` (from which `reproduce` rewrites this "
           "page on a fresh checkout, training only runs that no longer match their recipe or dataset version); "
           "its `history.csv`, `curves.png` and `model.keras` are under the runs directory."
           if grid.archive else
           "its `metrics.json`, `history.csv`, `curves.png` and `model.keras` are under the runs directory."),
        "",
    ]


def _task_section(
    task: str, results: Mapping, grid: GridDescription, cache_dir: Path | None, figure: Path,
    per_task_cpu: Mapping[str, float],
) -> tuple[dict[str, Any], list[str], list[str]] | None:
    """One task's entry of ``results.json``, its markdown section and its LaTeX table (``None``: no run)."""
    shown = [model for model in grid.models if (task, model) not in grid.excluded]
    task_runs = [run for model in shown for run in results.get((task, model), [])]
    if not task_runs:
        return None
    the_task = task_of_run(task_runs[0])
    dataset = task_runs[0]["task"]
    columns = columns_of(task_runs[0])
    predictors = reference_predictors(the_task, cache_dir) if not grid.quick else []
    references = [_jsonable(reference) for reference in the_task.published_references()]
    criteria = [] if grid.quick else the_task.results_criteria(task_runs, predictors)
    entry = {
        "dataset": dataset,
        "dataset_version": the_task.version,
        "seeds": grid.seeds[task],
        "recipe": grid.recipes.get(task),
        "ceiling": _jsonable(the_task.ceiling(target=None)),
        "published_references": references,
        "reference_predictors": predictors,
        "criteria": criteria,
        "cpu_time_s": per_task_cpu[task],
    }
    header = ["model", "seeds", "parameters", *[column.label for column in columns]]
    rows = []
    for model in shown:
        runs = results.get((task, model), [])
        if runs:
            rows.append(table_row(model, runs, columns, grid.seeds[task]))
        elif not grid.quick:  # planned but not finished: say so rather than drop the model
            rows.append([model, f"0 of {grid.seeds[task]}", "–", *["–"] * len(columns)])
    for predictor in predictors:
        label = f"*{predictor['name']}*" + (" *(bound)*" if predictor.get("bound") else "")
        rows.append([label, "–", "–", *[_reference_cell(predictor, column) for column in columns]])
    lines = [f"## {dataset}", ""]
    if grid.recipes.get(task):
        lines.append(f"- recipe: {grid.recipes[task]}")
    lines += _protocol_notes(task_runs)
    reasons: dict[str, list[str]] = {}
    for model in grid.models:
        if (task, model) in grid.excluded:
            reasons.setdefault(grid.excluded[(task, model)], []).append(model)
    lines += [f"- not shown: {', '.join(names)}: {reason}" for reason, names in reasons.items()]
    lines += ["", *markdown_table(header, rows)]
    if references:
        lines += ["", *reference_lines(references, [results.get((task, model), []) for model in shown], shown,
                                       columns, grid.seeds[task])]
    for predictor in predictors:
        lines += ["", f"- *{predictor['name']}*: {predictor['description']}"]
    if criteria:
        lines += ["", "What these baselines must show, and what they found (checked on the runs above):", ""]
        lines += [f"- {line}" for line in criteria]
    if plot_task(task, shown, results, figure):
        lines += ["", f"![{task}](figures/{figure.name})"]
    lines.append("")
    caption = (f"Recurrent baselines on \\texttt{{{_escape_latex(dataset)}}} (mean $\\pm$ std, best seed in "
               f"parentheses, over {grid.seeds[task]} seeds{', quick grid' if grid.quick else ''}).")
    latex = latex_table(caption, header, rows, [f"Not shown: {', '.join(names)} ({reason})."
                                                for reason, names in reasons.items()])
    return entry, lines, latex


def write_reports(results: Mapping, grid: GridDescription, output: Path, cache_dir: Path | None = None) -> None:
    """Writes ``output`` (markdown), its ``.tex`` and ``.json`` siblings and one figure per task."""
    figures_dir = output.parent / "figures"
    prefix = "" if output.stem == "results" else f"{output.stem}-"
    all_runs = [run for runs in results.values() for run in runs]
    if not all_runs:
        raise ValueError("invalid results: no finished run to report")
    versions = all_runs[0]["versions"]
    machine = all_runs[0].get("machine", {})
    cpu_total = sum(run.get("cpu_time_s") or 0.0 for run in all_runs)
    per_task_cpu = {
        task: sum(run.get("cpu_time_s") or 0.0 for model in grid.models for run in results.get((task, model), []))
        for task in grid.tasks
    }
    lines = _page_header(grid, output, all_runs, per_task_cpu, cpu_total)
    latex = ["% Produced by: " + grid.command,
             "% " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if k != "platform")]
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": grid.command,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": grid.quick,
        "train_options": dict(grid.train_options),
        "machine": machine,
        "versions": versions,
        "cpu_time_s": cpu_total,
        "cpu_time_s_per_task": per_task_cpu,
        "tasks": {},
        "runs": [run_record(run) for run in all_runs],
    }
    for task in grid.tasks:
        figure = figures_dir / f"{prefix}{task.replace('/', '-')}.png"
        section = _task_section(task, results, grid, cache_dir, figure, per_task_cpu)
        if section is not None:
            document["tasks"][task], task_lines, task_latex = section
            lines += task_lines
            latex += task_latex
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(lines) + "\n")
    output.with_suffix(".tex").write_text("\n".join(latex) + "\n")
    output.with_suffix(".json").write_text(json.dumps(_jsonable(document), indent=1, allow_nan=False) + "\n")
