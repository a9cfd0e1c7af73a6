import numpy as np
import pytest

import seqtasks
from seqtasks.encoding import to_supervised


def test_reber_next_symbol_targets_and_weights():
    task = seqtasks.make("reber_grammar/embedded")
    batch = task.sample(50)
    x, y, w = to_supervised(task, batch)
    for i, length in enumerate(batch["length"]):
        assert x[i, :length].sum(axis=1).tolist() == [1.0] * length
        assert not x[i, length:].any()
        np.testing.assert_array_equal(y[i, : length - 1], batch["tokens"][i, 1:length])
        assert w[i].sum() == length - 1 and w[i, : length - 1].all()
        # The target is always one of the legal next symbols.
        legal = batch["next_symbols"][i, np.arange(length - 1), y[i, : length - 1]]
        assert legal.all()


def test_reber_legal_set_target():
    task = seqtasks.make("reber_grammar/reber")
    batch = task.sample(10)
    _, y, w = to_supervised(task, batch, target="legal_set")
    assert y.shape == batch["next_symbols"].shape
    assert (w.sum(axis=1) == batch["length"]).all()
    with pytest.raises(ValueError, match="invalid target='x'; allowed: one of next_symbol, legal_set"):
        to_supervised(task, batch, target="x")


def test_reversal_ids_and_one_hot_agree():
    task = seqtasks.make("sequence_reversal/len1to40_vocab10")
    batch = task.sample(20)
    x_ids, y, w = to_supervised(task, batch, inputs="ids")
    x_hot, _, _ = to_supervised(task, batch)
    np.testing.assert_array_equal(x_hot.argmax(-1) * w, x_ids * w)
    assert (w.sum(axis=1) == batch["length"]).all()


def test_example_level_targets():
    task = seqtasks.make("random_labels/t48_f16")
    x, y, w = to_supervised(task, task.sample(32))
    assert x.shape == (32, 48, 16) and y.shape == (32,) and y.sum() == 5 and (w == 1).all()
    task = seqtasks.make("char_to_vector", vocab_size=500)
    x, y, w = to_supervised(task, task.sample(8))
    assert y.shape == (8, 100) and x.shape[2] == 26
