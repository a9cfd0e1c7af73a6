"""Tests of the running parity task."""

import numpy as np
import pytest

import seqtasks
from seqtasks.testing import builder_test_case, check_task, make_test_task


def test_the_task_passes_the_task_author_checks():
    """Determinism, slicing, padding, lengths, the supervised view, split disjointness, bad parameters."""
    check_task(make_test_task("running_parity"))


def test_parity_is_the_running_xor_of_the_bits():
    batch = seqtasks.make("running_parity").sample(300, seed=1)
    for example in seqtasks.make("running_parity").examples(batch):
        assert (example["parity"] == np.bitwise_xor.accumulate(example["bits"])).all()


def test_slices_match_one_call():
    task = seqtasks.make("running_parity")
    whole = task.generate("train", 0, 600, seed=3)
    parts = [task.generate("train", a, b, seed=3) for a, b in ((0, 100), (100, 599), (599, 600))]
    sliced = [example for part in parts for example in task.examples(part)]
    assert len(sliced) == 600
    for got, want in zip(sliced, task.examples(whole)):
        assert (got["bits"] == want["bits"]).all() and (got["parity"] == want["parity"]).all()


def test_held_out_lengths_are_disjoint_and_shared_ones_are_not():
    """Lengths 8 and 9 (256 and 512 strings) are shared; from 10 on (1,024 or more) splits are disjoint."""
    task = seqtasks.make("running_parity")
    seen = {
        split: {tuple(example["bits"]) for example in task.examples(task.sample(2000, split=split))}
        for split in task.splits
    }
    held = {split: {bits for bits in seen[split] if len(bits) >= 10} for split in seen}
    assert not held["train"] & held["test"] and not held["train"] & held["validation"]
    assert any(len(bits) == 8 for bits in seen["train"] & seen["test"])


def test_lengths_are_uniform_in_every_split():
    task = seqtasks.make("running_parity")
    for split in task.splits:
        counts = np.bincount(task.sample(6500, split=split)["length"], minlength=21)[8:]
        assert counts.sum() == 6500 and abs(counts - 500).max() < 5 * np.sqrt(500)


def test_bad_length_names_the_parameter():
    with pytest.raises(ValueError, match="max_length=2"):
        seqtasks.make("running_parity", max_length=2)


# tfds's own builder tests (build every split of the test preset, check sizes and disjointness), as
# tests/test_builders.py runs them for the built-in tasks: the task needs no builder of its own.
RunningParityBuilderTest = builder_test_case("running_parity")
