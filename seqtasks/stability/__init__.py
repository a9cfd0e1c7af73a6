"""The stability kit: a linter, a NaN locator and a below-floor detector for Keras recurrent models.

Import it explicitly (``from seqtasks.stability import check``); it imports Keras,
which ``import seqtasks`` does not. See ``docs/stability.md`` for the failures
each tool catches and the measured evidence.
"""

from seqtasks.stability.floor import (
    BatchLabelEntropy,
    BelowFloorWarning,
    FloorDetector,
    MemorisationWarning,
    batch_floor_distribution,
    below_floor,
    floors_of_rows,
    split_floor,
    task_floor,
    window_threshold,
)
from seqtasks.stability.diagnose import DoctorReport, doctor
from seqtasks.stability.linter import RULES, Finding, check
from seqtasks.stability.nan_locator import NaNLocator

__all__ = [
    "RULES",
    "BatchLabelEntropy",
    "BelowFloorWarning",
    "DoctorReport",
    "Finding",
    "FloorDetector",
    "MemorisationWarning",
    "NaNLocator",
    "batch_floor_distribution",
    "below_floor",
    "check",
    "doctor",
    "floors_of_rows",
    "split_floor",
    "task_floor",
    "window_threshold",
]
