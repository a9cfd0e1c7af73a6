"""docs/results.json follows docs/results.schema.json, and the results page quotes only what its runs measured."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "results.schema.json").read_text())
PUBLISHED = ROOT / "docs" / "results.json"


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_schema_rejects_what_a_record_must_not_be():
    with pytest.raises(jsonschema.ValidationError):
        validate({"schema_version": 1})
    record_schema = {**SCHEMA["$defs"]["run"], "$defs": SCHEMA["$defs"]}
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.validate({"fingerprints": {"test": "not-a-sha256"}}, {
            "$defs": SCHEMA["$defs"], **{k: v for k, v in record_schema.items() if k != "required"}})


@pytest.mark.skipif(not PUBLISHED.exists(), reason="docs/results.json is written by `python -m baselines reproduce`")
def test_published_results_validate_and_match_their_page():
    document = json.loads(PUBLISHED.read_text())
    validate(document)
    assert not document["quick"], "the headline page holds the full grid only"
    page = (ROOT / "docs" / "results.md").read_text()
    assert document["command"] in page
    for task, info in document["tasks"].items():
        runs = [run for run in document["runs"] if run["dataset"] == info["dataset"]]
        assert runs, task
        assert {run["dataset_version"] for run in runs} == {info["dataset_version"]}
        for line in info["criteria"]:
            assert line in page
    # Every run is on the current dataset version, or its table says in so many words that it is not.
    import seqtasks
    from baselines.report import stale_version_note

    sections = dict(zip(*[iter(re.split(r"^## (\S+)$", page, flags=re.M)[1:])] * 2))
    for run in document["runs"]:
        note = stale_version_note(run["dataset_version"], seqtasks.make(run["dataset"]).version)
        assert note is None or note in sections[run["dataset"]], f"{run['dataset']}: mark or rerun its runs"
    # Every record is its run's archived metrics.json (what `reproduce` rewrites the page from on a fresh
    # checkout), and the archive holds no run the page does not show.
    from baselines.report import run_record
    from baselines.reproduce import ARCHIVE_DIR

    archived = {path.relative_to(ARCHIVE_DIR).as_posix(): path for path in ARCHIVE_DIR.rglob("*.json")}
    names = {}
    for run in document["runs"]:
        task = next(t for t, info in document["tasks"].items() if info["dataset"] == run["dataset"])
        names[f"{task}/{run['model']}/seed{run['seed']}.json"] = run
    assert sorted(archived) == sorted(names), "docs/results_runs/grid must hold exactly the page's runs"
    for name, record in names.items():
        assert json.loads(json.dumps(run_record(json.loads(archived[name].read_text())))) == record, name
    # The CPU time the page states is the runs' sum.
    hours = re.search(r"CPU time: ([0-9.]+) h summed over the (\d+) runs", page)
    assert hours and int(hours.group(2)) == len(document["runs"])
    assert abs(float(hours.group(1)) - sum(run["cpu_time_s"] for run in document["runs"]) / 3600) < 0.006


# -- Reference predictors and criteria, checked against the task definitions ---------------------------

import numpy as np  # noqa: E402

import seqtasks  # noqa: E402
from seqtasks.metrics import cosines, roc_auc  # noqa: E402
from seqtasks.tasks import char_to_vector as c2v  # noqa: E402

SMALL = c2v.CharToVectorConfig(vocab_size=300, long_max_word_length=None)


def test_ngram_design_has_one_entry_per_ngram_of_the_bounded_word():
    words = np.array(["bab", "abba", "ka"])
    rows, columns, values, vocabulary = c2v.ngram_design(words, SMALL)
    for row, word in enumerate(words):
        bounded = f"<{word}>"
        grams = [bounded[i : i + n] for n in range(SMALL.ngram_min, SMALL.ngram_max + 1) for i in range(len(bounded) - n + 1)]
        assert (rows == row).sum() == len(grams)
        np.testing.assert_allclose(values[rows == row], 1 / np.sqrt(len(grams)))
    # The same n-gram string in two words is one column ("<ab" is not in "bab": "bab>" and "abb" differ).
    shared = {"<ba", "bab", "ab>"} & {"<ab", "abb", "bba", "ba>"}
    assert not shared
    assert len(vocabulary) == len(np.unique(columns))
    one, two = c2v.ngram_design(np.array(["bab"]), SMALL)[1], c2v.ngram_design(np.array(["xbab"]), SMALL)[1]
    assert len(one) == 6 and len(two) == 9  # "<xbab>": 4 + 3 + 2 n-grams


def test_seen_ngram_oracle_recovers_the_compositional_part_of_training_words():
    task = seqtasks.make("char_to_vector/synthetic_d100", vocab_size=300, long_max_word_length=None)
    words = task.split_words("train")[:50]
    oracle = c2v.seen_ngram_predictions(words, words, task.config)
    compositional = c2v.synthetic_vectors(words, task.config.replace(compositional_weight=1.0))
    np.testing.assert_allclose(cosines(oracle, compositional), 1.0, atol=1e-9)
    unseen = c2v.seen_ngram_predictions(np.array(["zzqx"]), words, task.config)
    assert not unseen.any() or np.linalg.norm(unseen) < np.linalg.norm(oracle[0])


def test_ridge_solves_its_normal_equations():
    task = seqtasks.make("char_to_vector/synthetic_d100", vocab_size=300, long_max_word_length=None)
    words = task.split_words("train")[:80]
    vectors = task.generate("train", 0, task.natural_size("train"))
    by_word = dict(zip(vectors["word"], vectors["vector"]))
    targets = np.array([by_word[w] for w in words], dtype=np.float64)
    weights, vocabulary = c2v.ridge_ngram_weights(words, targets, task.config, penalty=0.5, iterations=400)
    rows, columns, values, _ = c2v.ngram_design(words, task.config, vocabulary)
    design = np.zeros((len(words), len(vocabulary)))
    np.add.at(design, (rows, columns), values)
    exact = np.linalg.solve(design.T @ design + 0.5 * np.eye(len(vocabulary)), design.T @ targets)
    np.testing.assert_allclose(weights, exact, atol=1e-6)
    np.testing.assert_allclose(c2v.ngram_predictions(words, task.config, weights, vocabulary), design @ exact, atol=1e-6)


def test_null_auc_spread_matches_random_predictors():
    task = seqtasks.make("random_labels/t48_f16")
    labels = np.asarray(task.generate("test", 0, task.published_size("test"), seed=0)["label"]).reshape(-1)
    rng = np.random.default_rng(0)
    aucs = [roc_auc(labels, rng.random(len(labels))) for _ in range(2000)]
    assert abs(np.std(aucs) / task.null_auc_spread("test") - 1) < 0.08
    assert abs(np.mean(aucs) - 0.5) < 0.005


def _run(model, **fields):
    return {"model": model, **fields}


def test_criteria_say_met_and_not_met_with_the_numbers():
    reber = seqtasks.make("reber_grammar/embedded")
    solved = [_run("lstm", sequences_to_solve_test=2000 + 100 * s) for s in range(9)] + [_run("lstm", sequences_to_solve_test=None)]
    assert reber.results_criteria(solved)[0].startswith("met: lstm solved all test strings in 9 of 10 seeds")
    slow = [_run("gru", sequences_to_solve_test=9000) for _ in range(10)]
    assert reber.results_criteria(slow)[0].startswith("NOT met")
    labels = seqtasks.make("random_labels/t48_f16")
    entropy = labels.label_entropy()
    runs = [_run("lstm", nonfinite_steps=0, final_train_loss=entropy * 1.005, fresh_data=True, eval_sizes={"test": 320},
                 final={"test": {"auc": 0.52}}),
            _run("lstm", nonfinite_steps=1, final_train_loss=entropy * 1.02, fresh_data=True, eval_sizes={"test": 320},
                 final={"test": {"auc": 0.60}})]
    lines = labels.results_criteria(runs)
    assert lines[0].startswith("NOT met: lstm NaN-free in 1 of 2 runs")
    assert lines[1].startswith("NOT met") and "largest gap 2.00%" in lines[1]
    assert lines[2].startswith("NOT met") and "measured 0.520..0.600" in lines[2]
    reversal = seqtasks.make("sequence_reversal/reverse_string")
    runs = [_run("lstm", final={"test": {"token_accuracy": 0.96}}, length_scores={"test_long": 0.7}) for _ in range(2)]
    lines = reversal.results_criteria(runs)
    assert lines[0].startswith("met: lstm reaches token accuracy 0.95") and lines[1].startswith("met (goal)")
    assert [(r.model, r.our_model) for r in reversal.published_references()] == [
        ("LSTM", "lstm"), ("RNN", "rnn"), ("Transformer", "transformer"), ("Stack-RNN", "stack_rnn"), ("Tape-RNN", "")]
    assert seqtasks.make("sequence_reversal/len1to40_vocab2").published_references() == ()  # aligned: not comparable


def test_a_reversal_shortfall_says_whether_the_runs_were_still_learning():
    reversal = seqtasks.make("sequence_reversal/reverse_string")

    def run(curve):
        epochs = [{"val_token_accuracy": value} for value in curve]
        return _run("gru", final={"test": {"token_accuracy": curve[-1]}}, per_epoch=epochs, updates=500 * len(curve))

    rising = reversal.results_criteria([run([0.5, 0.8, 0.84, 0.86, 0.88]), run([0.5, 0.8, 0.85, 0.85, 0.86])])
    # Over the last 3 epochs (1,500 of 2,500 updates): +0.08 and +0.06.
    assert rising[0].startswith("NOT met: gru reaches token accuracy 0.95")
    assert "changed by +0.070 on average over the last 1,500 updates (+0.060..+0.080 over 2 seeds)" in rising[0]
    assert "still rising" in rising[0]
    flat = reversal.results_criteria([run([0.5, 0.9, 0.85, 0.86, 0.88]), run([0.5, 0.8, 0.85, 0.85, 0.86])])
    assert "(-0.020..+0.060 over 2 seeds)" in flat[0] and "not rising in every seed" in flat[0]
    solved = reversal.results_criteria([run([0.5, 0.9, 0.95, 0.96, 0.97])])
    assert solved[0].startswith("met") and "evidence" not in solved[0]


def test_published_size_is_the_presets_or_the_natural_size():
    assert seqtasks.make("random_labels/t48_f16").published_size("test") == 3_200
    assert seqtasks.make("reber_grammar/embedded").published_size("train") == 256
    words = seqtasks.make("char_to_vector/synthetic_d100", vocab_size=300, long_max_word_length=None)
    assert words.published_size("train") == words.natural_size("train") == len(words.split_words("train"))
    with pytest.raises(ValueError, match="unpublished config"):
        seqtasks.make("random_labels/t48_f16", time_steps=47).published_size("test")
    # Given a preset, its sizes count also for another config (a run that overrides config fields).
    _, preset = seqtasks.get_preset("random_labels/t48_f16")
    assert seqtasks.make("random_labels/t48_f16", time_steps=47).published_size("test", preset) == 3_200
    _, shared = seqtasks.get_preset("char_to_vector/synthetic_d100")
    assert words.published_size("train", shared) == words.natural_size("train")  # the preset says None


@pytest.mark.skipif(not PUBLISHED.exists(), reason="docs/results.json is written by `python -m baselines reproduce`")
def test_the_readme_quotes_only_numbers_of_the_results_page():
    """The README's results paragraph (between its two marker comments) copies numbers from the page."""
    readme = (ROOT / "README.md").read_text()
    start, end = readme.index("<!-- results: from docs/results.md -->"), readme.index("<!-- /results -->")
    paragraph = readme[start:end].split("-->", 1)[1]
    page = (ROOT / "docs" / "results.md").read_text()
    numbers = re.findall(r"\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+", paragraph)
    assert numbers
    missing = [number for number in numbers if number not in page]
    assert not missing, f"README quotes numbers that docs/results.md does not have: {missing}"


def test_published_references_stand_beside_our_runs_of_the_same_model():
    from baselines.records import jsonable
    from baselines.report import reference_lines
    from seqtasks.metrics import ReportColumn

    reversal = seqtasks.make("sequence_reversal/reverse_string")
    references = [jsonable(reference) for reference in reversal.published_references()]
    column = ReportColumn("test_long length score", "length_scores.test_long", None)
    lstm = [_run("lstm", length_scores={"test_long": value}) for value in (0.5, 0.6, 0.7)]
    lines = reference_lines(references, [lstm, []], ["lstm", "rnn"], [column], 5)
    rows = {line.split(" | ")[1]: line for line in lines if line.startswith("| Deletang")}
    assert "| 0.609 |" in rows["LSTM"] and "lstm: 0.600 ± 0.100 (max 0.700) | 3 of 5 |" in rows["LSTM"]
    assert "not trained yet | 0 of 5 |" in rows["RNN"]
    assert "not trained yet" in rows["Stack-RNN"]  # planned, no run
    assert "– (no such model here)" in rows["Tape-RNN"]
    # The protocol differences are shared by every row: stated once, under the table.
    assert sum("1,000,000 training steps" in line for line in lines) == 1


def test_char_to_vector_checks_the_kept_epoch_and_states_the_ridge_gap_as_a_finding():
    task = seqtasks.make("char_to_vector")

    def run(model, cosine, curve, kept=None):
        return {"model": model, "final": {"test": {"mean_cosine": cosine}}, "ceiling": {"test": {"mean_cosine": 0.866}},
                "per_epoch": [{"val_mean_cosine": v, "cosine_similarity": 0.4} for v in curve],
                **({"selected_epoch": {"epoch": kept}} if kept else {})}

    ridge = [{"name": "n-gram ridge regression", "metrics": {"test": {"mean_cosine": 0.632}}}]
    lines = task.results_criteria([run("bigru", 0.40, [0.1, 0.3, 0.2], kept=2), run("gru", 0.33, [0.1, 0.2, 0.3])], ridge)
    assert lines[0].startswith("met: every run is scored at the epoch with its best validation mean cosine "
                               "(2 of 2 runs; that epoch was the last in 1)")
    assert lines[1].startswith("finding: the best model (bigru) reaches a mean test cosine of 0.400 (0.46 x the ceiling")
    assert "the n-gram ridge regression gets 0.632" in lines[1] and "generalises worse than a subword-linear" in lines[1]
    # Scored at its last epoch although an earlier one was better: the protocol was not followed.
    assert task.results_criteria([run("gru", 0.33, [0.1, 0.4, 0.3])])[0].startswith("NOT met")
    assert [r.our_model for r in task.published_references()] == ["bilstm"]
