"""Helpers shared by the benchmark scripts: machine description, timing and JSON output."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from seqtasks.environment import write_json  # noqa: F401  (the one JSON writer of benchmarks and experiments)


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on: CPU model, core count, load, library versions.

    Returns:
        A JSON-serialisable dict (:mod:`seqtasks.environment`).
    """
    from seqtasks.environment import machine_description as describe, software_versions

    info = describe()
    versions = software_versions()
    info["python"], info["numpy"] = versions["python"], versions["numpy"]
    for module_name in ("tensorflow", "tensorflow_datasets", "keras"):
        if module_name in sys.modules:
            info[module_name] = versions[module_name]
    return info


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


