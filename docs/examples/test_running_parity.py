"""Tests of the running parity task."""

import numpy as np
import pytest

import seqtasks


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


def test_splits_are_disjoint():
    task = seqtasks.make("running_parity")
    seen = {
        split: {tuple(example["bits"]) for example in task.examples(task.sample(500, split=split))}
        for split in task.splits
    }
    assert not seen["train"] & seen["test"] and not seen["train"] & seen["validation"]


def test_bad_length_names_the_parameter():
    with pytest.raises(ValueError, match="max_length=2"):
        seqtasks.make("running_parity", max_length=2)
