"""Reber grammar and embedded Reber grammar strings (next-symbol prediction).

The grammar is the finite automaton of Reber (1967) as used by Cleeremans,
Servan-Schreiber & McClelland (1989) and by Hochreiter & Schmidhuber (1997,
experiment 1). Every node has two equally likely outgoing edges (node 6 has
one, emitting ``E``). An embedded string is ``B b <inner> b E`` with ``b`` in
``{T, P}`` chosen with equal probability; the network must remember ``b``
across the whole inner string to predict the second-to-last symbol. ``depth``
nests the embedding, lengthening that dependency (the difficulty knob).

Length window: strings are drawn from the grammar's own distribution
conditioned on ``min_length <= length <= max_length``. Instead of rejection
sampling (which becomes hopeless for long windows) the sampler conditions
exactly: it draws the length from the grammar's length distribution restricted
to the window, then walks the automaton choosing each edge with probability
proportional to its weight times the probability of finishing in exactly the
remaining number of steps. This yields the same distribution that rejection
sampling would, at any length.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from seqtasks._arrays import allocate_fields, length_mask
from seqtasks.config import TaskConfig
from seqtasks.draws import Draws, hash_shifted, uniform_thresholds
from seqtasks.registry import register
from seqtasks.training import TrainingSpec
from seqtasks.tasks.base import (
    HELD_OUT_MIN_SEQUENCES,
    LengthStrata,
    Preset,
    SupervisedSpec,
    Task,
    TaskCard,
    fill_stratified,
)

ALPHABET = "BTSXPVE"
B, T, S, X, P, V, E = range(7)
_END = 7  # state after the final E
# _EDGES[state] = ((symbol, next_state), ...); state 0 is before B.
_EDGES: dict[int, tuple[tuple[int, int], ...]] = {
    1: ((T, 2), (P, 3)),
    2: ((S, 2), (X, 4)),
    3: ((T, 3), (V, 5)),
    4: ((X, 3), (S, 6)),
    5: ((P, 4), (V, 6)),
    6: ((E, _END), (E, _END)),
}
PLAIN_MIN_LENGTH = 5  # B T X S E
MAX_SUPPORTED_LENGTH = 4000

_SYMBOL = np.zeros((8, 2), dtype=np.int64)
_NEXT = np.full((8, 2), _END, dtype=np.int64)
for _state, _edges in _EDGES.items():
    for _choice, (_symbol, _next) in enumerate(_edges):
        _SYMBOL[_state, _choice], _NEXT[_state, _choice] = _symbol, _next

# Blocks hold "symbols": token id + 1, so that 0 marks padding (see ReberGrammar._finish).
# Each position's legal-next set is a row of _LEGAL_BY_KEY, indexed by a position key:
# 8 * previous symbol + symbol (0..63) inside a plain string, where this bigram alone fixes the
# automaton state (checked below), or one of the five keys of the embedding positions.
_KEY_AFTER_OPEN, _KEY_AFTER_BRANCH, _KEY_AFTER_CLOSE_BRANCH, _KEY_AFTER_T, _KEY_AFTER_P = range(64, 69)
_LEGAL_BY_KEY = np.zeros((69, len(ALPHABET)), dtype=np.uint8)  # padding keys (symbol 0) stay empty
_LEGAL_BY_KEY[_KEY_AFTER_OPEN, [T, P]] = 1
_LEGAL_BY_KEY[_KEY_AFTER_BRANCH, B] = 1
_LEGAL_BY_KEY[_KEY_AFTER_CLOSE_BRANCH, E] = 1
_LEGAL_BY_KEY[_KEY_AFTER_T, T] = 1
_LEGAL_BY_KEY[_KEY_AFTER_P, P] = 1


def _bigram_states() -> dict[int, int]:
    """Automaton state after each (previous symbol + 1, symbol + 1) bigram key; fails if ambiguous."""
    entering = {1: {B + 1}}  # the symbols that lead into each state
    for state, edges in _EDGES.items():
        for symbol, after in edges:
            entering.setdefault(after, set()).add(symbol + 1)
    states = {8 * previous + B + 1: 1 for previous in (0, T + 1, P + 1)}  # B after padding or a branch
    for state, edges in _EDGES.items():
        for symbol, after in edges:
            for previous in entering[state]:
                key = 8 * previous + symbol + 1
                if states.setdefault(key, after) != after:
                    raise AssertionError(f"the bigram {key} does not determine the Reber state")
    return states


_STATE_BY_BIGRAM = np.full(64, -1, dtype=np.int64)  # automaton state after a (previous + 1, symbol + 1) bigram key
for _key, _state in _bigram_states().items():
    _STATE_BY_BIGRAM[_key] = _state
    if _state in _EDGES:  # after the final E (state _END) nothing is legal
        _LEGAL_BY_KEY[_key, [symbol for symbol, _ in _EDGES[_state]]] = 1
# _LEGAL_PAIRS[69 * a + b] = _LEGAL_BY_KEY[a] followed by _LEGAL_BY_KEY[b] (see _write_legal_sets).
_LEGAL_PAIRS = np.concatenate(
    np.broadcast_arrays(_LEGAL_BY_KEY[:, None, :], _LEGAL_BY_KEY[None, :, :]), axis=-1
).reshape(-1, 2 * len(ALPHABET))
_TOKEN_OF_SYMBOL = np.arange(-1, len(ALPHABET), dtype=np.int32).clip(0)  # padding -> token 0
_CODEPOINT_OF_SYMBOL = np.frombuffer(("\0" + ALPHABET).encode("utf-32-le"), dtype=np.uint32)
_FINISH_ROWS = 2048  # rows per chunk of _finish's lookups
_FINISH_PAIRS = 1 << 16  # position pairs per chunk of _write_legal_sets


@functools.lru_cache(maxsize=None)
def _path_counts(max_remaining: int) -> tuple[np.ndarray, np.ndarray]:
    """Scaled numbers of symbol strings that end the string after exactly r more symbols.

    Every branching node's two edges are equally likely, so counting paths is
    exact probability bookkeeping: from state s, each path of r symbols has
    probability ``2 ** -(r - 1)``. Counts grow like 1.47 ** r, so each column is
    scaled by a power of two (exact in floating point): nothing overflows or
    underflows at any length, and every ratio of counts is the correctly
    rounded ratio of the true counts.

    Returns:
        ``(g, e)``: ``g[s, r] * 2 ** e[r]`` paths lead from state s to the end
        in exactly r symbols.
    """
    g = np.zeros((8, max_remaining + 1), dtype=np.float64)
    e = np.zeros(max_remaining + 1, dtype=np.int64)
    g[_END, 0] = 1.0
    for r in range(1, max_remaining + 1):
        column = np.zeros(8)
        column[6] = g[_END, r - 1]
        for state in range(1, 6):
            (_, a), (_, b) = _EDGES[state]
            column[state] = g[a, r - 1] + g[b, r - 1]
        _, exponent = np.frexp(column.max())
        g[:, r] = np.ldexp(column, -exponent)
        e[r] = e[r - 1] + exponent
    return g, e


@functools.lru_cache(maxsize=None)
def _first_edge_probabilities(max_remaining: int) -> np.ndarray:
    """``p[s, r]``: probability of a state's first edge given the string ends in exactly r more symbols.

    The ratio of the paths through the first edge to all paths from s (both
    counts scaled; see :func:`_path_counts`). Node 6 has one real edge (``E``),
    listed twice, so either choice emits the same symbol; states with no path
    of that length get 1.
    """
    g, e = _path_counts(max_remaining)
    remaining = np.arange(max_remaining + 1)
    before = np.maximum(remaining - 1, 0)
    first = g[_NEXT[:, 0][:, None], before[None, :]]
    ratio = np.ones((8, max_remaining + 1))
    np.divide(first, g, out=ratio, where=g > 0)
    p = np.where(g > 0, np.ldexp(ratio, (e[before] - e[remaining])[None, :]), 1.0)
    p[6] = np.where(remaining == 1, 0.5, 1.0)
    p[_END] = np.where(remaining == 0, 0.5, 1.0)
    return p


def _plain_length_weights(low: int, high: int) -> np.ndarray:
    """Weights of plain lengths ``low..high`` proportional to their probability, the largest in [0.5, 1).

    Weight ``L`` is ``P(length L) * 2 ** -m`` for one power of two ``m``, so the
    weights are exact rescalings of the probabilities (see :func:`_path_counts`)
    and never underflow, however long the window.
    """
    g, e = _path_counts(high)
    lengths = np.arange(low, high + 1)
    mantissa, exponent = np.frexp(g[1, lengths - 1])  # B, then L - 1 symbols from node 1
    exponent = np.where(mantissa > 0, exponent + e[lengths - 1] - (lengths - 2), np.iinfo(np.int64).min // 2)
    return np.ldexp(mantissa, exponent - exponent.max())


def plain_length_distribution(max_length: int) -> np.ndarray:
    """``p[L]``: probability that a plain Reber string has length L (index 0..max_length).

    Exact up to float64 range: entries below about 1e-308 (lengths above about
    2,390) read 0. Use the length window's own weights to sample such lengths.
    """
    g, e = _path_counts(max_length)
    lengths = np.arange(2, max_length + 1)
    p = np.zeros(max_length + 1)
    p[2:] = np.ldexp(g[1, lengths - 1], e[lengths - 1] - (lengths - 2))
    return p


def plain_string_counts_log2(max_length: int) -> np.ndarray:
    """``c[L]``: log2 of the number of distinct plain Reber strings of length L (``-inf`` where none)."""
    g, e = _path_counts(max_length)
    lengths = np.arange(1, max_length + 1)
    out = np.full(max_length + 1, -np.inf)
    with np.errstate(divide="ignore"):
        out[1:] = np.log2(g[1, lengths - 1]) + e[lengths - 1]
    return out


@dataclasses.dataclass(frozen=True)
class ReberConfig(TaskConfig):
    """Configuration of the Reber grammar task.

    Attributes:
        variant: ``"plain"`` Reber strings or ``"embedded"`` Reber strings.
        depth: Embedding depth for ``"embedded"`` (1 is the classic task; each
            level adds 4 symbols and one more remembered branch). Must be
            ``None`` for ``"plain"``.
        min_length: Shortest whole string (``None``: the shortest the grammar makes).
        max_length: Longest string in train, validation and test.
        long_max_length: Longest string in ``test_long`` (lengths
            ``max_length + 1 .. long_max_length``); ``None``: no ``test_long``.
    """

    task_name: ClassVar[str] = "reber_grammar"
    variant: str = "embedded"
    depth: int | None = None
    min_length: int | None = None
    max_length: int = 50
    long_max_length: int | None = 100

    @property
    def embedding_depth(self) -> int:
        """0 for plain strings, else the number of nested embeddings."""
        return 0 if self.variant == "plain" else (1 if self.depth is None else self.depth)

    @property
    def shortest(self) -> int:
        """Length of the shortest string of this variant and depth."""
        return PLAIN_MIN_LENGTH + 4 * self.embedding_depth

    @property
    def effective_min_length(self) -> int:
        """Shortest string of train, validation and test: ``min_length``, raised to :attr:`shortest`."""
        return self.shortest if self.min_length is None else max(self.min_length, self.shortest)

    def validate(self) -> None:
        self.check_choice("variant", ("plain", "embedded"))
        if self.variant == "plain" and self.depth is not None:
            self._fail("depth", self.depth, "None for variant='plain' (depth applies to variant='embedded')")
        if self.depth is not None:
            self.check_int("depth", 1, 8)
        if self.min_length is not None:
            self.check_int("min_length", 1, MAX_SUPPORTED_LENGTH)
        self.check_int(
            "max_length",
            max(self.shortest, self.min_length or 1),
            MAX_SUPPORTED_LENGTH,
            note=f"at least min_length={self.min_length} and the shortest string, {self.shortest}, of "
            f"variant={self.variant!r} depth={self.depth}",
        )
        if self.long_max_length is not None:
            self.check_int(
                "long_max_length", self.max_length + 1, MAX_SUPPORTED_LENGTH, note=f"above max_length={self.max_length}"
            )


CARD = TaskCard(
    description=(
        "Strings of the Reber grammar (plain or embedded). Per position, the multi-hot set of "
        "symbols the grammar allows next is the prediction target; the embedded variant requires "
        "remembering the second symbol until the second-to-last position."
    ),
    definition="""\
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
    fields={
        "text": "the string, e.g. `BTBTXSETE`",
        "tokens": "symbol ids over the alphabet `BTSXPVE` (B=0 ... E=6)",
        "next_symbols": "per position, the multi-hot set of symbols the grammar allows next",
        "length": "number of symbols",
    },
    metric="""\
Report the **1997 criterion** on `test`: a string counts as solved when, at every position, the
symbols the grammar allows next (`next_symbols`) are exactly the most active outputs (train with the
`legal_set` target and sigmoid outputs, or threshold softmax outputs); report the fraction of
test strings solved (the paper required all of them) and the number of training strings seen.
Report the **long-range check** separately: accuracy on the second-to-last symbol (the embedded
branch `b`, the only position that needs the long memory), on `test` and on `test_long`. Per-step
cross-entropy is comparable only against the entropy floor `task.loss_floor(batch)`.""",
    citation="""@article{hochreiter1997lstm,
  title={Long Short-Term Memory},
  author={Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen},
  journal={Neural Computation},
  volume={9}, number={8}, pages={1735--1780}, year={1997}
}
@article{cleeremans1989finite,
  title={Finite State Automata and Simple Recurrent Networks},
  author={Cleeremans, Axel and Servan-Schreiber, David and McClelland, James L.},
  journal={Neural Computation},
  volume={1}, number={3}, pages={372--381}, year={1989}
}""",
)
"""The words of the task: its tfds description and citation and the prose of docs/tasks/reber_grammar.md."""


@register
class ReberGrammar(Task[ReberConfig]):
    """Next-symbol prediction on (embedded) Reber grammar strings."""

    name = "reber_grammar"
    config_class = ReberConfig
    version = "2.0.0"
    release_notes = {
        "2.0.0": (
            "Held-out splits follow the grammar's length distribution: lengths are drawn first, then a "
            "string of that length; inner lengths with fewer than 1,024 distinct plain strings are shared "
            "(sampled i.i.d. in every split), longer ones are split by content hash. The length tables "
            "are exact at every accepted length (1.0.0 underflowed above about 2,390 symbols). All "
            "examples changed."
        ),
        "1.0.0": "Initial release. Held-out splits lacked the short, most probable strings.",
    }
    sequence_fields = ("tokens", "next_symbols")
    block_sequence_fields = ("symbols",)
    block_temporary_factor = 128.0  # the walk draws 8 bytes per symbol of ~13 candidates per held-out row
    alphabet = ALPHABET
    card = CARD
    length_fields = ("effective_min_length", "max_length", "long_max_length")
    default_training = TrainingSpec(
        data="published_train",
        batching="shuffled",
        batch_size=16,
        epochs=32,
        budget_matched_to="8,192 training sequences (32 epochs of the 256 published strings), just under the 8,440 "
        "the best LSTM of Hochreiter & Schmidhuber (1997), Table 1, needed; as in that protocol, training stops "
        "once the test set is solved",
        seeds=10,  # the 1997 paper's Table 1 reports trials of 10 and more
        solve_check_every=64,
        stop_when_solved=True,
    )
    presets = (
        Preset(
            "embedded",
            ReberConfig(variant="embedded"),
            {"train": 256, "validation": 256, "test": 256, "test_long": 256},
            "Embedded Reber strings, the 1997 LSTM protocol (256 training and 256 test strings).",
        ),
        Preset(
            "reber",
            ReberConfig(variant="plain", max_length=40, long_max_length=80),
            {"train": 256, "validation": 256, "test": 256, "test_long": 256},
            "Plain Reber strings.",
        ),
        Preset(
            "embedded_depth2",
            ReberConfig(variant="embedded", depth=2, max_length=60, long_max_length=120),
            {"train": 1024, "validation": 256, "test": 256, "test_long": 256},
            "Doubly embedded Reber strings: two branch symbols to remember.",
        ),
    )
    default_preset = "embedded"
    test_preset = Preset(
        "tiny_embedded",
        ReberConfig(variant="embedded", max_length=20, long_max_length=30),
        {"train": 40, "validation": 10, "test": 10, "test_long": 10},
        "Tiny embedded Reber config for tests.",
    )
    content_field = "tokens"

    def targets(self) -> tuple[str, ...]:
        """``next_symbol``: the actual next symbol (softmax + cross-entropy, as in seed 000);
        ``legal_set``: the multi-hot set of legal next symbols (sigmoid outputs, as in 1997)."""
        return ("next_symbol", "legal_set")

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        if self._check_target(target) == "next_symbol":
            return SupervisedSpec("tokens", len(ALPHABET), "tokens", "sparse", target_offset=1)
        return SupervisedSpec("tokens", len(ALPHABET), "next_symbols", "multi_hot")

    def _generate_block(self, draws: Draws, split: str, block: int) -> dict[str, np.ndarray]:
        depth = self.config.embedding_depth
        inner_low, inner_high = self._inner_length_range(split)
        inner_lengths = _sample_lengths(draws, self.block_size, inner_low, inner_high)
        branches = np.where(draws.uniform((self.block_size, depth)) < 0.5, T, P) if depth else None
        held_out = plain_string_counts_log2(inner_high) >= np.log2(HELD_OUT_MIN_SEQUENCES)
        walks: list[_Walk] = []  # one per round of candidates
        rows, dropped = fill_stratified(
            lambda lengths: self._candidates(draws, lengths, inner_high, walks),
            lambda rows: self.split_bucket_mask(rows["inner_hash"], split),
            inner_lengths,
            held_out[inner_lengths],
            self.name,
            split,
        )
        if branches is None:
            branches = np.zeros((self.block_size, 0), dtype=np.int64)
        arrays = _embed(walks, rows["walk"], rows["column"], inner_lengths, branches)
        arrays["_dropped"] = np.int64(dropped)
        return arrays  # int8 symbols; _finish expands them once per batch

    def _inner_length_range(self, split: str) -> tuple[int, int]:
        """Inclusive range of the innermost plain string's length in a split."""
        low, high = self.length_range(split)
        depth = self.config.embedding_depth
        return max(low - 4 * depth, PLAIN_MIN_LENGTH), high - 4 * depth

    def length_strata(self, split: str) -> LengthStrata:
        """Whole-string lengths with the grammar's probabilities in the split's window.

        The content hash sees the innermost plain string (both branch symbols
        stay equally likely in every split), so a stratum's size is the number
        of plain strings of its inner length.
        """
        inner_low, inner_high = self._inner_length_range(split)
        weights = _plain_length_weights(inner_low, inner_high)
        return LengthStrata(
            lengths=np.arange(inner_low, inner_high + 1) + 4 * self.config.embedding_depth,
            probabilities=weights / weights.sum(),
            log2_sequences=plain_string_counts_log2(inner_high)[inner_low:],
            by_length=split == "test_long",
        )

    def _finish(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        symbols = arrays["symbols"]
        n, width = symbols.shape
        out = allocate_fields(
            {
                "tokens": ((n, width), np.int32),
                "next_symbols": ((n, width, len(ALPHABET)), np.uint8),
                "text": ((n, width), np.uint32),  # UTF-32 code units
            }
        )
        tokens, next_symbols, codepoints = out["tokens"], out["next_symbols"], out["text"]
        # Row chunks keep take's intp copy of the indices small and reused.
        for start in range(0, n, _FINISH_ROWS):
            rows = slice(start, start + _FINISH_ROWS)
            np.take(_TOKEN_OF_SYMBOL, symbols[rows], out=tokens[rows], mode="clip")
            np.take(_CODEPOINT_OF_SYMBOL, symbols[rows], out=codepoints[rows], mode="clip")
        _write_legal_sets(_position_keys(symbols, arrays["length"], self.config.embedding_depth), next_symbols)
        text = codepoints.view(f"<U{max(width, 1)}").reshape(-1)  # padding code 0 ends each string
        return {"tokens": tokens, "length": arrays["length"], "next_symbols": next_symbols, "text": text}

    def _candidates(
        self, draws: Draws, lengths: np.ndarray, max_length: int, walks: list[_Walk]
    ) -> dict[str, np.ndarray]:
        """One candidate plain string per given length; its symbols stay in the walk appended to ``walks``.

        ``inner_hash`` hashes the innermost plain string, which alone decides the
        split: hashing it (not the branch symbols) keeps both embedding branches
        equally likely in every split, while the splits stay disjoint.
        """
        n = len(lengths)
        walk = _walk(draws, lengths, max_length)
        walks.append(walk)
        column = np.empty(n, dtype=np.intp)
        column[walk.order] = np.arange(n)
        inner_hash = np.empty(n, dtype=np.uint64)
        inner_hash[walk.order] = hash_shifted(walk.symbols, lengths[walk.order], time_major=True)
        return {"inner_hash": inner_hash, "walk": np.full(n, len(walks) - 1, dtype=np.int32), "column": column}

    def describe(self, example: Mapping[str, Any]) -> str:
        legal = ["{" + "".join(ALPHABET[j] for j in np.flatnonzero(row)) + "}" for row in example["next_symbols"]]
        return f"{example['text']}  next: {' '.join(legal)}"

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float:
        """Mean next-symbol entropy (nats) over predicted positions: the floor of categorical cross-entropy.

        The entropy is that of the distribution the strings are drawn from: the
        grammar conditioned on the split's length window. Away from the window's
        edges a branching node's two edges are equally likely (ln 2); near them,
        the edge that can still finish inside the window is more likely, so a model
        that knows the grammar and the window beats ln 2 there (see
        :func:`_window_entropies`). The embedding's branch symbol has ln 2, its other
        positions 0.

        Args:
            batch: ``tokens``, ``next_symbols`` and ``length`` of strings from one
                split's window (train, validation and test share one; ``test_long``
                has its own).

        Raises:
            ValueError: When the lengths fit neither window.
        """
        legal = batch["next_symbols"].sum(axis=-1).astype(np.float64)
        lengths = np.asarray(batch["length"])
        columns = np.arange(legal.shape[1])[None, :]
        positions = columns < (lengths[:, None] - 1)
        entropy = np.log(np.where(positions, legal, 1.0))
        depth = self.config.embedding_depth
        inner = (columns >= 2 * depth) & (columns <= lengths[:, None] - 2 * depth - 2)
        symbols = np.where(length_mask(lengths, legal.shape[1]), np.asarray(batch["tokens"]) + 1, 0).astype(np.int8)
        keys = _position_keys(symbols, lengths, depth)
        window = self._inner_window(lengths - 4 * depth)
        entropy[inner] = _window_entropies(keys, inner, 2 * depth, window)
        return float(entropy[positions].sum() / positions.sum())

    def _inner_window(self, inner_lengths: np.ndarray) -> tuple[int, int]:
        """The inclusive inner-length window of the split that holds every given inner length."""
        splits = ("train", "test_long") if self.config.long_max_length is not None else ("train",)
        windows = [self._inner_length_range(split) for split in splits]
        for low, high in windows:
            if inner_lengths.size == 0 or (inner_lengths.min() >= low and inner_lengths.max() <= high):
                return low, high
        depth = self.config.embedding_depth
        allowed = " or ".join(f"{low + 4 * depth}..{high + 4 * depth}" for low, high in windows)
        raise ValueError(
            f"{self.name}: invalid batch lengths {inner_lengths.min() + 4 * depth}..{inner_lengths.max() + 4 * depth} "
            f"for loss_floor; allowed: all within one split's window, {allowed}"
        )

    # -- Evaluation: the 1997 criterion (see Task's evaluation block) ---------------------------------

    def evaluate(
        self, batch: Mapping[str, np.ndarray], predictions: np.ndarray, *, target: str | None = None, **options: Any
    ) -> dict[str, float]:
        """Scores next-symbol predictions with the criterion of Hochreiter & Schmidhuber (1997).

        A string counts as solved when at every position whose legal next set is
        non-empty, the ``k = |legal set|`` largest outputs are exactly the legal
        symbols (every legal output strictly above every illegal one). Both views
        are scored the same way: only the order of the outputs matters.

        Args:
            batch: A batch (``tokens``, ``next_symbols``, ``length``).
            predictions: ``(n, T, 7)`` output activations, row ``t`` predicting the
                symbol after ``tokens[t]`` (softmax or sigmoid outputs).
            target: ``next_symbol`` or ``legal_set`` (checked; scored alike).

        Returns:
            ``strings_solved`` (fraction of strings solved), ``symbols_correct``
            (fraction of scored positions whose arg-max output is legal) and, for
            embedded strings, ``long_range_correct``: the fraction of strings whose
            arg-max output before the second-to-last symbol is the second symbol
            (the remembered branch).
        """
        import math

        from seqtasks.metrics import check_leading_shape

        self._check_target(target)
        if options:
            raise ValueError(f"{self.name}: invalid evaluate options {sorted(options)}; allowed: target")
        predictions = np.asarray(predictions, dtype=np.float64)
        legal = np.asarray(batch["next_symbols"]).astype(bool)
        lengths = np.asarray(batch["length"])
        n, width, depth = legal.shape
        check_leading_shape(self.name, predictions, (n, width, depth))
        scored = legal.any(axis=-1) & (np.arange(width)[None, :] < lengths[:, None])
        lowest_legal = np.where(legal, predictions, np.inf).min(axis=-1)
        highest_illegal = np.where(legal, -np.inf, predictions).max(axis=-1)
        position_ok = (lowest_legal > highest_illegal) | ~scored
        best = predictions.argmax(axis=-1)
        argmax_legal = np.take_along_axis(legal, best[..., None], axis=-1)[..., 0]
        out = {
            "strings_solved": float(position_ok.all(axis=1).mean()) if n else math.nan,
            "symbols_correct": float(argmax_legal[scored].mean()) if scored.any() else math.nan,
        }
        if self.config.embedding_depth > 0:
            tokens = np.asarray(batch["tokens"])
            predicted = best[np.arange(n), lengths - 3]
            out["long_range_correct"] = float((predicted == tokens[:, 1]).mean()) if n else math.nan
        return out

    def accuracy_mask(self, batch: Mapping[str, np.ndarray], target: str | None = None) -> np.ndarray:
        """Positions whose legal next set is non-empty (every position but the one after the final E)."""
        legal = np.asarray(batch["next_symbols"]).astype(bool)
        return legal.any(axis=-1) & (np.arange(legal.shape[1])[None, :] < np.asarray(batch["length"])[:, None])

    def headline_metric(self, target: str | None = None) -> str:
        return "strings_solved"

    def ceiling(self, batch: Mapping[str, np.ndarray] | None = None, target: str | None = None) -> dict[str, float]:
        """1.0 for every metric: the grammar (and the branch) determine every legal set."""
        out = {"strings_solved": 1.0, "symbols_correct": 1.0}
        if self.config.embedding_depth > 0:
            out["long_range_correct"] = 1.0
        return out

    def report_columns(self, target: str | None = None) -> tuple[Any, ...]:
        from seqtasks.metrics import ReportColumn

        columns = [ReportColumn("test strings solved", "strings_solved")]
        if self.config.embedding_depth > 0:
            columns.append(ReportColumn("test long-range correct", "long_range_correct"))
        if "test_long" in self.splits:
            columns.append(ReportColumn("test_long strings solved", "strings_solved", "test_long"))
        columns.append(ReportColumn("sequences until test solved", "sequences_to_solve_test", None, "{:.0f}", best="min"))
        return tuple(columns)

    def published_references(self, target: str | None = None) -> tuple[Any, ...]:
        """Hochreiter & Schmidhuber (1997), Table 1, on the embedded grammar (the 1997 protocol's config)."""
        from seqtasks.metrics import PublishedReference

        if self.config.embedding_depth != 1 or (target or "next_symbol") != "next_symbol":
            return ()
        differences = (
            "1997: online updates after every string with its own LSTM (no forget gate, memory blocks) and "
            "learning rate; here Adam, batch 16, LSTM(64) with forget gates. Both stop when all 256 test strings "
            "are solved and count the training sequences until then."
        )
        return (
            PublishedReference("Hochreiter & Schmidhuber (1997), Table 1", "LSTM", "sequences until test solved",
                               "8,440", "the best LSTM variant", differences, "lstm"),
            PublishedReference("Hochreiter & Schmidhuber (1997), Table 1", "LSTM", "test strings solved",
                               "1.000 (100% of trials)", "share of trials that solved the test set", differences, "lstm"),
        )

    def results_criteria(self, runs: Sequence[Mapping[str, Any]], predictors: Sequence[Mapping[str, Any]] = ()) -> list[str]:
        """Embedded grammar: each unidirectional model solves every test string in >= 9 of 10 seeds,
        in fewer training sequences than the 8,440 of 1997."""
        if self.config.embedding_depth != 1:
            return []
        lines = []
        for model in sorted({run.get("model") for run in runs}):
            mine = [run for run in runs if run.get("model") == model]
            needed = sorted(run["sequences_to_solve_test"] for run in mine if run.get("sequences_to_solve_test"))
            met = len(needed) >= 0.9 * len(mine) and bool(needed) and max(needed) < 8440
            spread = f"median {np.median(needed):,.0f}, range {needed[0]:,}..{needed[-1]:,}" if needed else "never"
            lines.append(
                f"{'met' if met else 'NOT met'}: {model} solved all test strings in {len(needed)} of {len(mine)} "
                f"seeds (target: >= 9 of 10, each in fewer than 8,440 sequences); sequences needed: {spread}"
            )
        return lines

    def bidirectional_leak(self, target: str | None = None) -> str | None:
        """Both views leak: the backward pass reads the next symbol (and so the branch) before predicting it."""
        self._check_target(target)
        return (
            "next-symbol prediction: a bidirectional model's backward pass reads the symbol it must predict "
            "(at the second-to-last position, the remembered branch), so its score measures leakage, not memory"
        )

    def evaluation_protocol(self, target: str | None = None) -> dict[str, Any]:
        return {
            **super().evaluation_protocol(target),
            "criterion": "Hochreiter & Schmidhuber (1997): a string is solved when at every position the k legal "
            "next symbols get the k largest outputs",
            "scored": "every position whose legal next set is non-empty",
        }


def _write_legal_sets(keys: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = _LEGAL_BY_KEY[keys]``, two positions per lookup.

    NumPy gathers 7-byte rows with one ``memmove`` each; looking up pairs of
    consecutive positions in a table of all key pairs halves the gathers.

    Args:
        keys: Position keys (see ``_position_keys``), any shape, C-contiguous.
        out: C-contiguous uint8 array of shape ``keys.shape + (7,)``.
    """
    flat_keys, flat_out = keys.reshape(-1), out.reshape(-1, len(ALPHABET))
    pairs = len(flat_keys) // 2
    paired_out = flat_out[: 2 * pairs].reshape(pairs, 2 * len(ALPHABET))
    for start in range(0, pairs, _FINISH_PAIRS):
        chunk = flat_keys[2 * start : 2 * min(start + _FINISH_PAIRS, pairs)]
        pair_keys = chunk[0::2].astype(np.int16) * len(_LEGAL_BY_KEY) + chunk[1::2]
        np.take(_LEGAL_PAIRS, pair_keys, axis=0, out=paired_out[start : start + len(pair_keys)], mode="clip")
    if len(flat_keys) % 2:
        flat_out[-1] = _LEGAL_BY_KEY[flat_keys[-1]]


@functools.lru_cache(maxsize=None)
def _log2_finish_tails(max_remaining: int) -> np.ndarray:
    """``t[s, r]``: log2 of the probability that a walk from state s ends after r to ``max_remaining`` more symbols.

    Column ``max_remaining + 1`` is ``-inf`` (nothing left). Each path of r symbols
    from s has probability ``2 ** -(r - 1)`` (see :func:`_path_counts`).
    """
    g, e = _path_counts(max_remaining)
    remaining = np.arange(max_remaining + 1)
    with np.errstate(divide="ignore"):
        log_finish = np.log2(g) + (e - np.maximum(remaining - 1, 0))[None, :]
    tails = np.logaddexp2.accumulate(log_finish[:, ::-1], axis=1)[:, ::-1]
    return np.concatenate([tails, np.full((8, 1), -np.inf)], axis=1)


def _window_entropies(keys: np.ndarray, inner: np.ndarray, start: int, window: tuple[int, int]) -> np.ndarray:
    """Next-symbol entropy (nats) at the ``inner`` positions of plain strings whose lengths lie in ``window``.

    After ``k`` symbols of the plain string (which begins at column ``start``) in
    state s, edge i leads to state ``n_i``; the string then ends inside the window
    with probability ``w_i``, the probability that a walk from ``n_i`` ends after
    ``low - k - 1`` to ``high - k - 1`` more symbols. The edges' probabilities
    given the prefix are ``w_i / (w_0 + w_1)``.

    Args:
        keys: Position keys (:func:`_position_keys`), shape ``(n, width)``; at ``inner``
            positions each is a bigram that fixes the automaton state.
        inner: Positions to score: the plain string's symbols but its last.
        start: Column of the plain string's first symbol (``2 * depth``).
        window: Inclusive ``(low, high)`` range of the plain string's length.

    Returns:
        The entropies of ``inner``'s positions, in ``tokens[inner]`` order.
    """
    low, high = window
    state = _STATE_BY_BIGRAM[keys[inner]]
    k = (np.nonzero(inner)[1] - start + 1).astype(np.int64)  # symbols of the plain string read so far
    tails = _log2_finish_tails(high)
    first = np.clip(low - k - 1, 0, high + 1)
    last_after = np.clip(high - k, first, high + 1)  # one past the last remaining length
    branching = state != 6  # node 6 emits E whichever edge
    log_weights = []
    for edge in (0, 1):
        after = _NEXT[np.where(branching, state, 1), edge]
        head, rest = tails[after, first], tails[after, last_after]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_weights.append(np.where(head > -np.inf, head + np.log2(-np.expm1((rest - head) * np.log(2))), -np.inf))
    total = np.logaddexp2(*log_weights)
    entropy = np.zeros(len(state))
    for log_weight in log_weights:
        p = np.zeros_like(total)
        with np.errstate(invalid="ignore"):  # -inf - -inf where neither edge can finish: p stays 0
            np.exp2(log_weight - total, where=np.isfinite(total), out=p)
        entropy -= p * np.log(np.where(p > 0, p, 1.0))
    return np.where(branching, entropy, 0.0)


def _sample_lengths(draws: Draws, n: int, low: int, high: int) -> np.ndarray:
    """Plain-string lengths from the grammar's length distribution restricted to ``[low, high]``."""
    cdf = np.cumsum(_plain_length_weights(low, high))
    u = draws.uniform(n) * cdf[-1]
    return low + np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


class _Walk(NamedTuple):
    """Plain strings walked longest first: time-major ``symbols`` and the row ``order``.

    Column ``i`` of ``symbols`` (token id + 1, zero after the string) is the
    string of example ``order[i]``.
    """

    symbols: np.ndarray
    order: np.ndarray


class _EdgeTables(NamedTuple):
    """Lookup tables of the walk, indexed by ``2 * key`` or by ``edge = 2 * key + second_edge``.

    ``key = state * stride + remaining`` packs a row's automaton state and the
    number of symbols it still has to emit, so each step is a handful of
    array operations.
    """

    threshold: np.ndarray  # uint64 by 2 * key: the second edge is taken when the draw is >= it
    next_key: np.ndarray  # int32 by edge: 2 * key after the edge
    symbol: np.ndarray  # int8 by edge: token id + 1 of the emitted symbol
    stride: int


@functools.lru_cache(maxsize=None)
def _edge_tables(max_length: int) -> _EdgeTables:
    """The walk's tables for strings of at most ``max_length`` symbols."""
    stride = max_length + 1
    keys = np.arange(8 * stride)
    state, remaining = keys // stride, keys % stride
    threshold = np.zeros(2 * len(keys), dtype=np.uint64)
    threshold[0::2] = uniform_thresholds(_first_edge_probabilities(max_length))[state, remaining]
    edge_state, edge_remaining = state.repeat(2), remaining.repeat(2)
    second = np.tile([0, 1], len(keys))
    after = _NEXT[edge_state, second]
    next_key = (2 * (after * stride + np.maximum(edge_remaining - 1, 0))).astype(np.int32)
    symbol = (_SYMBOL[edge_state, second] + 1).astype(np.int8)
    return _EdgeTables(threshold, next_key, symbol, stride)


def _walk(draws: Draws, lengths: np.ndarray, max_length: int) -> _Walk:
    """Plain Reber strings of exactly the given lengths (between 2 and ``max_length``)."""
    n, width = len(lengths), int(lengths.max())
    tables = _edge_tables(max_length)
    # Walk the longest strings first so that at step t only a prefix of rows is still active.
    order = np.argsort(-lengths.astype(np.int16), kind="stable")  # 16-bit keys: a radix sort
    sorted_lengths = lengths[order]
    active_per_step = n - np.cumsum(np.bincount(sorted_lengths, minlength=width + 1))[:width]
    bits = draws.bits53(int(active_per_step[1:].sum()))
    symbols = np.zeros((width, n), dtype=np.int8)  # time-major: each step writes a prefix
    symbols[0] = B + 1
    key = (2 * (tables.stride + sorted_lengths - 1)).astype(np.int32)  # state 1 after B
    spare = np.empty_like(key)
    used = 0
    for t in range(1, width):  # few array operations per step: the loop is overhead-bound
        active = int(active_per_step[t])
        current = key[:active]
        current += bits[used : used + active] >= np.take(tables.threshold, current)  # now the edge
        used += active
        np.take(tables.symbol, current, out=symbols[t, :active], mode="clip")
        np.take(tables.next_key, current, out=spare[:active], mode="clip")
        key, spare = spare, key
    return _Walk(symbols, order)


def _embed(
    walks: list[_Walk], walk: np.ndarray, column: np.ndarray, inner_lengths: np.ndarray, branches: np.ndarray
) -> dict[str, np.ndarray]:
    """Wraps plain strings in ``depth`` embeddings: ``B b <string> b E``, innermost level last.

    Row ``i``'s plain string is column ``column[i]`` of ``walks[walk[i]]``.
    """
    n, depth = branches.shape
    lengths = inner_lengths + 4 * depth
    width = int(lengths.max(initial=4 * depth))
    symbols = np.zeros((n, width), dtype=np.int8)  # token id + 1; 0 is padding
    for index, plain in enumerate(walks):
        rows = slice(None) if len(walks) == 1 else np.flatnonzero(walk == index)
        steps = min(plain.symbols.shape[0], width - 4 * depth)
        # Rows of the transposed time-major walk: several times faster than take(axis=1).T here.
        symbols[rows, 2 * depth : 2 * depth + steps] = plain.symbols[:steps].T[column[rows]]
    flat, row_starts = symbols.reshape(-1), np.arange(n) * width
    for level in range(depth):  # level 0 is the outermost embedding
        branch = branches[:, level] + 1
        symbols[:, 2 * level], symbols[:, 2 * level + 1] = B + 1, branch
        close_branch = row_starts + lengths - 2 * level - 2
        flat[close_branch], flat[close_branch + 1] = branch, E + 1
    return {"symbols": symbols, "length": lengths.astype(np.int32)}


def _position_keys(symbols: np.ndarray, lengths: np.ndarray, depth: int) -> np.ndarray:
    """The ``_LEGAL_BY_KEY`` row of every position: its bigram, or its embedding role.

    Args:
        symbols: Padded symbols (token id + 1), shape ``(n, width)``.
        lengths: String lengths, shape ``(n,)``.
        depth: Embedding depth (0 for plain strings).

    Returns:
        int8 keys of shape ``(n, width)``.
    """
    n, width = symbols.shape
    keys = symbols.copy()  # column 0 follows padding: key = symbol
    if n == 0:
        return keys
    if width > 1:
        np.multiply(symbols[:, :-1], 8, out=keys[:, 1:])
        keys[:, 1:] += symbols[:, 1:]
    flat, row_starts = keys.reshape(-1), np.arange(n) * width
    for level in range(depth):
        keys[:, 2 * level], keys[:, 2 * level + 1] = _KEY_AFTER_OPEN, _KEY_AFTER_BRANCH
        close_branch = row_starts + np.asarray(lengths) - 2 * level - 2
        flat[close_branch] = _KEY_AFTER_CLOSE_BRANCH
        # After the E that closes the level below, only this level's branch symbol is legal.
        flat[close_branch - 1] = np.where(symbols[:, 2 * level + 1] == T + 1, _KEY_AFTER_T, _KEY_AFTER_P)
    return keys


def tokens_to_text(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Vectorised conversion of padded token ids to strings such as ``"BTXSE"``."""
    tokens = np.asarray(tokens)
    symbols = np.where(length_mask(lengths, tokens.shape[1]), tokens + 1, 0).astype(np.int8)
    codes = np.take(_CODEPOINT_OF_SYMBOL, symbols)  # UTF-32 code units; padding maps to 0 (end of string)
    return codes.view(f"<U{max(tokens.shape[1], 1)}").reshape(-1)
