"""Numbers on the docs pages that come from files are the files' numbers (as test_results_page.py does
for docs/results.md), and the docs home page says what the code does.

Each expected string is formatted here from the archived file it quotes (run records under
``docs/results_runs/``, benchmark records under ``benchmarks/results/``, the tested ``docs/results.md``);
the page is read with its line breaks folded to spaces.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import seqtasks

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "docs" / "results_runs"


def _page(name: str) -> str:
    return " ".join((ROOT / "docs" / name).read_text(encoding="utf-8").split())


def _run(path: str) -> dict:
    return json.loads((RUNS / path).read_text(encoding="utf-8"))


def _assert_quoted(page: str, expected: list[str]) -> None:
    missing = [text for text in expected if text not in page]
    assert missing == [], missing


def test_baselines_page_mixed_length_table_and_comparison_quote_their_runs():
    page = _page("baselines.md")
    mixed = {model: _run(f"reverse_string_{model.lower()}_seed0/metrics.json") for model in ("LSTM", "GRU")}
    rows = []
    for model, run in mixed.items():
        for split, lengths in (("test", "1..40"), ("`test_long`", "41..500, 32 strings each")):
            final, score = run["final"][split.strip("`")], run["length_scores"][split.strip("`")]
            rows.append(f"| {model} | {split} | {lengths} | {final['token_accuracy']:.3f} | {score:.3f} | "
                        f"{final['sequence_accuracy']:.3f} |")
    grouped = _run("reverse_string_lstm_seed0_grouped_lr1e-3/metrics.json")  # the grid's LSTM before the rate rule
    assert grouped["recipe_settings"]["length_grouped"] is True and grouped["seed"] == 0
    lstm = mixed["LSTM"]
    comparison = [
        f"higher ({lstm['final']['test']['token_accuracy']:.3f} against {grouped['final']['test']['token_accuracy']:.3f} "
        "for the length-grouped LSTM, seed 0)",
        f"lower ({lstm['length_scores']['test_long']:.3f} against {grouped['length_scores']['test_long']:.3f})",
    ]
    _assert_quoted(page, rows + comparison)


def test_baselines_page_twice_the_updates_probe_quotes_its_run():
    page = _page("baselines.md")
    probe = _run("reverse_string_gru_seed0_7000_updates/metrics.json")
    grid = _run("reverse_string_gru_seed0_grouped_lr1e-3/metrics.json")  # the grid's seed 0 before the rate rule
    validation = [epoch["val_token_accuracy"] for epoch in probe["per_epoch"]]
    assert len(validation) == 14 and probe["seed"] == grid["seed"] == 0
    moved = round(probe["length_scores"]["test_long"], 3) - round(grid["length_scores"]["test_long"], 3)
    _assert_quoted(page, [
        f"after 7,000 updates ({probe['cpu_time_s'] / 60:.0f} CPU min)",
        f"the test token accuracy is {probe['final']['test']['token_accuracy']:.3f} "
        f"(grid, 3,500 updates: {grid['final']['test']['token_accuracy']:.3f})",
        f"`test_long` length score {probe['length_scores']['test_long']:.3f} ({grid['length_scores']['test_long']:.3f})",
        f"Validation token accuracy by epoch: {validation[6]:.3f} at 7, then "
        + ", ".join(f"{value:.3f}" for value in validation[7:]) + ":",
        f"doubling the updates moved by {moved:.3f}",
    ])
    # its first 7 epochs repeat the grid's seed 0 exactly
    assert [e["val_token_accuracy"] for e in grid["per_epoch"]] == validation[:7]


def test_baselines_page_char_to_vector_width_sweep_quotes_its_runs():
    page = _page("baselines.md")
    rows = []
    for units in (64, 256, 512):
        run = _run(f"char_to_vector_bigru_u{units}/metrics.json")
        by_epoch = ", ".join(f"{run['per_epoch'][epoch - 1]['val_mean_cosine']:.3f}" for epoch in (1, 5, 9, 13, 17))
        rows.append(f"| {units} | {run['final']['test']['mean_cosine']:.3f} | {run['final']['test_long']['mean_cosine']:.3f} "
                    f"| {by_epoch} | {run['cpu_time_s']:.0f} |")
    grid = _run("grid/char_to_vector/bigru/seed0.json")
    rows.append(f"| 128 (grid, seed 0) | {grid['final']['test']['mean_cosine']:.3f} |")
    _assert_quoted(page, rows)


def test_baselines_page_char_to_vector_summary_quotes_the_results_page():
    """0.406 ± 0.002, the ceiling, the ridge and the oracle: docs/results.md's rows (tested against their runs)."""
    page, results = _page("baselines.md"), (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    section = results[results.index("## char_to_vector"):]
    # Columns: model, seeds, parameters, test mse, test cosine, ...
    bigru = re.search(r"^\| bigru \| 5 \| [\d,]+ \| [^|]+ \| (\d\.\d{3}) ± (\d\.\d{3}) .*?\| (\d\.\d{3}) \| \d+ \|", section, re.M)
    ridge = re.search(r"^\| \*n-gram ridge regression\* \| – \| – \| [\d.]+ \| (\d\.\d{3}) \|", section, re.M)
    oracle = re.search(r"^\| \*seen-n-gram oracle\* \*\(bound\)\* \| – \| – \| – \| (\d\.\d{3}) \|", section, re.M)
    mean, spread, ceiling = bigru.groups()
    _assert_quoted(page, [
        f"reaches a test cosine of {mean} ± {spread} over 5 seeds",
        f"{float(mean) / float(ceiling):.2f} of the task's ceiling ({ceiling})",
        f"reaches {ridge[1]} and the oracle that knows every training n-gram's vector {oracle[1]}",
    ])


def test_baselines_page_build_rates_quote_the_benchmark_records():
    page = _page("baselines.md")
    results = ROOT / "benchmarks" / "results"
    quick = json.loads((results / "tfds_build_quick.json").read_text())
    beam = json.loads((results / "tfds_build_beam_reversal.json").read_text())["builds"][0]
    reber = next(b for b in quick["builds"] if b["task"] == "reber_grammar/embedded")["seqtasks"]["examples_per_s"]
    reversal = beam["seqtasks"]["examples_per_s"]
    _assert_quoted(page, [
        f"about {round(reber, -3):,.0f} (Reber) to {round(reversal, -3):,.0f} (reversal) examples a second",
        f"built `{beam['task']}` at {beam['beam_over_plain']:.2f}x the plain build's rate for "
        f"{beam['beam']['examples']:,} examples",
        # two DirectRunner processes at that rate: CPU per example relative to the plain build
        f"about {2 / beam['beam_over_plain']:.0f} times as much per example",
    ])


# -- The home page says what the code does --


def test_home_page_config_table_lists_every_registered_config_default_first():
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for task in seqtasks.list_tasks():
        row = re.search(rf"^\| \[`{task}`\]\(tasks/{task}\.md\) \| ([^|]+) \|", page, re.M)
        assert row is not None, task
        assert re.findall(r"`([^`]+)`", row[1]) == seqtasks.list_presets(task), task


def test_home_page_describes_what_make_demo_runs():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile[makefile.index("\ndemo:"):].split("\n\n")[0]
    assert "seqtasks demo" in recipe and "-m baselines reproduce --quick" in recipe
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    demo = page[page.index("make demo"):page.index("make test")]
    for what in ("prints examples of every task", "fingerprints", "python -m baselines reproduce --quick"):
        assert what in demo, what


@pytest.mark.parametrize("page", ["index.md", "baselines.md", "architecture.md", "api.md", "stability.md"])
def test_docs_pages_name_no_removed_alias(page):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    for removed in ("seqtasks._random", "baselines.zoo_summary", "python -m baselines.zoo_run",
                    "old names still work"):
        assert removed not in text, removed


def test_baselines_page_stack_usage_quotes_every_seed_of_its_record():
    page = _page("baselines.md")
    record = json.loads((ROOT / "benchmarks" / "results" / "stack_usage_sequence_reversal-reverse_string.json").read_text())
    runs = [record["runs"][f"seed{seed}"] for seed in range(5)]  # every seed of the grid, in order

    def listed(values: list[float]) -> str:
        return " / ".join(f"{value:.3f}" for value in values)

    _assert_quoted(page, [
        f"mean push probability {listed([run['reading']['mean_push'] for run in runs])} for seeds 0-4",
        f"the mean pop probability is {listed([run['writing']['mean_pop'] for run in runs])}",
        f"the rest mostly push ({listed([run['writing']['mean_push'] for run in runs])})",
    ])
    grid = [_run(f"grid/sequence_reversal/reverse_string/stack_rnn/seed{seed}.json") for seed in range(5)]
    assert [run["length_scores"] for run in runs] == [run["length_scores"] for run in grid]  # the archived models
