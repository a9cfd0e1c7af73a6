"""Compatibility alias: ``seqtasks._random`` is :mod:`seqtasks.draws` (its former, private name)."""

import sys

from seqtasks import draws

sys.modules[__name__] = draws
