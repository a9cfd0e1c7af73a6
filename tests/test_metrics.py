"""Task-owned evaluation against hand-computed cases; per-length reports; report columns."""

import csv
import json
import math

import numpy as np
import pytest

import seqtasks
from seqtasks import metrics
from seqtasks.metrics import ReportColumn
from seqtasks.tasks.char_to_vector import synthetic_vectors
from seqtasks.tasks.reber_grammar import ALPHABET
from seqtasks.tasks.sequence_reversal import SequenceReversal


def _perfect_reber_outputs(batch: dict) -> np.ndarray:
    """Outputs 1/k on the k legal symbols: solves every string."""
    legal = batch["next_symbols"].astype(np.float64)
    return legal / np.maximum(legal.sum(axis=-1, keepdims=True), 1)


def test_reber_criterion_by_hand():
    task = seqtasks.make("reber_grammar/embedded")
    batch = task.sample(1, seed=0)
    text = str(batch["text"][0])
    length = len(text)
    outputs = _perfect_reber_outputs(batch)
    assert metrics.evaluate(task, batch, outputs) == {
        "strings_solved": 1.0,
        "symbols_correct": 1.0,
        "long_range_correct": 1.0,
    }
    # Position 0 (after B) allows {T, P}: raising an illegal output to tie the legal ones breaks the criterion.
    tied = outputs.copy()
    tied[0, 0, ALPHABET.index("S")] = 0.5
    assert task.evaluate(batch, tied)["strings_solved"] == 0.0
    # Forgetting the branch: at length - 3 predict the other branch symbol.
    forgot = outputs.copy()
    other = ALPHABET.index("P") if text[1] == "T" else ALPHABET.index("T")
    forgot[0, length - 3] = 0.0
    forgot[0, length - 3, other] = 1.0
    result = task.evaluate(batch, forgot, target="legal_set")
    assert result["long_range_correct"] == 0.0 and result["strings_solved"] == 0.0
    assert result["symbols_correct"] == pytest.approx((length - 2) / (length - 1))
    # The last position (after the final E) has no legal symbol and is never scored.
    junk_at_end = outputs.copy()
    junk_at_end[0, length - 1] = np.arange(7)
    assert task.evaluate(batch, junk_at_end)["strings_solved"] == 1.0
    assert task.accuracy_mask(batch).sum() == length - 1
    with pytest.raises(ValueError, match="invalid target='nope'"):
        task.evaluate(batch, outputs, target="nope")


def test_reber_fraction_plain_variant_and_declarations():
    task = seqtasks.make("reber_grammar/embedded")
    batch = task.sample(4, seed=1)
    outputs = _perfect_reber_outputs(batch)
    outputs[1:3, 0] = 0.0  # two strings get all-equal outputs at position 0: not solved
    assert metrics.evaluate(task, batch, outputs)["strings_solved"] == 0.5
    plain = seqtasks.make("reber_grammar/reber")
    plain_batch = plain.sample(3)
    assert metrics.evaluate(plain, plain_batch, _perfect_reber_outputs(plain_batch)) == {
        "strings_solved": 1.0,
        "symbols_correct": 1.0,
    }
    assert task.headline_metric() == "strings_solved" and task.ceiling()["strings_solved"] == 1.0
    assert "long_range_correct" not in plain.ceiling()
    # Next-symbol prediction leaks the target to a backward pass: declared by the task, for both views.
    assert "backward pass" in task.bidirectional_leak() and task.bidirectional_leak("legal_set")
    assert [c.key for c in task.report_columns()][-1] == "sequences_to_solve_test"


def _reversal_batch(rows: list[list[int]]) -> dict:
    width = max(len(row) for row in rows)
    targets = np.zeros((len(rows), width), np.int32)
    for i, row in enumerate(rows):
        targets[i, : len(row)] = row
    lengths = np.array([len(row) for row in rows], np.int32)
    inputs = np.array([np.r_[t[:n][::-1], t[n:]] for t, n in zip(targets, lengths)], np.int32)
    return {"inputs": inputs, "targets": targets, "length": lengths}


def test_reversal_accuracies_by_hand():
    task = seqtasks.make("sequence_reversal/len1to40_vocab10")
    batch = _reversal_batch([[3, 2, 1], [5, 4]])
    predicted_ids = np.array([[3, 9, 1], [5, 4, 7]])  # the 7 is padding and must not count
    result = metrics.evaluate(task, batch, predicted_ids)
    assert result["token_accuracy"] == pytest.approx(4 / 5)
    assert result["sequence_accuracy"] == 0.5
    assert result["first_position_accuracy"] == 1.0
    assert result["chance_accuracy"] == 0.1
    np.testing.assert_allclose(result["per_position_accuracy"], [1.0, 0.5, 1.0])
    # Scores give the same answer through their arg-max.
    scores = np.eye(10)[predicted_ids]
    assert metrics.evaluate(task, batch, scores)["token_accuracy"] == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="invalid predictions shape"):
        metrics.evaluate(task, batch, predicted_ids[:, :2])
    assert task.headline_metric() == "token_accuracy" and task.ceiling() == {
        "token_accuracy": 1.0, "sequence_accuracy": 1.0, "first_position_accuracy": 1.0}
    assert task.bidirectional_leak() is None


def test_reversal_per_position_nan_beyond_longest():
    task = seqtasks.make("sequence_reversal/len5_vocab10")
    batch = {"inputs": np.array([[1, 0]]), "targets": np.array([[1, 0]]), "length": np.array([1])}
    result = task.evaluate(batch, np.array([[1, 1]]))
    assert result["per_position_accuracy"][0] == 1.0 and math.isnan(result["per_position_accuracy"][1])


class _OutputStepsOnly(SequenceReversal):
    """A layout that scores only the last two steps of each example (as a read-then-write layout would)."""

    def accuracy_mask(self, batch, target=None):
        lengths = np.asarray(batch["length"])
        steps = np.arange(np.asarray(batch["targets"]).shape[1])[None, :]
        return (steps >= lengths[:, None] - 2) & (steps < lengths[:, None])


def test_a_task_config_declares_its_own_scoring_mask():
    """Scoring follows Task.accuracy_mask: no trainer or metrics change for an output-steps-only layout."""
    task = _OutputStepsOnly(seqtasks.make("sequence_reversal/len1to40_vocab10").config)
    batch = _reversal_batch([[3, 2, 1, 0], [5, 4, 6]])
    predicted = np.array([[9, 9, 1, 0], [9, 4, 7, 9]])  # wrong everywhere outside the mask in row 0
    result = metrics.evaluate(task, batch, predicted)
    assert result["token_accuracy"] == pytest.approx(3 / 4)  # row 0: 2 of 2, row 1: 1 of 2
    assert result["sequence_accuracy"] == 0.5
    # Positions count the scored steps of each example: position 0 is each example's first output step.
    np.testing.assert_allclose(result["per_position_accuracy"][:2], [1.0, 0.5])
    assert result["first_position_accuracy"] == 1.0


def test_char_to_vector_by_hand():
    task = seqtasks.make("char_to_vector", vocab_size=200)
    batch = {"vector": np.array([[1.0, 0.0], [0.0, 1.0]])}
    predictions = np.array([[1.0, 0.0], [0.0, -2.0]])
    result = task.evaluate(batch, predictions, train_mean=np.array([0.5, 0.5]))
    assert result["mse"] == pytest.approx((0 + 0 + 0 + 9) / 4)
    assert result["mean_cosine"] == pytest.approx((1 - 1) / 2)
    assert result["mean_vector_mse"] == pytest.approx(0.25)
    assert result["mean_vector_cosine"] == pytest.approx(math.sqrt(0.5))
    with pytest.raises(ValueError, match="invalid evaluate options"):
        task.evaluate(batch, predictions, nope=1)


def test_char_to_vector_mean_predictor_and_ceiling():
    task = seqtasks.make("char_to_vector", vocab_size=400)
    test = task.generate("test", 0, task.natural_size("test"))
    train = task.generate("train", 0, task.natural_size("train"))
    mean = train["vector"].astype(np.float64).mean(axis=0)
    result = metrics.evaluate(task, test, np.broadcast_to(mean, test["vector"].shape))
    assert result["mse"] == pytest.approx(result["mean_vector_mse"])
    assert result["mean_cosine"] == pytest.approx(result["mean_vector_cosine"])
    perfect = metrics.evaluate(task, test, test["vector"])
    assert perfect["mse"] == 0.0 and perfect["mean_cosine"] == pytest.approx(1.0)
    assert perfect["mean_vector_cosine"] < 0.9
    # The held-out ceiling: sqrt(a) analytically; exactly, the cosine of the compositional part.
    a = task.config.compositional_weight
    assert task.ceiling() == {"mean_cosine": pytest.approx(math.sqrt(a))}
    exact = task.ceiling(test)["mean_cosine"]
    assert abs(exact - math.sqrt(a)) < 0.02
    # It is the score of the predictor that outputs each word's compositional part (weight a = 1).
    compositional = synthetic_vectors(test["word"], task.config.replace(compositional_weight=1.0))
    assert metrics.evaluate(task, test, compositional)["mean_cosine"] == pytest.approx(exact, abs=1e-6)
    assert exact > perfect["mean_vector_cosine"]


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
    leaked = task.evaluate(batch, batch["label"].astype(float)[:, None])
    assert leaked["auc"] == 1.0 and leaked["loss"] < 1e-6
    broken = base_rate.copy()
    broken[:16] = np.nan
    nan_result = task.evaluate(batch, broken)
    assert nan_result["finite_fraction"] == 0.75 and math.isnan(nan_result["loss"])
    assert task.ceiling() == {"auc": 0.5, "loss": pytest.approx(task.label_entropy()), "accuracy": 27 / 32}
    assert task.content_lengths(batch) is None


def test_evaluate_rejects_what_is_no_task():
    class Unknown:
        name = "nope"

    with pytest.raises(ValueError, match="invalid task='nope'"):
        metrics.evaluate(Unknown(), {}, np.zeros(1))


def test_length_report_scores_each_length_with_the_task_and_averages_over_lengths(tmp_path):
    task = seqtasks.make("sequence_reversal/len1to40_vocab2")
    batch = _reversal_batch([[1, 0], [0, 1], [1, 1, 0], [0, 0, 0, 1]])
    predicted = batch["targets"].copy()
    predicted[0, 0] = 1 - predicted[0, 0]  # length 2: 3 of 4 tokens right
    predicted[3] = 1 - predicted[3]  # length 4: all wrong (padding is not counted either way)
    report = metrics.length_report(task, batch, predicted, split="test_long")
    assert [(row["length"], row["examples"]) for row in report["rows"]] == [(2, 2), (3, 1), (4, 1)]
    assert [row["token_accuracy"] for row in report["rows"]] == [0.75, 1.0, 0.0]
    assert report["metric"] == "token_accuracy" and report["score"] == pytest.approx((0.75 + 1.0 + 0.0) / 3)
    assert report["lengths"] == [2, 4] and report["split"] == "test_long"
    # Each row is exactly the task's evaluation of that length's examples.
    rows = np.flatnonzero(batch["length"] == 2)
    alone = metrics.evaluate(task, metrics.select_rows(batch, rows), predicted[rows])
    assert metrics.scalars(alone) == {k: v for k, v in report["rows"][0].items() if k not in ("length", "examples")}
    files = metrics.write_length_report([report], tmp_path / "lengths", train_lengths=(1, 2), ceiling=1.0, title="t")
    assert [f.suffix for f in files] == [".json", ".csv", ".md", ".png"] and all(f.stat().st_size > 0 for f in files)
    with files[1].open() as handle:
        table = list(csv.DictReader(handle))
    assert [row["length"] for row in table] == ["2", "3", "4"] and table[0]["split"] == "test_long"
    assert json.loads(files[0].read_text())["reports"][0]["score"] == pytest.approx(report["score"])
    assert "length score 0.5833" in files[2].read_text()
    with pytest.raises(ValueError, match="length_report"):
        labels = seqtasks.make("random_labels/t48_f16")
        metrics.length_report(labels, labels.sample(32), np.zeros(32))


def test_report_columns_read_runs():
    run = {"final": {"test": {"auc": 0.5}}, "length_scores": {"test_long": 0.6}, "epochs_completed": 3}
    assert ReportColumn("a", "auc").read(run) == 0.5
    assert ReportColumn("a", "auc", "test_long").read(run) == metrics.NOT_APPLICABLE
    assert ReportColumn("s", "length_scores.test_long", None).read(run) == 0.6
    assert ReportColumn("s", "length_scores.test", None).read(run) is None
    assert ReportColumn("e", "epochs_completed", None).read(run) == 3
    for name in seqtasks.list_tasks():
        task = seqtasks.make(name)
        assert task.report_columns() and task.headline_metric()
        assert set(task.evaluation_protocol()) >= {"headline_metric", "ceiling", "target", "bidirectional_leak"}
