"""The failure-zoo runner writes results and a plot; the stability kit stays out of ``import seqtasks``."""

import json
import subprocess
import sys

import pytest

from baselines import zoo_run, zoo_summary


def test_import_seqtasks_does_not_import_keras_or_tensorflow():
    code = "import sys, seqtasks; print(any(m.split('.')[0] in ('keras', 'tensorflow') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_zoo_run_records_losses_nan_step_and_plot(tmp_path):
    out = tmp_path / "run"
    zoo_run.main(["seed004_stateless_lstm", "seed004_bilstm", "--seeds", "2", "--steps", "3", "--units", "4", "--out", str(out)])
    results = json.loads((out / "results.json").read_text())["results"]
    assert [(r["recipe"], r["seed"]) for r in results] == [
        ("seed004_stateless_lstm", 0),
        ("seed004_stateless_lstm", 1),
        ("seed004_bilstm", 0),
        ("seed004_bilstm", 1),
    ]
    for result in results:
        assert len(result["losses"]) == 3 and result["nan_step"] is None and result["floor"] == 0.0
        assert len(result["validation"]["per_position_accuracy"]) == 5
    assert results[0]["lint"] and "unidirectional-future-context" in results[0]["lint"][0]
    assert results[2]["lint"] == []
    assert results[0]["losses"] != results[1]["losses"]  # the seed changes data and weights
    assert (out / "curves.png").stat().st_size > 1000
    rows = [zoo_summary.summarise(result) for result in results]
    assert [row["updates"] for row in rows] == [3, 3, 3, 3] and all(row["below_floor"] == 0 for row in rows)
    assert rows[0]["first_loss"] == results[0]["losses"][0]
    table = zoo_summary.markdown(rows)
    assert table.count("\n") == 2 + len(rows) and "| seed004_bilstm | 1 | 3 | None |" in table


def test_zoo_run_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        zoo_run.main(["seed004_bilstm", "--steps", "0", "--out", str(tmp_path)])
    assert "invalid --steps=0; allowed: an integer >= 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="invalid recipe 'nope'"):
        zoo_run.main(["nope", "--steps", "1", "--out", str(tmp_path)])
