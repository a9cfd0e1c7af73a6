"""How the trained Stack-RNNs use their stack on ``reverse_string``: push / pop / no-op on reading and writing steps.

Reversal has a stack solution: push every symbol while reading, pop one per writing step. This
measures whether the trained models found it. For each finished ``stack_rnn`` run of the grid (its
``model.keras`` under ``--runs-dir``), the published evaluation split is run through the model's
:class:`baselines.architectures.StackRNN` layer with ``return_actions=True`` and the action
probabilities are averaged over the reading steps (input symbols) and over the writing steps (the
scored blanks, the batches' weights), separately; padded steps are left out. Also recorded: the share
of steps whose most probable action is push / pop / no-op, and the token accuracy of the same run on
the same examples (a check that the analysed model is the scored one). Each run's length scores
(its ``metrics.json``) are copied beside its statistics, to read the use of the stack against length
generalisation.

Writes ``<out>/stack_usage_<config>.json``.

Usage::

    python -m baselines.experiments.stack_usage [--split validation] [--runs-dir runs/reproduce]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

COMMAND = "python -m baselines.experiments.stack_usage"
REPO = Path(__file__).resolve().parents[2]
TASK = "sequence_reversal/reverse_string"
PHASES = ("reading", "writing")


def phase_masks(real: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean ``(n, T)`` masks of the reading steps (real, not scored) and the writing steps (real, scored)."""
    writing = real & (weights > 0)
    return {"reading": real & ~writing, "writing": writing}


def accumulate(totals: dict[str, np.ndarray], actions: np.ndarray, masks: dict[str, np.ndarray]) -> None:
    """Adds one batch's action probabilities ``(n, T, 3)`` to ``totals``, per phase.

    ``totals[phase]`` holds 7 numbers: the three probability sums, the three counts of steps whose most
    probable action is each action, and the number of steps.
    """
    for phase, mask in masks.items():
        chosen = actions[mask]
        counts = np.bincount(chosen.argmax(axis=-1), minlength=3)
        totals[phase] += np.concatenate([chosen.sum(axis=0), counts, [len(chosen)]])


def summarise(totals: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per phase: mean probability of each action, share of steps where it is the most probable, steps."""
    from baselines.architectures import STACK_ACTIONS

    summary = {}
    for phase, total in totals.items():
        steps = max(total[6], 1.0)
        summary[phase] = {
            **{f"mean_{action}": float(total[i] / steps) for i, action in enumerate(STACK_ACTIONS)},
            **{f"argmax_{action}": float(total[3 + i] / steps) for i, action in enumerate(STACK_ACTIONS)},
            "steps": int(total[6]),
        }
    return summary


def analyse_run(model_path: Path, batches: Iterable[Any]) -> dict[str, Any]:
    """Action statistics of one saved Stack-RNN model over ``batches`` (protocol evaluation batches)."""
    import keras

    from baselines.architectures import StackRNN

    model = keras.models.load_model(model_path)
    position = next(i for i, layer in enumerate(model.layers) if isinstance(layer, StackRNN))
    stack, head = model.layers[position], model.layers[position + 1:]  # head: per-step layers (ReLU, Dense)
    totals = {phase: np.zeros(7) for phase in PHASES}
    correct = scored = 0.0
    for batch in batches:
        real = batch.real_steps
        hidden, actions = stack(batch.one_hot, mask=real, return_actions=True)
        accumulate(totals, np.asarray(actions), phase_masks(real, batch.weights))
        for layer in head:
            hidden = layer(hidden)
        predicted = np.asarray(hidden).argmax(axis=-1)
        correct += float(((predicted == batch.targets) * batch.weights).sum())
        scored += float(batch.weights.sum())
    keras.backend.clear_session()
    metrics = model_path.with_name("metrics.json")
    length_scores = json.loads(metrics.read_text()).get("length_scores") if metrics.exists() else None
    return {
        "model": str(model_path), **summarise(totals), "token_accuracy": correct / max(scored, 1.0),
        "length_scores": length_scores,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", default="runs/reproduce", help="the grid's per-run outputs (model.keras)")
    parser.add_argument("--split", default="validation", help="published split to analyse (default validation)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder of the JSON")
    args = parser.parse_args(argv)
    try:
        from baselines.quiet import import_tensorflow

        import_tensorflow()
        import seqtasks
        from baselines.experiments import machine_description, write_json

        protocol = seqtasks.protocol(TASK)
        if args.split not in protocol.eval_sizes:
            raise ValueError(f"invalid split={args.split!r}; allowed: one of " + ", ".join(protocol.eval_sizes))
        models = sorted((Path(args.runs_dir) / TASK / "stack_rnn").glob("seed*/model.keras"))
        if not models:
            raise ValueError(f"invalid --runs-dir={args.runs_dir!r}; allowed: a folder with {TASK}/stack_rnn/seed*/model.keras")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    runs = {path.parent.name: analyse_run(path, protocol.eval_batches(args.split)) for path in models}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_json(str(Path(args.out) / f"stack_usage_{TASK.replace('/', '-')}.json"), {
        "experiment": COMMAND,
        "command": COMMAND + " " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "task": TASK, "split": args.split, "runs": runs, "machine": machine_description(),
    })
    for seed, run in runs.items():
        reading, writing = run["reading"], run["writing"]
        print(f"{seed}: reading push {reading['mean_push']:.3f} pop {reading['mean_pop']:.3f}; writing push "
              f"{writing['mean_push']:.3f} pop {writing['mean_pop']:.3f}; token accuracy {run['token_accuracy']:.4f}; "
              f"length scores {run['length_scores']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
