"""Quiet command lines: TensorFlow's native log lines below ``TF_CPP_MIN_LOG_LEVEL`` stay hidden.

The command lines (``python -m baselines``, ``python -m baselines.zoo.runner``,
``python -m baselines.experiments.*``) call :func:`import_tensorflow` before anything
imports TensorFlow. The one implementation is the TensorFlow layer's
:mod:`seqtasks.tf.quiet` (``seqtasks build`` uses it too); this module re-exports it.
"""

from __future__ import annotations

from seqtasks.tf.quiet import DEFAULT_LEVEL, import_tensorflow, shown_lines

__all__ = ["DEFAULT_LEVEL", "import_tensorflow", "shown_lines"]
