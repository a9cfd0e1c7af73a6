"""Every split follows the distribution its task page states, checked against the task definitions.

The expected distributions are derived here, independently of the generators:
the Reber grammar's length distribution by counting the automaton's paths with
exact integers (each node's two edges are equally likely, so every plain string
of length L has probability 2**-(L - 2)), reversal lengths as uniform. The
documented held-out policy: a length with fewer than 1,024 distinct contents is
shared (sampled i.i.d. in every split); a longer one is split by content, so its
sequences in validation and test never occur in train.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

import seqtasks
from seqtasks.registry import get_preset, list_presets
from seqtasks.tasks import base
from test_reber_grammar import GRAPH as REBER_AUTOMATON  # Reber (1967) as drawn by Cleeremans et al. (1989)

SAMPLES = 5000
SHARED_BELOW = 1024  # the documented policy (docs/determinism.md)

END = "end"


def reber_path_counts(max_symbols: int) -> dict:
    """``n[s][r]``: the number of symbol strings leading from node s to the end in exactly r symbols."""
    n = {node: [0] * (max_symbols + 1) for node in [*REBER_AUTOMATON, END]}
    n[END][0] = 1
    for r in range(1, max_symbols + 1):
        for node, edges in REBER_AUTOMATON.items():
            n[node][r] = sum(n[after][r - 1] for after in edges.values())
    return n


def reber_plain_length_weights(low: int, high: int) -> dict[int, Fraction]:
    """Exact probabilities of plain lengths ``low..high`` conditioned on the window."""
    n = reber_path_counts(high)
    weights = {length: Fraction(n[1][length - 1], 2 ** (length - 2)) for length in range(low, high + 1)}
    total = sum(weights.values())
    return {length: w / total for length, w in weights.items()}


def stated_length_distribution(name: str, split: str) -> tuple[dict[int, float], dict[int, int]]:
    """The task page's length distribution of a split and, per length, its number of distinct contents."""
    task = seqtasks.make(name)
    config = task.config
    if task.name == "sequence_reversal":
        low, high = (config.max_length + 1, config.long_max_length) if split == "test_long" else (
            config.min_length, config.max_length)
        lengths = range(low, high + 1)
        return {L: 1 / len(lengths) for L in lengths}, {L: config.vocab_size**L for L in lengths}
    depth = config.embedding_depth
    shortest = 5 + 4 * depth
    low, high = (config.max_length + 1, config.long_max_length) if split == "test_long" else (
        max(config.min_length or shortest, shortest), config.max_length)
    inner = reber_plain_length_weights(max(low - 4 * depth, 5), high - 4 * depth)
    counts = reber_path_counts(high)
    return ({L + 4 * depth: float(p) for L, p in inner.items()},
            {L + 4 * depth: counts[1][L - 1] for L in inner})  # the hash sees the inner plain string


def length_presets() -> list[tuple[str, str]]:
    out = []
    for task_name in ("reber_grammar", "sequence_reversal"):
        for preset in list_presets(task_name):
            cls, p = get_preset(f"{task_name}/{preset}")
            out += [(f"{task_name}/{preset}", split) for split in cls(p.config).splits]
    return out


def chi_square_z(observed: np.ndarray, expected: np.ndarray) -> float:
    """Wilson-Hilferty z score of Pearson's statistic, adjacent bins merged until each expects >= 5."""
    merged_obs, merged_exp, obs, exp = [], [], 0.0, 0.0
    for o, e in zip(observed, expected):
        obs, exp = obs + o, exp + e
        if exp >= 5:
            merged_obs.append(obs), merged_exp.append(exp)
            obs, exp = 0.0, 0.0
    if exp and merged_exp:
        merged_obs[-1] += obs
        merged_exp[-1] += exp
    o, e = np.array(merged_obs), np.array(merged_exp)
    k = len(e) - 1
    if k < 1:
        return 0.0
    statistic = float(((o - e) ** 2 / e).sum())
    return ((statistic / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))


def contents(task, batch) -> list[tuple]:
    """Each row's content as the split hash sees it (Reber: the innermost plain string)."""
    if task.name == "sequence_reversal":
        lengths = task.content_lengths(batch).tolist()
        return [tuple(row[:length]) for row, length in zip(batch["inputs"].tolist(), lengths)]
    depth = task.config.embedding_depth
    return [(text[2 * depth : len(text) - 2 * depth],) for text in batch["text"].tolist()]


@pytest.mark.parametrize(("name", "split"), length_presets())
def test_length_histogram_matches_the_stated_distribution(name, split):
    task = seqtasks.make(name)
    stated, _ = stated_length_distribution(name, split)
    lengths = np.array(sorted(stated))
    expected = np.array([stated[L] for L in lengths])
    observed = np.bincount(task.content_lengths(task.sample(SAMPLES, split=split, seed=3)), minlength=lengths.max() + 1)
    assert observed[: lengths.min()].sum() == 0 and observed.sum() == observed[lengths].sum()
    observed = observed[lengths]
    if split != "test_long":  # test_long has hundreds of lengths: a 5,000-row histogram is noisier than 0.05
        assert 0.5 * np.abs(observed / SAMPLES - expected).sum() < 0.05
    assert chi_square_z(observed, expected * SAMPLES) < 4.5


@pytest.mark.parametrize(("name", "split"), [(n, s) for n, s in length_presets() if s != "test_long"])
def test_no_sequence_is_over_represented(name, split):
    """Each content's count stays within sampling noise of its probability under the policy."""
    task = seqtasks.make(name)
    stated, sizes = stated_length_distribution(name, split)
    batch = task.sample(SAMPLES, split=split, seed=4)
    share = {"train": 0.8, "validation": 0.1, "test": 0.1}[split]
    counts = Counter(zip(task.content_lengths(batch).tolist(), contents(task, batch)))
    for (length, _), count in counts.items():
        # A held-out stratum's split holds about share * size of its contents (1.5: the hash's spread).
        per_content = stated[length] / sizes[length] / (1.0 if sizes[length] < SHARED_BELOW else share / 1.5)
        mean = SAMPLES * min(per_content, stated[length])
        assert count <= mean + 5 * math.sqrt(mean) + 3, (length, count, mean)


@pytest.mark.parametrize("name", ["sequence_reversal/len1to40_vocab2", "reber_grammar/embedded"])
def test_shared_lengths_are_uniform_over_all_their_sequences(name):
    """In a shared stratum every split draws from all of its contents, uniformly (the grammar's edges are fair)."""
    task = seqtasks.make(name)
    for split in ("validation", "test"):
        batch = task.sample(20_000, split=split, seed=5)
        by_length: dict[int, Counter] = {}
        for length, content in zip(task.content_lengths(batch).tolist(), contents(task, batch)):
            by_length.setdefault(length, Counter())[content] += 1
        _, sizes = stated_length_distribution(name, split)
        checked = 0
        for length, counter in by_length.items():
            size, rows = sizes[length], sum(counter.values())
            if size >= SHARED_BELOW or rows < 5 * size:
                continue
            assert len(counter) == size, (split, length)  # every content occurs: none is held back
            observed = np.array(list(counter.values()), dtype=float)
            assert chi_square_z(observed, np.full(size, rows / size)) < 4.5, (split, length)
            checked += 1
        assert checked >= 3


@pytest.mark.parametrize("name", ["sequence_reversal/len1to40_vocab2", "sequence_reversal/len5_vocab10",
                                  "sequence_reversal/reverse_string", "reber_grammar/embedded", "reber_grammar/reber"])
def test_held_out_contents_never_occur_in_train(name):
    task = seqtasks.make(name)
    _, preset = get_preset(name)
    train = task.sample(preset.split_sizes["train"], split="train")
    seen = set(zip(task.content_lengths(train).tolist(), contents(task, train)))
    for split in ("validation", "test"):
        _, sizes = stated_length_distribution(name, split)
        batch = task.sample(SAMPLES, split=split)
        held = [(L, c) for L, c in zip(task.content_lengths(batch).tolist(), contents(task, batch)) if sizes[L] >= SHARED_BELOW]
        assert held and not seen.intersection(held)
        if task.name == "sequence_reversal":  # and the shared lengths do reach the held-out splits
            assert any(sizes[L] < SHARED_BELOW for L in task.content_lengths(batch).tolist()) or min(sizes.values()) >= SHARED_BELOW


def test_the_documented_policy_is_the_generators():
    assert base.HELD_OUT_MIN_SEQUENCES == SHARED_BELOW
    for name, split in length_presets():
        stated, sizes = stated_length_distribution(name, split)
        strata = seqtasks.make(name).length_strata(split)
        np.testing.assert_array_equal(strata.lengths, sorted(stated))
        np.testing.assert_allclose(strata.probabilities, [stated[L] for L in strata.lengths], rtol=1e-12)
        expected_share = 1.0 if split == "test_long" else sum(p for L, p in stated.items() if sizes[L] >= SHARED_BELOW)
        assert strata.held_out_share == pytest.approx(expected_share, abs=1e-12)


def test_embedded_branches_are_balanced_in_every_split():
    task = seqtasks.make("reber_grammar/embedded")
    for split in task.splits:
        second = np.array([text[1] for text in task.sample(4000, split=split, seed=6)["text"].tolist()])
        assert abs((second == "T").mean() - 0.5) < 4.5 * math.sqrt(0.25 / 4000)


def test_far_reber_window_is_exact():
    """Lengths 3001..4000 (1.0.0 underflowed there and emitted only 'BTSSSS...' of length 4000)."""
    task = seqtasks.make("reber_grammar/reber", max_length=3000, long_max_length=4000)
    batch = task.sample(600, split="test_long", seed=7)
    weights = reber_plain_length_weights(3001, 4000)
    counts = reber_path_counts(4000)
    mean = float(sum(L * p for L, p in weights.items()))
    variance = float(sum((L - mean) ** 2 * p for L, p in weights.items()))
    assert 3003 < mean < 3004.5  # the tail ratio is about 0.733 a symbol: mean about min + 2.7
    assert abs(batch["length"].mean() - mean) < 4.5 * math.sqrt(variance / 600)
    p_first_t = float(sum(p * Fraction(counts[2][L - 2], counts[1][L - 1]) for L, p in weights.items()))
    first_t = np.mean([text[1] == "T" for text in batch["text"].tolist()])
    assert abs(first_t - p_first_t) < 4.5 * math.sqrt(p_first_t * (1 - p_first_t) / 600)
    for text in batch["text"].tolist()[:50]:  # and each string is in the grammar
        node = 1
        assert text[0] == "B"
        for symbol in text[1:]:
            node = REBER_AUTOMATON[node][symbol]
        assert node == END


def test_reverse_string_is_the_read_then_write_layout():
    """Deletang et al. (2023): the string, then |y| blank steps; only those steps are scored."""
    task = seqtasks.make("sequence_reversal/reverse_string")
    batch = task.sample(200, split="test", seed=8)
    for example in task.examples(batch):
        n = len(example["inputs"]) // 2
        string = example["inputs"][:n].tolist()
        assert set(string) <= {0, 1} and example["inputs"][n:].tolist() == [2] * n
        assert example["targets"][n:].tolist() == string[::-1] and example["output_mask"].tolist() == [0] * n + [1] * n
    long = task.generate("test_long", 0, 460 * 32)
    np.testing.assert_array_equal(np.bincount(task.content_lengths(long))[41:], np.full(460, 32))
    assert task.needs_future_context is False and seqtasks.make("sequence_reversal/len5_vocab10").needs_future_context


def test_a_space_too_small_to_hold_out_is_shared_not_an_error():
    """Binary strings of length 1 (two sequences): every split samples both (1.0.0 failed after ~7 s)."""
    task = seqtasks.make("sequence_reversal", vocab_size=2, min_length=1, max_length=1)
    for split in task.splits:
        inputs = task.sample(4000, split=split)["inputs"][:, 0]
        assert task.length_strata(split).held_out_share == 0.0
        assert abs(inputs.mean() - 0.5) < 4.5 * math.sqrt(0.25 / 4000)
