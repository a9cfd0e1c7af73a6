"""The benchmark scripts' reference generators are correct, and the generator benchmark runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import seqtasks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_generators  # noqa: E402


@pytest.mark.parametrize("name", ["reber_grammar/embedded", "reber_grammar/reber", "reber_grammar/embedded_depth2"])
def test_per_example_reber_matches_the_grammar(name):
    task = seqtasks.make(name)
    arrays = bench_generators.naive_reber(task, 200, seed=1)
    low, high = task.length_range("train")
    assert low <= arrays["length"].min() and arrays["length"].max() <= high
    vectorised = task.sample(200, seed=1)
    for batch in (arrays, vectorised):
        for row in range(len(batch["length"])):
            length = int(batch["length"][row])
            tokens, legal = batch["tokens"][row, :length], batch["next_symbols"][row, :length]
            assert (legal[np.arange(length - 1), tokens[1:]] == 1).all()  # each next symbol was legal
            assert legal[length - 1].sum() == 0  # nothing follows the final E
            assert "".join(task.alphabet[t] for t in tokens) == str(batch["text"][row])
    # Same grammar, same supervised loss floor up to sampling noise.
    assert abs(task.loss_floor(arrays) - task.loss_floor(vectorised)) < 0.05


def test_per_example_reversal_reverses():
    task = seqtasks.make("sequence_reversal/len1to40_vocab10")
    arrays = bench_generators.naive_reversal(task, 300, seed=2)
    assert set(np.unique(arrays["length"])) <= set(range(1, 41)) and arrays["length"].max() > 30
    for row, length in enumerate(arrays["length"]):
        assert (arrays["targets"][row, :length] == arrays["inputs"][row, :length][::-1]).all()
        assert arrays["inputs"][row, :length].max() < 10


def test_per_example_char_to_vector_and_random_labels_have_the_tasks_shapes():
    c2v = seqtasks.make("char_to_vector")
    arrays = bench_generators.naive_char_to_vector(c2v, 20, seed=3)
    assert np.allclose(np.linalg.norm(arrays["vector"], axis=1), 1.0, atol=1e-5)
    assert set(arrays["word"].tolist()) <= set(c2v.split_words("train").tolist())
    noise = seqtasks.make("random_labels/t48_f16")
    labels = bench_generators.naive_random_labels(noise, 64, seed=4)
    assert labels["inputs"].shape == (64, 48, 16) and labels["label"].reshape(2, 32).sum(axis=1).tolist() == [5, 5]


def test_chomsky_sampler_makes_whole_batches_of_one_length():
    tokens = bench_generators.chomsky_reversal_batches(2, 1, 40, n=300, seed=5, batch_size=100)
    assert tokens % 100 == 0 and 3 * 100 <= tokens <= 3 * 100 * 40


def test_generator_benchmark_reports_every_case(tmp_path):
    out = tmp_path / "generators.json"
    bench_generators.main(["--quick", "--repeats", "1", "--tasks", "sequence_reversal", "--json", str(out)])
    payload = json.loads(out.read_text())
    names = [result["task"] for result in payload["results"]]
    assert names == ["sequence_reversal/len5_vocab10", "sequence_reversal/len1to40_vocab2"]
    for result in payload["results"]:
        assert result["vectorised_tokens_per_s"] > 0 and result["per_example_tokens_per_s"] > 0
        assert result["ratio_vs_per_example"] == pytest.approx(
            result["vectorised_tokens_per_s"] / result["per_example_tokens_per_s"]
        )
        assert result["target_ratio"] == 20.0
    assert "ratio_vs_chomsky_batch" in payload["results"][1]
    assert payload["machine"]["numpy"] == np.__version__


def test_sample_efficiency_summary_counts_failures_as_beyond_the_budget():
    import math

    from baselines.experiments import sample_efficiency

    summary = sample_efficiency.summarise([3000, None, 1000, 5000], budget=10_240)
    assert summary["success_rate"] == 0.75 and summary["successes"] == 3
    assert summary["median"] == 4000  # (3000 + 5000) / 2: the failure sorts last
    assert summary["median_of_successes"] == 3000
    assert math.isinf(sample_efficiency.summarise([None, None, 800], budget=10_240)["median"])
    with pytest.raises(ValueError, match="sequences_to_solve"):
        sample_efficiency.summarise([], budget=1)


@pytest.mark.slow
def test_tfds_build_benchmark_writes_what_it_reports(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    import bench_tfds_build

    ours = bench_tfds_build.build_seqtasks("sequence_reversal/len5_vocab10", 256, str(tmp_path / "ours"))
    assert ours["examples"] == 256 + 2_000 + 2_000  # train overridden, the preset's validation and test
    assert ours["record_bytes"] > 0 and ours["examples_per_s"] > 0
    small = bench_tfds_build.build_trivial(500, 10, str(tmp_path / "small"))
    large = bench_tfds_build.build_trivial(500, 110, str(tmp_path / "large"))
    assert small["examples"] == 500
    # 100 more payload bytes per example: 50,000 more record bytes, give or take the length varints.
    assert abs((large["record_bytes"] - small["record_bytes"]) - 50_000) <= 1_000
