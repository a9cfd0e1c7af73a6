import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqtasks
from seqtasks.cli import main
from cli_helpers import one_error_line, read_only_folder, skip_as_root


def test_list_and_show(capsys):
    assert main(["list"]) == 0
    assert "reber_grammar" in capsys.readouterr().out
    assert main(["show", "reber_grammar/embedded", "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "next: {TP} {B}" in out


def test_bad_parameter_exits_2(capsys):
    assert main(["show", "sequence_reversal", "-p", "vocab_size=1"]) == 2
    assert "invalid vocab_size=1" in capsys.readouterr().err


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


# -- File and parameter errors: one line naming the path or parameter, no traceback, no partial file --

REPO = Path(__file__).resolve().parents[1]




def _export(out: Path, *extra: str) -> list[str]:
    return ["export", "sequence_reversal", "--split", "test", "-n", "50", "-o", str(out), *extra]


def test_export_onto_an_existing_folder(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert main(_export(tmp_path / "taken")) == 1
    one_error_line(capsys, f"invalid --out={str(tmp_path / 'taken')!r}", "is an existing folder")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and not any((tmp_path / "taken").iterdir())


def test_export_into_a_missing_folder_is_refused_and_creates_nothing(tmp_path, capsys):
    out = tmp_path / "missing" / "deeper" / "x.jsonl"
    assert main(_export(out)) == 1
    one_error_line(capsys, f"invalid --out={str(out)!r}", f"folder {out.parent} does not exist")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_export_writes_the_mode_the_umask_implies(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert main(_export(tmp_path / "x.jsonl")) == 0
        assert main(_export(tmp_path / "x.npz", "--format", "npz")) == 0
    finally:
        os.umask(old)
    expected = 0o666 & ~mask  # what open(..., "w") would give: 0644 under 022, 0600 under 077, 0664 under 002
    assert {oct((tmp_path / name).stat().st_mode & 0o777) for name in ("x.jsonl", "x.npz")} == {oct(expected)}


def test_a_scored_record_gets_the_mode_the_umask_implies(tmp_path):
    from seqtasks import scorer

    old = os.umask(0o022)
    try:
        path = scorer.write_record({"x": 1}, tmp_path / "record.json")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644) and json.loads(path.read_text()) == {"x": 1}


@pytest.mark.parametrize("below", ["x.jsonl", "deeper/x.jsonl"])
def test_export_under_a_path_whose_parent_is_a_file(tmp_path, capsys, below):
    (tmp_path / "file").write_text("")
    assert main(_export(tmp_path / "file" / below)) == 1
    one_error_line(capsys, "invalid --out=", f"{tmp_path / 'file'} is a file, not a folder")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@skip_as_root
def test_export_into_a_read_only_folder(tmp_path, capsys):
    with read_only_folder(tmp_path) as folder:
        assert main(_export(folder / "x.jsonl")) == 1
        one_error_line(capsys, "invalid --out=", "permission denied")
        assert list(folder.iterdir()) == []


def test_export_into_a_folder_it_may_not_write(tmp_path, capsys, monkeypatch):
    """As above, for any user (root included): the folder reports no write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != folder and real_access(path, mode, **kw))
    assert main(_export(folder / "x.jsonl")) == 1
    one_error_line(capsys, f"invalid --out={str(folder / 'x.jsonl')!r}", f"{folder}: permission denied")
    assert list(folder.iterdir()) == []


def test_export_when_creating_the_file_is_refused(tmp_path, capsys, monkeypatch):
    """The check passed but the file system refuses anyway (a read-only mount, an ACL)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EROFS, "Read-only file system", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main(_export(tmp_path / "x.jsonl")) == 1
    one_error_line(capsys, "cannot write --out=", "Read-only file system")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "No space left on device"), (errno.EFBIG, "File too large")])
def test_export_onto_a_full_disk_leaves_no_partial_file(tmp_path, capsys, monkeypatch, code, reason):
    import seqtasks.cli as cli

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, stream):
            self.stream, self.written = stream, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 200:
                raise OSError(code, os.strerror(code))
            return self.stream.write(data)

        def __getattr__(self, name):
            return getattr(self.stream, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    monkeypatch.setattr(cli.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    out = tmp_path / "x.jsonl"
    assert main(_export(out)) == 1
    one_error_line(capsys, f"cannot write --out={str(out)!r}", reason)
    assert list(tmp_path.iterdir()) == []


def test_export_past_the_file_size_limit_in_a_real_process(tmp_path):
    """``ulimit -f``: the kernel answers EFBIG (Python ignores SIGXFSZ)."""
    out = tmp_path / "big.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = f"ulimit -f 4 && exec {sys.executable} -m seqtasks export sequence_reversal -n 20000 -o {out}"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0] and str(out.name) in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("digits", [400, 5000])
def test_show_with_a_number_too_large_for_a_float(capsys, digits):
    assert main(["show", "random_labels", "-p", "input_offset=" + "1" * digits]) == 2
    one_error_line(capsys, "random_labels: invalid input_offset=", "allowed: a finite number in [-1e+06, 1e+06]")


def test_show_with_a_request_beyond_the_memory_budget(capsys):
    assert main(["show", "random_labels", "-n", str(10**12)]) == 2
    one_error_line(capsys, "invalid n=1000000000000", "over the memory budget", "lower n or time_steps")
