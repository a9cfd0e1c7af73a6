"""The findings block at the end of ``python -m baselines train`` and the run-time estimate."""

import io

import pytest

from baselines import findings
from baselines.findings import TimeEstimate, findings_block, format_duration

LINT_ERROR = {"rule_id": "recurrent-activation", "severity": "error", "message": "LSTM 'lstm' uses activation='relu'.",
              "fix": "Keep activation='tanh'.", "layer": "lstm"}
LINT_INFO = {"rule_id": "cudnn-disabled", "severity": "info", "message": "slow", "fix": "use defaults", "layer": "lstm"}
NAN_REPORT = {
    "update": 8, "epoch": 0, "batch": 7, "trigger": "loss", "detail": "", "loss": "nan",
    "origin": "forward pass (training mode)",
    "first_non_finite_output": {"layer": "lstm", "layer_class": "LSTM", "output_index": 0, "nan": 1, "inf": 3, "size": 4,
                                "mode": "training", "input_max_abs": 3.0},
    "non_finite_weights": [], "restored_weights_from_update": 7,
    "report_files": ["runs/x/nan_report.json", "runs/x/nan_report.md"],
}


def result(**fields):
    base = {"recipe": "noise_relu_lstm", "task": "random_labels/t672_f16", "seed": 0, "nan_report": None, "nan_update": None,
            "floor_check": {"verdict": "ok", "updates": 12}, "lint": []}
    return {**base, **fields}


def test_the_block_names_the_nan_update_layer_report_floor_and_lint_fix():
    text = findings_block(result(nan_report=NAN_REPORT, nan_update=8, lint=[LINT_ERROR, LINT_INFO]))
    lines = text.splitlines()
    assert lines[0] == "findings (noise_relu_lstm on random_labels/t672_f16, seed 0):"
    assert "  NaN: first non-finite value at update 8 (epoch 1), layer 'lstm' (LSTM); origin: forward pass (training mode)" in lines
    assert "       training stopped; the weights and the final metrics are those after update 7" in lines
    assert "       report: runs/x/nan_report.md" in lines
    assert "  lint: ERROR recurrent-activation [lstm]: LSTM 'lstm' uses activation='relu'." in lines
    assert "       fix: Keep activation='tanh'." in lines
    assert "  lint: 1 info finding (speed only; see metrics.json lint)" in lines
    assert "nothing to report" not in text


def test_a_healthy_run_has_nothing_to_report_and_a_floor_error_is_shown_with_its_fix():
    assert findings_block(result(lint=[LINT_INFO])).splitlines()[-1] == "  nothing to report"
    error = {"verdict": "error", "first_error_update": 3, "error_flags": 10, "updates": 12}
    text = findings_block(result(floor_check=error))
    assert "floor: ERROR, training loss below the task's loss floor on data not trained on, first at update 3 (10 flags)" in text
    assert "fix: the loss is masking NaNs" in text and "nothing to report" not in text
    memorised = {"verdict": "memorisation", "first_memorisation_update": 40, "train_validation_gap": 1.25, "updates": 90}
    assert "memorisation, training loss below the floor on training data seen before, first at update 40; validation minus training loss 1.25" in findings_block(result(floor_check=memorised))
    only_terminate = findings_block(result(nan_update=5))
    assert "NaN: the training loss was non-finite at update 5; rerun with --locate-nan" in only_terminate


def test_time_estimate_uses_the_median_of_the_timed_updates(monkeypatch):
    clock = iter([0.0, 9.0,  10.0, 10.5,  11.0, 11.5,  12.0, 14.0,  15.0, 15.5,  16.0, 16.5,  20.0, 20.5])
    monkeypatch.setattr(findings.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    estimate = TimeEstimate(timed=5, stream=stream)
    estimate.set_params({"steps": 100, "epochs": 3})
    for batch in range(7):
        estimate.on_train_batch_begin(batch)
        estimate.on_train_batch_end(batch)
    # Update 1 (9 s, tracing) is left out; updates 2-6 took 0.5, 0.5, 2, 0.5, 0.5 s: median 0.5 s x 300 updates.
    assert estimate.estimate == pytest.approx(150.0)
    assert stream.getvalue() == (
        "estimated training time: about 2 min 30 s (300 updates at 0.5 s each, timed on updates 2 to 6; evaluation comes on top)\n"
    )
    capped = TimeEstimate(max_updates=12)
    capped.set_params({"steps": 100, "epochs": 3})
    assert capped.total_updates() == 12


def test_durations_read_naturally():
    assert [format_duration(s) for s in (4.2, 400, 7500)] == ["4 s", "6 min 40 s", "2 h 05 min"]


@pytest.mark.slow
def test_train_prints_the_findings_block_at_the_end(tmp_path, capsys):
    from baselines.__main__ import main

    argv = ["train", "--recipe", "unnormalised_sigmoid_cce", "--steps", "6", "--units", "4", "--eval-size", "64",
            "--verbose", "0", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    block = out[out.index("findings (unnormalised_sigmoid_cce"):]
    assert "floor: ERROR, training loss below the task's loss floor on data not trained on, first at update 3" in block
    assert "lint: ERROR sigmoid-categorical-crossentropy" in block and "fix: " in block
