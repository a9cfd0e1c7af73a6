import math

import numpy as np
import pytest

import seqtasks


def test_exact_positive_count_per_block():
    task = seqtasks.make("random_labels/t48_f16")
    labels = task.sample(32 * 40, seed=5)["label"].reshape(40, 32)
    assert (labels.sum(axis=1) == 5).all()
    # Positives move around within the block.
    assert len({tuple(np.flatnonzero(row)) for row in labels}) > 30


def test_inputs_are_gaussian_with_scale_and_offset():
    task = seqtasks.make("random_labels/t48_f16", input_scale=3.0, input_offset=100.0)
    x = task.sample(256)["inputs"].astype(np.float64)
    assert x.shape == (256, 48, 16) and x.dtype == np.float64
    assert abs(x.mean() - 100.0) < 0.05 and abs(x.std() - 3.0) < 0.05
    z = (x - 100.0) / 3.0
    assert abs((z > 1.0).mean() - 0.158655) < 0.005 and abs((z > 2.0).mean() - 0.02275) < 0.002


def test_labels_carry_no_signal():
    task = seqtasks.make("random_labels/t48_f16")
    batch = task.sample(3200)
    means = batch["inputs"].mean(axis=(1, 2))
    corr = np.corrcoef(means, batch["label"])[0, 1]
    assert abs(corr) < 0.06  # 3200 samples: std ~0.018


def test_floor_is_label_entropy():
    task = seqtasks.make("random_labels", positive_fraction=0.25, label_block=8)
    assert task.loss_floor({}) == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_fraction_must_give_whole_counts():
    with pytest.raises(ValueError, match="positive_fraction=0.2"):
        seqtasks.make("random_labels", positive_fraction=0.2, label_block=32)
