"""``python -m baselines compare RECORD.json ... --out DIR``: the published table with your model's rows added.

Reads the grid (``docs/results.json``) and the records of ``seqtasks.score`` / ``seqtasks score``
(``docs/results.schema.json``, ``$defs/scored_run``), and writes ``DIR/comparison.md``,
``DIR/comparison.tex`` and one figure per config with added rows (``DIR/figures/``). The
columns, the cells (mean ± std and the best seed, ``baselines.report.aggregate``) and the table
code are those of the results page. A record that departs from the protocol (another budget,
other training data, other evaluation data or dataset version) is its own row, flagged with a
dagger and its departures; it is never pooled with protocol runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from baselines.report import (
    _escape_latex,
    _reference_cell,
    columns_of,
    latex_table,
    markdown_table,
    table_row,
)
from seqtasks.metrics import ReportColumn

DEFAULT_GRID = Path(__file__).resolve().parents[1] / "docs" / "results.json"
FLAG = "†"
RECORD_KEYS = ("kind", "dataset", "config", "dataset_version", "fingerprints", "model", "framework", "seed",
               "follows_protocol", "departures", "metrics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``compare`` subcommand's options."""
    parser.add_argument("records", nargs="+", type=Path, help="records of seqtasks.score / `seqtasks score` (JSON)")
    parser.add_argument("--out", required=True, type=Path, help="folder for comparison.md, .tex and figures/")
    parser.add_argument("--grid", type=Path, default=DEFAULT_GRID, help="the published grid (docs/results.json)")


def read_record(path: Path) -> dict[str, Any]:
    """One scored record, checked for the fields a row needs."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"invalid record {str(path)!r}: {error}; allowed: a JSON record of seqtasks.score") from error
    missing = [key for key in RECORD_KEYS if key not in record] if isinstance(record, dict) else list(RECORD_KEYS)
    if missing or record.get("kind") != "seqtasks.score":
        raise ValueError(f"invalid record {str(path)!r}: missing {', '.join(missing) or 'kind=seqtasks.score'}; "
                         "allowed: a record written by seqtasks.score or `seqtasks score`")
    return record


def as_run(record: Mapping[str, Any], ceiling: Mapping[str, Any]) -> dict[str, Any]:
    """A ``results.json`` or scored record as the ``metrics.json`` fields the report's columns read."""
    return {**record, "task": record["dataset"], "task_config": record["config"], "final": record["metrics"],
            "ceiling": {"test": dict(ceiling)}}


def grid_flags(record: Mapping[str, Any], grid_runs: Sequence[Mapping[str, Any]], version: str | None) -> list[str]:
    """The record's departures, plus evaluation data that differs from the grid's (fingerprints, version)."""
    flags = list(record.get("departures") or [])
    if version is not None and record["dataset_version"] != version:
        flags.append(f"dataset version {record['dataset_version']} (the grid: {version})")
    published = grid_runs[0]["fingerprints"] if grid_runs else {}
    other = sorted(split for split, digest in record["fingerprints"].items() if published.get(split, digest) != digest)
    if other:
        flags.append("scored on other data than the grid (fingerprints differ: " + ", ".join(other) + ")")
    return flags


def _user_groups(records: Sequence[Mapping[str, Any]], grid: Mapping[str, Any]) -> dict[str, dict[tuple, list]]:
    """``{dataset: {(label, flags): [records]}}``: one row per model, framework and set of departures."""
    groups: dict[str, dict[tuple, list]] = {}
    for record in records:
        dataset = record["dataset"]
        runs = [run for run in grid["runs"] if run["dataset"] == dataset]
        entry = _task_entry(grid, dataset)
        flags = tuple(grid_flags(record, runs, entry["dataset_version"] if entry else None))
        label = f"{record['model']} ({record['framework']})" + (f" {FLAG}" if flags else "")
        groups.setdefault(dataset, {}).setdefault((label, flags), []).append(record)
    return groups


def _task_entry(grid: Mapping[str, Any], dataset: str) -> Mapping[str, Any] | None:
    return next((entry for entry in grid["tasks"].values() if entry["dataset"] == dataset), None)


def _user_row(label: str, runs: Sequence[Mapping[str, Any]], columns: Sequence[ReportColumn], planned: int) -> list[str]:
    """A row of added records: as the grid's, with ``–`` where no record has the column (e.g. CPU time)."""
    row = table_row(label, runs, columns, planned)
    for index, column in enumerate(columns, start=3):
        if all(column.read(run) is None for run in runs):
            row[index] = "–"
    return row


def dataset_table(dataset: str, grid: Mapping[str, Any], added: Mapping[tuple, list]) -> dict[str, Any]:
    """Header, rows (grid models, reference predictors, added models) and footnotes of one config's table."""
    entry = _task_entry(grid, dataset)
    ceiling = entry["ceiling"] if entry else {}
    grid_runs = [as_run(run, ceiling) for run in grid["runs"] if run["dataset"] == dataset]
    user_runs = {key: [as_run(record, ceiling) for record in records] for key, records in added.items()}
    columns = columns_of(grid_runs[0] if grid_runs else next(iter(user_runs.values()))[0])
    planned = int(entry["seeds"]) if entry else 5
    header = ["model", "seeds", "parameters", *[column.label for column in columns]]
    rows = []
    for model in dict.fromkeys(run["model"] for run in grid_runs):
        rows.append(table_row(model, [run for run in grid_runs if run["model"] == model], columns, planned))
    for predictor in entry["reference_predictors"] if entry else []:
        label = f"*{predictor['name']}*" + (" *(bound)*" if predictor.get("bound") else "")
        rows.append([label, "–", "–", *[_reference_cell(predictor, column) for column in columns]])
    first_added = len(rows)
    notes = []
    for (label, flags), runs in user_runs.items():
        rows.append(_user_row(f"**{label}**", runs, columns, planned))
        if flags:
            notes.append(f"{FLAG} {label.removesuffix(' ' + FLAG)} does not follow the protocol: " + "; ".join(flags))
    return {"dataset": dataset, "header": header, "rows": rows, "first_added": first_added, "notes": notes,
            "columns": columns, "user_runs": user_runs, "grid_runs": grid_runs, "planned": planned}


def write_comparison(records: Sequence[Mapping[str, Any]], grid: Mapping[str, Any], out: Path) -> list[Path]:
    """Writes ``comparison.md``, ``comparison.tex`` and one figure per config with added rows."""
    groups = _user_groups(records, grid)
    datasets = list(dict.fromkeys([entry["dataset"] for entry in grid["tasks"].values()] + list(groups)))
    lines = ["# Your models next to the published baselines", "",
             f"Produced by: `{grid.get('command', '')}` (the grid) and the records given to "
             "`python -m baselines compare`; cells are mean ± sample std over seeds and the best seed. "
             f"Added rows are in bold; {FLAG}: the row does not follow the protocol (its departures are listed "
             "under the table) and is not comparable with the grid's rows as a benchmark result.", ""]
    latex = ["% Produced by: python -m baselines compare"]
    figures = []
    for dataset in datasets:
        table = dataset_table(dataset, grid, groups.get(dataset, {}))
        lines += [f"## {dataset}", "", *markdown_table(table["header"], table["rows"]), ""]
        lines += [f"- {note}" for note in table["notes"]]
        caption = (f"Models on \\texttt{{{_escape_latex(dataset)}}} (mean $\\pm$ std, best seed in parentheses); "
                   "bold: added models.")
        latex += latex_table(caption, table["header"], [[cell.replace("**", "") for cell in row] for row in table["rows"]],
                             table["notes"])
        if table["user_runs"]:
            figure = out / "figures" / f"{dataset.replace('/', '-')}.png"
            plot_comparison(table, figure)
            figures.append(figure)
            lines += ["", f"![{dataset}](figures/{figure.name})"]
        lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.md").write_text("\n".join(lines) + "\n")
    (out / "comparison.tex").write_text("\n".join(latex) + "\n")
    return [out / "comparison.md", out / "comparison.tex", *figures]


def plot_comparison(table: Mapping[str, Any], path: Path) -> None:
    """The first column's value per seed and its mean for every model of one config (added ones in colour)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    column = next(c for c in table["columns"] if c.split is not None)
    groups = [(model, [run for run in table["grid_runs"] if run["model"] == model], False)
              for model in dict.fromkeys(run["model"] for run in table["grid_runs"])]
    groups += [(label, runs, True) for (label, _), runs in table["user_runs"].items()]
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(groups) + 1.5))
    for row, (label, runs, added) in enumerate(groups):
        values = [float(v) for v in (column.read(run) for run in runs) if isinstance(v, (int, float))]
        colour = "tab:red" if added else "tab:grey"
        axis.scatter(values, [row] * len(values), color=colour, alpha=0.6, s=18)
        if values:
            axis.scatter([sum(values) / len(values)], [row], color=colour, marker="|", s=300)
    axis.set_yticks(range(len(groups)), [label for label, _, _ in groups])
    axis.set_xlabel(column.label)
    axis.set_title(f"{table['dataset']}: seeds (dots), mean (bar); red: added", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run_from_args(args: argparse.Namespace) -> int:
    """``python -m baselines compare``: reads everything first, then writes."""
    records = [read_record(path) for path in args.records]
    try:
        grid = json.loads(Path(args.grid).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"invalid --grid={str(args.grid)!r}: {error}; allowed: a results.json") from error
    for path in write_comparison(records, grid, Path(args.out)):
        print(f"wrote {path}")
    return 0
