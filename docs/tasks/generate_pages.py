"""Writes docs/tasks/<task>.md from the registry, so fields, sizes and fingerprints stay correct.

Run ``python docs/tasks/generate_pages.py`` after changing a task or a preset;
``tests/test_task_docs.py`` fails while a page is stale. Prose (definition,
field meanings, metric) lives here; every number comes from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from seqtasks import fingerprint as fingerprints  # noqa: E402
from seqtasks.registry import get_preset, list_presets, list_tasks  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent

DEFINITIONS = {
    "reber_grammar": """\
Strings of the Reber grammar (Reber 1967), the finite automaton used by Cleeremans, Servan-Schreiber
& McClelland (1989) and by Hochreiter & Schmidhuber (1997, experiment 1). A plain string starts
with `B`, walks the automaton (each branching node takes either edge with probability 1/2) and
ends with `E`. An *embedded* string is `B b <plain string> b E` with `b` in `{T, P}`: to predict the
second-to-last symbol a network must remember `b` across the whole inner string. `depth` nests the
embedding (`embedded_depth2`: two remembered symbols). Strings are drawn from the grammar's own
distribution conditioned on the length window of the split: the length is drawn first from the
grammar's length distribution in the window, then a string of exactly that length. `test_long` holds
strictly longer strings than any in train. A string's split is a hash of its inner plain string
wherever its inner length has at least 1,024 distinct plain strings; shorter inner strings are few
(2 of length 5, 534 of length 19) and carry almost all of the grammar's probability, so they are
shared: every split samples them from the grammar, as the 1997 protocol samples its training and
test strings independently (see "What held out means" below).

Sizes follow the 1997 protocol: 256 training and 256 test strings (the paper's experiment 1);
validation and `test_long` have 256 strings as well.""",
    "sequence_reversal": """\
Integer token sequences and their reversal: the target at position `t` is the input at position
`length - 1 - t`. Tokens are uniform over `[0, vocab_size)`, lengths uniform over the split's range.
A causal (unidirectional) model must emit early outputs before it has read the inputs they copy, so
`needs_future_context` is true: it is at chance on those positions unless it delays its output; a
bidirectional model sees both ends. `len5_vocab10` is the setting of seed thread 004;
`len1to40_vocab2` uses the length split of the `reverse_string` task of Deletang et al. (2023):
binary strings, train lengths 1..40, `test_long` lengths 41..500. Its layout is *aligned* (target at
step t is the input at step length-1-t), not their read-then-write layout (the input, then |y| blank
steps whose outputs are scored), and its `test_long` has 2,000 strings of uniform length rather than
every length 41..500, so its numbers are **not comparable** with that paper's. The length is drawn
first, then uniform tokens; a sequence's split is a hash of its content wherever its length has at
least 1,024 distinct sequences, and shorter lengths are shared (see "What held out means" below).""",
    "char_to_vector": """\
A word is spelled character by character; the target is a fixed unit-norm 100-d vector (seed
thread 002). No download is possible, so words are pseudo-words from a seeded syllable model and
each vector mixes a *compositional* part (the normalised sum of hashed character n-gram vectors,
as in fastText), learnable from spelling, with an *idiosyncratic* per-word part that can only be
memorised: `v = normalise(sqrt(a) c + sqrt(1 - a) i)` with `a = compositional_weight = 0.75`. On
held-out words the best achievable cosine similarity is therefore about `sqrt(a)` = 0.87. Splits
are pools of distinct words (a hash of the spelling for train/validation/test; `test_long` holds
the words longer than any in train), so test words never occur in train. Each split is one pass
over its pool; `vectors_path` swaps in a real word2vec/GloVe file.""",
    "random_labels": """\
Gaussian noise sequences with random binary labels (seed thread 001): every input is i.i.d.
N(0, 1) (or `input_offset + input_scale * N(0, 1)` for `t48_f16_unnormalised`, seed thread 003) and
exactly 5 of every 32 consecutive examples are positive. Nothing can be learned beyond the base
rate: a sound training setup settles at the label entropy; a loss far below it means memorisation,
leakage or a numerical failure.""",
}

FIELD_MEANINGS = {
    "reber_grammar": {
        "text": "the string, e.g. `BTBTXSETE`",
        "tokens": "symbol ids over the alphabet `BTSXPVE` (B=0 ... E=6)",
        "next_symbols": "per position, the multi-hot set of symbols the grammar allows next",
        "length": "number of symbols",
    },
    "sequence_reversal": {
        "inputs": "token ids",
        "targets": "`inputs` reversed",
        "length": "number of tokens",
    },
    "char_to_vector": {
        "word": "the word",
        "chars": "character ids (indices into `task.alphabet`, `a`..`z`)",
        "length": "number of characters",
        "vector": "the unit-norm target vector",
    },
    "random_labels": {
        "inputs": "Gaussian noise, `(time_steps, features)`",
        "label": "0 or 1; 5 positives in every block of 32 consecutive examples",
    },
}

METRICS = {
    "reber_grammar": """\
Report the **1997 criterion** on `test`: a string counts as solved when, at every position, the
symbols the grammar allows next (`next_symbols`) are exactly the most active outputs (train with the
`legal_set` target and sigmoid outputs, or threshold softmax outputs); report the fraction of
test strings solved (the paper required all of them) and the number of training strings seen.
Report the **long-range check** separately: accuracy on the second-to-last symbol (the embedded
branch `b`, the only position that needs the long memory), on `test` and on `test_long`. Per-step
cross-entropy is comparable only against the entropy floor `task.loss_floor(batch)`.""",
    "sequence_reversal": """\
Report **per-token accuracy** and **whole-sequence accuracy** (all tokens of a sequence right) on
`test` and, for the `len1to40_*` configs, on `test_long` (lengths 41..500, never seen in training),
with padded steps excluded (`sample_weight`). State whether the model is causal or bidirectional;
a causal model without delay is at chance (1/vocab) on the first half of the outputs.

For `reverse_string` (the protocol of Deletang et al. 2023) report the **score** of `test_long`:
the mean over the lengths 41..500 of per-token accuracy on the writing steps (`output_mask`),
with the per-length curve (`baselines train` writes both to `length_report.*`), and say how many
seeds, learning rates and updates it took: the paper reports the maximum over 10 seeds x 3
learning rates after 1,000,000 updates, on 512 strings per length (this split has 32).""",
    "char_to_vector": """\
Report **MSE** and **mean cosine similarity** between predicted and target vectors on held-out
words (`test`, and `test_long` for length generalisation), next to the **mean-vector predictor**
(always predict the mean training vector) as the baseline a model must beat. The ceiling on
held-out words is a cosine of about `sqrt(compositional_weight)`; training words can reach cosine 1.""",
    "random_labels": """\
Report the **training loss against the label entropy** `H(5/32)` (`task.label_entropy()`, the
binary cross-entropy floor, about 0.4249 nats) and **test AUC**, which must be about 0.5. A test AUC
clearly above 0.5 signals leakage; a training loss far below the entropy signals memorisation.""",
}


def _field_rows(task) -> list[str]:
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
        meaning = FIELD_MEANINGS[task.name].get(key, "")
        rows.append(f"| `{key}` | {dtype} | `{shape}` | {meaning} |")
    return rows


def _length_text(task, split: str) -> str:
    if hasattr(task, "length_range"):
        low, high = task.length_range(split)
        return f"{low}..{high}"
    if task.name == "char_to_vector":
        words = task.split_words(split)
        lengths = np.char.str_len(words)
        return f"{int(lengths.min())}..{int(lengths.max())}"
    return "-"


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
            size = preset.split_sizes.get(split)
            sizes.append(f"{size if size is not None else task.natural_size(split):,}")
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


def _contents(task, batch) -> list[tuple]:
    """Each example's model input (cut to its length) as a tuple."""
    field = task.supervised_spec().input_field
    return [tuple(row[:n]) for row, n in zip(np.asarray(batch[field]).tolist(), batch["length"].tolist())]


def _versions_lines(cls) -> list[str]:
    lines = [f"- **{version}**: {note}" for version, note in cls.release_notes.items()]
    if len(cls.release_notes) > 1:
        lines += [
            "",
            "Fingerprints of earlier versions, for results published on them: "
            "[`docs/fingerprints/1.0.0.json`](../fingerprints/1.0.0.json) (dataset version 1.0.0 of every task).",
        ]
    return lines


def _fingerprint_table(task_name: str) -> list[str]:
    recorded = fingerprints.recorded()
    lines = ["| config | split | SHA-256 |", "|---|---|---|"]
    for preset_name in list_presets(task_name):
        for split, digest in sorted(recorded.get(f"{task_name}/{preset_name}", {}).items()):
            lines.append(f"| `{preset_name}` | {split} | `{digest}` |")
    return lines


def _supervised_lines(task) -> list[str]:
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


def render(task_name: str) -> str:
    """The Markdown page of one task."""
    cls, preset = get_preset(task_name)
    task = cls(preset.config)
    default = f"{task_name}/{cls.default_preset}"
    from seqtasks.tfds_builders import supervised_keys_for  # noqa: PLC0415 - tfds only for this line

    keys = supervised_keys_for(task)
    parts = [
        f"# `{task_name}`",
        "",
        "<!-- Generated by docs/tasks/generate_pages.py; edit that script, not this file. -->",
        "",
        cls.description,
        "",
        "## Definition",
        "",
        DEFINITIONS[task_name],
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
        f"`as_supervised=True` gives `({keys[0]}, {keys[1]})`. `seqtasks.load` / `seqtasks.stream` give "
        "`(x, y, sample_weight)` with zero weight on padding:",
        "",
        *_supervised_lines(task),
        "",
        "## Metric to report",
        "",
        METRICS[task_name],
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
        "```bibtex",
        cls.citation,
        "```",
        "",
    ]
    return "\n".join(parts)


def main() -> int:
    """Writes every page."""
    for task_name in list_tasks():
        (PAGES_DIR / f"{task_name}.md").write_text(render(task_name))
        print(f"wrote {PAGES_DIR / f'{task_name}.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
