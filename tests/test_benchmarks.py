"""The benchmark scripts' reference generators are correct, the benchmarks run, and the benchmarks page
quotes the committed JSON files in ``benchmarks/results/``."""

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


# The benchmarks page quotes the committed JSON files: each table below is recomputed from its
# files, rounded as the page rounds, and compared cell by cell with the page's row.

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"


def _results(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _table_after(marker: str) -> list[list[str]]:
    """Cells of the rows of the first Markdown table after ``marker`` on the page (header and rule dropped)."""
    lines = PAGE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if marker in line)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        line = line.strip()
        if line.startswith("|"):
            rows.append([cell.strip().replace("*", "") for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def _page_row(rows: list[list[str]], *first: str) -> list[str]:
    matches = [row for row in rows if row[: len(first)] == list(first)]
    assert len(matches) == 1, f"no single row {first} on the page"
    return matches[0][len(first):]


def _rate(value: float) -> str:
    return f"{value / 1000:,.0f}k" if value >= 10_000 else f"{value:,.0f}"


def _pair(a: float, b: float, form) -> str:
    return f"{form(a)} / {form(b)}"


def _r2(value: float) -> str:
    return f"{value:.2f}"


def test_page_quotes_the_generator_runs_of_dataset_2_0_0():
    rows = _table_after("--json benchmarks/results/generators_2.0.0.json")
    for result in _results("generators_2.0.0.json")["results"]:
        task = result["task"]
        label = f"`{task}`" + (" (dataset 1.0.0)" if task.startswith("random_labels") else "")
        expected = [f"{result['examples']:,}", f"{result['vectorised_tokens_per_s']:,.0f}",
                    f"{result['per_example_tokens_per_s']:,.0f}", f"{result['ratio_vs_per_example']:.1f}x"]
        if "ratio_vs_chomsky_batch" in result:
            expected += [f"{result['chomsky_batch_tokens_per_s']:,.0f}", f"{result['ratio_vs_chomsky_batch']:.2f}x"]
        else:
            expected += ["", ""]
        assert _page_row(rows, label) == expected, task
    rows = _table_after("generators_random_labels_2.0.0_run1.json")
    for label, name in [("run 1", "run1"), ("run 2", "run2"), ("run 3", "run3"), ("`--quick`", "quick")]:
        (result,) = _results(f"generators_random_labels_2.0.0_{name}.json")["results"]
        assert _page_row(rows, label) == [
            f"{result['examples']:,}", f"{result['vectorised_tokens_per_s']:,.0f}",
            f"{result['per_example_tokens_per_s']:,.0f}", f"{result['ratio_vs_per_example']:.1f}x",
        ], name
    loads = [_results(f"generators_random_labels_2.0.0_{name}.json")["machine"]["load_average_1m"]
             for name in ("run1", "run2", "run3", "quick")]
    assert f"1-minute load {min(loads):.2f} to {max(loads):.2f} recorded in the JSON files" in PAGE.read_text()


def _pipeline_runs() -> list[tuple[dict, dict]]:
    """(run 1, run 2) result pairs of every row of the input-pipeline tables: random_labels from its 2.0.0 runs."""
    pairs = []
    for stem, keep in [("input_pipeline_quick_run", lambda c: not c.startswith("random_labels")),
                       ("input_pipeline_random_labels_2.0.0_quick_run", lambda c: c.startswith("random_labels"))]:
        first, second = (_results(f"{stem}{i}.json")["results"] for i in (1, 2))
        for a, b in zip(first, second, strict=True):
            assert (a["config"], a["batch_size"]) == (b["config"], b["batch_size"])
            if keep(a["config"]):
                pairs.append((a, b))
    return pairs


def test_page_quotes_the_input_pipeline_runs():
    main = _table_after("input_pipeline_random_labels_2.0.0_quick_run1.json")
    profile = _table_after("**Profile of the shortfalls**")
    assert len(main) == len(profile) == len(_pipeline_runs()) == 12
    loads = [_results(f"input_pipeline_random_labels_2.0.0_quick_run{i}.json")["machine"][key]
             for i in (1, 2) for key in ("load_average_1m_before", "load_average_1m")]
    text = " ".join(PAGE.read_text().split())
    assert f"(1-minute load {min(loads):.1f} to {max(loads):.1f} before and after the runs" in text
    for a, b in _pipeline_runs():
        key = (f"`{a['config']}`", str(a["batch_size"]))
        ra, rb = a["rates_examples_per_s"], b["rates_examples_per_s"]

        def rate(name, ra=ra, rb=rb):
            return _pair(ra[name]["median"], rb[name]["median"], _rate)

        def ratio(name, a=a, b=b):
            return _pair(a["ratios"][name], b["ratios"][name], _r2)

        def of(name, base, ra=ra, rb=rb):
            return _pair(ra[name]["median"] / ra[base]["median"], rb[name]["median"] / rb[base]["median"], _r2)

        assert _page_row(main, *key) == [
            rate("ceiling"), ratio("load_disk"), ratio("load_first"), ratio("load_cached"), rate("stream"),
            rate("generator"), ratio("stream"), rate("floor"),
        ], key
        assert _page_row(profile, *key) == [
            of("profile_read", "ceiling"), of("profile_read_parse", "ceiling"), ratio("load_disk"),
            of("profile_16_passes", "ceiling"), of("profile_stream_one_call", "generator"),
        ], key


def test_page_quotes_the_random_labels_encoding_runs():
    text = " ".join(PAGE.read_text().split())
    pairs = [(a, b) for a, b in _pipeline_runs() if a["config"].startswith("random_labels")]

    def of_ceiling(result, key):
        rates = result["rates_examples_per_s"]
        return rates[key]["median"] / rates["ceiling"]["median"]

    def listed(key):  # the rows that have ``key``, as the page lists them: "w, x, y and z"
        quoted = [_pair(of_ceiling(a, key), of_ceiling(b, key), _r2)
                  for a, b in pairs if key in a["rates_examples_per_s"]]
        return " and ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)

    # The note under the profile table: files of one value per number, raw bytes, whole chunks.
    assert f"1.0.0's encoding: {listed('profile_load_disk_values')} of the ceiling" in text
    assert f"against {listed('load_disk')} with raw bytes" in text
    assert f"records as before: {listed('profile_load_disk_whole_chunks')}.)" in text
    rows = _table_after("input_pipeline_random_labels_2.0.0_encodings_run1.json")
    first, second = (_results(f"input_pipeline_random_labels_2.0.0_encodings_run{i}.json") for i in (1, 2))
    assert first["encodings"] and second["encodings"] and first["repeats"] == second["repeats"] == 9
    assert len(rows) == len(first["results"]) == 4
    for a, b in zip(first["results"], second["results"], strict=True):
        cells = _page_row(rows, f"`{a['config']}`", str(a["batch_size"]))
        expected = [_pair(a["ratios"][key], b["ratios"][key], _r2)
                    for key in ("load_disk", "profile_load_disk_values", "profile_load_disk_whole_chunks")
                    if key in a["ratios"]]
        assert cells[: len(expected)] == expected, a["config"]
        assert all(cell.startswith("- ") for cell in cells[len(expected):]), a["config"]
    loads = [run["machine"][key] for run in (first, second) for key in ("load_average_1m_before", "load_average_1m")]
    assert f"1-minute load {min(loads):.1f} to {max(loads):.1f}" in text


def test_page_quotes_the_random_labels_tfds_build():
    payload = _results("tfds_build_random_labels_2.0.0_quick.json")
    (build,) = payload["builds"]
    rows = _table_after("--json benchmarks/results/tfds_build_quick.json")
    assert _page_row(rows, "`random_labels/t672_f16` (train 320), dataset 2.0.0, 2026-12-02") == [
        f"{build['seqtasks']['examples']:,}", f"{build['seqtasks']['record_bytes'] / 2**20:.1f}",
        f"{build['seqtasks']['examples_per_s']:,.0f}", f"{build['trivial']['examples_per_s']:,.0f}",
        f"{build['ratio']:.2f}", f"{build['beam_over_plain']:.2f}",
    ]


@pytest.mark.slow
def test_input_pipeline_encodings_mode_writes_what_the_page_quotes(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    import bench_input_pipeline

    with pytest.raises(SystemExit):
        bench_input_pipeline.parse_args(["--encodings", "--profile"])
    out = tmp_path / "encodings.json"
    payload = bench_input_pipeline.main(["--quick", "--encodings", "--repeats", "1", "--batch-sizes", "256",
                                         "--configs", "random_labels/t48_f16", "--data_dir", str(tmp_path / "tfds"),
                                         "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(payload))
    assert payload["encodings"] and payload["repeats"] == 1
    assert payload["command"].startswith("python ") and "--encodings" in payload["command"]
    (result,) = payload["results"]
    rates = result["rates_examples_per_s"]
    assert set(rates) == {"ceiling", "load_disk", "profile_load_disk_values"}  # 3 KB records: no pieces
    assert result["records_per_parse"] == {"load": 256, "whole_chunks": 256}
    for key in ("load_disk", "profile_load_disk_values"):
        assert result["ratios"][key] == pytest.approx(rates[key]["median"] / rates["ceiling"]["median"])
        assert result["ratios_per_cpu_second"][key] > 0


def test_the_train_batches_table_quotes_its_run():
    run = _results("train_batches_vs_stream.json")
    rows = _table_after("## Training batches in numpy")
    assert len(rows) == len(run["rows"])
    for row in run["rows"]:
        cells = _page_row(rows, f"`{row['config']}`")
        assert cells == [
            row["train_batches_data"].replace("_", " "),
            str(row["batch_size"]),
            _rate(row["train_batches_examples_per_s"]),
            _rate(row["stream_examples_per_s"]),
            f"{row['speed_ratio_train_batches_over_stream']:.2f}",
        ]
    claimed = "at least as fast as `stream` on every config" in PAGE.read_text()
    assert claimed == all(row["speed_ratio_train_batches_over_stream"] >= 1 for row in run["rows"])
