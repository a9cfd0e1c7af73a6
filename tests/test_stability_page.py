"""docs/stability.md quotes only what its evidence runs measured, on the current data.

The page's tables and verdicts are generated from ``docs/stability_runs/<set>.json``
(``python -m baselines.zoo.summary --page docs/stability.md``); the prose around them may
quote a measured number only if a generated block of the same thread shows it.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

import seqtasks
from baselines.catalog import get_recipe
from baselines.zoo import EVIDENCE, ZOO
from baselines.zoo.runner import SCHEMA
from baselines.zoo.summary import BLOCK, CLAIMS, Claim, render_page, verdict_block

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "stability.md"
EVIDENCE_DIR = ROOT / "docs" / "stability_runs"
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.]*\d)")


def _page() -> str:
    return PAGE.read_text()


def _thread_sections(text: str) -> dict[str, str]:
    """``### Seed NNN`` section text per thread number."""
    parts = re.split(r"^### Seed (\d{3})\b.*$", text.split("## Known gaps")[0], flags=re.M)
    return {number: body for number, body in zip(parts[1::2], parts[2::2])}


def test_every_evidence_set_and_thread_has_its_generated_block():
    blocks = {(match["kind"], match["name"]) for match in BLOCK.finditer(_page())}
    assert {("set", evidence.name) for evidence in EVIDENCE} <= blocks
    assert {("verdict", thread) for thread in ZOO} <= blocks
    assert set(CLAIMS) == set(ZOO)


def test_the_page_is_what_the_evidence_files_generate():
    assert render_page(_page(), EVIDENCE_DIR) == _page(), (
        "docs/stability.md differs from its evidence; run `python -m baselines.zoo.summary --page docs/stability.md`"
    )


def _block_of(name: str) -> str:
    return next(match["body"] for match in BLOCK.finditer(_page()) if match["kind"] == "set" and match["name"] == name)


@pytest.mark.parametrize("evidence", EVIDENCE, ids=lambda evidence: evidence.name)
def test_evidence_was_run_with_its_settings_on_the_current_dataset_version(evidence):
    planned = sorted((recipe, seed) for recipe in evidence.recipes for seed in range(evidence.seeds))
    path = EVIDENCE_DIR / f"{evidence.name}.json"
    if not path.exists():  # only a set at a post's own settings may still be running, and the page must say so
        assert evidence.epochs is not None and f"**0 of {len(planned)} planned runs finished so far**" in _block_of(evidence.name)
        return
    document = json.loads(path.read_text())
    assert document["schema"] == SCHEMA
    assert document["command"].startswith("python -m baselines zoo --all")
    runs = document["runs"]
    done = sorted((run["recipe"], run["seed"]) for run in runs)
    assert set(done) <= set(planned) and len(done) == len(set(done))
    if done != planned:
        assert evidence.epochs is not None and f"**{len(done)} of {len(planned)} planned runs finished so far**" in _block_of(evidence.name)
    for run in runs:
        task = seqtasks.make(run["task"])
        assert run["task"] == (evidence.task or get_recipe(run["recipe"]).task)
        assert run["protocol"]["dataset_version"] == task.version, f"{evidence.name}: rerun `make zoo-evidence`"
        assert run["steps"] == evidence.steps
        if evidence.epochs is None:
            assert run["updates"] == evidence.steps or run["nan_update"] is not None
        else:
            assert run["zoo_post_settings"] == {
                "epochs": evidence.epochs, "train_size": evidence.train_size, "task_overrides": dict(evidence.task_overrides),
                "early_stopping": evidence.early_stopping, "output_sums": evidence.output_sums,
            }
            assert run["epochs"] == evidence.epochs and run["epochs_completed"] <= evidence.epochs
            assert run["protocol"]["config_overrides"] == dict(evidence.task_overrides)
        assert run["build_overrides"] == {
            key: value
            for key, value in (("units", evidence.units), ("learning_rate", evidence.learning_rate))
            if value is not None
        }


def test_no_evidence_file_is_left_from_the_old_runner_or_from_a_retired_set():
    names = {evidence.name for evidence in EVIDENCE}
    for path in EVIDENCE_DIR.glob("*.json"):
        assert path.stem in names, f"{path.name} is no evidence set of baselines.zoo.EVIDENCE"


def test_every_figure_the_page_shows_exists_and_every_set_figure_is_shown():
    shown = set(re.findall(r"\]\(figures/([\w.]+\.png)\)", _page()))
    assert {evidence.figure for evidence in EVIDENCE if evidence.figure} <= shown
    for name in shown:
        assert (ROOT / "docs" / "figures" / name).exists()


@pytest.mark.parametrize("number", sorted({"000", "001", "002", "003", "004"}))
def test_prose_quotes_only_numbers_that_its_generated_blocks_show(number):
    section = _thread_sections(_page())[number]
    measured = section.split("**Measured**", 1)[1]
    generated = "\n".join(match["body"] for match in BLOCK.finditer(measured))
    prose = re.sub(r"```.*?```", "", BLOCK.sub("", measured), flags=re.S)
    quoted = set(DECIMAL.findall(prose))
    missing = sorted(value for value in quoted if value not in generated)
    assert not missing, f"seed {number}: prose numbers not in its generated tables: {missing}"


def _run(recipe: str, seed: int, losses: list[float | None], nan_update: int | None = None, **final) -> dict:
    return {
        "recipe": recipe, "seed": seed, "updates": len(losses), "per_update_loss": losses, "nan_update": nan_update,
        "floor_check": {"verdict": "ok", "below_floor_updates": []}, "final": {"validation": final},
        "loss_floor": 0.4, "median_seconds_per_update": 0.1,
    }


class _Set:
    def __init__(self, name: str, steps: int = 10):
        self.name, self.steps, self.task, self.units, self.learning_rate = name, steps, None, None, None


def test_verdicts_follow_the_runs():
    claim = CLAIMS["noise_relu_lstm"]
    post, fix = ZOO["noise_relu_lstm"][0], ZOO["noise_relu_lstm"][-1]
    nan = [0.7, None]
    fine = [0.7, 0.6]

    def verdict(post_losses: list[list], other_set: list[list] | None = None) -> str:
        runs = [_run(post, s, l, 2 if None in l else None) for s, l in enumerate(post_losses)]
        runs += [_run(fix, s, fine) for s in range(len(post_losses))]
        sets = [(_Set("main"), runs)]
        if other_set is not None:
            sets.append((_Set("other"), [_run(post, s, l, 2 if None in l else None) for s, l in enumerate(other_set)]))
        return verdict_block("noise_relu_lstm", sets, claim)

    assert "computed from the runs: reproduced." in verdict([nan, nan, nan])
    assert "only under stated conditions" in verdict([nan, fine, fine])
    assert "only under stated conditions" in verdict([fine, fine], other_set=[nan])
    assert "not reproduced" in verdict([fine, fine, fine], other_set=[fine])
    ablation = ZOO["noise_relu_lstm"][1]
    runs = [_run(post, 0, fine), _run(ablation, 0, nan, 2), _run(fix, 0, fine)]
    assert "only under stated conditions" in verdict_block("noise_relu_lstm", [(_Set("main"), runs)], claim)
    runs = [_run(post, 0, nan, 2), _run(fix, 0, nan, 2)]
    assert "only under stated conditions" in verdict_block("noise_relu_lstm", [(_Set("main"), runs)], claim)


def test_each_claim_tells_the_failure_from_a_healthy_run():
    healthy = _run("x", 0, [0.9] * 12 + [0.8] * 12)
    assert not any(claim.shows(healthy | {"final": {"validation": {"per_position_accuracy": [1.0] * 5,
                                                                   "chance_accuracy": 0.1, "mean_cosine": 0.15,
                                                                   "mean_vector_cosine": 0.056}}})
                   for claim in CLAIMS.values())
    # The post's third example: the same output for every input, no better than the mean vector.
    constant = _run("x", 0, [0.01] * 13) | {"final": {"validation": {"mean_cosine": 0.045, "mean_vector_cosine": 0.056}}}
    assert CLAIMS["word_vector_wide_mse"].shows(constant)
    assert CLAIMS["noise_relu_lstm"].shows(_run("x", 0, [0.7, None], nan_update=2))
    assert CLAIMS["word_vector_wide_mse"].shows(_run("x", 0, [0.01] * 12 + [0.03]))
    assert not CLAIMS["word_vector_wide_mse"].shows(_run("x", 0, [0.05, 0.01] + [0.01] * 12))  # early drop is fine
    assert CLAIMS["unnormalised_sigmoid_cce"].shows(_run("x", 0, [0.0] * 5))
    assert not CLAIMS["unnormalised_sigmoid_cce"].shows(_run("x", 0, [0.0, 0.1]))
    reversal = CLAIMS["reversal_stateful_lstm"]
    assert reversal.shows(_run("x", 0, [1.0], per_position_accuracy=[0.11, 0.09, 1.0, 1.0, 1.0], chance_accuracy=0.1))
    assert not reversal.shows(_run("x", 0, [1.0], per_position_accuracy=[0.3, 0.09, 1.0, 1.0, 1.0], chance_accuracy=0.1))
    assert not reversal.shows(_run("x", 0, [1.0], per_position_accuracy=[0.1, 0.1, 0.2, 0.3, 0.4], chance_accuracy=0.1))
    floor_error = _run("x", 0, [1e-7] * 5) | {"floor_check": {"verdict": "error", "below_floor_updates": [1, 2, 3]}}
    assert CLAIMS["reber_softmax_lstm"].shows(floor_error)
    assert isinstance(CLAIMS["reber_softmax_lstm"], Claim)


def test_readme_states_each_threads_computed_verdict():
    readme = " ".join((ROOT / "README.md").read_text().split())
    sections = _thread_sections(_page())
    for number, section in sections.items():
        if "**Verdict: pending.**" in section:  # the post's settings still running: the README says so
            finished = re.search(r"(\d+ of \d+) runs of set", section).group(1)
            assert re.search(rf"\({number}[^)]*\) pending, {finished} runs finished", readme), f"README: thread {number}"
            continue
        verdict = re.search(r"Verdict, computed from the runs: ([a-z ]+)\.", section).group(1)
        assert re.search(rf"\({number}[^)]*\) {verdict}(?! only)", readme), f"README: thread {number} is {verdict!r}"
