"""tfds's ``as_supervised=True`` gives the benchmark's numbers: ``reverse_string`` yields ``(inputs, targets,
output_mask)``, and a metric weighted by the third element equals ``seqtasks.score``'s."""

from __future__ import annotations

import numpy as np
import pytest

import seqtasks

tfds = pytest.importorskip("tensorflow_datasets")
from seqtasks.tf import builders  # noqa: E402 - after the importorskip

NAME = "sequence_reversal/reverse_string"


def _guess(ids: np.ndarray) -> np.ndarray:
    """A causal rule: 0 while reading (the unscored steps' target, so always right there), then the parity of
    the ids read so far on the blank writing steps (id 2; right about half the time)."""
    return np.where(ids == 2, np.cumsum(ids, axis=-1) % 2, 0)


def test_weighted_keys_only_where_a_view_scores_some_steps():
    for name in ("sequence_reversal/len5_vocab10", "reber_grammar/embedded", "random_labels/t672_f16"):
        assert len(builders.supervised_keys_for(seqtasks.make(name))) == 2
    assert builders.supervised_keys_for(seqtasks.make(NAME)) == ("inputs", "targets", "output_mask")


@pytest.mark.slow
def test_tfds_tuples_weighted_by_the_third_element_give_the_scorers_number(tmp_path):
    builder = tfds.builder(NAME, data_dir=tmp_path)
    assert builder.info.supervised_keys == ("inputs", "targets", "output_mask")
    builder.download_and_prepare()
    hits = scored = steps = unweighted_hits = 0
    for inputs, targets, weights in tfds.as_numpy(tfds.load(NAME, split="test", as_supervised=True,
                                                            data_dir=tmp_path)):
        right = _guess(inputs) == targets
        hits += int((right * weights).sum())
        scored += int(weights.sum())
        unweighted_hits += int(right.sum())
        steps += len(targets)
    record = seqtasks.score(NAME, lambda batch: np.eye(3, dtype=np.float32)[_guess(batch.ids)],
                            model_name="parity", seed=0, framework="numpy")
    assert hits / scored == record["metrics"]["test"]["token_accuracy"]
    assert 0.3 < hits / scored < 0.7
    assert abs(unweighted_hits / steps - hits / scored) > 0.05  # without the weights: another number
