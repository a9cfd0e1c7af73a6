"""``python -m baselines.zoo_run``: the same as ``python -m baselines zoo`` (:mod:`baselines.zoo.runner`)."""

from baselines.zoo.runner import *  # noqa: F401,F403
from baselines.zoo.runner import SCHEMA, main, plot, run_from_args, run_one, run_set  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
