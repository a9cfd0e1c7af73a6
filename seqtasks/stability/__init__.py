"""The stability kit: a linter, a NaN locator and a below-floor detector for Keras recurrent models.

Import it explicitly (``from seqtasks.stability import check``); it imports Keras,
which ``import seqtasks`` does not. See ``docs/stability.md`` for the failures
each tool catches and the measured evidence.
"""

from seqtasks.stability.floor import FloorDetector, below_floor, task_floor
from seqtasks.stability.linter import RULES, Finding, check
from seqtasks.stability.nan_locator import NaNLocator

__all__ = ["RULES", "Finding", "FloorDetector", "NaNLocator", "below_floor", "check", "task_floor"]
