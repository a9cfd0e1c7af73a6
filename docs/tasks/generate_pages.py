"""Writes docs/tasks/<task>.md from the registry, so fields, sizes and fingerprints stay correct.

Run ``make docs-tasks`` (``python docs/tasks/generate_pages.py``) after changing a task or a
preset; ``tests/test_task_docs.py`` fails while a page is stale. The prose (description,
definition, field meanings, metric, citation) is the task's own
:class:`~seqtasks.tasks.base.TaskCard`, declared in its file; every number comes from the
code. Nothing here is specific to one task: a registered task gets its page with no edit here.

Usage: ``python docs/tasks/generate_pages.py [--imports MODULE ...] [--out DIR] [TASK ...]``
(default: every registered task, into this folder; ``--imports`` registers tasks defined
outside ``seqtasks/tasks/``, as ``tfds build --imports`` does).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from seqtasks import fingerprint as fingerprints  # noqa: E402
from seqtasks.registry import get_preset, list_presets, list_tasks  # noqa: E402
from seqtasks.tasks.base import Task, TaskCard  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent


def _card(cls: type[Task]) -> TaskCard:
    """The task's card; a task without one has no page."""
    if not isinstance(cls.card, TaskCard):
        raise ValueError(f"{cls.name}: invalid card={cls.card!r}; allowed: a seqtasks.tasks.base.TaskCard "
                         "declared in the task's file (the words of its docs page)")
    return cls.card


def _field_rows(task: Task) -> list[str]:
    """One table row per field of the first examples of the task's first split."""
    meanings = _card(type(task)).fields
    batch = task.generate(task.splits[0], 0, 2, seed=0)
    rows = []
    for key in sorted(batch):
        value = np.asarray(batch[key])
        if value.dtype.kind == "U":
            dtype, shape = "string", "()"
        else:
            dtype = str(value.dtype)
            per_example = list(value.shape[1:])
            if key in task.sequence_fields:
                per_example[0] = "T"
            shape = "(" + ", ".join(str(d) for d in per_example) + ("," if len(per_example) == 1 else "") + ")"
        meaning = meanings.get(key, "")
        rows.append(f"| `{key}` | {dtype} | `{shape}` | {meaning} |")
    return rows


def _length_text(task: Task, split: str) -> str:
    """The split's length range, ``low..high`` (``-``: the task declares none)."""
    window = task.length_range(split)
    return "-" if window is None else f"{window[0]}..{window[1]}"


def _splits_table(task_name: str) -> list[str]:
    all_splits = ("train", "validation", "test", "test_long")
    lines = [
        "| config | train | validation | test | test_long | lengths (train / test_long) | description |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for preset_name in list_presets(task_name):
        cls, preset = get_preset(f"{task_name}/{preset_name}")
        task = cls(preset.config)
        sizes = []
        for split in all_splits:
            if split not in task.splits:
                sizes.append("-")
                continue
            sizes.append(f"{task.published_size(split, preset):,}")
        lengths = _length_text(task, "train")
        if "test_long" in task.splits:
            lengths += " / " + _length_text(task, "test_long")
        default = " (default)" if preset_name == cls.default_preset else ""
        lines.append(f"| `{preset_name}`{default} | " + " | ".join(sizes) + f" | {lengths} | {preset.description} |")
    return lines


HELD_OUT_SAMPLES = 5000


def _held_out_lines(task_name: str) -> list[str]:
    """Per preset and split: the held-out share, the shared lengths, the measured length TV and overlap with train."""
    lines = [
        "A split's examples have the stated length distribution exactly: the length is drawn first, then "
        "the content. Lengths with fewer than 1,024 distinct contents are **shared**: every split samples "
        "them i.i.d. from the stated distribution, so the same sequence can occur in train and test. "
        "Longer lengths are **held out**: their contents are partitioned by a hash, so a held-out "
        "sequence of validation or test never occurs in train. `test_long` is held out by length.",
        "",
        f"Measured on the first {HELD_OUT_SAMPLES:,} examples of each split (seed 0): the total-variation "
        "distance (TV) of the length histogram from the stated distribution, next to the TV that sampling "
        "noise alone gives on average (0.5 x sum over lengths of sqrt(2 p (1 - p) / (pi n))); the share of "
        "rows in a shared length; and the share of the published split's rows whose content also occurs "
        "in the published train split.",
        "",
        "| config | split | shared lengths | held-out share (stated) | length TV | noise TV | rows in a shared length | published rows also in train |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for preset_name in list_presets(task_name):
        cls, preset = get_preset(f"{task_name}/{preset_name}")
        task = cls(preset.config)
        train_contents = set(_contents(task, task.generate("train", 0, preset.split_sizes["train"], seed=0)))
        for split in task.splits:
            strata = task.length_strata(split)
            batch = task.generate(split, 0, HELD_OUT_SAMPLES, seed=0)
            lengths = task.content_lengths(batch)
            counts = np.bincount(lengths, minlength=int(strata.lengths.max()) + 1)[strata.lengths]
            tv = 0.5 * np.abs(counts / HELD_OUT_SAMPLES - strata.probabilities).sum()
            p = strata.probabilities
            noise = 0.5 * np.sqrt(2 * p * (1 - p) / (np.pi * HELD_OUT_SAMPLES)).sum()
            shared = strata.lengths[~strata.held_out] if not strata.by_length else strata.lengths[:0]
            shared_text = f"{int(shared.min())}..{int(shared.max())}" if len(shared) else "none"
            measured = np.isin(lengths, shared).mean()
            if split == "train":
                overlap = "-"
            else:
                published = _contents(task, task.generate(split, 0, preset.split_sizes[split], seed=0))
                overlap = f"{np.mean([c in train_contents for c in published]):.3f}"
            lines.append(
                f"| `{preset_name}` | {split} | {shared_text} | {strata.held_out_share:.3f} | {tv:.3f} | "
                f"{noise:.3f} | {measured:.3f} | {overlap} |"
            )
    return lines


def _contents(task: Task, batch: dict[str, np.ndarray]) -> list[tuple]:
    """Each example's model input (cut to its length) as a tuple."""
    field = task.supervised_spec().input_field
    return [tuple(row[:n]) for row, n in zip(np.asarray(batch[field]).tolist(), batch["length"].tolist())]


def _versions_lines(cls: type[Task]) -> list[str]:
    """The release notes, newest first, and where earlier versions' fingerprints are."""
    lines = [f"- **{version}**: {note}" for version, note in cls.release_notes.items()]
    if len(cls.release_notes) > 1:
        lines += [
            "",
            "Fingerprints of earlier versions, for results published on them: "
            "[`docs/fingerprints/1.0.0.json`](../fingerprints/1.0.0.json) (dataset version 1.0.0 of every task).",
        ]
    return lines


def _fingerprint_table(task_name: str) -> list[str]:
    """The recorded fingerprints of every preset and split (a sentence while none are recorded)."""
    recorded = fingerprints.recorded()
    lines = ["| config | split | SHA-256 |", "|---|---|---|"]
    for preset_name in list_presets(task_name):
        for split, digest in sorted(recorded.get(f"{task_name}/{preset_name}", {}).items()):
            lines.append(f"| `{preset_name}` | {split} | `{digest}` |")
    if len(lines) == 2:
        return ["None recorded yet: `seqtasks fingerprint --write` records them in `seqtasks/fingerprints.json`."]
    return lines


def _supervised_lines(task: Task) -> list[str]:
    """One line per supervised view: where x and y come from."""
    lines = []
    for target in task.targets():
        spec = task.supervised_spec(target)
        shift = f", shifted by {spec.target_offset} (y[t] = {spec.target_field}[t+{spec.target_offset}])" if spec.target_offset else ""
        lines.append(
            f"- `target={target!r}`: x from `{spec.input_field}`"
            + (f" (one-hot depth {spec.input_depth} or ids)" if spec.input_depth else " (float, as is)")
            + f", y from `{spec.target_field}` ({spec.target_kind}{shift})."
        )
    return lines


def _protocol_lines(task_name: str) -> list[str]:
    """One table per config: how the benchmark trains, scores and reports models on it."""
    from seqtasks.protocols import protocol  # noqa: PLC0415

    lines = [
        "How the published table's models are trained and scored on each config (`seqtasks protocol NAME`, "
        "`seqtasks.protocol(name)`); `protocol.train_batches(seed)` yields the training batches in numpy, "
        "byte for byte the Keras baselines' ([Your model on the benchmark](../your_model.md)).",
        "",
    ]
    for config in list_presets(task_name):
        lines += [f"### `{task_name}/{config}`", "", "| | |", "|---|---|"]
        lines += [f"| {what} | {value} |" for what, value in protocol(f"{task_name}/{config}").rows()]
        lines.append("")
    return lines[:-1]


def _supervised_keys_lines(task_name: str) -> list[str]:
    """What ``as_supervised=True`` yields, per group of configs with the same keys, and how to weight it."""
    from seqtasks.tf.builders import supervised_keys_for  # noqa: PLC0415 - tfds only for these lines

    cls, _ = get_preset(task_name)
    groups: dict[tuple[str, ...], list[str]] = {}
    for preset in cls.presets:
        groups.setdefault(supervised_keys_for(cls(preset.config)), []).append(preset.name)
    text = lambda keys: "`(" + ", ".join(keys) + ")`"  # noqa: E731
    if len(groups) == 1:
        lines = [f"`as_supervised=True` gives {text(next(iter(groups)))}."]
    else:
        lines = ["`as_supervised=True` gives " + "; ".join(
            f"{text(keys)} for {', '.join(f'`{name}`' for name in names)}" for keys, names in groups.items()) + "."]
    for keys in (keys for keys in groups if len(keys) == 3):
        lines += ["", f"The third element, `{keys[2]}`, is the weight of each step: 0 on the steps that are not "
                  "scored. Weight your per-step loss and metric with it (batches padded with `padded_batch` get "
                  "weight 0 on padding too): the weighted token accuracy, sum of weight x (arg-max == target) over "
                  "the sum of weights, is then exactly the number `seqtasks.score` reports; unweighted, it counts "
                  "steps the benchmark does not score."]
    return [*lines, ""]


def render(task_name: str) -> str:
    """The Markdown page of one task."""
    cls, preset = get_preset(task_name)
    task = cls(preset.config)
    card = _card(cls)
    default = f"{task_name}/{cls.default_preset}"
    parts = [
        f"# `{task_name}`",
        "",
        "<!-- Generated by docs/tasks/generate_pages.py from the task's card (its task file); edit the card, not this file. -->",
        "",
        card.description,
        "",
        "## Definition",
        "",
        card.definition,
        "",
        f"Dataset version {cls.version}; needs future context: {'yes' if cls.needs_future_context else 'no'}.",
        "",
        "## Versions",
        "",
        *_versions_lines(cls),
        "",
        f"## Fields (config `{cls.default_preset}`)",
        "",
        "`T` is the example's length; `tfds` stores sequences unpadded, `seqtasks.load` pads each batch.",
        "",
        "| field | dtype | shape | meaning |",
        "|---|---|---|---|",
        *_field_rows(task),
        "",
        "## Splits and sizes",
        "",
        *_splits_table(task_name),
        "",
        *(["## What held out means", "", *_held_out_lines(task_name), ""] if task.length_strata("train") else []),
        "## Supervised views",
        "",
        *_supervised_keys_lines(task_name),
        "`seqtasks.load` / `seqtasks.stream` give `(x, y, sample_weight)` with zero weight on padding:",
        "",
        *_supervised_lines(task),
        "",
        "## Metric to report",
        "",
        card.metric,
        "",
        "## Protocol",
        "",
        *_protocol_lines(task_name),
        "",
        "## Usage",
        "",
        "```python",
        "import seqtasks",
        "import tensorflow_datasets as tfds",
        "",
        f'ds = tfds.load("{default}", split="test", as_supervised=True)',
        f'train = seqtasks.load("{default}", "train", batch_size=32, shuffle=True)  # (x, y, sample_weight)',
        f'endless = seqtasks.stream("{default}", seed=0, batch_size=32)          # fresh data every step',
        "```",
        "",
        "```bash",
        f"seqtasks build {default}          # or: tfds build {default} --imports seqtasks",
        "```",
        "",
        "## Fingerprints",
        "",
        f"SHA-256 of the canonical bytes of the first {fingerprints.FINGERPRINT_EXAMPLES} examples of each split "
        "(seed 0); `seqtasks fingerprint` recomputes them.",
        "",
        *_fingerprint_table(task_name),
        "",
        "## Citation",
        "",
        *(["```bibtex", card.citation, "```"] if card.citation
          else ["The task comes from no paper: cite seqtasks (see [Citing](../citing.md))."]),
        "",
    ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Writes the pages of the named tasks (default: every registered task).

    Args:
        argv: Command-line arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description="Write docs/tasks/<task>.md from the registry and the tasks' cards.")
    parser.add_argument("tasks", nargs="*", metavar="TASK", help="registered task names (default: all)")
    parser.add_argument("--imports", action="append", default=[], metavar="MODULE",
                        help="import a module that registers tasks first (repeatable)")
    parser.add_argument("--out", type=Path, default=PAGES_DIR, help="folder of the pages (default: docs/tasks)")
    args = parser.parse_args(argv)
    for module in args.imports:
        importlib.import_module(module)
    args.out.mkdir(parents=True, exist_ok=True)
    for task_name in args.tasks or list_tasks():
        path = args.out / f"{task_name}.md"
        path.write_text(render(task_name))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
