"""Quiet command lines: TensorFlow's native log lines below ``TF_CPP_MIN_LOG_LEVEL`` stay hidden.

TensorFlow applies ``TF_CPP_MIN_LOG_LEVEL`` only once its libraries have loaded, so
the INFO lines they print while loading (the oneDNN banner, ``cpu_feature_guard``)
reach the terminal whatever the variable says. A command line (``seqtasks build``;
``python -m baselines`` and its siblings, through ``baselines.quiet``) calls
:func:`import_tensorflow` before anything imports TensorFlow: it sets the level to
:data:`DEFAULT_LEVEL` where the user set none, and holds back what the libraries
print while loading, passing on every line at or above the level (and anything
else written meanwhile). ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything, unfiltered.
Importing this module imports no TensorFlow.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

DEFAULT_LEVEL = "3"
"""Native log lines of FATAL severity only: the ERROR lines TensorFlow prints in these runs are
notices (oneDNN's fallback for boolean masks, once per process); real failures raise exceptions."""

_SEVERITIES = "IWEF"  # glog/absl line prefixes, by level: INFO, WARNING, ERROR, FATAL
_LOG_LINE = re.compile(r"^([IWEF])\d{4} ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def import_tensorflow() -> None:
    """Imports TensorFlow with its load-time native log lines below ``TF_CPP_MIN_LOG_LEVEL`` held back.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` to :data:`DEFAULT_LEVEL` unless the user set it. Does
    nothing more once TensorFlow is imported; at level 0 it imports TensorFlow as it is.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
    if "tensorflow" in sys.modules:
        return
    try:
        level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:  # TensorFlow ignores a value that is no number: so does the filter
        level = 0
    if level <= 0:
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            sys.stderr.write(shown_lines(held.read().decode(errors="replace"), level))
            sys.stderr.flush()


def shown_lines(text: str, level: int) -> str:
    """The lines of ``text`` that ``TF_CPP_MIN_LOG_LEVEL=level`` lets through.

    A native log line (``I0000 ...``, ``W...``, ``E...``, ``F...``) shows when its severity is
    at least ``level``; absl's note that early messages go to stderr never shows; any other
    line (Python's own output, say) always shows.
    """
    kept = []
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if not line.startswith(_ABSL_PREAMBLE) and (match is None or _SEVERITIES.index(match[1]) >= level):
            kept.append(line)
    return "".join(kept)
