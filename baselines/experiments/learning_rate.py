"""One learning-rate rule for every model: Deletang et al.'s three rates, selected by validation on seed 0.

Deletang et al. (2023), "Neural Networks and the Chomsky Hierarchy" (ICLR), Section 4 (experimental setup):
every (task, architecture) is trained with Adam and gradient clipping at the learning rates
1e-4, 3e-4 and 5e-4 (``RULE_RATES`` in ``baselines.learning_rates``), 10 seeds each, and the best run is reported. The rule here: for
each (config, model), train seed 0 of the stable recipe at each of the three rates, score the
validation split's headline metric every ``--eval-every`` updates, and select the rate with the best
validation metric at the end of the run (ties: the lower final validation loss, then the lower rate).
``--updates N`` trains N updates instead of the recipe's budget (a stated shorter selection budget); the selection never looks at a test split.

Writes ``<out>/learning_rate_<config>.json`` (the curves, each run's final validation metric and CPU
time, the selected rate, the recipe's rate today) and ``<figures>/learning_rate_<config>.png`` (one panel
per model: validation headline metric over updates, one line per rate). The selected rates become the
recipes' rates (``SELECTED_LEARNING_RATES`` in ``baselines.learning_rates``).
Runs resume: a (model, rate) whose run directory holds its finished curve is not trained again.

Usage::

    python -m baselines.experiments.learning_rate --task sequence_reversal/reverse_string \\
        --models stack_rnn rnn transformer lstm gru --updates 1000
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from baselines.learning_rates import RULE_RATES

COMMAND = "python -m baselines.experiments.learning_rate"
REPO = Path(__file__).resolve().parents[2]


def select(finals: dict[float, tuple[float, float]]) -> float | None:
    """The rate with the highest final validation metric, ties broken by the lower final validation loss,
    then by the lower rate (``finals``: ``{rate: (metric, loss)}``); ``None`` when empty."""
    scored = [(metric, -loss, -rate, rate) for rate, (metric, loss) in finals.items()]
    return max(scored)[3] if scored else None


def _curve_callback(task: Any, arrays: Any, target: Any, headline: str, every: int, curve: list) -> Any:
    """A Keras callback that appends ``[update, validation headline]`` to ``curve`` every ``every`` updates."""
    import keras

    from baselines.scoring import score

    class Curve(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            update = int(self.model.optimizer.iterations.numpy())
            if update % every == 0 and (not curve or curve[-1][0] != update):
                metrics = score(task, self.model, arrays, target)
                curve.append([update, float(metrics[headline])])

    return Curve()


def run_one(task_name: str, model: str, rate: float, updates: int | None, every: int, out: Path) -> dict[str, Any]:
    """Trains seed 0 of ``model``'s stable recipe for ``task_name`` at ``rate``; returns its record
    (the finished record in ``out`` when there is one)."""
    record_path = out / "selection.json"
    if record_path.exists():
        return json.loads(record_path.read_text())
    import keras

    import seqtasks
    from baselines.data import PUBLISHED_SEED, split_arrays
    from baselines.models import recipe_name
    from baselines.catalog import get_recipe
    from baselines.trainer import train

    recipe = get_recipe(recipe_name(task_name, model))
    task = seqtasks.make(recipe.task)
    size = task.published_size("validation")
    arrays = split_arrays(task, "validation", size, PUBLISHED_SEED, recipe.inputs, recipe.target)
    headline = task.headline_metric(recipe.target)
    curve: list[list[float]] = []
    started = time.process_time()
    argv = ["--model", model, "--task", recipe.task, "--seed", "0", "--lr", repr(rate)]
    argv += ["--steps", str(updates)] if updates else []
    run = train(
        recipe, seed=0, steps=updates, out=out, verbose=0, build_overrides={"learning_rate": rate},
        eval_size=size,
        callbacks=[_curve_callback(task, arrays, recipe.target, headline, every, curve)],
        command="python -m baselines train " + shlex.join([*argv, "--eval-size", str(size)]),
    )
    keras.backend.clear_session()
    final = run["final"]["validation"][headline]
    if not curve or curve[-1][0] != run["updates"]:
        curve.append([run["updates"], float(final)])
    record = {
        "model": model, "learning_rate": rate, "updates": run["updates"], "headline_metric": headline,
        "final_validation": float(final), "final_validation_loss": float(run["per_epoch"][-1]["val_loss"]),
        "curve": curve, "cpu_time_s": run["cpu_time_s"],
        "cpu_time_with_curve_s": time.process_time() - started, "recipe_learning_rate": recipe.learning_rate,
        "command": run["command"],
    }
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record


def plot(config: str, results: dict[str, dict[str, Any]], path: Path) -> None:
    """One panel per model: the validation headline metric over updates, one line per rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results)
    figure, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 3.0), squeeze=False, sharey=True)
    for axis, model in zip(axes[0], models):
        for rate, run in results[model]["runs"].items():
            points = list(zip(*run["curve"])) if run["curve"] else ([], [])
            mark = " (selected)" if float(rate) == results[model]["selected"] else ""
            axis.plot(points[0], points[1], marker=".", label=f"{float(rate):.0e}{mark}")
        axis.set_title(model)
        axis.set_xlabel("updates")
        axis.legend(fontsize=7)
    axes[0][0].set_ylabel(f"validation {next(iter(next(iter(results.values()))['runs'].values()))['headline_metric']}")
    figure.suptitle(f"{config}: learning rate selection, seed 0", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run_selection(
    task_name: str, config: str, models: Sequence[str], updates: int | None, every: int, runs_dir: Path
) -> dict:
    """Every (model, rate) of the selection; returns ``{model: {"runs": {rate: record}, "selected": rate}}``."""
    results: dict[str, dict[str, Any]] = {}
    for model in models:
        runs = {}
        for rate in RULE_RATES:
            out = runs_dir / config.replace("/", "-") / model / f"lr{rate:.0e}"
            runs[repr(rate)] = run_one(task_name, model, rate, updates, every, out)
            print(f"{config} {model} lr={rate:.0e}: validation {runs[repr(rate)]['final_validation']:.4f}", flush=True)
        finals = {float(r): (run["final_validation"], run["final_validation_loss"]) for r, run in runs.items()}
        selected = select(finals)
        recipe_rate = next(iter(runs.values()))["recipe_learning_rate"]
        results[model] = {"runs": runs, "selected": selected, "recipe_learning_rate_at_selection": recipe_rate}
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, help="task or task/config with a stable recipe")
    parser.add_argument("--models", nargs="+", required=True, help="model kinds (see `python -m baselines recipes`)")
    parser.add_argument("--updates", type=int, default=None, help="updates per run (default: the recipe's budget)")
    parser.add_argument(
        "--eval-every", type=int, default=None, help="updates between validation scores (default: 1/10 of the run)"
    )
    parser.add_argument("--runs-dir", default="runs/learning_rate", help="per-run outputs (resumable)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder of the JSON")
    parser.add_argument("--figures", default=str(REPO / "docs" / "figures"), help="folder of the figure")
    args = parser.parse_args(argv)
    try:
        from baselines.quiet import import_tensorflow

        import_tensorflow()
        from baselines.experiments import machine_description, write_json
        from baselines.models import recipe_name
        from baselines.catalog import get_recipe

        if args.updates is not None and args.updates < 1:
            raise ValueError(f"invalid updates={args.updates!r}; allowed: an integer >= 1")
        recipes = {model: get_recipe(recipe_name(args.task, model)) for model in args.models}  # validates names
        config = next(iter(recipes.values())).task
        every = args.eval_every or max(1, (args.updates or _budget(next(iter(recipes.values())))) // 10)
        if every < 1:
            raise ValueError(f"invalid eval_every={every!r}; allowed: an integer >= 1")
        results = run_selection(args.task, config, args.models, args.updates, every, Path(args.runs_dir))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stem = f"learning_rate_{config.replace('/', '-')}"
    plot(config, results, Path(args.figures) / f"{stem}.png")
    document = {
        "experiment": COMMAND,
        "command": COMMAND + " " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "rule": "Deletang et al. (2023), Section 4: learning rates 1e-4, 3e-4, 5e-4; here seed 0 of each, the rate "
        "with the best validation headline metric at the end of the run (ties: the lower validation loss)",
        "rates": list(RULE_RATES),
        "task": config,
        "updates": args.updates or "the recipe's budget",
        "eval_every": every,
        "results": results,
        "selected": {model: result["selected"] for model, result in results.items()},
        "machine": machine_description(),
    }
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_json(str(Path(args.out) / f"{stem}.json"), document)
    for model, result in results.items():
        note = "" if result["selected"] == result["recipe_learning_rate_at_selection"] else " (differs from the recipe)"
        recipe_rate = result["recipe_learning_rate_at_selection"]
        print(f"{model}: selected {result['selected']:.0e}; recipe {recipe_rate:.0e}{note}")
    return 0


def _budget(recipe: Any) -> int:
    """The recipe's updates: epochs x batches per epoch (of its train size, else the published train split)."""
    import seqtasks

    task = seqtasks.make(recipe.task)
    size = recipe.train_size or task.published_size("train")
    return recipe.epochs * -(-size // recipe.batch_size)


if __name__ == "__main__":
    sys.exit(main())
