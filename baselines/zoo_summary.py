"""Summarises ``baselines.zoo_run`` results as a markdown table.

    python -m baselines.zoo_summary runs/seed001_t672/results.json [more results.json ...] [--plot PNG --title T]

One row per recipe and seed: updates run, the first non-finite update, the first
and the mean of the last 20 finite losses, the largest ratio between consecutive
losses (a sudden jump), the number of updates below the task's loss floor, the
median seconds per update and the validation metrics. ``--plot`` draws the
curves of all the given runs in one figure (as ``baselines.zoo_run`` does for one).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
from typing import Any

LAST = 20


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """The derived numbers of one run."""
    losses = [value for value in result["losses"] if isinstance(value, float) and math.isfinite(value)]
    ratios = [b / a for a, b in zip(losses, losses[1:]) if a > 0]
    validation = {key: value for key, value in result["validation"].items() if key != "examples"}
    return {
        "recipe": result["recipe"],
        "seed": result["seed"],
        "updates": result["steps_run"],
        "nan_update": result["nan_step"],
        "first_loss": losses[0] if losses else None,
        f"mean_last_{LAST}": sum(losses[-LAST:]) / len(losses[-LAST:]) if losses else None,
        "max_jump": max(ratios) if ratios else None,
        "below_floor": len(result["below_floor_steps"]),
        "floor": result["floor"],
        "seconds_per_update": result["median_seconds_per_update"],
        "validation": validation,
    }


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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m baselines.zoo_summary", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=pathlib.Path, help="results.json files written by baselines.zoo_run")
    parser.add_argument("--plot", type=pathlib.Path, default=None, help="also plot every run's curves into this PNG")
    parser.add_argument("--title", default="", help="title of the plot")
    args = parser.parse_args(argv)
    results = []
    for path in args.results:
        results += json.loads(path.read_text())["results"]
    print(markdown([summarise(result) for result in results]), end="")
    if args.plot is not None:
        from baselines.zoo_run import plot

        plot(results, args.plot, args.title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
