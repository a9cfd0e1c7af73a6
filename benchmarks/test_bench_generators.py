"""pytest-benchmark version of ``bench_generators.py`` (run with ``pytest benchmarks/``).

Not part of the normal test run (``testpaths = ["tests"]``). Compare the
``vectorised`` and ``per_example`` rows of each group; ``--benchmark-json``
saves them. Each benchmark checks its output, so a broken generator cannot
post a fast time.
"""

from __future__ import annotations

import numpy as np
import pytest

import bench_generators
import seqtasks

CASES = {case.name: case for case in bench_generators.CASES}
QUICK_EXAMPLES = {name: max(case.examples // 8, 32) for name, case in CASES.items()}


def _checked_tokens(name: str, arrays: dict[str, np.ndarray]) -> int:
    task = seqtasks.make(name)
    assert len(next(iter(arrays.values()))) == QUICK_EXAMPLES[name]
    return bench_generators.count_tokens(task, arrays)


@pytest.mark.parametrize("name", list(CASES))
def test_vectorised(benchmark, name):
    task = seqtasks.make(name)
    task.sample(32, seed=10_000)  # warm the task's caches outside the timing
    benchmark.group = name
    arrays = benchmark(task.sample, QUICK_EXAMPLES[name], 0)
    assert _checked_tokens(name, arrays) > 0


@pytest.mark.parametrize("name", list(CASES))
def test_per_example(benchmark, name):
    task = seqtasks.make(name)
    task.sample(32, seed=10_000)  # the word pool of char_to_vector is shared, not timed
    benchmark.group = name
    arrays = benchmark(CASES[name].naive, task, QUICK_EXAMPLES[name], 0)
    assert _checked_tokens(name, arrays) > 0


def test_chomsky_batch(benchmark):
    name = "sequence_reversal/len1to40_vocab2"
    benchmark.group = name
    tokens = benchmark(bench_generators.chomsky_reversal_batches, 2, 1, 40, QUICK_EXAMPLES[name], 0)
    assert tokens >= QUICK_EXAMPLES[name]
