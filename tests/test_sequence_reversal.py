import numpy as np

import seqtasks


def test_targets_are_exact_reversals():
    task = seqtasks.make("sequence_reversal/len1to40_vocab10")
    for split in task.splits:
        batch = task.sample(400, seed=2, split=split)
        for example in task.examples(batch):
            assert example["targets"].tolist() == example["inputs"][::-1].tolist()
        width = batch["inputs"].shape[1]
        padding = np.arange(width)[None, :] >= batch["length"][:, None]
        assert not batch["inputs"][padding].any() and not batch["targets"][padding].any()


def test_lengths_and_vocab():
    task = seqtasks.make("sequence_reversal/len1to40_vocab2")
    train = task.sample(3000)
    assert train["length"].min() == 1 and train["length"].max() == 40
    assert set(np.unique(train["inputs"])) == {0, 1}
    long = task.sample(300, split="test_long")
    assert long["length"].min() >= 41 and long["length"].max() <= 500


def test_small_space_splits_are_disjoint_and_drops_are_counted():
    """Length 5 over 10 symbols has 100,000 sequences: held-out ones never appear in train."""
    task = seqtasks.make("sequence_reversal/len5_vocab10")
    train = task.sample(20000, seed=0)
    held_out = {tuple(row) for split in ("validation", "test") for row in task.sample(2000, split=split)["inputs"]}
    train_rows = {tuple(row) for row in train["inputs"]}
    assert not train_rows & held_out
    validation = {tuple(r) for r in task.sample(2000, split="validation")["inputs"]}
    test = {tuple(r) for r in task.sample(2000, split="test")["inputs"]}
    assert not validation & test
    # Train draws 1.25 / 0.8 candidates per row; about 20% of them belong to validation/test
    # and are dropped (counted over the whole blocks that cover the 20,000 examples).
    generated = -(-20000 // task.block_size) * task.block_size
    assert 0.15 < train.dropped / (1.5625 * generated) < 0.25


def test_different_seeds_stay_disjoint():
    task = seqtasks.make("sequence_reversal/len5_vocab10")
    train = {tuple(r) for r in task.sample(5000, seed=11)["inputs"]}
    test = {tuple(r) for r in task.sample(2000, seed=12, split="test")["inputs"]}
    assert not train & test
