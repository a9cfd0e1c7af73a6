"""The worked examples of docs/your_model.md run under the protocol and score what the task's evaluation gives."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import seqtasks
import seqtasks.encoding
from seqtasks.protocols import protocol

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _independent_scores(p, predict_whole_split) -> dict[str, dict[str, float]]:
    """The task's own evaluation of predictions made here on each whole split (not through the scorer)."""
    out = {}
    for split in p.eval_splits:
        examples = p.eval_examples(split)
        predictions = predict_whole_split(examples)
        out[split] = seqtasks.metrics.scalars(seqtasks.metrics.evaluate(p.task, examples, predictions))
    return out


@pytest.mark.slow
def test_the_numpy_example_trains_scores_and_compares(tmp_path):
    pytest.importorskip("tensorflow")  # the comparison table comes with the Keras baselines
    example = _example("numpy_reber")
    records = example.main(tmp_path)
    p = protocol(example.NAME)
    assert len(records) == p.seeds and all(r["follows_protocol"] for r in records)
    assert [r["budget"]["updates"] for r in records] == [p.updates] * p.seeds
    model = example.CountTable(7)
    for batch in p.train_batches(0):
        model.fit(batch)

    def whole_split(examples):
        ids = seqtasks.encoding.to_supervised(p.task, examples, inputs="ids")[0]
        return model(type("Inputs", (), {"ids": ids})())

    assert records[0]["metrics"] == _independent_scores(p, whole_split)
    assert records[0]["metrics"]["test"]["long_range_correct"] == 1.0  # the second symbol is in its context
    page = (tmp_path / "compare" / "comparison.md").read_text()
    assert f"| **count table (numpy)** | {p.seeds} |" in page


@pytest.mark.slow
def test_the_jax_example_trains_on_the_protocol_batches_and_scores(tmp_path):
    pytest.importorskip("jax")
    example = _example("jax_reber")
    p = protocol(example.NAME)
    (record,) = example.main(tmp_path)  # the whole budget: 512 updates of 16 strings
    assert record["follows_protocol"] and record["budget"]["updates"] == p.updates
    assert json.loads((tmp_path / "jax_gru_seed0.json").read_text()) == record
    params, made = example.train(0)  # deterministic on CPU: the same weights again
    assert made == p.updates

    def whole_split(examples):
        one_hot = seqtasks.encoding.to_supervised(p.task, examples, inputs="one_hot")[0]
        z = np.asarray(example.logits(params, one_hot), dtype=np.float64)
        return np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)

    independent = _independent_scores(p, whole_split)
    for split, values in independent.items():
        assert record["metrics"][split] == pytest.approx(values, abs=1e-9)
    # It learned: an untrained GRU's arg-max is a legal next symbol about a third of the time.
    assert record["metrics"]["test"]["symbols_correct"] > 0.9
