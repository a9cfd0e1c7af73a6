"""Integer sequence reversal (seed thread 004).

Inputs are token ids drawn uniformly from ``[0, vocab_size)``; the target is
the input reversed. The length is uniform over the split's length range. A
unidirectional model must emit the first output before it has read the last
input, so it is at chance on early positions unless it delays its output; a
bidirectional model sees both ends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from seqtasks._arrays import allocate_fields, length_mask
from seqtasks.config import TaskConfig
from seqtasks.draws import Draws, hash_zero_padded
from seqtasks.registry import register
from seqtasks.training import TrainingSpec
from seqtasks.tasks.base import LengthStrata, Preset, SupervisedSpec, Task, TaskCard, fill_stratified

MAX_SUPPORTED_LENGTH = 10_000
LAYOUTS = ("aligned", "read_then_write")


@dataclasses.dataclass(frozen=True)
class ReversalConfig(TaskConfig):
    """Configuration of the sequence reversal task.

    Attributes:
        vocab_size: Number of distinct token ids (ids ``0 .. vocab_size - 1``).
        min_length: Shortest sequence in train, validation and test.
        max_length: Longest sequence in train, validation and test.
        long_max_length: Longest sequence of ``test_long`` (lengths
            ``max_length + 1 .. long_max_length``); ``None``: no ``test_long``.
        layout: ``"aligned"``: the target at step t is the input at step
            length - 1 - t (seed thread 004). ``"read_then_write"``: the input,
            then as many blank steps (token ``vocab_size``) whose outputs are the
            reversed input and the only scored steps (``output_mask``), the layout
            of Deletang et al. (2023).
        test_long_lengths: ``"uniform"``: ``test_long`` lengths are i.i.d. uniform.
            ``"each"``: example i has length ``max_length + 1 + i mod n`` for the n
            lengths of ``test_long``, so a split of k * n examples holds every
            length exactly k times (a per-length evaluation).
    """

    task_name: ClassVar[str] = "sequence_reversal"
    added_fields: ClassVar[tuple[str, ...]] = ("layout", "test_long_lengths")
    vocab_size: int = 10
    min_length: int = 5
    max_length: int = 5
    long_max_length: int | None = None
    layout: str = "aligned"
    test_long_lengths: str = "uniform"

    def validate(self) -> None:
        self.check_int("vocab_size", 2, 1_000_000)
        self.check_int("min_length", 1, MAX_SUPPORTED_LENGTH)
        self.check_int("max_length", self.min_length, MAX_SUPPORTED_LENGTH, note=f"at least min_length={self.min_length}")
        if self.long_max_length is not None:
            self.check_int(
                "long_max_length", self.max_length + 1, MAX_SUPPORTED_LENGTH, note=f"above max_length={self.max_length}"
            )
        self.check_choice("layout", LAYOUTS)
        self.check_choice("test_long_lengths", ("uniform", "each"))


CARD = TaskCard(
    description=(
        "Token sequences and their reversal. The target at position t is the input at position "
        "length - 1 - t, so a causal model cannot know early targets when it must emit them."
    ),
    definition="""\
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
    fields={
        "inputs": "token ids",
        "targets": "`inputs` reversed",
        "length": "number of tokens",
        "output_mask": "1 on the writing steps, the only scored ones (read-then-write layout)",
    },
    metric="""\
Report **per-token accuracy** and **whole-sequence accuracy** (all tokens of a sequence right) on
`test` and, for the `len1to40_*` configs, on `test_long` (lengths 41..500, never seen in training),
with padded steps excluded (`sample_weight`). State whether the model is causal or bidirectional;
a causal model without delay is at chance (1/vocab) on the first half of the outputs.

For `reverse_string` (the protocol of Deletang et al. 2023) report the **score** of `test_long`:
the mean over the lengths 41..500 of per-token accuracy on the writing steps (`output_mask`),
with the per-length curve (`baselines train` writes both to `length_report.*`), and say how many
seeds, learning rates and updates it took: the paper reports the maximum over 10 seeds x 3
learning rates after 1,000,000 updates, on 512 strings per length (this split has 32).""",
    citation="""@inproceedings{deletang2023chomsky,
  title={Neural Networks and the Chomsky Hierarchy},
  author={Del{\\'e}tang, Gr{\\'e}goire and Ruoss, Anian and Grau-Moya, Jordi and Genewein, Tim and
          Wenliang, Li Kevin and Catt, Elliot and Cundy, Chris and Hutter, Marcus and Legg, Shane and
          Veness, Joel and Ortega, Pedro A.},
  booktitle={International Conference on Learning Representations},
  year={2023}
}""",
)
"""The words of the task: its tfds description and citation and the prose of docs/tasks/sequence_reversal.md."""


@register
class SequenceReversal(Task[ReversalConfig]):
    """Reverse a sequence of integer tokens."""

    name = "sequence_reversal"
    config_class = ReversalConfig
    version = "2.0.0"
    release_notes = {
        "2.0.0": (
            "Held-out splits follow the stated distribution: lengths are drawn uniformly first, then "
            "content of that length; lengths with fewer than 1,024 distinct sequences are shared "
            "(sampled i.i.d. in every split), longer ones are split by content hash. All examples "
            "changed (len5_vocab10: same distribution, new bytes). New config reverse_string: the "
            "read-then-write protocol of Deletang et al. (2023), with test_long at every length 41..500."
        ),
        "1.0.0": "Initial release. Short lengths of the held-out splits were distorted by the content hash.",
    }
    sequence_fields = ("inputs", "targets")
    needs_future_context = True
    block_size = 16384  # short sequences: large blocks amortise the per-block overhead
    block_sequence_fields = ("inputs",)
    card = CARD
    length_fields = ("min_length", "max_length", "long_max_length")
    default_training = TrainingSpec(
        data="published_train",
        batching="shuffled",
        batch_size=64,
        epochs=20,
        budget_matched_to="20 epochs of the published train split: bidirectional models reverse the validation set "
        "by epoch 5 to 10, and the rest leaves room to recover from a late Adam spike; unidirectional models plateau",
    )
    presets = (
        Preset(
            "len5_vocab10",
            ReversalConfig(vocab_size=10, min_length=5, max_length=5),
            {"train": 20_000, "validation": 2_000, "test": 2_000},
            "Length-5 sequences over 10 symbols, the setting of seed thread 004.",
        ),
        Preset(
            "len1to40_vocab2",
            ReversalConfig(vocab_size=2, min_length=1, max_length=40, long_max_length=500),
            {"train": 50_000, "validation": 2_000, "test": 2_000, "test_long": 2_000},
            "Binary strings of length 1..40 with a test_long split of length 41..500 (the length split of "
            "reverse_string in Deletang et al. 2023, in the aligned layout: not comparable with that paper).",
        ),
        Preset(
            "len1to40_vocab10",
            ReversalConfig(vocab_size=10, min_length=1, max_length=40, long_max_length=500),
            {"train": 50_000, "validation": 2_000, "test": 2_000, "test_long": 2_000},
            "Length 1..40 over 10 symbols with a test_long split of length 41..500.",
        ),
        Preset(
            "reverse_string",
            ReversalConfig(
                vocab_size=2,
                min_length=1,
                max_length=40,
                long_max_length=500,
                layout="read_then_write",
                test_long_lengths="each",
            ),
            {"train": 50_000, "validation": 2_000, "test": 2_000, "test_long": 460 * 32},
            "The reverse_string protocol of Deletang et al. (2023): binary strings read, then written "
            "reversed on blank steps (only those scored); train lengths 1..40, test_long every length "
            "41..500, 32 strings each (the paper: 512 each).",
            training=TrainingSpec(
                data="fresh",
                batching="one_length_per_batch",  # as the training loop of Deletang et al. (2023) draws
                batch_size=128,
                epochs=7,
                examples_per_epoch=64_000,
                budget_matched_to="3,500 updates of 128 fresh strings (7 epochs of 500), to fit 2 CPU cores; "
                "Deletang et al. (2023) train 1,000,000 updates",
            ),
        ),
    )
    default_preset = "len5_vocab10"
    test_preset = Preset(
        "tiny_len1to8",
        ReversalConfig(vocab_size=3, min_length=1, max_length=8, long_max_length=16),
        {"train": 40, "validation": 10, "test": 10, "test_long": 10},
        "Tiny variable-length reversal config for tests.",
    )
    content_field = "inputs"

    def __init__(self, config: ReversalConfig) -> None:
        super().__init__(config)
        # Reading the whole input before writing lets a causal model solve the task.
        self.needs_future_context = config.layout == "aligned"
        if config.layout == "read_then_write":
            self.sequence_fields = ("inputs", "targets", "output_mask")

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        self._check_target(target)
        if self.config.layout == "read_then_write":  # inputs include the blank token
            return SupervisedSpec("inputs", self.config.vocab_size + 1, "targets", "sparse", weight_field="output_mask")
        return SupervisedSpec("inputs", self.config.vocab_size, "targets", "sparse")

    def _generate_block(self, draws: Draws, split: str, block: int) -> dict[str, np.ndarray]:
        low, high = self.length_range(split)
        if split == "test_long" and self.config.test_long_lengths == "each":
            index = block * self.block_size + np.arange(self.block_size)
            lengths = low + index % (high - low + 1)
        else:
            lengths = draws.integers(low, high + 1, self.block_size)
        held_out = self.length_strata(split).held_out
        arrays, dropped = fill_stratified(
            lambda candidate_lengths: self._candidates(draws, candidate_lengths),
            lambda arrays: self.split_bucket_mask(hash_zero_padded(arrays["inputs"], arrays["length"]), split),
            lengths,
            held_out[lengths - low],
            self.name,
            split,
        )
        arrays["_dropped"] = np.int64(dropped)
        return arrays  # inputs in the smallest unsigned dtype; _finish widens them and adds the targets

    def content_lengths(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        """String lengths (the read-then-write layout has two steps per symbol)."""
        lengths = np.asarray(batch["length"])
        return lengths // 2 if self.config.layout == "read_then_write" else lengths

    def max_steps(self, split: str) -> int:
        """The longest string of the split, twice over in the read-then-write layout."""
        high = self.length_range(split)[1]
        return 2 * high if self.config.layout == "read_then_write" else high

    def length_strata(self, split: str) -> LengthStrata:
        """Uniform lengths; a length L holds ``vocab_size ** L`` distinct sequences."""
        low, high = self.length_range(split)
        lengths = np.arange(low, high + 1)
        return LengthStrata(
            lengths=lengths,
            probabilities=np.full(len(lengths), 1.0 / len(lengths)),
            log2_sequences=lengths * np.log2(self.config.vocab_size),
            by_length=split == "test_long",
        )

    def _finish(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tokens, lengths = arrays["inputs"], arrays["length"]
        if self.config.layout == "read_then_write":
            return read_then_write(tokens, lengths, self.config.vocab_size)
        shape = tokens.shape
        out = allocate_fields({"inputs": (shape, np.int32), "targets": (shape, np.int32)})
        out["inputs"][...] = tokens
        out["targets"][...] = reverse_padded(tokens, lengths)
        return {"inputs": out["inputs"], "length": lengths, "targets": out["targets"]}

    def _candidates(self, draws: Draws, lengths: np.ndarray) -> dict[str, np.ndarray]:
        """One candidate per given length: uniform tokens, row-major (row i takes the next lengths[i] draws)."""
        token_dtype = np.min_scalar_type(self.config.vocab_size - 1)
        width = int(lengths.max())
        tokens = np.zeros((len(lengths), width), dtype=token_dtype)
        tokens[length_mask(lengths, width)] = draws.below(self.config.vocab_size, int(lengths.sum()), token_dtype)
        return {"inputs": tokens, "length": lengths.astype(np.int32)}

    def describe(self, example: Mapping[str, Any]) -> str:
        return f"{np.asarray(example['inputs']).tolist()} -> {np.asarray(example['targets']).tolist()}"

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float:
        """0: the targets are a deterministic function of the whole input."""
        return 0.0

    # -- Evaluation (see Task's evaluation block) ---------------------------------------------------
    # Scored at the steps of `accuracy_mask` (the Task default: the steps with a target), so a layout
    # whose model first reads the input declares its output steps there and nothing else changes.

    def evaluate(
        self, batch: Mapping[str, np.ndarray], predictions: np.ndarray, *, target: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Per-token, whole-sequence and per-position accuracy of the reversed sequence.

        Args:
            batch: A batch of this task.
            predictions: ``(n, T, vocab)`` scores or ``(n, T)`` predicted ids, one per step.
            target: The supervised view (``None``: the default).

        Returns:
            ``token_accuracy`` over all scored steps (averaged over lengths it is
            the score of Deletang et al. 2023), ``sequence_accuracy`` (every scored
            step right), ``first_position_accuracy`` (output position 0, the one a
            causal model must emit before reading its answer in the aligned
            layout), ``chance_accuracy`` (1 / vocab) and ``per_position_accuracy``:
            an array over output positions (NaN where no sequence is that long).
        """
        import math

        result = dict(super().evaluate(batch, predictions, target=target, **options))
        per_position = result["per_position_accuracy"]
        result["first_position_accuracy"] = float(per_position[0]) if len(per_position) else math.nan
        result["chance_accuracy"] = 1.0 / self.config.vocab_size
        return result

    def headline_metric(self, target: str | None = None) -> str:
        return "token_accuracy"

    def ceiling(self, batch: Mapping[str, np.ndarray] | None = None, target: str | None = None) -> dict[str, float]:
        """1.0: the reversal is a deterministic function of the input."""
        return {"token_accuracy": 1.0, "sequence_accuracy": 1.0, "first_position_accuracy": 1.0}

    def report_columns(self, target: str | None = None) -> tuple[Any, ...]:
        from seqtasks.metrics import ReportColumn

        columns = [
            ReportColumn("test token acc.", "token_accuracy"),
            ReportColumn("test sequence acc.", "sequence_accuracy"),
            ReportColumn("test first-position acc.", "first_position_accuracy"),
        ]
        if "test_long" in self.splits:
            columns += [
                ReportColumn("test_long token acc.", "token_accuracy", "test_long"),
                ReportColumn("test_long length score", "length_scores.test_long", None),
            ]
        return tuple(columns)

    def published_references(self, target: str | None = None) -> tuple[Any, ...]:
        """Deletang et al. (2023), Table 2, reverse_string: for the read-then-write layout on binary strings."""
        from seqtasks.metrics import PublishedReference

        c = self.config
        if c.layout != "read_then_write" or c.vocab_size != 2 or "test_long" not in self.splits:
            return ()
        source = "Deletang et al. (2023), Table 2"
        aggregate = "best of 10 seeds x 3 learning rates (score: mean over lengths 41..500 of token accuracy)"
        differences = (
            "theirs: 1,000,000 training steps, one length per batch, 512 test strings per length; here 3,500 "
            "steps (the recipe), batches of nearly one length, 32 test strings per length, one learning rate per "
            "model (the best of their three on seed 0's validation after 1,000 updates), mean and best of 5 seeds"
        )
        published = (("LSTM", "0.609", "lstm"), ("RNN", "0.620", "rnn"), ("Transformer", "0.623", "transformer"),
                     ("Stack-RNN", "1.000", "stack_rnn"), ("Tape-RNN", "1.000", ""))
        return tuple(
            PublishedReference(source, model, "test_long length score", value, aggregate, differences, ours)
            for model, value, ours in published
        )

    def results_criteria(self, runs: Sequence[Mapping[str, Any]], predictors: Sequence[Mapping[str, Any]] = ()) -> list[str]:
        """Aligned layout: bidirectional models reverse every test sequence, unidirectional ones stay at
        chance on the first output position. Read-then-write: unidirectional models reach 0.95 token
        accuracy on the training lengths; the length score is compared with Deletang et al.'s."""
        lines = []
        models = sorted({run.get("model") for run in runs})
        for model in models:
            mine = [run for run in runs if run.get("model") == model]
            tests = [run["final"]["test"] for run in mine]
            if self.config.layout == "aligned" and model.startswith("bi"):
                solved = sum(test["sequence_accuracy"] >= 1.0 for test in tests)
                lines.append(f"{'met' if solved == len(mine) else 'NOT met'}: {model} reverses every test sequence "
                             f"(sequence accuracy 1.000) in {solved} of {len(mine)} seeds")
            elif self.config.layout == "aligned":
                size = mine[0]["eval_sizes"]["test"]
                chance = 1.0 / self.config.vocab_size
                tolerance = 4 * (chance * (1 - chance) / size) ** 0.5  # four binomial standard errors
                first = [test["first_position_accuracy"] for test in tests]
                near = sum(abs(value - chance) <= tolerance for value in first)
                lines.append(
                    f"{'met' if near == len(mine) else 'NOT met'}: {model} is at chance ({chance:.3f} ± {tolerance:.3f}, "
                    f"four binomial standard errors) on the first output position in {near} of {len(mine)} seeds "
                    f"(measured {min(first):.3f}..{max(first):.3f}): a causal model must emit it before reading it"
                )
            else:
                accuracy = [test["token_accuracy"] for test in tests]
                reached = sum(value >= 0.95 for value in accuracy)
                line = (f"{'met' if reached == len(mine) else 'NOT met'}: {model} reaches token accuracy 0.95 on "
                        f"the training lengths (test) in {reached} of {len(mine)} seeds "
                        f"(measured {min(accuracy):.3f}..{max(accuracy):.3f})")
                if reached < len(mine):
                    line += self._learning_trend(mine)
                lines.append(line)
                scores = [run.get("length_scores", {}).get("test_long") for run in mine]
                scores = [score for score in scores if score is not None]
                if scores and self.published_references():
                    mean = float(np.mean(scores))
                    std = float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0
                    lines.append(
                        f"{'met' if mean > 0.609 else 'NOT met'} (goal): {model}'s test_long length score, mean over "
                        f"{len(scores)} seeds {mean:.3f} ± {std:.3f} (max {max(scores):.3f}), above the best LSTM of "
                        "Deletang et al. (0.609, their best run)"
                    )
        if self.config.layout == "read_then_write" and self.published_references():
            lines += self._separation(runs)
        return lines

    SEPARATION = 0.35
    """How far the best stack model's length score must lie above the best LSTM/GRU's (issue 26)."""

    def _separation(self, runs: Sequence[Mapping[str, Any]]) -> list[str]:
        """Which models separate on ``test_long``: the Stack-RNN's length score (target: mean >= 0.95 over its
        seeds) and the gap between the best stack model and the best LSTM/GRU (target: >= 0.35)."""
        scores: dict[str, list[float]] = {}
        for run in runs:
            score = run.get("length_scores", {}).get("test_long")
            if score is not None:
                scores.setdefault(run.get("model"), []).append(float(score))
        stack, recurrent = scores.get("stack_rnn"), [s for m in ("lstm", "gru") for s in scores.get(m, [])]
        if not stack:
            return []
        mean = float(np.mean(stack))
        lines = [f"{'met' if mean >= 0.95 else 'NOT met'} (target): stack_rnn's test_long length score, mean over "
                 f"{len(stack)} seeds {mean:.3f} (min {min(stack):.3f}), at least 0.95"]
        if recurrent:
            gap = max(stack) - max(recurrent)
            lines.append(
                f"{'met' if gap >= self.SEPARATION else 'NOT met'} (target): the models separate: best stack_rnn "
                f"{max(stack):.3f} minus best LSTM/GRU {max(recurrent):.3f} = {gap:+.3f} in test_long length "
                f"score, at least {self.SEPARATION}"
            )
        return lines

    LATE_EPOCHS = 3
    """How many final epochs the trend of a run short of its target is measured over."""

    def _learning_trend(self, runs: Sequence[Mapping[str, Any]]) -> str:
        """Evidence for a shortfall: how validation token accuracy moved over the last epochs, i.e.
        whether the runs were still improving when their budget of updates ended."""
        traced = [
            run
            for run in runs
            if len(run.get("per_epoch") or ()) > self.LATE_EPOCHS and "val_token_accuracy" in run["per_epoch"][-1]
        ]
        if not traced:
            return ""
        gains = [
            run["per_epoch"][-1]["val_token_accuracy"] - run["per_epoch"][-1 - self.LATE_EPOCHS]["val_token_accuracy"]
            for run in traced
        ]
        updates = {run["updates"] * self.LATE_EPOCHS // len(run["per_epoch"]) for run in traced if run.get("updates")}
        span = f"the last {updates.pop():,} updates" if len(updates) == 1 else f"the last {self.LATE_EPOCHS} epochs"
        verdict = (
            "still rising when training stops, so the budget of updates, not a plateau, is what falls short"
            if min(gains) > 0
            else "not rising in every seed, so more updates alone may not reach the target"
        )
        return (
            f"; evidence: validation token accuracy changed by {np.mean(gains):+.3f} on average over {span} "
            f"({min(gains):+.3f}..{max(gains):+.3f} over {len(gains)} seeds): {verdict}"
        )


def reverse_padded(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverses each row's first ``length`` tokens, keeping zero padding at the end."""
    n, width = tokens.shape
    lengths = np.asarray(lengths)
    if n and (lengths == width).all():
        return np.ascontiguousarray(tokens[:, ::-1])
    # Time-flipped, each row's tokens end the row, already reversed: row i of the result is the
    # window of the flipped row (followed by zeros) that starts at width - length[i].
    flipped = np.zeros((n, 2 * width), dtype=tokens.dtype)
    flipped[:, :width] = tokens[:, ::-1]
    windows = np.lib.stride_tricks.sliding_window_view(flipped, width, axis=1)
    return windows[np.arange(n), width - lengths]


def read_then_write(tokens: np.ndarray, lengths: np.ndarray, blank: int) -> dict[str, np.ndarray]:
    """The read-then-write layout of strings: ``tokens`` then ``length`` blank steps.

    Args:
        tokens: Zero-padded token ids, shape ``(n, width)``.
        lengths: String lengths, shape ``(n,)``.
        blank: The blank token id (``vocab_size``).

    Returns:
        ``inputs`` (the string, then ``blank`` on the writing steps), ``targets``
        (0 on the reading steps, then the reversed string), ``output_mask`` (1 on
        the writing steps) and ``length`` (twice the string length), padded to
        twice the width.
    """
    n, width = tokens.shape
    lengths = np.asarray(lengths)
    steps = np.arange(2 * width)[None, :]
    writing = (steps >= lengths[:, None]) & (steps < 2 * lengths[:, None])
    out = allocate_fields(
        {"inputs": ((n, 2 * width), np.int32), "targets": ((n, 2 * width), np.int32), "output_mask": ((n, 2 * width), np.uint8)}
    )
    out["inputs"][:, :width] = tokens
    out["inputs"][:, width:] = 0
    out["inputs"][writing] = blank
    # Writing step L + k holds reversed[k]: reversed rows shifted right by their own length.
    reversed_rows = np.zeros((n, 2 * width), dtype=np.int32)
    reversed_rows[:, :width] = reverse_padded(tokens, lengths)
    shift = np.clip(steps - lengths[:, None], 0, 2 * width - 1)
    out["targets"][...] = np.where(writing, np.take_along_axis(reversed_rows, shift, axis=1), 0)
    out["output_mask"][...] = writing
    return {**out, "length": (2 * lengths).astype(np.int32)}
