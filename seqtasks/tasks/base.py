"""The task interface shared by every generator."""

from __future__ import annotations

import abc
import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from seqtasks.config import TaskConfig, check_integer, short_repr
from seqtasks.draws import Draws, block_bit_generator, hash_buckets, salt_words
from seqtasks.encoding import to_supervised
from seqtasks.metrics import HEADLINE_BY_TARGET_KIND, ReportColumn, score_supervised
from seqtasks.supervised import SupervisedSpec
from seqtasks.training import TrainingSpec

ConfigT = TypeVar("ConfigT", bound=TaskConfig)

# Fractions of the content-hash space given to each held-out split. A sequence
# belongs to exactly one split, so the splits are disjoint by construction.
HASH_BUCKETS = 100
SPLIT_BUCKETS: dict[str, range] = {
    "train": range(0, 80),
    "validation": range(80, 90),
    "test": range(90, 100),
    "test_long": range(0, 100),  # disjoint from the rest by length
}


HELD_OUT_MIN_SEQUENCES = 1024
"""A length stratum is split by content (held out) when it holds at least this many distinct sequences.

Then validation and test (10% of the hash space each) still hold about 100 or
more distinct sequences of that length. A smaller stratum is shared: every split
samples it i.i.d. from the stated distribution, so its sequences can occur in
train and test alike (see ``docs/determinism.md``).
"""


@dataclasses.dataclass(frozen=True)
class LengthStrata:
    """A split's stated length distribution and which of its lengths are held out.

    Attributes:
        lengths: Every sequence length of the split, ascending.
        probabilities: The stated probability of each length (sums to 1).
        log2_sequences: log2 of the number of distinct contents of each length
            that the split hash sees (for embedded Reber, the inner plain strings).
        by_length: True when the split is disjoint from the others by length
            alone (``test_long``), so no content is shared whatever the stratum.
    """

    lengths: np.ndarray
    probabilities: np.ndarray
    log2_sequences: np.ndarray
    by_length: bool = False

    @property
    def held_out(self) -> np.ndarray:
        """Per length: its contents are partitioned between splits by content hash."""
        return self.log2_sequences >= math.log2(HELD_OUT_MIN_SEQUENCES)

    @property
    def held_out_share(self) -> float:
        """Probability that an example of the split has a held-out (never shared) content."""
        return 1.0 if self.by_length else float(self.probabilities[self.held_out].sum())


class Batch(dict):
    """A dict of numpy arrays for a batch of examples.

    Sequence fields are padded with zeros to the longest example; ``length``
    holds each example's true length. ``dropped`` counts candidate sequences
    that were drawn but rejected because their content belongs to another split.
    """

    dropped: int = 0


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named, published configuration of a task (a tfds builder config).

    Attributes:
        name: Config name, e.g. ``"embedded"`` in ``reber_grammar/embedded``.
        config: The validated task config.
        split_sizes: Number of examples per split; ``None`` means the split's
            natural size (for tasks with a finite pool, one pass over it).
        description: One sentence for dataset cards.
        training: How the benchmark trains models on this config (``None``: the task's
            :attr:`Task.default_training`); part of its protocol (``seqtasks.protocol``).
    """

    name: str
    config: TaskConfig
    split_sizes: Mapping[str, int | None]
    description: str
    training: TrainingSpec | None = None


@dataclasses.dataclass(frozen=True)
class TaskCard:
    """What a task says about itself in words: its dataset card and the prose of its docs page.

    Declared in the task's own file (``card = TaskCard(...)``);
    ``docs/tasks/generate_pages.py`` writes ``docs/tasks/<name>.md`` from it and
    takes every number from the code. Markdown throughout.

    Attributes:
        description: One paragraph: what the task is (the tfds description and ``seqtasks list``).
        definition: How an example is made and what the splits hold (the page's Definition).
        fields: The meaning of each field of a batch, by field name (the page's Fields table;
            ``seqtasks.testing.check_task`` checks that every field has one).
        metric: What to report and how (the page's "Metric to report").
        citation: BibTeX of the work the task comes from (the tfds citation); ``""``: none.
    """

    description: str
    definition: str
    fields: Mapping[str, str]
    metric: str
    citation: str = ""


class Task(abc.ABC, Generic[ConfigT]):
    """A deterministic, vectorised generator of one sequence task.

    Subclasses set the class attributes and implement :meth:`_generate_block`.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[TaskConfig]]
    version: ClassVar[str]
    """Dataset version (the tfds ``VERSION``); its MAJOR part is in the seed salt (see ``CHANGELOG.md``)."""
    release_notes: ClassVar[Mapping[str, str]] = {"1.0.0": "Initial release."}
    """What changed in each dataset version, newest first (the tfds ``RELEASE_NOTES``)."""
    block_size: ClassVar[int] = 4096
    sequence_fields: ClassVar[tuple[str, ...]] = ()
    """Fields whose second axis is time (padded; trimmed by ``length``)."""
    block_sequence_fields: ClassVar[tuple[str, ...] | None] = None
    """Time-axis fields of the arrays :meth:`_generate_block` returns (``None``: ``sequence_fields``)."""
    raw_bytes_fields: ClassVar[tuple[str, ...]] = ()
    """Fixed-shape numeric fields the tfds files store as one string of raw little-endian bytes per
    example (``tfds.features.Tensor(..., encoding=BYTES)``) instead of one value per number, so that
    :func:`seqtasks.load` decodes a whole batch with one ``tf.io.decode_raw``. Part of the file format:
    changing it needs a new dataset version."""
    needs_future_context: ClassVar[bool] = False
    """True when a target at step t depends on inputs after t (a causal model cannot solve it)."""
    card: ClassVar[TaskCard | None] = None
    """The task's words: description, definition, field meanings, metric and citation (its docs page)."""
    description: ClassVar[str] = ""
    """The card's description (copied onto the class when it declares a card; read by tfds)."""
    citation: ClassVar[str] = ""
    """The card's citation (copied onto the class when it declares a card; read by tfds)."""
    length_fields: ClassVar[tuple[str, str, str | None] | None] = None
    """Config attributes that bound the examples' lengths (in the sense of :meth:`content_lengths`):
    the shortest and the longest of train, validation and test, and the longest of ``test_long``,
    whose lengths start above the others' longest (``None``, or a config value ``None``: no
    ``test_long``). Read by :meth:`length_range`, :attr:`splits` and :meth:`memory_parameters`;
    ``None``: the task's lengths follow no window (or it has none)."""
    presets: ClassVar[tuple[Preset, ...]] = ()
    default_preset: ClassVar[str] = ""
    test_preset: ClassVar[Preset | None] = None
    """One small, unpublished configuration and its split sizes, built in seconds: the config of
    ``seqtasks.testing.check_task`` and of the task's tfds builder tests (never registered as a preset)."""
    default_training: ClassVar[TrainingSpec] = TrainingSpec()
    """How the benchmark trains models on this task's configs (data, batching, budget, seeds),
    unless a preset declares its own ``training``; see :mod:`seqtasks.training`."""
    content_field: ClassVar[str | None] = None
    """The field whose content decides the split: held-out examples never share it between splits
    (``seqtasks.testing.check_task`` checks it); ``None``: the splits promise no disjointness."""
    block_temporary_factor: ClassVar[float] = 48.0
    """Peak temporaries of one :meth:`_generate_block` call, in multiples of the arrays it returns
    (at the split's longest length); used by the default :meth:`estimate_bytes`. Drawing about 13
    candidates per example of a 10% split, as held-out strata need, takes about 40 for token
    sequences and about 120 for Reber walks (which draw 8 bytes per symbol)."""
    finish_temporary_factor: ClassVar[float] = 3.0
    """Peak temporaries of :meth:`_finish`, in multiples of the fields it returns."""
    block_row_overhead_bytes: ClassVar[int] = 1024
    """Temporaries per example of a block beyond its arrays (candidates' lengths, indices and hashes)."""
    fixed_temporary_bytes: ClassVar[int] = 16 * 2**20
    """Temporaries of any request (chunked draws and hashes, lookup tables)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Copies a declared card's ``description`` and ``citation`` onto the class (what tfds reads)."""
        super().__init_subclass__(**kwargs)
        card = cls.__dict__.get("card")
        if isinstance(card, TaskCard):
            for attribute in ("description", "citation"):
                if attribute not in cls.__dict__:
                    setattr(cls, attribute, getattr(card, attribute))

    def __init__(self, config: ConfigT) -> None:
        if not isinstance(config, self.config_class):
            raise ValueError(f"{self.name}: config must be a {self.config_class.__name__}, got {type(config).__name__}")
        self.config: ConfigT = config
        self.salt = salt_words(self.name, self.salt_version, config.salt_dict())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    @property
    def salt_version(self) -> str:
        """The version string in the seed salt: ``"1.0.0"`` for 1.x (as published), else ``"MAJOR"``.

        MINOR and PATCH releases keep existing examples byte-identical, so they
        must not change the salt.
        """
        major = self.version.split(".")[0]
        return "1.0.0" if major == "1" else major

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this configuration defines: ``test_long`` too where :attr:`length_fields` bound one."""
        base = ("train", "validation", "test")
        return base + (("test_long",) if self._length_bounds()[2] is not None else ())

    def length_range(self, split: str) -> tuple[int, int] | None:
        """Inclusive range of the split's lengths (those of :meth:`content_lengths`), from :attr:`length_fields`.

        Train, validation and test share ``shortest .. longest``; ``test_long``
        holds ``longest + 1 ..`` its own longest.

        Returns:
            ``(low, high)``, or ``None`` when the task declares no length window.
        """
        self._check_split(split)
        low, high, long_high = self._length_bounds()
        if high is None:
            return None
        if split == "test_long":
            return high + 1, int(long_high)
        return int(low), int(high)

    def _length_bounds(self) -> tuple[int | None, int | None, int | None]:
        """The values of :attr:`length_fields` at this config (``None`` for what is not declared)."""
        if self.length_fields is None:
            return None, None, None
        return tuple(None if name is None else getattr(self.config, name) for name in self.length_fields)

    def natural_size(self, split: str) -> int | None:
        """Size of a split whose examples come from a finite pool, else ``None``."""
        self._check_split(split)
        return None

    def published_size(self, split: str, preset: Preset | None = None) -> int:
        """Examples of ``split`` as published: its size in ``preset`` (by default the preset whose
        config this is), or the split's natural size where the preset says ``None`` or no preset
        has this config.

        The one place split sizes are resolved: the tfds builders, ``seqtasks export``, the task
        pages and the baselines' trainer read them here.

        Args:
            split: One of :attr:`splits`.
            preset: The preset whose sizes count, also when this config differs from its config
                (e.g. a run that overrides config fields); ``None``: the preset of this config.

        Raises:
            ValueError: For a split that neither the preset nor a finite pool gives a size.
        """
        self._check_split(split)
        presets = [preset] if preset is not None else [known for known in self.presets if known.config == self.config]
        for candidate in presets:
            size = candidate.split_sizes.get(split)
            if size is not None:
                return int(size)
        size = self.natural_size(split)
        if size is None:
            where = f"preset {preset.name!r}" if preset is not None else "an unpublished config"
            raise ValueError(f"{self.name}: invalid split={split!r} for {where}; allowed: a split "
                             "of a preset's config, or of a task with finite splits")
        return int(size)

    def targets(self) -> tuple[str, ...]:
        """Names of the supervised views of this task, the default first."""
        return ("default",)

    @abc.abstractmethod
    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        """The supervised view named ``target`` (``None``: the default)."""

    def _check_target(self, target: str | None) -> str:
        names = self.targets()
        if target is None:
            return names[0]
        if target not in names:
            raise ValueError(f"{self.name}: invalid target={target!r}; allowed: one of " + ", ".join(names))
        return target

    def length_strata(self, split: str) -> LengthStrata | None:
        """The split's stated length distribution and held-out strata (``None``: no lengths)."""
        self._check_split(split)
        return None

    def max_steps(self, split: str) -> int | None:
        """Most time steps an example of ``split`` can have (``None``: no lengths declared)."""
        strata = self.length_strata(split)
        return None if strata is None else int(strata.lengths.max())

    def content_lengths(self, batch: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Each example's length in the sense of :meth:`length_strata`, by which per-length reports group.

        The number of steps (``batch["length"]``) unless a layout adds steps, as
        the read-then-write reversal does (twice the string length); ``None`` when
        the examples have no length.
        """
        return np.asarray(batch["length"]) if "length" in batch else None

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float | None:
        """Lowest mean training loss a correct model can reach on ``batch``, if known."""
        return None

    def describe(self, example: Mapping[str, Any]) -> str:
        """One line showing one example in the task's own terms (``seqtasks show``)."""
        return "  ".join(f"{key}={np.asarray(value).tolist()!r}" for key, value in example.items())

    def summary(self, batch: Mapping[str, np.ndarray]) -> str:
        """One line summarising a batch (``seqtasks show``)."""
        if "length" in batch and len(batch["length"]):
            return f"lengths {int(np.min(batch['length']))}..{int(np.max(batch['length']))}"
        return ""

    def generate(self, split: str, start: int, stop: int, seed: int = 0) -> Batch:
        """Examples ``[start, stop)`` of a split; identical for any way of slicing the range.

        Args:
            split: One of :attr:`splits`.
            start: Index of the first example.
            stop: One past the index of the last example.
            seed: The user's seed, a non-negative integer.

        Returns:
            A :class:`Batch` of ``stop - start`` examples.
        """
        self._check_request(split, start, stop, seed)
        first_block, last_block = start // self.block_size, -(-stop // self.block_size)
        parts, dropped = [], 0
        for block in range(first_block, last_block):
            draws = Draws(block_bit_generator(int(seed), self.salt, split, block))
            arrays = self._generate_block(draws, split, block)
            dropped += int(arrays.pop("_dropped", 0))
            lo = max(start - block * self.block_size, 0)
            hi = min(stop - block * self.block_size, self.block_size)
            parts.append({key: value[lo:hi] for key, value in arrays.items()})
        batch = Batch(self._finish(self._concat(parts)) if parts else self._generate_empty(split))
        batch.dropped = dropped
        return batch

    def sample(self, n: int, seed: int = 0, split: str = "train") -> Batch:
        """The first ``n`` examples of ``split`` for ``seed``.

        Args:
            n: Number of examples, >= 0.
            seed: The user's seed.
            split: One of :attr:`splits`.

        Returns:
            A :class:`Batch` of ``n`` examples.
        """
        check_integer("n", n, 0, owner=self.name)
        self._check_request(split, 0, int(n), seed, stop_name="n")
        return self.generate(split, 0, int(n), seed)

    def examples(self, batch: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
        """Splits a batch into per-example dicts with padding removed."""
        lengths = batch.get("length")
        out = []
        for i in range(len(next(iter(batch.values())))):
            example = {}
            for key, value in batch.items():
                item = value[i]
                if key in self.sequence_fields and lengths is not None:
                    item = item[: lengths[i]]
                example[key] = item
            out.append(example)
        return out

    @abc.abstractmethod
    def _generate_block(self, draws: Draws, split: str, block: int) -> dict[str, np.ndarray]:
        """Generates the ``block_size`` examples of one block.

        The arrays may be a compact form of the published fields (small dtypes,
        codes) that :meth:`_finish` expands once for all blocks. May add
        ``"_dropped"``: the number of candidates rejected for belonging to another split.
        """

    def _finish(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Turns the joined block arrays into the published fields (default: unchanged).

        Args:
            arrays: The blocks' arrays, concatenated, time-axis fields zero-padded
                and cut to the longest example.

        Returns:
            The batch's fields.
        """
        return arrays

    def _generate_empty(self, split: str) -> dict[str, np.ndarray]:
        """A batch of no examples with the fields, dtypes and shapes of any other (time axes of length 0)."""
        draws = Draws(block_bit_generator(0, self.salt, split, 0))
        arrays = self._generate_block(draws, split, 0)
        arrays.pop("_dropped", None)
        return self._finish(self._concat([{key: value[:0] for key, value in arrays.items()}]))

    def _check_request(self, split: str, start: int, stop: int, seed: int, *, stop_name: str = "stop") -> None:
        """Raises ``ValueError`` for a bad split, seed or range, or one whose memory would exceed the budget.

        Args:
            split: The split asked for.
            start: First example index.
            stop: One past the last example index.
            seed: The user's seed.
            stop_name: The argument that gave ``stop``, for messages (``"n"`` for :meth:`sample`).
        """
        self._check_split(split)
        check_integer("seed", seed, 0, owner=self.name)
        for parameter, value in (("start", start), (stop_name, stop)):
            check_integer(parameter, value, owner=self.name, allowed="an integer >= 0")
            if value > _MAX_INDEX:
                raise ValueError(
                    f"{self.name}: invalid {parameter}={short_repr(value)}; allowed: an integer in [0, 2**63 - 1]"
                )
        if not (0 <= start <= stop):
            raise ValueError(
                f"{self.name}: invalid range start={short_repr(start)}, stop={short_repr(stop)}; "
                "allowed: 0 <= start <= stop"
            )
        self._check_memory(split, int(stop) - int(start), stop_name, stop)

    def estimate_bytes(self, split: str, n: int) -> int:
        """An estimate of the peak memory, in bytes, of generating ``n`` examples of ``split``.

        The default probes :meth:`_generate_block` and :meth:`_finish` on one
        example (no real work) for the fields' dtypes and shapes, scales their
        time axes to the split's longest length, and adds up the blocks' arrays
        (held until joined) and their join, the finished fields and
        :attr:`finish_temporary_factor` times them, and one block's temporaries
        (:attr:`block_temporary_factor` times its arrays, plus
        :attr:`block_row_overhead_bytes` per example), plus
        :attr:`fixed_temporary_bytes`. A task whose memory use differs
        overrides this (or these class attributes).

        Args:
            split: One of :attr:`splits`.
            n: Number of examples (any start).

        Returns:
            Bytes.
        """
        self._check_split(split)
        if n <= 0:
            return 0
        compact_row, output_row = self._probe_row_bytes(split)
        blocks = -(-n // self.block_size) + 1  # a range that starts inside a block touches one more
        held = (blocks * self.block_size + n) * compact_row + n * output_row * (1 + self.finish_temporary_factor)
        block = self.block_size * (self.block_temporary_factor * compact_row + self.block_row_overhead_bytes)
        return int(held + block + self.fixed_temporary_bytes)

    def memory_parameters(self, split: str) -> tuple[str, ...]:
        """Config fields that set the memory per example of ``split`` (named when a request is refused).

        Default: the longest length of :attr:`length_fields` (of ``test_long`` for that split); none without.
        """
        if self.length_fields is None:
            return ()
        name = self.length_fields[2] if split == "test_long" else self.length_fields[1]
        return () if name is None else (name,)

    def max_examples(self, split: str) -> int:
        """The most examples of ``split`` one request may ask for within the memory budget."""
        from seqtasks.config import memory_budget_bytes

        budget = memory_budget_bytes()
        low, high = 0, 1
        while high < 2**63 and self.estimate_bytes(split, high) <= budget:
            low, high = high, 2 * high
        while high - low > 1:  # estimate_bytes(low) fits, estimate_bytes(high) does not
            middle = (low + high) // 2
            low, high = (middle, high) if self.estimate_bytes(split, middle) <= budget else (low, middle)
        return low

    def _check_memory(self, split: str, count: int, parameter: str, value: Any) -> None:
        """Refuses, before any work, a request of ``count`` examples whose estimated peak exceeds the budget."""
        from seqtasks.config import MEMORY_BUDGET_ENV, format_bytes, memory_budget_bytes

        needed, budget = self.estimate_bytes(split, count), memory_budget_bytes()
        if needed <= budget:
            return
        lower = " or ".join((parameter, *self.memory_parameters(split)))
        raise ValueError(
            f"{self.name}: invalid {parameter}={short_repr(value)} for split {split!r}: {count:,} examples need "
            f"about {format_bytes(needed)}, over the memory budget of "
            f"{format_bytes(budget)}; allowed: at most {self.max_examples(split):,} examples per call at this "
            f"config (lower {lower}, generate in slices, or raise {MEMORY_BUDGET_ENV})"
        )

    def _probe_row_bytes(self, split: str) -> tuple[int, int]:
        """Bytes per example of the block arrays and of the finished fields, at the split's longest length."""
        cache = self.__dict__.setdefault("_probe_row_bytes_cache", {})
        if split not in cache:
            probe = copy.copy(self)
            probe.block_size = 1
            draws = Draws(block_bit_generator(0, self.salt, split, 0))
            arrays = probe._generate_block(draws, split, 0)
            arrays.pop("_dropped", None)
            finished = probe._finish(probe._concat([arrays]))
            block_time = self.sequence_fields if self.block_sequence_fields is None else self.block_sequence_fields
            probe_width = max([arrays[key].shape[1] for key in block_time if key in arrays] + [1])
            longest = self.max_steps(split)  # time axes at their widest (an upper bound for compact blocks)
            cache[split] = (
                _row_bytes(arrays, block_time, longest, probe_width),
                _row_bytes(finished, self.sequence_fields, longest, probe_width),
            )
        return cache[split]

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise ValueError(f"{self.name}: invalid split={split!r}; allowed: one of " + ", ".join(self.splits))

    def _concat(self, parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Joins block arrays; time-axis fields are zero-padded and cut to the longest example."""
        time_fields = self.sequence_fields if self.block_sequence_fields is None else self.block_sequence_fields
        width = None
        if "length" in parts[0] and time_fields:
            width = max(int(part["length"].max(initial=0)) for part in parts)
        out = {}
        for key in parts[0]:
            values = [part[key] for part in parts]
            if key not in time_fields or width is None:
                out[key] = values[0] if len(values) == 1 else np.concatenate(values, axis=0)
            else:
                out[key] = _join_padded(values, width)
        return out

    def split_bucket_mask(self, hashes: np.ndarray, split: str) -> np.ndarray:
        """True where a content hash belongs to ``split``."""
        buckets = hash_buckets(hashes, self.salt, HASH_BUCKETS)
        chosen = SPLIT_BUCKETS[split]
        return (buckets >= chosen.start) & (buckets < chosen.stop)

    # -- Evaluation: the task owns how a prediction is scored ---------------------------------------
    # The trainer, `baselines reproduce`, the zoo runner and `seqtasks.metrics.evaluate` all score
    # through these methods; the defaults follow the supervised view, and a task (or one of its
    # configurations) overrides what differs. Helpers live in `seqtasks.metrics`.

    def evaluate(
        self, batch: Mapping[str, np.ndarray], predictions: np.ndarray, *, target: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """Scores a model's predictions on ``batch`` (see ``seqtasks.metrics`` for their shapes).

        Args:
            batch: A batch of this task.
            predictions: The model's outputs for ``batch``.
            target: The supervised view (``None``: the default).
            **options: Task-specific options (none by default).

        Returns:
            A dict of floats (per-step views add ``per_position_accuracy``, an array).
        """
        if options:
            raise ValueError(f"{self.name}: invalid evaluate options {sorted(options)}; allowed: target")
        return score_supervised(self, batch, predictions, target)

    def accuracy_mask(self, batch: Mapping[str, np.ndarray], target: str | None = None) -> np.ndarray:
        """``(n, T)`` True at the steps where a per-step prediction is scored.

        Default: the steps that carry a training target (``sample_weight > 0``);
        a layout with steps that only read input overrides this to score the output steps.
        """
        return to_supervised(self, batch, inputs="ids", target=target)[2] > 0

    def headline_metric(self, target: str | None = None) -> str:
        """The one metric that summarises a model on this task (learning curves, solve checks)."""
        return HEADLINE_BY_TARGET_KIND[self.supervised_spec(target).target_kind]

    def ceiling(self, batch: Mapping[str, np.ndarray] | None = None, target: str | None = None) -> dict[str, float]:
        """The best value any model can reach, per metric, on held-out data (the lowest, for a loss).

        Args:
            batch: With a batch, the exact value on its examples where the task can
                compute one; without, the value the configuration implies.
            target: The supervised view.

        Returns:
            ``{metric: ceiling}`` for the metrics whose ceiling is known (default: none).
        """
        return {}

    def report_columns(self, target: str | None = None) -> tuple[Any, ...]:
        """The columns of this task's results table (``seqtasks.metrics.ReportColumn``)."""
        headline = self.headline_metric(target)
        columns = [ReportColumn(f"test {headline}", headline, "test")]
        if "test_long" in self.splits:
            columns.append(ReportColumn(f"test_long {headline}", headline, "test_long"))
        return tuple(columns)

    def published_references(self, target: str | None = None) -> tuple[Any, ...]:
        """Published numbers this config's table shows beside its baselines, each with what differs
        (``seqtasks.metrics.PublishedReference``); default: none."""
        return ()

    def reference_predictors(self, target: str | None = None) -> tuple[Any, ...]:
        """Non-neural predictors fit on the published ``train`` split and scored on the published
        evaluation splits (``seqtasks.metrics.ReferencePredictor``), so a table shows the gap a
        model must close; default: none. May take seconds to minutes: callers cache them."""
        return ()

    def results_criteria(self, runs: Sequence[Mapping[str, Any]], predictors: Sequence[Mapping[str, Any]] = ()) -> list[str]:
        """What this task's baselines must show, checked on finished runs' ``metrics.json`` (one
        markdown sentence per criterion, with the measured numbers, starting ``met`` or ``NOT met``;
        a ``finding:`` states a measured fact that is no target); default: none.

        ``predictors`` are the task's reference predictors as the results page holds them
        (``name``, ``metrics``), for criteria that compare with them."""
        return []

    def length_metric(self, target: str | None = None) -> str:
        """The metric of the per-length curve; its mean over lengths is the length-generalisation score."""
        return self.headline_metric(target)

    def bidirectional_leak(self, target: str | None = None) -> str | None:
        """Why a bidirectional model is no valid baseline for this view (its backward pass reads the
        target), or ``None``. Default: per-step targets that are later inputs (next-symbol prediction)."""
        spec = self.supervised_spec(target)
        if spec.per_step and spec.target_offset > 0:
            return (
                f"the target at step t is input t + {spec.target_offset}, which a bidirectional model's backward "
                "pass reads before it predicts"
            )
        return None

    def evaluation_protocol(self, target: str | None = None) -> dict[str, Any]:
        """What is scored and how, as recorded in every run's ``metrics.json``."""
        spec = self.supervised_spec(target)
        return {
            "target": self._check_target(target),
            "target_kind": spec.target_kind,
            "scored": "the steps of accuracy_mask (default: steps with a training target)" if spec.per_step
            else "every example",
            "headline_metric": self.headline_metric(target),
            "length_metric": self.length_metric(target),
            "ceiling": self.ceiling(target=target),
            "bidirectional_leak": self.bidirectional_leak(target),
        }


_MAX_INDEX = 2**63 - 1  # example indices are int64


def _row_bytes(
    arrays: Mapping[str, np.ndarray], time_fields: tuple[str, ...], longest: int | None, probe_width: int
) -> int:
    """Bytes per example of a probe's ``arrays``, time axes and string widths scaled to ``longest``.

    A field ``k`` times as wide as the probe's block arrays (``probe_width``) is
    taken to stay ``k`` times as wide at ``longest``.
    """
    total = 0
    scale = 1.0 if longest is None else max(longest / probe_width, 1.0)
    for key, value in arrays.items():
        value = np.asarray(value)
        if value.ndim == 0:
            continue
        itemsize = float(value.dtype.itemsize)
        if value.dtype.kind in "US":  # one string per example, as wide as its longest
            itemsize *= scale
        per_row = float(np.prod(value.shape[1:], dtype=np.float64)) * itemsize
        if key in time_fields and value.ndim >= 2:
            per_row *= scale
        total += math.ceil(per_row)
    return total


def _join_padded(values: list[np.ndarray], width: int) -> np.ndarray:
    """Concatenates arrays along axis 0, each zero-padded or cut to ``width`` along axis 1.

    One copy into the final shape (a single array is only sliced).
    """
    if len(values) == 1:
        return values[0][:, :width]
    joined = np.zeros((sum(len(v) for v in values), width, *values[0].shape[2:]), values[0].dtype)
    row = 0
    for value in values:
        part_width = min(width, value.shape[1])
        joined[row : row + len(value), :part_width] = value[:, :part_width]
        row += len(value)
    return joined


def split_share(split: str) -> float:
    """The share of the content-hash space that belongs to ``split`` (1.0 for ``test_long``)."""
    return len(SPLIT_BUCKETS[split]) / HASH_BUCKETS


def fill_stratified(
    draw_content: Callable[[np.ndarray], dict[str, np.ndarray]],
    keep: Callable[[dict[str, np.ndarray]], np.ndarray],
    lengths: np.ndarray,
    held_out: np.ndarray,
    task_name: str,
    split: str,
    max_rounds: int = 64,
) -> tuple[dict[str, np.ndarray], int]:
    """One sequence of each given length; in held-out strata, only a sequence of this split.

    The lengths were drawn from the split's stated length distribution, so the
    length marginal is exact. A row whose length stratum is shared takes its
    first candidate. A row of a held-out stratum takes a candidate of the same
    length whose content hash belongs to the split: ``1.25 / share`` candidates
    per such row are drawn (its floor or its ceiling for each row) and pooled by
    length, so each row
    receives an independent draw from the stated distribution of its length
    restricted to the split's contents. Rows left without one draw again.

    Args:
        draw_content: Callable ``(lengths) -> candidates``: one candidate per
            given length, in order (1-D fields, or 2-D fields padded along axis 1).
        keep: Callable ``(candidates) -> bool mask``: content that belongs to the split.
        lengths: Length (stratum) of each row.
        held_out: Per row, whether its stratum is split by content.
        task_name: For the error message.
        split: For the error message and the split's share of the hash space.
        max_rounds: Rounds before giving up.

    Returns:
        The chosen candidates in row order, and the number of candidates the
        content hash rejected.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    held_out = np.asarray(held_out, dtype=bool) & (split_share(split) < 1.0)
    per_held_row = 1.25 / split_share(split)  # candidates per held-out row, on average
    chunks: list[dict[str, np.ndarray]] = []
    source_chunk = np.zeros(len(lengths), dtype=np.int64)
    source_index = np.zeros(len(lengths), dtype=np.int64)
    pending = np.arange(len(lengths))
    rejected = 0
    for _ in range(max_rounds):
        if not len(pending):
            break
        held = held_out[pending]
        # Held-out rows get floor or ceil of per_held_row candidates (pooled by length below).
        cumulative = np.floor(np.cumsum(held) * per_held_row).astype(np.int64)
        drawn_for = np.repeat(pending, np.where(held, np.diff(cumulative, prepend=0), 1))
        candidates = draw_content(lengths[drawn_for])
        accepted = ~held_out[drawn_for]
        if not accepted.all():
            in_split = np.asarray(keep(candidates), dtype=bool)
            rejected += int(np.count_nonzero(~accepted & ~in_split))
            accepted |= in_split
        chosen = _match_by_length(lengths[pending], lengths[drawn_for], accepted)
        matched = chosen >= 0
        source_chunk[pending[matched]] = len(chunks)
        source_index[pending[matched]] = chosen[matched]
        chunks.append(candidates)
        pending = pending[~matched]
    if len(pending):
        raise ValueError(
            f"{task_name}: the configuration admits too few distinct sequences of length "
            f"{int(lengths[pending[0]])} for split {split!r}; widen the length range or the vocabulary"
        )
    return _gather_rows(chunks, source_chunk, source_index), rejected


def _match_by_length(row_lengths: np.ndarray, candidate_lengths: np.ndarray, accepted: np.ndarray) -> np.ndarray:
    """Per row, the index of a distinct accepted candidate of the same length, or -1 where none is left.

    Rows and candidates of one length are paired in order (the i-th row of a
    length gets the i-th accepted candidate of that length), which is
    independent of the candidates' content. Lengths are small integers, so
    groups are found by counting (16-bit keys make the stable sorts radix sorts).
    """
    size = int(max(row_lengths.max(initial=0), candidate_lengths.max(initial=0))) + 1
    accepted_index = np.flatnonzero(accepted)
    accepted_lengths = candidate_lengths[accepted_index]
    by_length = accepted_index[np.argsort(accepted_lengths.astype(np.int16), kind="stable")]
    accepted_count = np.bincount(accepted_lengths, minlength=size)
    accepted_first = np.cumsum(accepted_count) - accepted_count
    row_order = np.argsort(row_lengths.astype(np.int16), kind="stable")
    sorted_row_lengths = row_lengths[row_order]
    row_count = np.bincount(row_lengths, minlength=size)
    rank = np.arange(len(row_order)) - (np.cumsum(row_count) - row_count)[sorted_row_lengths]
    has_one = rank < accepted_count[sorted_row_lengths]
    chosen_sorted = np.full(len(row_order), -1, dtype=np.int64)
    chosen_sorted[has_one] = by_length[accepted_first[sorted_row_lengths[has_one]] + rank[has_one]]
    chosen = np.empty_like(chosen_sorted)
    chosen[row_order] = chosen_sorted
    return chosen


def _gather_rows(
    chunks: list[dict[str, np.ndarray]], source_chunk: np.ndarray, source_index: np.ndarray
) -> dict[str, np.ndarray]:
    """Row ``i`` of the result is row ``source_index[i]`` of ``chunks[source_chunk[i]]``."""
    if len(chunks) == 1:
        return {key: value[source_index] for key, value in chunks[0].items()}
    rows_of = [np.flatnonzero(source_chunk == c) for c in range(len(chunks))]
    placed = np.concatenate(rows_of)
    out = {}
    for key in chunks[0]:
        values = [chunk[key][source_index[rows]] for chunk, rows in zip(chunks, rows_of)]
        if values[0].ndim > 1:
            joined = _join_padded(values, max(v.shape[1] for v in values))
        else:
            joined = np.concatenate(values, axis=0)
        result = np.empty_like(joined)
        result[placed] = joined
        out[key] = result
    return out
