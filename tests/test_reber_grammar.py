"""Reber strings are checked against an automaton written here, not imported from the generator."""

import numpy as np
import pytest

import seqtasks
from seqtasks.tasks.reber_grammar import plain_length_distribution

ALPHABET = "BTSXPVE"
# The Reber graph as drawn by Cleeremans et al. (1989), transcribed independently.
GRAPH = {
    1: {"T": 2, "P": 3},
    2: {"S": 2, "X": 4},
    3: {"T": 3, "V": 5},
    4: {"X": 3, "S": 6},
    5: {"P": 4, "V": 6},
    6: {"E": "end"},
}


def plain_legal_sets(text: str) -> list[set[str]] | None:
    """Legal next-symbol sets after each symbol of a plain Reber string, or None if rejected."""
    if not text or text[0] != "B":
        return None
    sets = [set(GRAPH[1])]
    state = 1
    for symbol in text[1:]:
        if state == "end" or symbol not in GRAPH[state]:
            return None
        state = GRAPH[state][symbol]
        sets.append(set() if state == "end" else set(GRAPH[state]))
    return sets if state == "end" else None


def embedded_legal_sets(text: str, depth: int) -> list[set[str]] | None:
    """Legal next sets of an embedded string of the given depth, or None if rejected."""
    if depth == 0:
        return plain_legal_sets(text)
    if len(text) < 4 or text[0] != "B" or text[-1] != "E" or text[1] not in "TP" or text[-2] != text[1]:
        return None
    inner = embedded_legal_sets(text[2:-2], depth - 1)
    if inner is None:
        return None
    inner[-1] = {text[1]}  # after the inner E only the remembered branch is legal
    return [{"T", "P"}, {"B"}] + inner + [{"E"}, set()]


def decode_sets(rows: np.ndarray) -> list[set[str]]:
    return [{ALPHABET[j] for j in np.flatnonzero(row)} for row in rows]


@pytest.mark.parametrize(
    "name, depth", [("reber_grammar/reber", 0), ("reber_grammar/embedded", 1), ("reber_grammar/embedded_depth2", 2)]
)
def test_every_string_is_accepted_and_legal_sets_match(name, depth):
    task = seqtasks.make(name)
    for split in task.splits:
        batch = task.sample(300, seed=3, split=split)
        for example in task.examples(batch):
            text = str(example["text"])
            expected = embedded_legal_sets(text, depth)
            assert expected is not None, f"{text} rejected by the automaton"
            assert "".join(ALPHABET[t] for t in example["tokens"]) == text
            assert decode_sets(example["next_symbols"]) == expected, text
            assert len(text) == example["length"]


def test_embedded_branches_repeat_and_are_balanced():
    task = seqtasks.make("reber_grammar/embedded")
    batch = task.sample(4000, seed=0)
    texts = batch["text"].tolist()
    assert all(t[1] == t[-2] for t in texts)
    share_t = np.mean([t[1] == "T" for t in texts])
    assert abs(share_t - 0.5) < 0.03  # 4000 draws: std 0.008


def test_depth_lengthens_dependency():
    shallow = seqtasks.make("reber_grammar/embedded").sample(500)
    deep = seqtasks.make("reber_grammar/embedded_depth2").sample(500)
    assert deep["length"].mean() > shallow["length"].mean() + 3


def test_length_window_and_test_long():
    task = seqtasks.make("reber_grammar/embedded", min_length=12, max_length=20, long_max_length=40)
    train = task.sample(500)
    assert train["length"].min() >= 12 and train["length"].max() <= 20
    long = task.sample(200, split="test_long")
    assert long["length"].min() >= 21 and long["length"].max() <= 40


def test_length_distribution_matches_grammar():
    """Conditioning on a length window is exact: frequencies follow the grammar's own distribution.

    test_long is not filtered by content hash (it is held out by length), so it shows the
    sampler's distribution undistorted.
    """
    task = seqtasks.make("reber_grammar/reber", max_length=6, long_max_length=14)
    lengths = task.sample(20000, seed=1, split="test_long")["length"]
    p = plain_length_distribution(14)[7:15]
    p = p / p.sum()
    observed = np.bincount(lengths, minlength=15)[7:15] / len(lengths)
    assert np.abs(observed - p).max() < 0.015  # binomial std <= 0.0035


def test_grammar_length_distribution_by_monte_carlo():
    """The DP length distribution agrees with naive simulation of the automaton."""
    rng = np.random.default_rng(0)
    counts = np.zeros(40)
    for _ in range(20000):
        state, length = 1, 1
        while state != "end":
            state = GRAPH[state][rng.choice(sorted(GRAPH[state]))]
            length += 1
        if length < 40:
            counts[length] += 1
    assert np.abs(counts / 20000 - plain_length_distribution(39)).max() < 0.01


def plain_strings(max_length: int) -> dict[str, float]:
    """Every plain Reber string of at most ``max_length`` symbols and its probability: 1/2 per branching node."""
    strings, stack = {}, [("B", 1, 1.0)]
    while stack:
        text, state, probability = stack.pop()
        if state == "end":
            strings[text] = probability
        elif len(text) < max_length:
            for symbol, after in GRAPH[state].items():
                stack.append((text + symbol, after, probability / len(GRAPH[state])))
    return strings


def brute_force_floor(strings: dict[str, float], batch_texts: list[str], low: int, high: int, embedded: bool) -> float:
    """Mean over the batch's predicted positions of the entropy of the next symbol given the prefix.

    The distribution is the plain grammar's conditioned on ``low <= length <= high``
    (the inner string's length when ``embedded``), by summing over every string.
    """
    window = {text: p for text, p in strings.items() if low <= len(text) <= high}
    total, count = 0.0, 0
    for text in batch_texts:
        inner = text[2:-2] if embedded else text
        # An embedded string's B T/P opening: ln 2 after the first B, 0 after the branch.
        entropies = [np.log(2), 0.0] if embedded else []
        for k in range(1, len(inner)):
            following: dict[str, float] = {}
            for other, p in window.items():
                if other.startswith(inner[:k]) and len(other) > k:
                    following[other[k]] = following.get(other[k], 0.0) + p
            weights = np.array(list(following.values())) / sum(following.values())
            entropies.append(float(-(weights * np.log(weights)).sum()))
        entropies += [0.0, 0.0] if embedded else []  # the closing branch and E are determined
        total, count = total + sum(entropies), count + len(entropies)
    return total / count


@pytest.mark.parametrize(
    "name, overrides, split",
    [
        ("reber_grammar/reber", {"min_length": 11, "max_length": 20, "long_max_length": 24}, "train"),
        ("reber_grammar/reber", {"min_length": 11, "max_length": 20, "long_max_length": 24}, "test_long"),
        ("reber_grammar/reber", {"max_length": 9, "long_max_length": 14}, "validation"),
        ("reber_grammar/embedded", {"min_length": 12, "max_length": 18, "long_max_length": 22}, "train"),
    ],
)
def test_loss_floor_is_the_entropy_of_the_length_conditioned_grammar(name, overrides, split):
    """The floor counts the window's strings by brute force; near the window's edges it is below ln 2 per branch."""
    task = seqtasks.make(name, **overrides)
    batch = task.generate(split, 0, 48, seed=3)
    embedded = task.config.embedding_depth == 1
    low, high = task.length_range(split)
    low, high = (low - 4, high - 4) if embedded else (low, high)
    expected = brute_force_floor(plain_strings(high), [str(text) for text in batch["text"]], low, high, embedded)
    assert task.loss_floor(batch) == pytest.approx(expected, rel=1e-9)
    legal = batch["next_symbols"].sum(axis=-1)
    predicted = np.arange(legal.shape[1])[None, :] < batch["length"][:, None] - 1
    assert task.loss_floor(batch) < np.log(legal[predicted]).mean() - 0.01  # the window binds in each of these


def test_loss_floor_without_a_binding_window_is_the_mean_branch_entropy():
    """Far from the window's edges every branch is a fair coin: ln 2 per branching position."""
    task = seqtasks.make("reber_grammar/reber", max_length=400, long_max_length=401)
    batch = task.generate("train", 0, 64, seed=0)
    legal = batch["next_symbols"].sum(axis=-1)
    predicted = np.arange(legal.shape[1])[None, :] < batch["length"][:, None] - 1
    assert task.loss_floor(batch) == pytest.approx(np.log(legal[predicted]).mean(), abs=1e-9)


def test_loss_floor_refuses_lengths_outside_every_window():
    task = seqtasks.make("reber_grammar/reber", min_length=11, max_length=20, long_max_length=24)
    short, long = task.generate("train", 0, 2, seed=0), task.generate("test_long", 0, 2, seed=0)
    width = long["tokens"].shape[1]
    mixed = {
        "tokens": np.concatenate([np.pad(short["tokens"], ((0, 0), (0, width - short["tokens"].shape[1]))), long["tokens"]]),
        "next_symbols": np.concatenate(
            [np.pad(short["next_symbols"], ((0, 0), (0, width - short["tokens"].shape[1]), (0, 0))), long["next_symbols"]]
        ),
        "length": np.concatenate([short["length"], long["length"]]),
    }
    task.loss_floor({key: value[2:] for key, value in mixed.items()})  # test_long alone is one window
    with pytest.raises(ValueError, match=r"invalid batch lengths .* allowed: all within one split's window, 11..20 or 21..24"):
        task.loss_floor(mixed)


