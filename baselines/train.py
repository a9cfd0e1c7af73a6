"""``python -m baselines train ...``: the command line of the one trainer (:mod:`baselines.trainer`).

    python -m baselines train --task reber_grammar/embedded --model lstm --seed 0 --out runs/x
    python -m baselines train --recipe reber_softmax_lstm --steps 1000 --locate-nan

What a run writes (``model.keras``, ``metrics.json``, ``history.csv``,
``curves.png``, the length report) and how it resumes is described in
:mod:`baselines.trainer`. The trainer's names are importable from here too
(``from baselines.train import train``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from baselines.data import PUBLISHED_SEED
from baselines.catalog import list_recipes
from baselines.recipes import ALL_MODEL_KINDS
from baselines.records import jsonable as _jsonable  # the name tests import from here
from baselines.trainer import STRATEGIES, make_strategy, resolve_recipe, train
from seqtasks import metrics as task_metrics

__all__ = ["train", "resolve_recipe", "make_strategy", "list_recipes", "STRATEGIES"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` command's flags."""
    parser.add_argument("--task", help="task/config, e.g. reber_grammar/embedded (default: the recipe's)")
    parser.add_argument("--model", choices=ALL_MODEL_KINDS, help="stable baseline to train")
    parser.add_argument("--recipe", help="a registered recipe instead of --model (see `python -m baselines recipes`)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batch order")
    parser.add_argument(
        "--data-seed",
        type=int,
        default=PUBLISHED_SEED,
        help="seed of the training data (default 0: the published train split; evaluation is always on the "
        "published splits); another value is a data-variance study and is recorded as such",
    )
    parser.add_argument(
        "--fresh-data",
        action="store_true",
        default=None,
        help="train on fresh examples every update (seqtasks.stream) instead of epochs over the train split",
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="train exactly N updates instead of --epochs (with fresh data: one epoch of N fresh batches)",
    )
    parser.add_argument("--units", type=int, default=None, help="override the recipe's recurrent width (build override)")
    parser.add_argument(
        "--lr", "--learning-rate", dest="learning_rate", type=float, default=None,
        help="override the recipe's learning rate (build override)",
    )
    parser.add_argument("--out", default=None, help="output directory (default runs/<recipe>/seed<seed>)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default")
    parser.add_argument("--deterministic", action="store_true", help="tf.config.experimental.enable_op_determinism")
    parser.add_argument("--quick", action="store_true", help="small sizes and few epochs")
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--eval-size", type=int, default=None)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument(
        "--locate-nan",
        action="store_true",
        help="watch every update with the stability kit's NaNLocator; writes nan_report.json/.md on a failure",
    )
    parser.add_argument(
        "--no-floor-check",
        dest="floor_check",
        action="store_false",
        help="turn off the FloorDetector (on by default: its verdict goes to metrics.json floor_check)",
    )


def build_overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--units`` and ``--lr`` flags that were given, as ``build`` keywords."""
    pairs = (("units", getattr(args, "units", None)), ("learning_rate", getattr(args, "learning_rate", None)))
    return {key: value for key, value in pairs if value is not None}


def run_from_args(args: argparse.Namespace, command: str | None = None) -> int:
    """Runs ``train`` from parsed flags and prints where the results are."""
    from baselines.findings import TimeEstimate, print_findings

    recipe = resolve_recipe(args.recipe, args.task, args.model)
    result = train(
        recipe,
        task=args.task,
        seed=args.seed,
        epochs=args.epochs,
        out=args.out,
        strategy=args.strategy,
        deterministic=args.deterministic,
        quick=args.quick,
        train_size=args.train_size,
        eval_size=args.eval_size,
        verbose=args.verbose,
        locate_nan=args.locate_nan,
        floor_check=getattr(args, "floor_check", True),
        command=command,
        data_seed=args.data_seed,
        fresh_data=args.fresh_data,
        steps=getattr(args, "steps", None),
        build_overrides=build_overrides_from_args(args),
        callbacks=[TimeEstimate(max_updates=getattr(args, "steps", None))],
    )
    summary = {split: task_metrics.scalars(values) for split, values in result["final"].items()}
    print(json.dumps({"recipe": result["recipe"], "task": result["task"], "final": _jsonable(summary)}, indent=2))
    print_findings(result)  # the NaN locator's, floor detector's and linter's findings, where the user looks
    return 0
