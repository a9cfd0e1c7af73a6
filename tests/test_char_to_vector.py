import time
import tracemalloc

import numpy as np
import pytest

import seqtasks
from seqtasks.tasks import char_to_vector
from seqtasks.tasks.char_to_vector import (
    DISTINCT_WORDS_BY_LENGTH,
    LONGEST_SYNTHETIC_WORD,
    count_distinct_words,
    synthetic_vectors,
    synthetic_words,
    word_length_probabilities,
)


@pytest.fixture(scope="module")
def task():
    return seqtasks.make("char_to_vector", vocab_size=3000)


def test_vectors_are_unit_norm_and_depend_on_word_only(task):
    a = task.sample(500, seed=0)
    b = task.sample(500, seed=9)
    np.testing.assert_allclose(np.linalg.norm(a["vector"], axis=1), 1.0, atol=1e-6)
    lookup = dict(zip(a["word"].tolist(), a["vector"]))
    shared = [i for i, w in enumerate(b["word"].tolist()) if w in lookup]
    assert shared
    for i in shared:
        np.testing.assert_array_equal(b["vector"][i], lookup[b["word"][i]])
    # A word's vector does not depend on which other words are in the batch.
    alone = synthetic_vectors(a["word"][:1], task.config)
    np.testing.assert_array_equal(alone[0], a["vector"][0])


def test_chars_spell_the_word(task):
    batch = task.sample(200)
    for example in task.examples(batch):
        assert "".join(task.alphabet[c] for c in example["chars"]) == example["word"]


def test_splits_have_disjoint_words_and_long_words(task):
    words = {split: set(task.split_words(split).tolist()) for split in task.splits}
    for a in task.splits:
        for b in task.splits:
            if a < b:
                assert not words[a] & words[b], (a, b)
    assert min(len(w) for w in words["test_long"]) > task.config.max_word_length
    assert max(len(w) for w in words["train"]) <= task.config.max_word_length
    # One epoch visits every word of the split exactly once.
    n = task.natural_size("test")
    assert sorted(task.sample(n, split="test")["word"].tolist()) == sorted(words["test"])


def test_compositional_weight_sets_spelling_similarity():
    """Words that share most n-grams are similar in proportion to the compositional weight."""
    pairs = np.array(["stand", "stands", "bring", "brings", "crosten", "crostens"])
    sims = {}
    for a in (0.0, 1.0):
        config = seqtasks.make("char_to_vector", compositional_weight=a, vocab_size=10).config
        v = synthetic_vectors(pairs, config)
        sims[a] = np.mean([v[i] @ v[i + 1] for i in range(0, 6, 2)])
    assert abs(sims[0.0]) < 0.3
    assert sims[1.0] > 0.5


def test_vectors_file(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("4 3\ncat 1 0 0\ndog 0 2 0\nbird 0 0 3\nhorse 1 1 1\n")
    task = seqtasks.make("char_to_vector", vectors_path=str(path), dim=3, max_word_length=4, long_max_word_length=5)
    total = sum(task.natural_size(s) for s in task.splits)
    assert total == 4
    assert task.split_words("test_long").tolist() == ["horse"]
    batch = task.sample(task.natural_size("test_long"), split="test_long")
    np.testing.assert_allclose(batch["vector"][0], np.ones(3) / np.sqrt(3), rtol=1e-6)


@pytest.mark.parametrize(
    "content, message",
    [
        ("cat 1 0\ndog 1\n", "line 2"),
        ("cat 1 x\n", "line 1 has a non-numeric"),
        ("", "no vectors"),
        ("cat 0 0\n", "all zeros"),
    ],
)
def test_malformed_vectors_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        seqtasks.make("char_to_vector", vectors_path=str(path), dim=2)


def test_missing_vectors_file_and_dim_mismatch(tmp_path):
    with pytest.raises(ValueError, match="vectors_path="):
        seqtasks.make("char_to_vector", vectors_path=str(tmp_path / "missing.txt"))
    path = tmp_path / "v.txt"
    path.write_text("cat 1 0\n")
    with pytest.raises(ValueError, match="invalid dim=100"):
        seqtasks.make("char_to_vector", vectors_path=str(path))


# -- Bad input: clear errors naming the parameter, before any work -------------------------------


def test_vectors_file_that_is_not_utf8_names_the_parameter_and_the_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("cat 1 0\ndog 0 1\ncaf\u00e9 1 1\n".encode("latin-1"))
    with pytest.raises(ValueError) as error:
        seqtasks.make("char_to_vector", vectors_path=str(path), dim=2)
    message = str(error.value)
    assert message.startswith(f"char_to_vector: invalid vectors_path={str(path)!r}: line 3 is not UTF-8 text")
    assert "allowed: UTF-8 lines" in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_vectors_file_with_a_non_finite_value_names_its_line(tmp_path, value):
    path = tmp_path / "v.txt"
    path.write_text(f"cat 1 0 0\ndog 0 1 0\nbird 0 {value} 1\n")
    with pytest.raises(ValueError, match=rf"line 3 has a non-finite value \('{value}', value 2 of the word 'bird'\)"):
        seqtasks.make("char_to_vector", vectors_path=str(path), dim=3)


def test_vectors_file_with_a_wrong_count_or_a_repeated_word(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("cat 1 0 0\ndog 0 1\n")
    with pytest.raises(ValueError, match=r"line 2 has 2 values where 3 were expected"):
        seqtasks.make("char_to_vector", vectors_path=str(path), dim=3)
    path.write_text("cat 1 0\ndog 0 1\ncat 1 1\n")
    with pytest.raises(ValueError, match=r"the word 'cat' appears twice \(lines 1 and 3\)"):
        seqtasks.make("char_to_vector", vectors_path=str(path), dim=2)


def test_vectors_file_larger_than_its_share_of_the_memory_budget(tmp_path, monkeypatch):
    path = tmp_path / "v.txt"
    path.write_text("cat 1 0\n" * 200)
    monkeypatch.setenv("SEQTASKS_MEMORY_BUDGET_GIB", str(1000 / 2**30))
    with pytest.raises(ValueError, match=r"invalid vectors_path=.*: the file has 1.56 KiB; allowed: at most 125 B"):
        seqtasks.make("char_to_vector", vectors_path=str(path), dim=2)


@pytest.mark.parametrize(
    "params, pattern",
    [
        # 6 words have length 1 ('a', 'e', 'i', 'o', 'u', 'y'): 10 distinct words cannot be found.
        (
            {"vocab_size": 10, "min_word_length": 1, "max_word_length": 1, "long_max_word_length": None},
            r"invalid vocab_size=10; allowed: at most 0 for word lengths 1..1 \(1/8 of the 6 distinct words",
        ),
        (
            {"vocab_size": 2_000_000, "max_word_length": 3, "long_max_word_length": None},
            r"invalid vocab_size=2000000; allowed: at most 358 for word lengths 2..3 \(1/8 of the 2,868 distinct",
        ),
        (
            {"min_word_length": 30, "max_word_length": 40, "long_max_word_length": None},
            r"invalid max_word_length=40; allowed: a word length window .* lengths 30..40 have none\): change "
            r"min_word_length, max_word_length, long_max_word_length",
        ),
        (
            {"max_word_length": 24, "long_max_word_length": 30},
            r"invalid long_max_word_length=30; allowed: a word length window .* lengths 25..30 have none",
        ),
        (
            {"vocab_size": 100_000, "min_word_length": 21, "max_word_length": 24, "long_max_word_length": None},
            r"invalid vocab_size=100000; allowed: at most \d[\d,]* for word lengths 21..24: only .* draws",
        ),
    ],
)
def test_infeasible_vocabularies_are_refused_at_make(params, pattern):
    began = time.monotonic()
    with pytest.raises(ValueError, match=pattern):
        seqtasks.make("char_to_vector", **params)
    assert time.monotonic() - began < 5  # no vocabulary is drawn


def test_distinct_word_counts_and_length_probabilities_match_the_syllable_model():
    assert count_distinct_words(6) == DISTINCT_WORDS_BY_LENGTH[:7]
    assert DISTINCT_WORDS_BY_LENGTH[LONGEST_SYNTHETIC_WORD] > 0 == DISTINCT_WORDS_BY_LENGTH[0]
    # A vocabulary drawn without a length limit has the model's length distribution (lengths >= 7,
    # where repeated words are too rare to bias it).
    words = synthetic_words(50_000, 3, 7, LONGEST_SYNTHETIC_WORD)
    observed = np.bincount(np.char.str_len(words), minlength=LONGEST_SYNTHETIC_WORD + 1)[7:] / len(words)
    expected = word_length_probabilities()[7:] / word_length_probabilities()[7:].sum()
    assert 0.5 * np.abs(observed - expected).sum() < 0.02


def test_the_feasible_limit_itself_is_accepted_and_sampled():
    limit = sum(DISTINCT_WORDS_BY_LENGTH[1:3]) // 8  # lengths 1..2: 192 words
    task = seqtasks.make("char_to_vector", vocab_size=max(limit, 10), min_word_length=1, max_word_length=2,
                         long_max_word_length=None)
    assert sum(task.natural_size(s) for s in task.splits) == limit
    with pytest.raises(ValueError, match="invalid vocab_size=25"):
        seqtasks.make("char_to_vector", vocab_size=limit + 1, min_word_length=1, max_word_length=2,
                      long_max_word_length=None)


def test_large_dim_is_served_in_bounded_memory():
    """dim=4096 once needed tens of GiB for the n-gram vectors of a chunk of 4096 words."""
    task = seqtasks.make("char_to_vector", dim=4096)
    words = synthetic_words(200, 0, 2, 20)
    tracemalloc.start()
    try:
        vectors = synthetic_vectors(words, task.config)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert vectors.shape == (200, 4096) and peak < 1.5 * 2**30
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_chunked_vectors_equal_the_unchunked_ones(monkeypatch):
    words = synthetic_words(120, 4, 2, 20)
    config = seqtasks.make("char_to_vector", dim=16, vocab_size=120).config
    whole = synthetic_vectors(words, config)
    monkeypatch.setattr(char_to_vector, "_VECTOR_CHUNK_BYTES", 1)  # one word per chunk
    monkeypatch.setattr(char_to_vector, "_GAUSSIAN_CHUNK_BYTES", 1)  # one key per chunk
    np.testing.assert_array_equal(synthetic_vectors(words, config), whole)


def test_epochs_are_seeded_permutations_and_any_slicing_gives_the_same_examples(task):
    size = task.natural_size("validation")
    whole = task.generate("validation", 0, 3 * size + 5, seed=2)["word"]
    for epoch in range(3):
        epoch_words = whole[epoch * size : (epoch + 1) * size].tolist()
        assert sorted(epoch_words) == sorted(task.split_words("validation").tolist())
    assert whole[:size].tolist() != whole[size : 2 * size].tolist()
    for cut in (1, size - 1, size, 2 * size + 3):
        parts = [
            task.generate("validation", 0, cut, seed=2)["word"],
            task.generate("validation", cut, 3 * size + 5, seed=2)["word"],
        ]
        assert np.concatenate(parts).tolist() == whole.tolist()


def test_sample_beyond_int64_is_refused_not_empty(task):
    with pytest.raises(ValueError, match=r"invalid n=9223372036854775808; allowed: an integer in \[0, 2\*\*63 - 1\]"):
        task.sample(2**63)
    with pytest.raises(ValueError, match=r"invalid n=9223372036854775807 for split 'train': .* over the memory budget"):
        task.sample(2**63 - 1)
