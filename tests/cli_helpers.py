"""Assertions shared by the command-line tests."""

from __future__ import annotations


def one_error_line(capsys, *fragments: str) -> str:
    """Asserts the command printed exactly one ``error: ...`` line on stderr, no traceback, with ``fragments``."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
