"""The stack-usage analysis: phases split as the read-then-write layout defines them, averages by hand."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.experiments import stack_usage


def test_reading_and_writing_steps_follow_the_layout_and_leave_padding_out():
    real = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], bool)  # lengths 4 and 2
    weights = np.array([[0, 0, 1, 1, 0], [0, 1, 0, 0, 0]], float)
    masks = stack_usage.phase_masks(real, weights)
    np.testing.assert_array_equal(masks["reading"], [[1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(masks["writing"], [[0, 0, 1, 1, 0], [0, 1, 0, 0, 0]])


def test_real_steps_come_from_lengths_not_from_id_zero():
    import seqtasks

    batch = next(seqtasks.protocol("sequence_reversal/reverse_string").eval_batches("validation", 8))
    lengths = batch.examples["length"]
    np.testing.assert_array_equal(batch.real_steps.sum(axis=1), lengths)
    assert (batch.ids[batch.real_steps] == 0).any()  # symbol 0 is a real step with id 0
    masks = stack_usage.phase_masks(batch.real_steps, batch.weights)
    np.testing.assert_array_equal(masks["reading"].sum(axis=1), masks["writing"].sum(axis=1))  # read n, write n


def test_action_averages_and_argmax_shares_match_a_hand_count():
    actions = np.array([[[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]])
    masks = {"reading": np.array([[1, 1, 0, 0]], bool), "writing": np.array([[0, 0, 1, 1]], bool)}
    totals = {phase: np.zeros(7) for phase in stack_usage.PHASES}
    stack_usage.accumulate(totals, actions, masks)
    stack_usage.accumulate(totals, actions, masks)  # a second batch: the averages stay, the counts double
    summary = stack_usage.summarise(totals)
    assert summary["reading"]["mean_push"] == pytest.approx(0.7)
    assert summary["reading"]["argmax_push"] == 1.0 and summary["reading"]["steps"] == 4
    assert summary["writing"]["mean_pop"] == pytest.approx(0.5)
    assert summary["writing"]["argmax_pop"] == 0.5 and summary["writing"]["argmax_no_op"] == 0.5


def test_a_runs_dir_without_stack_models_is_one_line_of_error(tmp_path, capsys):
    assert stack_usage.main(["--runs-dir", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert stack_usage.main(["--split", "train", "--runs-dir", str(tmp_path)]) == 2
    assert not list(tmp_path.iterdir())
