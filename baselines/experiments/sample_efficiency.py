"""Embedded Reber: training sequences until the test set is solved, next to the 1997 LSTM paper's Table 1.

Trains the stable baseline (``python -m baselines train --model lstm --task
reber_grammar/embedded``, recipe ``stable_lstm_reber_grammar``) once per seed.
The baseline's training loop scores the test strings every
``eval_every_sequences`` training sequences and records the first count at
which every test string is solved (``sequences_to_solve_test`` in its
``metrics.json``): the criterion of Hochreiter & Schmidhuber (1997),
experiment 1, where a string counts as solved when every next symbol's
prediction is right. A run that has not solved the test set when its epochs
run out counts as a failure. The script prints the median over *all* seeds
(a failure counts as "more than the budget") and the success rate, next to
the rows of the paper's Table 1 that the issue quotes.

Usage::

    python -m baselines.experiments.sample_efficiency                  # 10 seeds, the recipe's epochs
    python -m baselines.experiments.sample_efficiency --seeds 3 --epochs 20
    python -m baselines.experiments.sample_efficiency --model gru --json out.json
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import statistics
import sys
import tempfile
from typing import Any

from baselines.experiments import machine_description, write_json
from baselines.quiet import import_tensorflow
from baselines.recipes import MODEL_KINDS

COMMAND = "python -m baselines.experiments.sample_efficiency"
"""How the experiment is run (its ``--help`` and the command its ``--json`` records)."""

TASK = "reber_grammar/embedded"

# Hochreiter & Schmidhuber (1997), Table 1 (embedded Reber grammar), the rows quoted in issue 6:
# (method, success rate, training sequences until success).
PAPER_ROWS: tuple[tuple[str, str, str], ...] = (
    ("LSTM (best row of Table 1)", "100%", "8,440"),
    ("RTRL", "some runs", "25,000 - 173,000"),
    ("RCC", "50%", "182,000"),
)


def summarise(sequences_to_solve: list[int | None], budget: int) -> dict[str, Any]:
    """Median and success rate of per-seed results.

    Args:
        sequences_to_solve: Per seed, training sequences until the test set was solved, or ``None``.
        budget: Training sequences each run was allowed (what a failure is "more than").

    Returns:
        ``runs``, ``successes``, ``success_rate``, ``median`` (``math.inf`` when most runs
        failed), ``median_of_successes`` and ``budget``.
    """
    if not sequences_to_solve:
        raise ValueError("invalid sequences_to_solve=[]; allowed: at least one run")
    solved = sorted(value for value in sequences_to_solve if value is not None)
    # Failures sort after every success: they needed more than the budget.
    ordered = solved + [math.inf] * (len(sequences_to_solve) - len(solved))
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return {
        "runs": len(sequences_to_solve),
        "successes": len(solved),
        "success_rate": len(solved) / len(sequences_to_solve),
        "median": median,
        "median_of_successes": float(statistics.median([float(v) for v in solved])) if solved else None,
        "budget": budget,
    }


def stop_when_solved_callback(run_dir: str):
    """A Keras callback that ends training at the end of the epoch in which the test set was solved.

    It reads the run state that the baseline's trainer saves at every epoch end
    (``<run_dir>/backup/run_state.json``), so the count it stops on is the
    trainer's own ``sequences_to_solve_test``; the remaining epochs would not change it.

    Args:
        run_dir: The run's output directory.

    Returns:
        The callback.
    """
    import json

    import keras

    state_path = os.path.join(run_dir, "backup", "run_state.json")

    class StopWhenSolved(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001, ARG002 - Keras signature
            if os.path.exists(state_path):
                with open(state_path, encoding="utf-8") as handle:
                    if json.load(handle).get("solved_at_sequences") is not None:
                        self.model.stop_training = True

    return StopWhenSolved()


def run_seeds(
    model: str, seeds: list[int], epochs: int | None, out_root: str, keep_training: bool = False
) -> list[dict[str, Any]]:
    """Trains the stable baseline once per seed.

    Args:
        model: ``lstm``, ``gru``, ``bilstm`` or ``bigru``.
        seeds: Seeds to run.
        epochs: Epochs per run (``None``: the recipe's).
        out_root: Directory that receives one run directory per seed.
        keep_training: Train all epochs even after the test set is solved (slower, same counts).

    Returns:
        One dict per seed with its ``sequences_to_solve_test``, sequences seen and wall time.
    """
    from baselines.models import recipe_name
    from baselines.train import train

    recipe = recipe_name("reber_grammar", model)
    runs = []
    for seed in seeds:
        run_dir = os.path.join(out_root, f"seed{seed}")
        callbacks = () if keep_training else (stop_when_solved_callback(run_dir),)
        result = train(recipe, task=TASK, seed=seed, epochs=epochs, out=run_dir, verbose=0, callbacks=callbacks)
        runs.append(
            {
                "seed": seed,
                "sequences_to_solve_test": result.get("sequences_to_solve_test"),
                "sequences_seen": result["sequences_seen"],
                "epochs": result["epochs"],
                "epochs_completed": result["epochs_completed"],
                "train_size": result["train_size"],
                "wall_time_s": result["wall_time_s"],
                "test_strings_solved": result["final"]["test"].get("strings_solved"),
            }
        )
        solved = runs[-1]["sequences_to_solve_test"]
        print(
            f"seed {seed}: {'solved after ' + format(solved, ',') + ' sequences' if solved else 'not solved'} "
            f"({result['sequences_seen']:,} sequences seen, {result['wall_time_s']:.0f} s)",
            flush=True,
        )
    return runs


def print_report(summary: dict[str, Any], model: str) -> None:
    """Prints our row next to the paper's rows."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Embedded Reber grammar: training sequences until the test set is solved")
    for column in ("method", "success rate", "training sequences (median)"):
        table.add_column(column)
    median = summary["median"]
    median_text = f"> {summary['budget']:,} (budget)" if math.isinf(median) else f"{median:,.0f}"
    table.add_row(
        f"seqtasks stable_{model} ({summary['runs']} seeds)",
        f"{summary['success_rate']:.0%} ({summary['successes']}/{summary['runs']})",
        median_text,
    )
    for row in PAPER_ROWS:
        table.add_row(f"1997 Table 1: {row[0]}", row[1], row[2])
    Console(width=160).print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lstm", choices=MODEL_KINDS)
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds, 0..N-1 (default 10)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the recipe's)")
    parser.add_argument("--keep-training", action="store_true", help="train all epochs even once solved")
    parser.add_argument("--out", default=None, help="keep the run directories here (default: a temporary one)")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"invalid --seeds={args.seeds}; allowed: an integer >= 1")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"invalid --epochs={args.epochs}; allowed: an integer >= 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the seeds, prints the comparison and returns it.

    Args:
        argv: Command-line arguments (``None``: ``sys.argv``).

    Returns:
        Per-seed runs, the summary and the machine description.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    import_tensorflow()
    with tempfile.TemporaryDirectory(prefix="seqtasks_sample_efficiency_") as scratch:
        runs = run_seeds(args.model, list(range(args.seeds)), args.epochs, args.out or scratch, args.keep_training)
    from baselines.models import recipe_name
    from baselines.catalog import get_recipe

    recipe = get_recipe(recipe_name("reber_grammar", args.model))
    budget = (args.epochs or recipe.epochs) * max(run["train_size"] for run in runs)
    summary = summarise([run["sequences_to_solve_test"] for run in runs], budget)
    machine = machine_description()
    print_report(summary, args.model)
    payload = {
        "benchmark": "sample_efficiency",
        "command": shlex.join([*COMMAND.split(), *argv]),
        "task": TASK,
        "model": args.model,
        "runs": runs,
        "summary": {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in summary.items()},
        "paper_rows": PAPER_ROWS,
        "machine": machine,
    }
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
