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
        A JSON-serialisable dict.
    """
    cpu_model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                cpu_model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    info: dict[str, Any] = {
        "cpu": cpu_model,
        "logical_cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    for module_name in ("tensorflow", "tensorflow_datasets", "keras"):
        module = sys.modules.get(module_name)
        if module is not None:
            info[module_name] = getattr(module, "__version__", "unknown")
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
