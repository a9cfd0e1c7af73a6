import numpy as np
import pytest

import seqtasks
from seqtasks.tasks.char_to_vector import synthetic_vectors


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
