"""Difficulty curves: the stable baselines' test score as each task's difficulty knob grows.

For every task one config field is the difficulty knob; the stable baseline
(``baselines.train.train``, the same code as ``python -m baselines train``) is
trained at each knob value and scored on the test split by ``seqtasks.metrics``.
One PNG per task (matplotlib) goes to ``--plots`` (default ``docs/figures``), and a
table is printed.

| task | knob | score |
|---|---|---|
| ``reber_grammar/embedded`` | ``depth`` (nested embeddings: 1, 2, 3) | test strings solved |
| ``sequence_reversal/len1to40_vocab10`` | ``max_length`` (5, 10, 20, 40) | test sequence accuracy |
| ``char_to_vector/synthetic_d100`` | ``compositional_weight`` (1.0 .. 0.25; less is harder) | test mean cosine |
| ``random_labels/t48_f16`` | ``time_steps`` (16 .. 672) | train loss minus label entropy |

Usage::

    python -m baselines.experiments.difficulty --quick              # the recipes' quick sizes, 1 seed
    python -m baselines.experiments.difficulty --seeds 3 --json out.json
    python -m baselines.experiments.difficulty --tasks reber_grammar --models lstm gru
    python -m baselines.experiments.difficulty --replot benchmarks/results/difficulty_full_*.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines.experiments import machine_description, write_json
from baselines.quiet import import_tensorflow
from baselines.recipes import MODEL_KINDS

COMMAND = "python -m baselines.experiments.difficulty"
"""How the experiment is run (its ``--help`` and the command its ``--json`` records)."""

FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures"
"""The default folder of the plots: the checkout's ``docs/figures``."""


@dataclasses.dataclass(frozen=True)
class Curve:
    """One task's difficulty sweep.

    Attributes:
        task: ``"task/config"`` trained on.
        knob: Config field that sets the difficulty.
        values: Knob values, easiest first.
        fixed: Other config overrides applied at every point.
        models: Stable baselines trained (``lstm``, ``gru``, ``bilstm``, ``bigru``).
        score_split: Split whose score is plotted (``"train"``: the final training loss).
        score_key: Metric name in ``metrics.json``'s ``final[split]``.
        score_label: Axis label.
    """

    task: str
    knob: str
    values: tuple[Any, ...]
    fixed: dict[str, Any]
    models: tuple[str, ...]
    score_split: str
    score_key: str
    score_label: str


CURVES: tuple[Curve, ...] = (
    Curve("reber_grammar/embedded", "depth", (1, 2, 3), {"max_length": 60, "long_max_length": None},
          ("lstm",), "test", "strings_solved", "test strings solved"),
    # 10 symbols, not 2: binary strings of length <= 5 are so few that the test split would hold
    # only a handful of distinct (and mostly the longest) strings.
    Curve("sequence_reversal/len1to40_vocab10", "max_length", (5, 10, 20, 40), {"long_max_length": None},
          ("bilstm",), "test", "sequence_accuracy", "test sequence accuracy"),
    Curve("char_to_vector/synthetic_d100", "compositional_weight", (1.0, 0.75, 0.5, 0.25), {},
          ("lstm",), "test", "mean_cosine", "test mean cosine"),
    Curve("random_labels/t48_f16", "time_steps", (16, 48, 168, 672), {},
          ("lstm",), "train", "loss_minus_entropy", "final train loss - label entropy (nats)"),
)


def score_of(result: dict[str, Any], curve: Curve) -> float:
    """The plotted score of one training run."""
    if curve.score_split == "train":
        entropy = result["final"]["test"]["label_entropy"]  # the population floor, which the task reports
        return float(result["final_train_loss"]) - float(entropy)
    return float(result["final"][curve.score_split][curve.score_key])


def run_curve(
    curve: Curve, models: Sequence[str], seeds: Sequence[int], quick: bool, epochs: int | None, scratch: str
) -> list[dict[str, Any]]:
    """Trains every (model, knob value, seed) of one curve.

    Args:
        curve: The sweep.
        models: Models to train (overrides ``curve.models`` when non-empty).
        seeds: Seeds per point.
        quick: Use the recipes' quick sizes.
        epochs: Epochs per run (``None``: the recipe's or its quick setting).
        scratch: Directory for the run directories.

    Returns:
        One dict per (model, knob value): the scores per seed and their median.
    """
    from baselines.models import recipe_name
    from baselines.train import train

    task_name = curve.task.partition("/")[0]
    points = []
    for model in models or curve.models:
        for value in curve.values:
            scores = []
            for seed in seeds:
                result = train(
                    recipe_name(task_name, model),
                    task=curve.task,
                    seed=seed,
                    epochs=epochs,
                    quick=quick,
                    task_overrides={**curve.fixed, curve.knob: value},
                    out=os.path.join(scratch, f"{task_name}_{model}_{curve.knob}{value}_seed{seed}"),
                    verbose=0,
                )
                scores.append(score_of(result, curve))
            points.append(
                {"task": curve.task, "model": model, "knob": curve.knob, "value": value, "scores": scores,
                 "median": statistics.median(scores)}
            )
            print(f"{curve.task} {model} {curve.knob}={value}: {curve.score_label} {points[-1]['median']:.3f}",
                  flush=True)
    return points


def plot_curve(curve: Curve, points: list[dict[str, Any]], path: str, seeds: int) -> None:
    """Writes one PNG: the score against the knob, one line per model (median over seeds) and,
    with more than one seed, a band from the worst to the best seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5), dpi=120)
    for model in dict.fromkeys(point["model"] for point in points):
        mine = [point for point in points if point["model"] == model]
        positions = range(len(mine))
        line = axis.plot(positions, [p["median"] for p in mine], marker="o", label=model)[0]
        if any(len(p["scores"]) > 1 for p in mine):
            axis.fill_between(positions, [min(p["scores"]) for p in mine], [max(p["scores"]) for p in mine],
                              alpha=0.15, color=line.get_color())
        axis.set_xticks(list(positions), [str(p["value"]) for p in mine])
    axis.set_xlabel(curve.knob)
    axis.set_ylabel(curve.score_label)
    band = ", band: min..max" if seeds > 1 else ""
    axis.set_title(f"{curve.task} (median of {seeds} seed{'s' if seeds > 1 else ''}{band})", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def replot(paths: Sequence[str], plots: str) -> list[str]:
    """Redraws the figures of recorded runs (``--json`` outputs) without training; returns the PNG paths."""
    import json

    written = []
    for source in paths:
        points = json.loads(Path(source).read_text())["points"]
        for curve in CURVES:
            mine = [point for point in points if point["task"] == curve.task and point["knob"] == curve.knob]
            if mine:
                path = os.path.join(plots, f"difficulty_{curve.task.partition('/')[0]}.png")
                plot_curve(curve, mine, path, max(len(point["scores"]) for point in mine))
                written.append(path)
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the recipes' quick sizes and epochs")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per point, 0..N-1 (default 1)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the recipe's)")
    parser.add_argument("--tasks", nargs="*", default=None, help="only these task names")
    parser.add_argument(
        "--models", nargs="*", default=None, choices=MODEL_KINDS, help="models to train (default: per task)"
    )
    parser.add_argument("--plots", default=str(FIGURES), help="directory of the PNGs (default docs/figures)")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the results to this JSON file")
    parser.add_argument(
        "--replot", nargs="+", metavar="JSON", default=None,
        help="train nothing: redraw the figures from these --json outputs",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"invalid --seeds={args.seeds}; allowed: an integer >= 1")
    known = [curve.task.partition("/")[0] for curve in CURVES]
    for name in args.tasks or ():
        if name not in known:
            parser.error(f"invalid --tasks {name!r}; allowed: " + ", ".join(known))
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the sweeps, writes the plots and prints the table.

    Args:
        argv: Command-line arguments (``None``: ``sys.argv``).

    Returns:
        The points of every curve and the machine description.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    os.makedirs(args.plots, exist_ok=True)
    if args.replot:
        for path in replot(args.replot, args.plots):
            print(f"wrote {path}", flush=True)
        return {"replotted": args.replot}
    import_tensorflow()
    curves = [c for c in CURVES if not args.tasks or c.task.partition("/")[0] in args.tasks]
    all_points = []
    with tempfile.TemporaryDirectory(prefix="seqtasks_difficulty_") as scratch:
        for curve in curves:
            points = run_curve(curve, args.models or (), range(args.seeds), args.quick, args.epochs, scratch)
            path = os.path.join(args.plots, f"difficulty_{curve.task.partition('/')[0]}.png")
            plot_curve(curve, points, path, args.seeds)
            print(f"wrote {path}", flush=True)
            all_points.extend(points)
    command = shlex.join([*COMMAND.split(), *argv])
    payload = {"benchmark": "difficulty", "command": command, "quick": args.quick, "points": all_points,
               "machine": machine_description()}
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
