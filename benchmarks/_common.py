"""Helpers shared by the benchmark scripts: machine description, timing and JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


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


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as indented JSON when ``path`` is given."""
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=_to_builtin)
            handle.write("\n")


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
