"""Helpers shared by the benchmark scripts: machine description, timing and JSON output."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from seqtasks.environment import measurement_machine as machine_description  # noqa: F401
from seqtasks.environment import write_json  # noqa: F401  (one JSON writer and machine record for benchmarks and experiments)


def time_call(function: Callable[[], Any]) -> tuple[float, Any]:
    """Runs ``function`` once.

    Args:
        function: A callable without arguments.

    Returns:
        Elapsed wall-clock seconds and the function's result.
    """
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    return float(statistics.median(values))


