"""Summarises failure-zoo runs as a markdown table.

    python -m baselines.zoo.summary docs/stability_runs/noise_relu_lstm.json [more ...] [--plot PNG --title T]
    python -m baselines.zoo.summary --page docs/stability.md [--evidence docs/stability_runs] [--check]

Reads the ``results.json`` files that ``python -m baselines zoo`` writes (its
runs' ``metrics.json`` contents) or single runs' ``metrics.json`` files. One row
per recipe and seed: updates run, the first non-finite update, the first and the
mean of the last 20 finite losses, the largest ratio between consecutive losses
(a sudden jump), the number of updates below their batch's loss floor, the
median seconds per update and the validation metrics. ``--plot`` draws the
curves of all the given runs in one figure (as ``python -m baselines zoo`` does for one set).

``--page`` rewrites the generated blocks of ``docs/stability.md`` from the
evidence sets' files: per set (``<!-- zoo:set NAME -->``) its command and a
table of numbers per recipe and seed, per thread (``<!-- zoo:verdict NAME -->``)
the verdict computed from its runs with :data:`CLAIMS`, the post's failure as a
test on one run. The page's prose quotes only numbers from these blocks
(``tests/test_stability_page.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import re
import sys
from collections.abc import Callable, Mapping, Sequence
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



# --- the evidence page: tables and verdicts of docs/stability.md, generated from the runs' JSON -------------

BLOCK = re.compile(r"(<!-- zoo:(?P<kind>set|verdict) (?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /zoo -->)", re.S)
"""A generated block of the page: ``<!-- zoo:set NAME -->`` (an evidence set's table) or
``<!-- zoo:verdict NAME -->`` (a thread's verdict, NAME a key of :data:`baselines.zoo.ZOO`)."""


@dataclasses.dataclass(frozen=True)
class Claim:
    """What a forum thread reports, as a test on one run.

    Attributes:
        failure: The post's failure in words, as ``shows`` checks it.
        shows: True when a run shows that failure.
    """

    failure: str
    shows: Callable[[Mapping[str, Any]], bool]


def _nonfinite(run: Mapping[str, Any]) -> bool:
    return run.get("nan_update") is not None


def _collapsed(run: Mapping[str, Any], below: float = 1e-3) -> bool:
    return any(value < below for value in _finite_losses(run))


def _finite_losses(run: Mapping[str, Any]) -> list[float]:
    return [value for value in run["per_update_loss"] if value is not None and math.isfinite(value)]


def _sudden_jump(run: Mapping[str, Any], ratio: float = 2.0, after: int = 10) -> bool:
    losses = _finite_losses(run)[after:]
    return any(b >= ratio * a for a, b in zip(losses, losses[1:]) if a > 0)


def _no_better_than_the_mean_vector(run: Mapping[str, Any]) -> bool:
    validation = run["final"]["validation"]
    if "mean_cosine" not in validation or "mean_vector_cosine" not in validation:
        return False
    return validation["mean_cosine"] <= validation["mean_vector_cosine"]


def _only_last_positions(run: Mapping[str, Any], margin: float = 0.05, learnt: float = 0.5) -> bool:
    validation = run["final"]["validation"]
    positions, chance = validation["per_position_accuracy"], validation["chance_accuracy"]
    return all(abs(value - chance) <= margin for value in positions[:2]) and positions[-1] >= learnt


CLAIMS: dict[str, Claim] = {
    "reber_softmax_lstm": Claim(
        "the loss collapses: a non-finite value, or a training loss below 1e-3 at some update (the post's 7.5e-8, "
        "every prediction NaN; a next-symbol loss on the Reber grammar cannot get near 0, its strings branch)",
        lambda run: _nonfinite(run) or _collapsed(run),
    ),
    "noise_relu_lstm": Claim("a non-finite loss, weight or layer output within the updates run", _nonfinite),
    "word_vector_wide_mse": Claim(
        "a sudden collapse: a non-finite value, or a training loss that at least doubles from one update to the "
        "next (after the first 10 updates); or the same output for every input (the post's third example): a "
        "validation mean cosine no better than the train split's mean vector predicted for every word",
        lambda run: _nonfinite(run) or _sudden_jump(run) or _no_better_than_the_mean_vector(run),
    ),
    "unnormalised_sigmoid_cce": Claim(
        "a loss that measures nothing or breaks: a non-finite value, or a training loss exactly 0 at every update",
        lambda run: _nonfinite(run) or all(value == 0.0 for value in run["per_update_loss"]),
    ),
    "reversal_stateful_lstm": Claim(
        "only the last positions right: validation accuracy of the first two output positions within 0.05 of "
        "chance while the last position is at 0.5 or above",
        _only_last_positions,
    ),
}
"""Per zoo thread (a key of :data:`baselines.zoo.ZOO`): the post's failure as a test on one run."""


def _per_seed(values: Sequence[Any], digits: int = 4) -> str:
    def one(value: Any) -> str:
        if value is None:
            return "none"
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value)

    return " / ".join(one(value) for value in values)


def evidence_command(evidence: Any) -> str:
    """The command that runs one evidence set alone (``zoo --all`` runs them all with the same settings)."""
    if getattr(evidence, "epochs", None) is not None:  # a post's own settings: only --all knows them
        return f"python -m baselines zoo --all --only {evidence.name} --out docs/stability_runs"
    parts = ["python -m baselines zoo", *evidence.recipes, f"--seeds {evidence.seeds}", f"--steps {evidence.steps}"]
    if evidence.task:
        parts.append(f"--task {evidence.task}")
    if evidence.units:
        parts.append(f"--units {evidence.units}")
    if evidence.learning_rate is not None:
        parts.append(f"--lr {evidence.learning_rate}")
    return " ".join(parts) + f" --out runs/{evidence.name}"


def _by_recipe(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for run in sorted(runs, key=lambda run: run["seed"]):
        grouped.setdefault(run["recipe"], []).append(run)
    return grouped


def schedule(evidence: Any) -> str:
    """The set's training length in words (``Evidence.schedule``; ``"N updates"`` for objects without it)."""
    return getattr(evidence, "schedule", f"{evidence.steps} updates")


def planned_runs(evidence: Any) -> int:
    """Recipes x seeds of a set (0 for objects that do not say)."""
    return len(getattr(evidence, "recipes", ())) * getattr(evidence, "seeds", 0)


def _output_sum_cells(recipe_runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Thread 000's print, per seed: the smallest per-step output sum over every epoch, and the median at the last."""
    lowest, last = [], []
    for run in recipe_runs:
        epochs = [epoch for epoch in (run.get("output_sums") or {}).get("per_epoch", []) if epoch["finite"]]
        lowest.append(min(epoch["min"] for epoch in epochs) if epochs else None)
        last.append(epochs[-1]["median"] if epochs else None)
    return [_per_seed(lowest), _per_seed(last)]


def set_block(evidence: Any, runs: Sequence[Mapping[str, Any]], claim: Claim) -> str:
    """The markdown of one evidence set: its command, data version, and per recipe the numbers per seed."""
    if not runs:
        return (
            f"```bash\n{evidence_command(evidence)}\n```\n\n"
            + (f"Settings read from the post: {evidence.reading}.\n\n" if getattr(evidence, "reading", "") else "")
            + f"**0 of {planned_runs(evidence)} planned runs finished so far** ({schedule(evidence)} per run); "
            f"`docs/stability_runs/{evidence.name}.json` is written when the first one has.\n"
        )
    first = runs[0]
    sums = any(run.get("output_sums") for run in runs)
    epochs = getattr(evidence, "epochs", None) is not None
    headline = first.get("headline_metric")
    scalar = [key for key, value in first["final"]["validation"].items() if isinstance(value, (int, float))]
    # Metrics equal in every run (chance, reference predictors) are stated once, not per seed.
    constant = [key for key in scalar if key != headline and len({run["final"]["validation"].get(key) for run in runs}) == 1]
    scores = [headline] + [key for key in scalar if key not in (headline, "first_position_accuracy", *constant)]
    per_position = "per_position_accuracy" in first["final"]["validation"]
    versions = sorted({run["protocol"]["dataset_version"] for run in runs})
    lines = [
        "```bash",
        evidence_command(evidence),
        "```",
        "",
        *([f"Settings read from the post: {evidence.reading}.", ""] if getattr(evidence, "reading", "") else []),
        *(
            [f"**{len(runs)} of {planned_runs(evidence)} planned runs finished so far**; the table shows those.", ""]
            if len(runs) < planned_runs(evidence) else []
        ),
        f"`{first['task']}`"
        + "".join(f", {key}={value}" for key, value in (first.get("zoo_post_settings") or {}).get("task_overrides", {}).items())
        + f" (dataset version {', '.join(versions)}), {schedule(evidence)} per run, seeds "
        f"{', '.join(str(run['seed']) for run in _by_recipe(runs)[first['recipe']])}; loss floor "
        f"{_per_seed([first.get('loss_floor')])}"
        + "".join(f"; validation {key} {_per_seed([first['final']['validation'][key]])}" for key in constant)
        + f"; `docs/stability_runs/{evidence.name}.json`. Cells are per seed.",
        "",
        "| recipe | post's failure shown | first non-finite update | mean loss, last 20 updates | updates below the "
        "floor | largest loss ratio, update to update | "
        + ("epochs run | " if epochs else "")
        + ("smallest output sum, any epoch | median output sum, last epoch | " if sums else "")
        + " | ".join(f"validation {key}" for key in scores) + " |"
        + (" validation accuracy per position (first seed) |" if per_position else ""),
        "|---|---|---|---|---|---|" + "---|" * (len(scores) + epochs + 2 * sums) + ("---|" if per_position else ""),
    ]
    for recipe, recipe_runs in _by_recipe(runs).items():
        rows = [summarise(run) for run in recipe_runs]
        shown = sum(claim.shows(run) for run in recipe_runs)
        cells = [
            f"`{recipe}`",
            f"{shown} of {len(recipe_runs)}",
            _per_seed([row["nan_update"] for row in rows]),
            _per_seed([row[f"mean_last_{LAST}"] for row in rows]),
            _per_seed([row["below_floor"] for row in rows]),
            _per_seed([row["max_jump"] for row in rows]),
            *([_per_seed([run["epochs_completed"] for run in recipe_runs])] if epochs else []),
            *(_output_sum_cells(recipe_runs) if sums else []),
            *(_per_seed([run["final"]["validation"].get(key) for run in recipe_runs]) for key in scores),
        ]
        if per_position:
            cells.append(", ".join(f"{value:.3f}" for value in recipe_runs[0]["final"]["validation"]["per_position_accuracy"]))
        lines.append("| " + " | ".join(cells) + " |")
    if sums:
        lines.append("")
        for recipe, recipe_runs in _by_recipe(runs).items():
            last = (recipe_runs[0].get("output_sums") or {}).get("first_string_last_finite")
            if last:
                lines.append(
                    f"Per-step output sums of `{recipe}` (seed {recipe_runs[0]['seed']}, first validation string, epoch "
                    f"{last['epoch']}, 20 steps, padding included): " + ", ".join(f"{value:.3f}" for value in last["sums"]) + "."
                )
    return "\n".join(lines) + "\n"


def verdict_block(thread: str, sets: Sequence[tuple[Any, Sequence[Mapping[str, Any]]]], claim: Claim) -> str:
    """A thread's verdict from its evidence sets (the first at the post's settings).

    Reproduced: the post's model shows the failure on every seed of the first set and the fix on none
    there. Reproduced only under stated conditions: on some seeds, or only by another naive variant
    (an ablation) or at another set's settings. Not reproduced: no naive run shows it.
    """
    from baselines.zoo import ZOO

    post_model, fix = ZOO[thread][0], ZOO[thread][-1]
    main_set = sets[0][0]
    if len(sets[0][1]) < planned_runs(main_set):
        return (
            f"**Verdict: pending.** {len(sets[0][1])} of {planned_runs(main_set)} runs of set `{main_set.name}` (the post's "
            "settings) have finished; the verdict is computed when all have.\n"
        )
    counts = []
    for evidence, runs in sets:
        for recipe, recipe_runs in _by_recipe(runs).items():
            counts.append((evidence, recipe, sum(claim.shows(run) for run in recipe_runs), len(recipe_runs)))
    main = next(count for count in counts if count[0] is main_set and count[1] == post_model)
    fix_at_post_settings = sum(count[2] for count in counts if count[0] is main_set and count[1] == fix)
    other_naive = sum(count[2] for count in counts if count[1] != fix and count is not main)
    if main[2] == main[3] and fix_at_post_settings == 0:
        verdict = "reproduced"
    elif main[2] or other_naive:
        verdict = "reproduced only under stated conditions"
    else:
        verdict = "not reproduced"
    details = "; ".join(
        f"`{recipe}` {shown} of {total} (set `{evidence.name}`, {schedule(evidence)}"
        + (f", `{evidence.task}`" if evidence.task else "")
        + (f", width {evidence.units}" if evidence.units else "")
        + (f", learning rate {evidence.learning_rate}" if evidence.learning_rate is not None else "")
        + ")"
        for evidence, recipe, shown, total in counts
    )
    return (
        f"**Verdict, computed from the runs: {verdict}.** The post's failure, tested on every run as {claim.failure}, "
        f"appeared in: {details}.\n"
    )


def render_page(text: str, runs_dir: pathlib.Path) -> str:
    """``text`` with every generated block rewritten from the evidence files in ``runs_dir``.

    Raises:
        ValueError: A block names an unknown set or thread, or a set's file is missing.
    """
    from baselines.zoo import EVIDENCE, ZOO

    evidence_by_name = {evidence.name: evidence for evidence in EVIDENCE}
    loaded: dict[str, list[dict[str, Any]]] = {}

    def runs_of(name: str) -> list[dict[str, Any]]:
        if name not in loaded:
            path = runs_dir / f"{name}.json"
            if not path.exists() and getattr(evidence_by_name[name], "epochs", None) is None:
                raise ValueError(f"invalid evidence set {name!r}: {path} is missing; run `python -m baselines zoo --all`")
            # A set at a post's own settings runs for hours: until its first run finishes it has no file.
            loaded[name] = read_runs(path) if path.exists() else []
        return loaded[name]

    def thread_of(evidence: Any) -> str:
        return next(thread for thread, recipes in ZOO.items() if recipes[0] in evidence.recipes)

    def replace(match: re.Match) -> str:
        kind, name = match["kind"], match["name"]
        if kind == "set":
            if name not in evidence_by_name:
                raise ValueError(f"invalid evidence set {name!r}; allowed: {', '.join(evidence_by_name)}")
            evidence = evidence_by_name[name]
            body = set_block(evidence, runs_of(name), CLAIMS[thread_of(evidence)])
        else:
            if name not in CLAIMS:
                raise ValueError(f"invalid thread {name!r}; allowed: {', '.join(CLAIMS)}")
            sets = [(evidence, runs_of(evidence.name)) for evidence in EVIDENCE if thread_of(evidence) == name]
            body = verdict_block(name, sets, CLAIMS[name])
        return match.group(1) + body + match.group(5)

    return BLOCK.sub(replace, text)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m baselines.zoo.summary", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", type=pathlib.Path, help="results.json of `python -m baselines zoo`, or metrics.json")
    parser.add_argument("--plot", type=pathlib.Path, default=None, help="also plot every run's curves into this PNG")
    parser.add_argument("--title", default="", help="title of the plot")
    parser.add_argument("--page", type=pathlib.Path, default=None,
                        help="rewrite this page's generated blocks (docs/stability.md) from the evidence in --evidence")
    parser.add_argument("--evidence", type=pathlib.Path, default=pathlib.Path("docs/stability_runs"),
                        help="folder of the evidence sets' <name>.json (default docs/stability_runs)")
    parser.add_argument("--check", action="store_true", help="with --page: fail if the page is not up to date; write nothing")
    args = parser.parse_args(argv)
    try:
        if args.page is not None:
            text = args.page.read_text()
            rendered = render_page(text, args.evidence)
            if args.check:
                if rendered != text:
                    print(f"error: {args.page} is out of date; rerun without --check", file=sys.stderr)
                    return 1
                return 0
            args.page.write_text(rendered)
            print(f"wrote {args.page}")
            return 0
        if not args.results:
            parser.error("give results files, or --page")
        runs = [run for path in args.results for run in read_runs(path)]
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(markdown([summarise(run) for run in runs]), end="")
    if args.plot is not None:
        from baselines.zoo.runner import plot

        plot(runs, args.plot, args.title)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
