"""Summarises failure-zoo runs as a markdown table.

    python -m baselines.zoo_summary docs/stability_runs/noise_relu_lstm.json [more ...] [--plot PNG --title T]

Reads the ``results.json`` files that ``python -m baselines zoo`` writes (its
runs' ``metrics.json`` contents) or single runs' ``metrics.json`` files. One row
per recipe and seed: updates run, the first non-finite update, the first and the
mean of the last 20 finite losses, the largest ratio between consecutive losses
(a sudden jump), the number of updates below their batch's loss floor, the
median seconds per update and the validation metrics. ``--plot`` draws the
curves of all the given runs in one figure (as ``python -m baselines zoo`` does for one set).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

LAST = 20


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """The derived numbers of one run (a ``metrics.json`` of ``baselines.train``)."""
    losses = [value for value in run["per_update_loss"] if value is not None and math.isfinite(value)]
    ratios = [b / a for a, b in zip(losses, losses[1:]) if a > 0]
    validation = (run.get("final") or {}).get("validation") or {}
    floor = run.get("floor_check") or {}
    return {
        "recipe": run["recipe"],
        "seed": run["seed"],
        "updates": run["updates"],
        "nan_update": run["nan_update"],
        "first_loss": losses[0] if losses else None,
        f"mean_last_{LAST}": sum(losses[-LAST:]) / len(losses[-LAST:]) if losses else None,
        "max_jump": max(ratios) if ratios else None,
        "below_floor": len(floor.get("below_floor_updates", [])),
        "floor": run.get("loss_floor"),
        "seconds_per_update": run.get("median_seconds_per_update"),
        "validation": validation,
    }


def read_runs(path: pathlib.Path) -> list[dict[str, Any]]:
    """The runs of a ``results.json`` of ``python -m baselines zoo``, or the one run of a ``metrics.json``."""
    document = json.loads(path.read_text())
    if isinstance(document, dict) and isinstance(document.get("runs"), list):
        return document["runs"]
    if isinstance(document, dict) and "per_update_loss" in document:
        return [document]
    if isinstance(document, dict) and "results" in document:
        raise ValueError(
            f"invalid results file {str(path)!r}: written by the old zoo runner (before it trained through "
            "baselines.train); allowed: a results.json of `python -m baselines zoo` or a metrics.json; rerun its command"
        )
    raise ValueError(f"invalid results file {str(path)!r}; allowed: a results.json of `python -m baselines zoo` or a metrics.json")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_format(v)}" for k, v in value.items())
    return str(value)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    if not rows:
        return ""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_format(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m baselines.zoo_summary", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=pathlib.Path, help="results.json of `python -m baselines zoo`, or metrics.json")
    parser.add_argument("--plot", type=pathlib.Path, default=None, help="also plot every run's curves into this PNG")
    parser.add_argument("--title", default="", help="title of the plot")
    args = parser.parse_args(argv)
    try:
        runs = [run for path in args.results for run in read_runs(path)]
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown([summarise(run) for run in runs]), end="")
    if args.plot is not None:
        from baselines.zoo_run import plot

        plot(runs, args.plot, args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
