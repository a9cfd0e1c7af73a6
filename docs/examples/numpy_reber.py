"""A plain-numpy model on embedded Reber under the benchmark's protocol: train_batches -> score -> compare.

The model is a count table: the next symbol's frequencies given the string's second symbol (the
branch an embedded string must remember, a feature chosen by hand) and the last three symbols, counted on the
protocol's training batches (the Keras baselines' batches, byte for byte) and smoothed. It is causal:
at step t it reads only symbols 0..t. Run it with ``python docs/examples/numpy_reber.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import seqtasks

NAME = "reber_grammar/embedded"
SMOOTHING = 1e-3


class CountTable:
    """``counts[second, two back, previous, current, next]``; index ``depth`` stands for "not read yet"."""

    def __init__(self, depth: int) -> None:
        self.counts = np.zeros((depth + 1, depth + 1, depth + 1, depth, depth))

    def _context(self, ids: np.ndarray) -> tuple[np.ndarray, ...]:
        depth = self.counts.shape[-1]
        steps = np.arange(ids.shape[1])[None, :]
        second = np.where(steps >= 1, ids[:, 1:2] if ids.shape[1] > 1 else depth, depth)
        back = lambda k: np.concatenate([np.full((len(ids), k), depth), ids[:, :-k]], axis=1)[:, : ids.shape[1]]  # noqa: E731
        return second, back(2), back(1), ids

    def fit(self, batch) -> None:
        """Adds the scored steps of one training batch (``weights > 0``) to the counts."""
        scored = batch.weights > 0
        context = tuple(part[scored] for part in self._context(batch.ids))
        np.add.at(self.counts, (*context, batch.targets[scored]), 1)

    def __call__(self, batch) -> np.ndarray:
        """Next-symbol probabilities ``(n, T, depth)`` for a batch of inputs."""
        counts = self.counts[self._context(batch.ids)] + SMOOTHING
        return (counts / counts.sum(axis=-1, keepdims=True)).astype(np.float32)


def main(out: Path) -> list[dict]:
    """Trains and scores one count table per seed of the protocol; writes the records and the comparison."""
    p = seqtasks.protocol(NAME)
    records = []
    for seed in range(p.seeds):
        model = CountTable(p.task.supervised_spec(p.target).input_depth)
        updates = 0
        for batch in p.train_batches(seed):  # the whole budget: p.updates batches of p.training.batch_size
            model.fit(batch)
            updates += 1
        records.append(seqtasks.score(NAME, model, model_name="count table", seed=seed, framework="numpy",
                                      parameter_count=int(model.counts.size), updates=updates,
                                      out=out / f"count_table_seed{seed}.json"))
    from baselines.__main__ import main as baselines_main  # the comparison table comes with the baselines

    baselines_main(["compare", *[str(out / f"count_table_seed{seed}.json") for seed in range(p.seeds)],
                    "--out", str(out / "compare")])
    return records


if __name__ == "__main__":
    results = main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/numpy_reber"))
    print({key: results[0]["metrics"]["test"][key] for key in ("strings_solved", "symbols_correct")})
