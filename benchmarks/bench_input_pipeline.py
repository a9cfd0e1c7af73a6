"""Input pipeline throughput (``seqtasks.load`` and ``seqtasks.stream``) against what an LSTM(128) consumes.

For each task config the script measures, in one process and on one machine:

* ``lstm``: examples/s of ``model.train_on_batch`` for a one-layer LSTM(128)
  baseline (per-step Dense head for per-step targets, else a Dense head on the
  last state) fed from batches already in memory, so the input pipeline does
  not limit it;
* ``load``: examples/s of iterating ``seqtasks.load(name, "train", batch_size)``
  over a prepared tfds dataset (decode, encode, pad, batch; ``cache=False`` so
  every pass does the work);
* ``stream``: examples/s of iterating ``seqtasks.stream(name, seed, batch_size)``
  (generation on the fly).

It prints ``load / lstm`` and ``stream / lstm``: above 1 the pipeline feeds the
model faster than the model trains, so training is not input-bound.

Usage::

    python benchmarks/bench_input_pipeline.py            # all configs below
    python benchmarks/bench_input_pipeline.py --quick    # fewer batches
    python benchmarks/bench_input_pipeline.py --json out.json --data_dir /tmp/tfds
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import seqtasks  # noqa: E402
from seqtasks.encoding import to_supervised  # noqa: E402

CONFIGS = (
    "reber_grammar/embedded",
    "sequence_reversal/len5_vocab10",
    "char_to_vector/synthetic_d100",
    "random_labels/t48_f16",
)
BATCH_SIZE = 32


def lstm_baseline(task: seqtasks.Task) -> tf.keras.Model:
    """One LSTM(128) layer with the head and loss the task's default supervised view needs."""
    spec = task.supervised_spec()
    x, y, _ = to_supervised(task, task.generate("train", 0, 2, 0))
    inputs = tf.keras.Input(shape=(None, x.shape[-1]))
    hidden = tf.keras.layers.LSTM(128, return_sequences=spec.per_step)(inputs)
    if spec.target_kind == "sparse":
        outputs = tf.keras.layers.Dense(spec.input_depth)(hidden)
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    elif spec.target_kind == "multi_hot":
        outputs = tf.keras.layers.Dense(y.shape[-1])(hidden)
        loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    elif spec.target_kind == "binary":
        outputs = tf.keras.layers.Dense(1)(hidden)[:, 0]
        loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    else:
        outputs = tf.keras.layers.Dense(y.shape[-1])(hidden)
        loss = tf.keras.losses.MeanSquaredError()
    model = tf.keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=loss)
    return model


def rate(batches, count: int, warmup: int = 2) -> float:
    """Examples/s over ``count`` batches of an iterator, after ``warmup`` untimed batches."""
    iterator = iter(batches)
    for _ in range(warmup):
        next(iterator)
    examples, start = 0, time.perf_counter()
    for _ in range(count):
        x = next(iterator)[0]
        examples += int(x.shape[0])
    return examples / (time.perf_counter() - start)


def lstm_rate(task: seqtasks.Task, steps: int) -> float:
    """Examples/s the LSTM(128) baseline trains on, fed from in-memory batches."""
    model = lstm_baseline(task)
    batches = [to_supervised(task, task.generate("train", i * BATCH_SIZE, (i + 1) * BATCH_SIZE, 0)) for i in range(8)]
    for x, y, w in batches[:2]:  # trace and warm up
        model.train_on_batch(x, y, sample_weight=w)
    start = time.perf_counter()
    for step in range(steps):
        x, y, w = batches[step % len(batches)]
        model.train_on_batch(x, y, sample_weight=w)
    return steps * BATCH_SIZE / (time.perf_counter() - start)


def measure(name: str, data_dir: str, batches: int) -> dict[str, Any]:
    """The three rates and their ratios for one config."""
    task = seqtasks.make(name)
    tfds.builder(name, data_dir=data_dir).download_and_prepare()
    train_size = tfds.builder(name, data_dir=data_dir).info.splits["train"].num_examples
    load_batches = min(batches, max(1, train_size // BATCH_SIZE - 2))
    load = rate(seqtasks.load(name, "train", BATCH_SIZE, data_dir=data_dir, cache=False).repeat(), load_batches)
    stream = rate(seqtasks.stream(name, seed=0, batch_size=BATCH_SIZE), batches)
    lstm = lstm_rate(task, steps=max(5, batches // 4))
    return {
        "config": name,
        "batch_size": BATCH_SIZE,
        "lstm_examples_per_s": lstm,
        "load_examples_per_s": load,
        "stream_examples_per_s": stream,
        "load_over_lstm": load / lstm,
        "stream_over_lstm": stream / lstm,
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints a table (and optionally writes JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches per measurement")
    parser.add_argument("--data_dir", default=None, help="tfds data dir (default: a temporary folder)")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    batches = 20 if args.quick else 100
    tfds.disable_progress_bar()
    with tempfile.TemporaryDirectory(prefix="seqtasks_bench_") as scratch:
        data_dir = args.data_dir or scratch
        results = [measure(name, data_dir, batches) for name in args.configs]
    table = Table(title=f"input pipeline vs LSTM(128) training, batch {BATCH_SIZE} (examples/s)")
    for column in ("config", "lstm", "load", "stream", "load / lstm", "stream / lstm"):
        table.add_column(column, justify="left" if column == "config" else "right")
    for r in results:
        table.add_row(
            r["config"], f"{r['lstm_examples_per_s']:,.0f}", f"{r['load_examples_per_s']:,.0f}",
            f"{r['stream_examples_per_s']:,.0f}", f"{r['load_over_lstm']:.1f}x", f"{r['stream_over_lstm']:.1f}x",
        )
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
