"""What the command lines share: file checks, one-line ``OSError`` text, exit statuses.

A lower layer than the command lines themselves (``seqtasks.cli``, ``seqtasks.tf.build_cli``,
``python -m baselines``): it imports none of them.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

EXIT_INVALID = 2
"""Exit status of a bad argument or parameter (``ValueError``)."""
EXIT_FILE_ERROR = 1
"""Exit status of a file that cannot be read or written."""


class FileProblem(Exception):
    """A path the command cannot use; the message names it (printed without a traceback)."""


def current_umask() -> int:
    """The process's file-mode creation mask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def os_error_text(error: OSError, path: object | None = None) -> str:
    """One line for an ``OSError``: the path and the reason, e.g. ``"/x/y: No space left on device"``."""
    where = path if path is not None else (error.filename or "")
    reason = error.strerror or (errno.errorcode.get(error.errno, "") if error.errno else "") or str(error)
    return f"{where}: {reason}" if where else reason


def check_writable_file(path: Path, option: str) -> None:
    """Raises :class:`FileProblem` unless a file can be created at ``path`` (checked before any work).

    Args:
        path: Where the file will be written; its folder must exist (no folder is created).
        option: The command-line option that named it, for the message.
    """
    if path.is_dir():
        raise FileProblem(f"invalid {option}={str(path)!r}: it is an existing folder; allowed: a file path")
    folder = Path(os.path.abspath(path.parent))
    check_writable_folder(folder, option, path)  # a file on the way, or no permission
    if not folder.is_dir():
        raise FileProblem(
            f"invalid {option}={str(path)!r}: folder {folder} does not exist; allowed: a path in an existing folder"
        )


def check_writable_folder(folder: Path, option: str, named: Path | None = None) -> None:
    """Raises :class:`FileProblem` unless ``folder`` exists as a writable folder or can be created.

    Args:
        folder: The folder.
        option: The command-line option that named it, for the message.
        named: The path the user gave (default: ``folder``).
    """
    named = folder if named is None else named
    existing = Path(os.path.abspath(folder))
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise FileProblem(
            f"invalid {option}={str(named)!r}: {existing} is a file, not a folder; allowed: a path under a folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FileProblem(f"invalid {option}={str(named)!r}: {existing}: permission denied (cannot write there)")
