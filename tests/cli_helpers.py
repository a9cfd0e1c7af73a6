"""Assertions shared by the command-line tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

skip_as_root = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")


def one_error_line(capsys, *fragments: str) -> str:
    """Asserts the command printed exactly one ``error: ...`` line on stderr, no traceback, with ``fragments``."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@contextlib.contextmanager
def read_only_folder(parent: Path) -> Iterator[Path]:
    """A new folder under ``parent`` that nobody but root may write to, made writable again afterwards."""
    folder = parent / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)
