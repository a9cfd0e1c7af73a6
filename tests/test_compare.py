"""``python -m baselines compare``: the published table with scored records added, departures flagged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from seqtasks import scorer
from seqtasks.protocols import protocol

pytest.importorskip("tensorflow")  # baselines imports Keras

ROOT = Path(__file__).resolve().parents[1]
NAME = "sequence_reversal/len5_vocab10"


def _records(tmp_path: Path) -> list[Path]:
    """Three protocol runs of a model that reverses all but the first position, and one short run."""
    p = protocol(NAME)

    def predict(batch):
        guess = batch.targets.copy()
        guess[:, 0] = (guess[:, 0] + 1) % 10  # first output position always wrong
        return np.eye(10, dtype=np.float32)[guess]

    paths = []
    for seed, updates in ((0, p.updates), (1, p.updates), (2, p.updates), (3, 100)):
        path = tmp_path / f"record{seed}.json"
        scorer.score(NAME, predict, model_name="almost", seed=seed, framework="numpy", updates=updates, out=path)
        paths.append(path)
    return paths


def _table(markdown: str, dataset: str) -> list[str]:
    section = markdown.split(f"## {dataset}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ")]


def test_compare_adds_flagged_rows_to_the_published_table(tmp_path):
    from baselines.__main__ import main

    records = _records(tmp_path)
    out = tmp_path / "cmp"
    assert main(["compare", *map(str, records), "--out", str(out)]) == 0
    page = (out / "comparison.md").read_text()
    published = (ROOT / "docs" / "results.md").read_text()
    for dataset in ("reber_grammar/embedded", NAME, "sequence_reversal/reverse_string"):
        ours, theirs = _table(page, dataset), _table(published, dataset)
        assert ours[0] == theirs[0]  # the same columns
        assert set(line for line in ours if "**" not in line) <= set(theirs)  # the grid's rows, cell for cell
    rows = [line for line in _table(page, NAME) if "**" in line]
    assert len(rows) == 2
    # Test token accuracy of the protocol runs: 4 of 5 positions right; first position: 0; 3 of 5 planned seeds.
    # No parameter count given: "–".
    assert rows[0].startswith("| **almost (numpy)** | 3 of 5 | – | 0.800 | 0.000 | 0.000 | 1.000 | – | – |")
    assert rows[1].startswith("| **almost (numpy) †** | 1 of 5 | – | 0.800 |")
    assert "- † almost (numpy) does not follow the protocol: 100 training updates" in page
    latex = (out / "comparison.tex").read_text()
    assert "almost (numpy) & 3 of 5 & -- & 0.800" in latex and "100 training updates" in latex
    assert (out / "figures" / f"{NAME.replace('/', '-')}.png").stat().st_size > 1000


def test_compare_flags_records_on_other_evaluation_data(tmp_path):
    from baselines import compare

    record = json.loads(_records(tmp_path)[0].read_text())
    record["fingerprints"]["test"] = "0" * 64
    grid = json.loads(compare.DEFAULT_GRID.read_text())
    table = compare.dataset_table(NAME, grid, compare._user_groups([record], grid)[NAME])
    assert any("fingerprints differ: test" in note for note in table["notes"])


def test_compare_refuses_a_file_that_is_no_record(tmp_path, capsys):
    from baselines.__main__ import main

    bogus = tmp_path / "grid.json"
    bogus.write_text(json.dumps({"runs": []}))
    assert main(["compare", str(bogus), "--out", str(tmp_path / "cmp")]) == 2
    error = capsys.readouterr().err.strip()
    assert re.fullmatch(r"error: invalid record .*missing kind, dataset.*", error)
    assert not (tmp_path / "cmp").exists()
