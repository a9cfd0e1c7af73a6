"""Training experiments on the stable baselines, each run as ``python -m baselines.experiments.<name>``.

* :mod:`baselines.experiments.sample_efficiency`: embedded Reber, training sequences until the
  test set is solved, next to the 1997 LSTM paper's Table 1;
* :mod:`baselines.experiments.difficulty`: the stable baselines' score as each task's difficulty
  knob grows.

They train through :func:`baselines.trainer.train` and write their results as the benchmarks do
(``--json``: sorted, indented JSON with the machine description; ``docs/benchmarks.md`` quotes them).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from seqtasks.environment import write_json  # noqa: F401  (the one JSON writer of benchmarks and experiments)


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on: CPU model, core count, load and library versions.

    Returns:
        :func:`seqtasks.environment.machine_description` with the Python and numpy versions, and
        those of TensorFlow, TensorFlow Datasets and Keras where they were imported.
    """
    from seqtasks.environment import machine_description as describe
    from seqtasks.environment import software_versions

    info = describe()
    versions = software_versions()
    info["python"], info["numpy"] = versions["python"], versions["numpy"]
    for module_name in ("tensorflow", "tensorflow_datasets", "keras"):
        if module_name in sys.modules:
            info[module_name] = versions[module_name]
    return info


