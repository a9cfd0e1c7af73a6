"""What a result was produced with: the machine and the software versions (no TensorFlow import).

Shared by ``baselines`` (every run's ``metrics.json``), ``reproduce`` (the
results pages) and the benchmark scripts, so every published number names its
machine the same way.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from typing import Any

import numpy as np

_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "keras": ("keras",),
    "tensorflow_datasets": ("tensorflow-datasets",),
}


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``lscpu``), else what ``platform`` knows."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or platform.machine() or "unknown"
    for line in lscpu.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def software_versions() -> dict[str, str]:
    """Versions of Python, numpy, seqtasks and (from installed metadata, without importing them)
    TensorFlow, Keras and tensorflow-datasets; ``"not installed"`` where absent."""
    from seqtasks import __version__

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for module, distributions in _DISTRIBUTIONS.items():
        loaded = sys.modules.get(module)
        version = getattr(loaded, "__version__", None) if loaded is not None else None
        for distribution in distributions if version is None else ():
            try:
                version = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        versions[module] = version or "not installed"
    versions["seqtasks"] = __version__
    versions["platform"] = platform.platform()
    return versions


def machine_description(accelerators: bool = False) -> dict[str, Any]:
    """The machine: CPU model, logical cores, load, platform.

    Args:
        accelerators: Also list TensorFlow's non-CPU devices (imports TensorFlow).

    Returns:
        A JSON-serialisable dict.
    """
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
    }
    if accelerators:
        import tensorflow as tf

        info["accelerators"] = [d.name for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    return info


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as sorted, indented JSON (numpy scalars as Python numbers) when ``path`` is given."""
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=_to_builtin)
            handle.write("\n")


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def measurement_machine() -> dict[str, Any]:
    """What benchmark and experiment numbers were measured on: :func:`machine_description` with the
    Python and numpy versions, and those of TensorFlow, TensorFlow Datasets and Keras where imported."""
    info = machine_description()
    versions = software_versions()
    info["python"], info["numpy"] = versions["python"], versions["numpy"]
    for module_name in ("tensorflow", "tensorflow_datasets", "keras"):
        if module_name in sys.modules:
            info[module_name] = versions[module_name]
    return info
