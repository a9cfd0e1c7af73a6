"""The failure zoo: each forum thread's naive recipe next to its fix, the runner and the evidence page.

- :mod:`baselines.zoo.recipes`: the zoo's recipes (:data:`ZOO`) and the evidence sets
  ``docs/stability.md`` quotes (:data:`EVIDENCE`); importing the package registers them.
- :mod:`baselines.zoo.runner`: ``python -m baselines zoo`` (recipes x seeds through the one
  trainer, ``baselines.trainer.train``).
- :mod:`baselines.zoo.summary`: tables of runs, each thread's claim as a test on one run
  (:data:`~baselines.zoo.summary.CLAIMS`) and the generated blocks of ``docs/stability.md``.
"""

from baselines.zoo.recipes import *  # noqa: F401,F403  (registers the recipes)
from baselines.zoo.recipes import EVIDENCE, FIXED_RECIPES, NAIVE_RECIPES, THREADS, ZOO, Evidence  # noqa: F401
