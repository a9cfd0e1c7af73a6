"""``python -m baselines.zoo_summary``: run tables and the ``docs/stability.md`` blocks (:mod:`baselines.zoo.summary`)."""

from baselines.zoo.summary import *  # noqa: F401,F403
from baselines.zoo.summary import BLOCK, CLAIMS, Claim, main, read_runs, render_page, summarise, verdict_block  # noqa: F401

if __name__ == "__main__":
    raise SystemExit(main())
