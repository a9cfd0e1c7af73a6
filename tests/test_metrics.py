"""Task-owned metrics against hand-computed cases."""

import math

import numpy as np
import pytest

import seqtasks
from seqtasks import metrics
from seqtasks.tasks.reber_grammar import ALPHABET


def _perfect_reber_outputs(batch: dict) -> np.ndarray:
    """Outputs 1/k on the k legal symbols: solves every string."""
    legal = batch["next_symbols"].astype(np.float64)
    return legal / np.maximum(legal.sum(axis=-1, keepdims=True), 1)


def test_reber_criterion_by_hand():
    task = seqtasks.make("reber_grammar/embedded")
    batch = task.sample(1, seed=0)
    text = str(batch["text"][0])
    tokens = [ALPHABET.index(c) for c in text]
    length = len(text)
    outputs = _perfect_reber_outputs(batch)
    assert metrics.reber_grammar(task, batch, outputs) == {
        "strings_solved": 1.0,
        "symbols_correct": 1.0,
        "long_range_correct": 1.0,
    }
    # Position 0 (after B) allows {T, P}: raising an illegal output to tie the legal ones breaks the criterion.
    tied = outputs.copy()
    tied[0, 0, ALPHABET.index("S")] = 0.5
    assert metrics.reber_grammar(task, batch, tied)["strings_solved"] == 0.0
    # Forgetting the branch: at length - 3 predict the other branch symbol.
    forgot = outputs.copy()
    other = ALPHABET.index("P") if text[1] == "T" else ALPHABET.index("T")
    forgot[0, length - 3] = 0.0
    forgot[0, length - 3, other] = 1.0
    result = metrics.reber_grammar(task, batch, forgot)
    assert result["long_range_correct"] == 0.0 and result["strings_solved"] == 0.0
    assert result["symbols_correct"] == pytest.approx((length - 2) / (length - 1))
    # The last position (after the final E) has no legal symbol and is never scored.
    junk_at_end = outputs.copy()
    junk_at_end[0, length - 1] = np.arange(7)
    assert metrics.reber_grammar(task, batch, junk_at_end)["strings_solved"] == 1.0
    assert tokens[1] in (ALPHABET.index("T"), ALPHABET.index("P"))


def test_reber_fraction_and_plain_variant():
    task = seqtasks.make("reber_grammar/embedded")
    batch = task.sample(4, seed=1)
    outputs = _perfect_reber_outputs(batch)
    outputs[1:3, 0] = 0.0  # two strings get all-equal outputs at position 0: not solved
    assert metrics.reber_grammar(task, batch, outputs)["strings_solved"] == 0.5
    plain = seqtasks.make("reber_grammar/reber")
    plain_batch = plain.sample(3)
    result = metrics.evaluate(plain, plain_batch, _perfect_reber_outputs(plain_batch))
    assert result == {"strings_solved": 1.0, "symbols_correct": 1.0}


def test_reversal_accuracies_by_hand():
    task = seqtasks.make("sequence_reversal/len1to40_vocab10")
    batch = {
        "targets": np.array([[3, 2, 1], [5, 4, 0]], dtype=np.int32),
        "length": np.array([3, 2], dtype=np.int32),
    }
    predicted_ids = np.array([[3, 9, 1], [5, 4, 7]])  # the 7 is padding and must not count
    result = metrics.sequence_reversal(task, batch, predicted_ids)
    assert result["token_accuracy"] == pytest.approx(4 / 5)
    assert result["sequence_accuracy"] == 0.5
    assert result["first_position_accuracy"] == 1.0
    assert result["chance_accuracy"] == 0.1
    np.testing.assert_allclose(result["per_position_accuracy"], [1.0, 0.5, 1.0])
    # Scores give the same answer through their arg-max.
    scores = np.eye(10)[predicted_ids]
    assert metrics.evaluate(task, batch, scores)["token_accuracy"] == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="invalid predictions shape"):
        metrics.sequence_reversal(task, batch, predicted_ids[:, :2])


def test_reversal_per_position_nan_beyond_longest():
    task = seqtasks.make("sequence_reversal/len5_vocab10")
    batch = {"targets": np.array([[1, 0]]), "length": np.array([1])}
    result = metrics.sequence_reversal(task, batch, np.array([[1, 1]]))
    assert result["per_position_accuracy"][0] == 1.0 and math.isnan(result["per_position_accuracy"][1])


def test_char_to_vector_by_hand():
    task = seqtasks.make("char_to_vector", vocab_size=200)
    batch = {"vector": np.array([[1.0, 0.0], [0.0, 1.0]])}
    predictions = np.array([[1.0, 0.0], [0.0, -2.0]])
    result = metrics.char_to_vector(task, batch, predictions, train_mean=np.array([0.5, 0.5]))
    assert result["mse"] == pytest.approx((0 + 0 + 0 + 9) / 4)
    assert result["mean_cosine"] == pytest.approx((1 - 1) / 2)
    assert result["mean_vector_mse"] == pytest.approx(0.25)
    assert result["mean_vector_cosine"] == pytest.approx(math.sqrt(0.5))


def test_char_to_vector_mean_predictor_from_train_split():
    task = seqtasks.make("char_to_vector", vocab_size=200)
    test = task.generate("test", 0, task.natural_size("test"))
    train = task.generate("train", 0, task.natural_size("train"))
    mean = train["vector"].astype(np.float64).mean(axis=0)
    result = metrics.evaluate(task, test, np.broadcast_to(mean, test["vector"].shape))
    assert result["mse"] == pytest.approx(result["mean_vector_mse"])
    assert result["mean_cosine"] == pytest.approx(result["mean_vector_cosine"])
    perfect = metrics.evaluate(task, test, test["vector"])
    assert perfect["mse"] == 0.0 and perfect["mean_cosine"] == pytest.approx(1.0)
    assert perfect["mean_vector_cosine"] < 0.9


@pytest.mark.parametrize(
    "labels, scores, expected",
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 1.0),
        ([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1], 0.0),
        ([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], 0.75),  # pairs (pos, neg): 0.2>0.1, 0.2<0.3, 0.4>0.1, 0.4>0.3
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # all tied
        ([1, 0, 0], [0.3, 0.3, 0.1], 0.75),  # one tie counts half
    ],
)
def test_roc_auc_by_hand(labels, scores, expected):
    assert metrics.roc_auc(np.array(labels), np.array(scores)) == pytest.approx(expected)


def test_roc_auc_one_class_is_nan():
    assert math.isnan(metrics.roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_random_labels_loss_at_base_rate_equals_entropy():
    task = seqtasks.make("random_labels/t48_f16")
    batch = task.sample(64)
    base_rate = np.full(64, 5 / 32)
    result = metrics.evaluate(task, batch, base_rate)
    assert result["loss"] == pytest.approx(task.label_entropy())
    assert result["loss_minus_entropy"] == pytest.approx(0.0, abs=1e-12)
    assert result["auc"] == 0.5 and result["finite_fraction"] == 1.0
    leaked = metrics.random_labels(task, batch, batch["label"].astype(float)[:, None])
    assert leaked["auc"] == 1.0 and leaked["loss"] < 1e-6
    broken = base_rate.copy()
    broken[:16] = np.nan
    nan_result = metrics.random_labels(task, batch, broken)
    assert nan_result["finite_fraction"] == 0.75 and math.isnan(nan_result["loss"])


def test_evaluate_rejects_unknown_task():
    class Unknown:
        name = "nope"

    with pytest.raises(ValueError, match="invalid task='nope'"):
        metrics.evaluate(Unknown(), {}, np.zeros(1))
