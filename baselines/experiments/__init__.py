"""Training experiments on the stable baselines, each run as ``python -m baselines.experiments.<name>``.

* :mod:`baselines.experiments.sample_efficiency`: embedded Reber, training sequences until the
  test set is solved, next to the 1997 LSTM paper's Table 1;
* :mod:`baselines.experiments.difficulty`: the stable baselines' score as each task's difficulty
  knob grows;
* :mod:`baselines.experiments.learning_rate`: one learning-rate rule for every model (Deletang et
  al.'s three rates, selected on seed 0's validation).

They train through :func:`baselines.trainer.train` and write their results as the benchmarks do
(``--json``: sorted, indented JSON with the machine description; ``docs/benchmarks.md`` quotes them).
"""

from __future__ import annotations

from seqtasks.environment import measurement_machine as machine_description  # noqa: F401
from seqtasks.environment import write_json  # noqa: F401  (one JSON writer and machine record for benchmarks and experiments)
