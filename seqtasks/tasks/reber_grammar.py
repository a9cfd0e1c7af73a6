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
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from seqtasks import _random
from seqtasks.config import TaskConfig
from seqtasks.registry import register
from seqtasks.tasks.base import SupervisedSpec, Preset, Task, fill_by_rejection

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
# Legal next symbols per position code: automaton states 0..7, then the embedding positions.
_AFTER_OPEN, _AFTER_BRANCH, _AFTER_CLOSE_BRANCH, _AFTER_T, _AFTER_P = range(8, 13)
_LEGAL = np.zeros((13, 7), dtype=np.uint8)
_LEGAL[_AFTER_OPEN, [T, P]] = 1
_LEGAL[_AFTER_BRANCH, B] = 1
_LEGAL[_AFTER_CLOSE_BRANCH, E] = 1
_LEGAL[_AFTER_T, T] = 1
_LEGAL[_AFTER_P, P] = 1
for _state, _edges in _EDGES.items():
    for _choice, (_symbol, _next) in enumerate(_edges):
        _SYMBOL[_state, _choice], _NEXT[_state, _choice] = _symbol, _next
        _LEGAL[_state, _symbol] = 1  # legal next symbols after reaching an automaton state
_SYMBOL_FLAT, _NEXT_FLAT = _SYMBOL.reshape(-1), _NEXT.reshape(-1)  # indexed by 2 * state + edge


@functools.lru_cache(maxsize=None)
def _finish_probabilities(max_remaining: int) -> np.ndarray:
    """``f[s, r]``: probability that from state s the string ends after exactly r more symbols."""
    f = np.zeros((8, max_remaining + 1), dtype=np.float64)
    f[_END, 0] = 1.0
    for r in range(1, max_remaining + 1):
        f[6, r] = f[_END, r - 1]
        for state in range(1, 6):
            (_, a), (_, b) = _EDGES[state]
            f[state, r] = 0.5 * f[a, r - 1] + 0.5 * f[b, r - 1]
    return f


@functools.lru_cache(maxsize=None)
def _first_edge_probabilities(max_remaining: int) -> np.ndarray:
    """``p[s, r]``: probability of a state's first edge given the string ends in exactly r more symbols."""
    f = _finish_probabilities(max_remaining)
    p = np.ones((8, max_remaining + 1))
    weight = 0.5 * f[_NEXT[:, 0][:, None], np.maximum(np.arange(max_remaining + 1) - 1, 0)[None, :]]
    np.divide(weight, f, out=p, where=f > 0)
    return p


def plain_length_distribution(max_length: int) -> np.ndarray:
    """``p[L]``: probability that a plain Reber string has length L (index 0..max_length)."""
    f = _finish_probabilities(max_length)
    p = np.zeros(max_length + 1)
    p[1:] = f[1, : max_length]  # B, then L - 1 symbols from node 1
    return p


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
        return self.shortest if self.min_length is None else max(self.min_length, self.shortest)

    def validate(self) -> None:
        self.check_choice("variant", ("plain", "embedded"))
        if self.variant == "plain" and self.depth is not None:
            self._fail("depth", self.depth, "None for variant='plain' (depth applies to variant='embedded')")
        if self.depth is not None:
            self.check_int("depth", 1, 8)
        if self.min_length is not None:
            self.check_int("min_length", 1, MAX_SUPPORTED_LENGTH)
        self.check_int("max_length", max(self.shortest, self.min_length or 1), MAX_SUPPORTED_LENGTH)
        if self.long_max_length is not None:
            self.check_int("long_max_length", self.max_length + 1, MAX_SUPPORTED_LENGTH)


@register
class ReberGrammar(Task[ReberConfig]):
    """Next-symbol prediction on (embedded) Reber grammar strings."""

    name = "reber_grammar"
    config_class = ReberConfig
    version = "1.0.0"
    sequence_fields = ("tokens", "next_symbols")
    alphabet = ALPHABET
    description = (
        "Strings of the Reber grammar (plain or embedded). Per position, the multi-hot set of "
        "symbols the grammar allows next is the prediction target; the embedded variant requires "
        "remembering the second symbol until the second-to-last position."
    )
    citation = """@article{hochreiter1997lstm,
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
}"""
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

    @property
    def splits(self) -> tuple[str, ...]:
        base = ("train", "validation", "test")
        return base + (("test_long",) if self.config.long_max_length is not None else ())

    def length_range(self, split: str) -> tuple[int, int]:
        """Inclusive range of whole-string lengths in a split."""
        self._check_split(split)
        if split == "test_long":
            return self.config.max_length + 1, int(self.config.long_max_length)
        return self.config.effective_min_length, self.config.max_length

    def targets(self) -> tuple[str, ...]:
        """``next_symbol``: the actual next symbol (softmax + cross-entropy, as in seed 000);
        ``legal_set``: the multi-hot set of legal next symbols (sigmoid outputs, as in 1997)."""
        return ("next_symbol", "legal_set")

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        if self._check_target(target) == "next_symbol":
            return SupervisedSpec("tokens", len(ALPHABET), "tokens", "sparse", target_offset=1)
        return SupervisedSpec("tokens", len(ALPHABET), "next_symbols", "multi_hot")

    def _generate_block(self, draws: _random.Draws, split: str, block: int) -> dict[str, np.ndarray]:
        low, high = self.length_range(split)
        arrays, dropped = fill_by_rejection(
            lambda n: self._candidates(draws, n, low, high),
            lambda arrays: self.split_bucket_mask(self._inner_hash(arrays), split),
            self.block_size,
            self.name,
            split,
        )
        arrays["next_symbols"] = np.take(_LEGAL, arrays.pop("codes"), axis=0)
        arrays["tokens"] = arrays["tokens"].astype(np.int32)
        arrays["text"] = tokens_to_text(arrays["tokens"], arrays["length"])
        arrays["_dropped"] = np.int64(dropped)
        return arrays

    def _inner_hash(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Hash of the innermost plain string: it alone decides the split.

        Hashing the inner string (not the branch symbols) keeps both embedding
        branches equally likely in every split, while the splits stay disjoint.
        """
        depth = self.config.embedding_depth
        return _random.hash_rows(arrays["tokens"], arrays["length"] - 4 * depth, 2 * depth)

    def _candidates(self, draws: _random.Draws, n: int, low: int, high: int) -> dict[str, np.ndarray]:
        depth = self.config.embedding_depth
        inner_low, inner_high = max(low - 4 * depth, PLAIN_MIN_LENGTH), high - 4 * depth
        inner_lengths = _sample_lengths(draws, n, inner_low, inner_high)
        inner_tokens, inner_states = _sample_plain(draws, inner_lengths)
        branches = np.where(draws.uniform((n, depth)) < 0.5, T, P) if depth else np.zeros((n, 0), np.int64)
        return _embed(inner_tokens, inner_states, inner_lengths, branches)

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float:
        """Mean next-symbol entropy (nats) over predicted positions: the floor of categorical cross-entropy.

        Each branching node's two edges are equally likely, so a model that knows the
        grammar (and remembers the embedded branch) cannot beat ln(number of legal symbols).
        """
        legal = batch["next_symbols"].sum(axis=-1).astype(np.float64)
        lengths = np.asarray(batch["length"])
        positions = np.arange(legal.shape[1])[None, :] < (lengths[:, None] - 1)
        return float(np.log(np.where(positions, legal, 1.0)).sum() / positions.sum())


def _sample_lengths(draws: _random.Draws, n: int, low: int, high: int) -> np.ndarray:
    """Plain-string lengths from the grammar's length distribution restricted to ``[low, high]``."""
    p = plain_length_distribution(high)[low : high + 1]
    cdf = np.cumsum(p)
    u = draws.uniform(n) * cdf[-1]
    return low + np.minimum(np.searchsorted(cdf, u, side="right"), len(p) - 1)


def _sample_plain(draws: _random.Draws, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain Reber strings of exactly the given lengths.

    Returns:
        Token ids ``(n, max_len)`` and the automaton state after each symbol.
    """
    n, width = len(lengths), int(lengths.max())
    p_first = _first_edge_probabilities(width)
    # Walk the longest strings first so that at step t only a prefix of rows is still active;
    # time-major int8 buffers keep each step's writes contiguous.
    order = np.argsort(-lengths, kind="stable")
    sorted_lengths = lengths[order]
    active_per_step = n - np.cumsum(np.bincount(sorted_lengths, minlength=width + 1))[:width]
    uniforms = draws.uniform(int(active_per_step[1:].sum()))
    tokens = np.zeros((width, n), dtype=np.int8)
    states = np.full((width, n), _END, dtype=np.int8)
    tokens[0], states[0] = B, 1
    state = np.ones(n, dtype=np.int64)
    used = 0
    for t in range(1, width):
        active = int(active_per_step[t])
        current = state[:active]
        edge = 2 * current + (uniforms[used : used + active] >= p_first[current, sorted_lengths[:active] - t])
        used += active
        tokens[t, :active] = _SYMBOL_FLAT[edge]
        state[:active] = _NEXT_FLAT[edge]
        states[t, :active] = state[:active]
    unsorted_tokens = np.empty((n, width), dtype=np.int8)
    unsorted_states = np.empty((n, width), dtype=np.int8)
    unsorted_tokens[order], unsorted_states[order] = tokens.T, states.T
    return unsorted_tokens, unsorted_states


def _embed(
    inner_tokens: np.ndarray, inner_states: np.ndarray, inner_lengths: np.ndarray, branches: np.ndarray
) -> dict[str, np.ndarray]:
    """Wraps plain strings in ``depth`` embeddings and codes each position's legal-next set.

    Every position gets a code whose row in ``_LEGAL`` is its legal-next set:
    the automaton states 0..7 inside the plain string, and the embedding codes
    around it, so one gather later builds the whole multi-hot array.
    """
    n, depth = branches.shape
    lengths = inner_lengths + 4 * depth
    width = int(lengths.max())
    tokens = np.zeros((n, width), dtype=np.int8)
    codes = np.full((n, width), _END, dtype=np.int8)  # padding: empty legal set
    inner_width = inner_tokens.shape[1]
    tokens[:, 2 * depth : 2 * depth + inner_width] = inner_tokens
    codes[:, 2 * depth : 2 * depth + inner_width] = inner_states
    rows = np.arange(n)
    last = lengths - 1
    for level in range(depth):  # level 0 is the outermost embedding
        branch = branches[:, level]
        tokens[:, 2 * level], tokens[:, 2 * level + 1] = B, branch
        codes[:, 2 * level], codes[:, 2 * level + 1] = _AFTER_OPEN, _AFTER_BRANCH
        close_branch = last - 2 * level - 1
        tokens[rows, close_branch], tokens[rows, close_branch + 1] = branch, E
        codes[rows, close_branch] = _AFTER_CLOSE_BRANCH
        # After the E that closes the level below, only this level's branch symbol is legal.
        codes[rows, close_branch - 1] = np.where(branch == T, _AFTER_T, _AFTER_P)
    return {"tokens": tokens, "codes": codes, "length": lengths.astype(np.int32)}


def tokens_to_text(tokens: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Vectorised conversion of padded token ids to strings such as ``"BTXSE"``."""
    codes = np.frombuffer(ALPHABET.encode("utf-32-le"), dtype=np.uint32)[tokens]
    codes = np.where(np.arange(tokens.shape[1])[None, :] < lengths[:, None], codes, 0).astype(np.uint32)
    return np.ascontiguousarray(codes).view(f"<U{max(tokens.shape[1], 1)}").reshape(-1)
