import json

import numpy as np

import seqtasks
from seqtasks.cli import main


def test_list_and_show(capsys):
    assert main(["list"]) == 0
    assert "reber_grammar" in capsys.readouterr().out
    assert main(["show", "reber_grammar/embedded", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "next: {TP} {B}" in out


def test_bad_parameter_exits_2(capsys):
    assert main(["show", "sequence_reversal", "-p", "vocab_size=1"]) == 2
    assert "invalid vocab_size=1" in capsys.readouterr().out


def test_export_jsonl_and_npz(tmp_path):
    out = tmp_path / "rev.jsonl"
    assert main(["export", "sequence_reversal", "--split", "test", "-n", "7", "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 7 and all(r["targets"] == r["inputs"][::-1] for r in rows)
    npz = tmp_path / "rev.npz"
    assert main(["export", "sequence_reversal", "--split", "test", "-n", "7", "--format", "npz", "-o", str(npz)]) == 0
    data = np.load(npz)
    expected = seqtasks.make("sequence_reversal").sample(7, split="test")
    np.testing.assert_array_equal(data["inputs"], expected["inputs"])


def test_export_failure_leaves_no_file(tmp_path):
    out = tmp_path / "x.jsonl"
    assert main(["export", "sequence_reversal", "--split", "test_long", "-o", str(out)]) == 2
    assert list(tmp_path.iterdir()) == []


def test_fingerprint_check(capsys):
    assert main(["fingerprint"]) == 0
