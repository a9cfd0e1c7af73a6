"""``protocol.train_batches`` (numpy, no TensorFlow) against ``seqtasks.stream`` (tf.data), side by side.

For each config, both make the same number of training batches of the protocol's batch size:
``train_batches`` the protocol's own (fresh examples, or the published split reshuffled every epoch,
as the row's ``train_batches_data`` says), ``stream`` fresh ones; ``train_batches`` also yields the
ids and the raw examples, and makes one-hot inputs on demand, so each batch's ``inputs`` are read here. The two are
timed alternately, ``--repeats`` times each, in one process, and the ratio of their medians is
reported: machines are noisy, a ratio measured side by side is not. Both are measured in a steady
state: each iterator is started and read for 20 batches before the clock runs, and lives only while
it is timed (so the other's background threads do not compete with it).

Usage: ``python benchmarks/bench_train_batches.py [--batches N] [--repeats R] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import seqtasks  # noqa: E402
from benchmarks._common import machine_description, median, time_call, write_json  # noqa: E402

CONFIGS = ("sequence_reversal/reverse_string", "reber_grammar/embedded", "random_labels/t48_f16",
           "sequence_reversal/len1to40_vocab10")


def numpy_batches(iterator, count: int) -> int:
    """Examples in the next ``count`` batches of a running ``protocol(name).train_batches`` iterator
    (one-hot inputs read)."""
    total = 0
    for _ in range(count):
        total += int(np.asarray(next(iterator).inputs).shape[0])
    return total


def stream_batches(iterator, count: int) -> int:
    """Examples in the next ``count`` batches of a running ``seqtasks.stream`` iterator (steady state:
    the pipeline is built and warm before timing, which favours ``stream``)."""
    total = 0
    for _ in range(count):
        x, _, _ = next(iterator)
        total += int(x.shape[0])
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="batches per timing")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args(argv)
    rows = []
    for name in CONFIGS:
        numpy_times, stream_times = [], []
        batch_size = seqtasks.protocol(name).training.batch_size
        for _ in range(args.repeats):
            # Each iterator lives only while it is timed, so neither one's background threads run during
            # the other's timing.
            ours = seqtasks.protocol(name).train_batches(0, 0, 20 + args.batches)
            numpy_batches(ours, 20)
            numpy_times.append(time_call(lambda: numpy_batches(ours, args.batches))[0])
            ours.close()
            iterator = iter(seqtasks.stream(name, seed=0, batch_size=batch_size))
            stream_batches(iterator, 20)  # build and warm the tf.data pipeline before timing
            stream_times.append(time_call(lambda: stream_batches(iterator, args.batches))[0])
            del iterator
        row = {
            "config": name,
            "batches": args.batches,
            "batch_size": batch_size,
            "train_batches_data": seqtasks.protocol(name).training.data,
            "train_batches_examples_per_s": args.batches * batch_size / median(numpy_times),
            "stream_examples_per_s": args.batches * batch_size / median(stream_times),
        }
        row["speed_ratio_train_batches_over_stream"] = row["train_batches_examples_per_s"] / row["stream_examples_per_s"]
        rows.append(row)
        print(f"{name:40s} train_batches {row['train_batches_examples_per_s']:>10,.0f} ex/s   "
              f"stream {row['stream_examples_per_s']:>10,.0f} ex/s   ratio {row['speed_ratio_train_batches_over_stream']:.2f}")
    if args.json:
        write_json(args.json, {"command": "python benchmarks/bench_train_batches.py " + " ".join(argv or sys.argv[1:]),
                               "machine": machine_description(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
