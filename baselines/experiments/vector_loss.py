"""MSE or cosine loss for char_to_vector, chosen by validation: one stated experiment (issue 26).

The recipe's model with the best test cosine (BiGRU) is trained at the protocol's full settings
(``seqtasks protocol char_to_vector``: 20 epochs, batch 64, the recipe's width and learning rate),
seed 0, once with each loss of :data:`baselines.models.DENSE_LOSSES`. Each run keeps the epoch
with the highest validation mean cosine (the protocol's model selection), and the loss whose kept
epoch has the higher validation mean cosine is chosen (ties: ``mse``, the recipes' loss). The test
split is scored and recorded, never used for the choice.

Writes ``<out>/vector_loss_<config>.json`` (each loss's validation cosine per epoch, the kept epoch,
the test cosine there, CPU time, the choice) and ``<figures>/vector_loss_<config>.png``. Runs resume:
a loss whose run directory holds a finished ``metrics.json`` is not trained again.

Usage::

    python -m baselines.experiments.vector_loss [--model bigru] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COMMAND = "python -m baselines.experiments.vector_loss"
REPO = Path(__file__).resolve().parents[2]
TASK = "char_to_vector"
LOSSES = ("mse", "cosine")


def run_one(model: str, loss: str, seed: int, out: Path) -> dict[str, Any]:
    """One run of ``model``'s char_to_vector recipe with ``loss``; its ``metrics.json`` (reused when finished)."""
    if (out / "metrics.json").exists() and not (out / "backup").exists():
        return json.loads((out / "metrics.json").read_text())
    import keras

    from baselines.catalog import get_recipe
    from baselines.models import recipe_name
    from baselines.trainer import train

    recipe = get_recipe(recipe_name(TASK, model))
    run = train(
        recipe, seed=seed, out=out, verbose=0, build_overrides={"loss": loss},
        command=f"{COMMAND} --model {model} --seed {seed} (loss={loss})",
    )
    keras.backend.clear_session()
    return run


def summarise(loss: str, run: dict[str, Any]) -> dict[str, Any]:
    """What the choice reads from a run: its validation cosine per epoch and the epoch it kept."""
    curve = [row["val_mean_cosine"] for row in run["per_epoch"]]
    kept = run["selected_epoch"]["epoch"]
    return {
        "loss": loss,
        "validation_mean_cosine_per_epoch": curve,
        "kept_epoch": kept,
        "validation_mean_cosine_kept": curve[kept - 1],
        "test_mean_cosine_kept": run["final"]["test"]["mean_cosine"],
        "test_long_mean_cosine_kept": run["final"].get("test_long", {}).get("mean_cosine"),
        "cpu_time_s": run["cpu_time_s"],
        "updates": run["updates"],
    }


def choose(summaries: Sequence[dict[str, Any]]) -> str:
    """The loss whose kept epoch has the higher validation mean cosine (ties: the first of :data:`LOSSES`)."""
    return max(summaries, key=lambda s: (s["validation_mean_cosine_kept"], -LOSSES.index(s["loss"])))["loss"]


def plot(config: str, summaries: Sequence[dict[str, Any]], path: Path) -> None:
    """Validation mean cosine per epoch, one line per loss, the kept epochs marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.0, 3.2))
    for summary in summaries:
        curve = summary["validation_mean_cosine_per_epoch"]
        line = axis.plot(range(1, len(curve) + 1), curve, marker=".", label=f"{summary['loss']} loss")[0]
        axis.plot([summary["kept_epoch"]], [summary["validation_mean_cosine_kept"]], "o", mfc="none", ms=10,
                  color=line.get_color())
    axis.set(xlabel="epoch", ylabel="validation mean cosine", title=f"{config}: loss choice (circles: kept epochs)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="bigru", help="model kind with a char_to_vector recipe (default bigru)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and batch order (default 0)")
    parser.add_argument("--runs-dir", default="runs/vector_loss", help="per-run outputs (resumable)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder of the JSON")
    parser.add_argument("--figures", default=str(REPO / "docs" / "figures"), help="folder of the figure")
    args = parser.parse_args(argv)
    try:
        from baselines.quiet import import_tensorflow

        import_tensorflow()
        from baselines.catalog import get_recipe
        from baselines.experiments import machine_description, write_json
        from baselines.models import recipe_name

        if args.seed < 0:
            raise ValueError(f"invalid seed={args.seed!r}; allowed: an integer >= 0")
        config = get_recipe(recipe_name(TASK, args.model)).task  # validates the model
        summaries = [summarise(loss, run_one(args.model, loss, args.seed, Path(args.runs_dir) / args.model / loss))
                     for loss in LOSSES]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    chosen = choose(summaries)
    stem = f"vector_loss_{config.replace('/', '-')}"
    plot(config, summaries, Path(args.figures) / f"{stem}.png")
    write_json(str(Path(args.out) / f"{stem}.json"), {
        "experiment": COMMAND,
        "command": COMMAND + " " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "rule": "the loss whose kept epoch (highest validation mean cosine) has the higher validation mean cosine; "
        "ties: mse; the test split is recorded, never used",
        "task": config, "model": args.model, "seed": args.seed, "runs": summaries, "chosen": chosen,
        "machine": machine_description(),
    })
    for summary in summaries:
        print(f"{summary['loss']}: kept epoch {summary['kept_epoch']} of {len(summary['validation_mean_cosine_per_epoch'])}, "
              f"validation {summary['validation_mean_cosine_kept']:.4f}, test {summary['test_mean_cosine_kept']:.4f}, "
              f"{summary['cpu_time_s']:.0f} CPU s")
    print(f"chosen: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
