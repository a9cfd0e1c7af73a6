"""Input pipelines (``seqtasks.load``, ``seqtasks.stream``) against their ceilings, side by side in one run.

For each config and batch size (32 and 256) the script measures, interleaved and
repeated in one process (the ratio of medians is reported):

* ``ceiling``: ``tf.data.Dataset.from_tensor_slices`` of the encoded ``train`` split
  (``to_supervised`` of all of it, in memory), ``.batch(B)``: what tf.data itself
  delivers with no decoding at all;
* ``load_disk``: ``seqtasks.load(name, "train", B, cache=False)``, every epoch read from
  the tfds files (what a dataset too large to cache gets every epoch);
* ``load_first``: ``seqtasks.load(..., cache=True)`` and its first epoch (a fresh
  pipeline each time: files read, parsed and cached, which ``load`` does before it returns);
* ``load_cached``: later epochs of the same pipeline, served from its cache;
* ``stream``: ``seqtasks.stream(name, seed, B)``;
* ``generator``: ``task.generate`` alone, one call after another in one thread, in the
  calls ``stream`` makes (the same number of examples per call);
* ``floor``: a one-batch dataset repeated: the most batches per second the consumer
  itself can take on this machine (a profile of the fixed per-batch cost);
* optionally (``--profile``) load's stages: reading the records (``profile_read``), reading
  and parsing them (``profile_read_parse``; both a batch per call, or load's pieces of a batch
  where its records are large, ``pipelines.records_per_parse``), ``load_disk`` over the split 16
  times in one pipeline (``profile_16_passes``: what the per-epoch start of the pipeline costs), and
  ``stream`` with one generator call in flight, and for a task with ``raw_bytes_fields``
  ``load_disk`` from files that store them one value per number (``profile_load_disk_values``:
  the same examples in the encoding of files before raw-bytes fields), and where records are too
  large for a whole chunk per call ``load_disk`` parsing whole chunks of batches anyway
  (``profile_load_disk_whole_chunks``: without ``pipelines.LOAD_BYTES_PER_CHUNK``);
* optionally (``--lstm``) ``lstm``: what an LSTM(128) baseline trains on per second
  (``train_on_batch`` from in-memory batches), the consumption the pipelines feed.

Each rate is also given per CPU second of the process (all threads): on a shared machine
that ratio shows the work per example, which the load of other processes does not change.

The consumer pulls batches inside a ``tf.function`` (as Keras's ``fit`` does), so that
Python's per-batch cost is not counted; ``--consumer python`` iterates in Python instead
(the method of the numbers in issue 14).

Usage::

    python benchmarks/bench_input_pipeline.py                       # every config below
    python benchmarks/bench_input_pipeline.py --quick --json benchmarks/results/input_pipeline_quick.json
    python benchmarks/bench_input_pipeline.py --configs reber_grammar/embedded --batch-sizes 32
    python benchmarks/bench_input_pipeline.py --quick --encodings --repeats 9 --configs random_labels/t672_f16

``--encodings`` times only the ceiling and ``load_disk``, interleaved with the ``profile_load_disk_*``
variants above (the same examples in the other encoding, or parsed in whole chunks; a config
with neither, e.g. one without ``raw_bytes_fields`` and with sequence inputs, gets the two alone):
a focused comparison, with fewer pipelines competing for the machine than the full set. Each of
its results holds the rates, their ``ratios`` to the ceiling (and ``ratios_per_cpu_second``) and
``records_per_parse``; no ``met`` (only ``load_disk`` has a target). It does not combine with
``--profile`` or ``--lstm``.

Every result records ``records_per_parse``: the records ``load`` parses per call (``load``) and
the records it would parse without ``pipelines.LOAD_BYTES_PER_CHUNK`` (``whole_chunks``, which
``profile_load_disk_whole_chunks`` times where the two differ).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

import _common  # noqa: E402
import seqtasks  # noqa: E402
from seqtasks.encoding import to_supervised  # noqa: E402
from seqtasks.tf import pipelines  # noqa: E402

CONFIGS = (
    "reber_grammar/embedded",
    "sequence_reversal/len5_vocab10",
    "sequence_reversal/len1to40_vocab2",
    "char_to_vector/synthetic_d100",
    "random_labels/t48_f16",
    "random_labels/t672_f16",
)
"""The default config of every task, and the other published configs of reversal and random_labels."""

BATCH_SIZES = (32, 256)
TARGETS = {"load_disk": 0.5, "load_first": 0.5, "load_cached": 1.0, "stream": 0.5}
"""Issue 14's targets: load (disk, first epoch) / ceiling, cached / ceiling, stream / generator."""


class Consumer:
    """Pulls batches from a dataset and counts examples, inside one traced ``tf.function``."""

    def __init__(self, mode: str = "graph") -> None:
        self.mode = mode

        @tf.function
        def drain(iterator: Any, steps: tf.Tensor) -> tf.Tensor:
            total = tf.constant(0, tf.int64)
            for _ in tf.range(steps):
                total += tf.cast(tf.shape(next(iterator)[0])[0], tf.int64)
            return total

        self._drain = drain

    def pull(self, iterator: Any, steps: int) -> int:
        """Examples in the next ``steps`` batches of ``iterator``."""
        if self.mode == "python":
            return sum(int(next(iterator)[0].shape[0]) for _ in range(steps))
        return int(self._drain(iterator, tf.constant(steps, tf.int64)))

    def rate(self, dataset: tf.data.Dataset, steps: int, warmup: int = 2) -> Rate:
        """Examples/s over ``steps`` batches of a new iterator, after ``warmup`` batches."""
        iterator = iter(dataset)
        self.pull(iterator, warmup)  # also traces the tf.function for this dataset's structure
        return timed(lambda: self.pull(iterator, steps))


Rate = tuple[float, float]
"""Examples per wall-clock second and per CPU second of this process (all its threads)."""


def timed(work: Callable[[], int]) -> Rate:
    """Runs ``work`` (which returns a number of examples) and measures its rates."""
    wall, cpu = time.perf_counter(), time.process_time()
    examples = work()
    return examples / (time.perf_counter() - wall), examples / max(time.process_time() - cpu, 1e-9)


def generator_rate(task: seqtasks.Task, per_call: int, calls: int, seed: int = 0) -> Rate:
    """Examples/s of ``task.generate`` alone, ``calls`` consecutive calls of ``per_call`` examples."""

    def work() -> int:
        for call in range(1, calls + 1):
            task.generate("train", call * per_call, (call + 1) * per_call, seed)
        return calls * per_call

    return timed(work)


def lstm_rate(task: seqtasks.Task, batch_size: int, steps: int) -> Rate:
    """Examples/s an LSTM(128) baseline trains on (``train_on_batch``), fed from in-memory batches."""
    import keras  # noqa: PLC0415

    spec = task.supervised_spec()
    x, y, weight = to_supervised(task, task.generate("train", 0, batch_size, 0))
    inputs = keras.Input(shape=x.shape[1:])
    hidden = keras.layers.LSTM(128, return_sequences=spec.per_step)(inputs)
    units = {"sparse": spec.input_depth, "binary": 1}.get(spec.target_kind, y.shape[-1])
    model = keras.Model(inputs, keras.layers.Dense(units)(hidden))
    loss = {"sparse": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "multi_hot": keras.losses.BinaryCrossentropy(from_logits=True),
            "binary": keras.losses.BinaryCrossentropy(from_logits=True)}.get(spec.target_kind, "mse")
    model.compile(optimizer="adam", loss=loss)
    y = y[:, None] if y.ndim == 1 else y
    for _ in range(2):
        model.train_on_batch(x, y, sample_weight=weight)

    def work() -> int:
        for _ in range(steps):
            model.train_on_batch(x, y, sample_weight=weight)
        return steps * batch_size

    return timed(work)


def side_by_side(measurements: dict[str, Callable[[], Rate]], repeats: int) -> dict[str, dict[str, Any]]:
    """Runs every measurement ``repeats`` times, interleaved; medians and all values of each."""
    values: dict[str, list[Rate]] = {key: [] for key in measurements}
    for _ in range(repeats):
        for key, measure in measurements.items():
            values[key].append(measure())
    return {
        key: {"median": statistics.median(w for w, _ in v), "per_cpu_second": statistics.median(c for _, c in v),
              "values": [w for w, _ in v]}
        for key, v in values.items()
    }


def measure(name: str, batch_size: int, data_dir: str, args: argparse.Namespace) -> dict[str, Any]:
    """All rates and ratios for one config and batch size."""
    task = seqtasks.make(name)
    builder = tfds.builder(name, data_dir=data_dir)
    builder.download_and_prepare()
    size = builder.info.splits["train"].num_examples
    epoch_batches = -(-size // batch_size)
    steps = max(args.min_batches, args.examples // batch_size)
    consumer = Consumer(args.consumer)
    encoded = to_supervised(task, task.generate("train", 0, size, 0))
    ceiling = tf.data.Dataset.from_tensor_slices(encoded).batch(batch_size).repeat()
    disk = pipelines.load(name, "train", batch_size, data_dir=data_dir, cache=False).repeat()
    if args.encodings:  # load from disk only, beside the same examples stored or parsed the other way
        base = {"ceiling": lambda: consumer.rate(ceiling, steps), "load_disk": lambda: consumer.rate(disk, steps)}
        return encodings_result(name, batch_size, data_dir, size, base, consumer, steps, args.repeats)
    cached = pipelines.load(name, "train", batch_size, data_dir=data_dir, cache=True).repeat()
    cached_iterator = iter(cached)
    consumer.pull(cached_iterator, epoch_batches)  # its first epoch fills the cache; later ones are timed

    def cached_rate() -> Rate:
        return timed(lambda: consumer.pull(cached_iterator, steps))

    def first_epoch_rate() -> Rate:
        # load(cache=True) reads the split into its cache before it returns: the call is part of the first epoch
        return timed(lambda: consumer.pull(
            iter(pipelines.load(name, "train", batch_size, data_dir=data_dir, cache=True)), epoch_batches
        ))

    consumer.pull(iter(pipelines.load(name, "train", batch_size, data_dir=data_dir, cache=True)), 1)  # trace
    per_call, calls = stream_calls(task, batch_size, args)
    stream = pipelines.stream(name, seed=0, batch_size=batch_size)
    stream_steps = calls * per_call // batch_size
    floor = tf.data.Dataset.from_tensors(tuple(a[:batch_size] for a in encoded)).repeat()
    measurements = {
        "ceiling": lambda: consumer.rate(ceiling, steps),
        "load_disk": lambda: consumer.rate(disk, steps),
        "load_first": first_epoch_rate,
        "load_cached": cached_rate,
        "stream": lambda: consumer.rate(stream, stream_steps),
        "generator": lambda: generator_rate(task, per_call, calls),
        "floor": lambda: consumer.rate(floor, steps),
    }
    if args.lstm:
        measurements["lstm"] = lambda: lstm_rate(task, batch_size, args.lstm_steps)
    if args.profile:  # load's stages: reading the records, then parsing them too (no encoding)
        measurements.update(profile_measurements(name, task, builder, batch_size, data_dir, consumer, steps, stream_steps))
    rates = side_by_side(measurements, args.repeats)
    versus = {"load_disk": "ceiling", "load_first": "ceiling", "load_cached": "ceiling", "stream": "generator"}
    ratios = {key: rates[key]["median"] / rates[base]["median"] for key, base in versus.items()}
    cpu_ratios = {key: rates[key]["per_cpu_second"] / rates[base]["per_cpu_second"] for key, base in versus.items()}
    return {
        "config": name, "batch_size": batch_size, "train_examples": size, "examples_per_stream_call": per_call,
        "records_per_parse": parse_sizes(name, batch_size, data_dir), "rates_examples_per_s": rates,
        "ratios": ratios, "ratios_per_cpu_second": cpu_ratios,
        "met": {key: ratios[key] >= target for key, target in TARGETS.items()},
    }


def encodings_result(
    name: str, batch_size: int, data_dir: str, size: int, base: dict[str, Callable[[], Any]], consumer: Consumer,
    steps: int, repeats: int,
) -> dict[str, Any]:
    """``--encodings``: the ``base`` rates beside the same examples stored or parsed the other ways."""
    measurements = {**base, **encoding_measurements(name, batch_size, data_dir, consumer, steps)}
    rates = side_by_side(measurements, repeats)
    others = [key for key in rates if key != "ceiling"]
    return {
        "config": name, "batch_size": batch_size, "train_examples": size,
        "records_per_parse": parse_sizes(name, batch_size, data_dir), "rates_examples_per_s": rates,
        "ratios": {key: rates[key]["median"] / rates["ceiling"]["median"] for key in others},
        "ratios_per_cpu_second": {
            key: rates[key]["per_cpu_second"] / rates["ceiling"]["per_cpu_second"] for key in others
        },
    }


def stream_calls(task: Any, batch_size: int, args: argparse.Namespace) -> tuple[int, int]:
    """Examples per ``stream`` call and how many calls to time: slow generators get fewer, about ``--seconds`` each."""
    per_call = pipelines.stream_batches_per_call(task, batch_size) * batch_size
    task.generate("train", 0, per_call, 0)  # pools and tables built once, outside the timing
    one_call = time.perf_counter()
    task.generate("train", per_call, 2 * per_call, 0)
    one_call = time.perf_counter() - one_call
    return per_call, int(np.clip(args.seconds / one_call, 2, max(2, args.examples // per_call)))


def profile_measurements(
    name: str, task: Any, builder: Any, batch_size: int, data_dir: str, consumer: Consumer, steps: int,
    stream_steps: int,
) -> dict[str, Callable[[], Any]]:
    """``--profile``: load's stages (reading the records, then parsing them too) and one-call streaming."""
    records = pipelines.serialized_records(builder, "train")
    spec = task.supervised_spec()
    fields = [spec.input_field, *(["length"] if spec.input_field in task.sequence_fields else [])]
    parse = pipelines._parser(builder, tuple(fields))  # noqa: SLF001 - what load parses with (raw bytes decoded)
    # One batch per call, or load's pieces of a batch where its records are too large for one call.
    piece = min(batch_size, pipelines.records_per_parse(builder, tuple(fields), batch_size))
    read = records.batch(piece).map(lambda r: (r,)).rebatch(batch_size).repeat()
    parsed = records.batch(piece).map(lambda r: tuple(parse(r).values())).rebatch(batch_size).repeat()
    passes = pipelines.load(name, "+".join(["train"] * 16), batch_size, data_dir=data_dir, cache=False).repeat()
    one_call = pipelines.stream(name, seed=0, batch_size=batch_size, parallel_calls=1)
    measurements = {
        "profile_16_passes": lambda: consumer.rate(passes, steps),
        "profile_read": lambda: consumer.rate(read, steps),
        "profile_read_parse": lambda: consumer.rate(parsed, steps),
        "profile_stream_one_call": lambda: consumer.rate(one_call, stream_steps),
    }
    measurements.update(encoding_measurements(name, batch_size, data_dir, consumer, steps))
    return measurements


def encoding_measurements(
    name: str, batch_size: int, data_dir: str, consumer: Consumer, steps: int
) -> dict[str, Callable[[], Rate]]:
    """``load_disk`` of the same examples stored or parsed another way, where the task has another way.

    ``profile_load_disk_values``: files that store the task's ``raw_bytes_fields`` one value
    per number (as before those fields); ``profile_load_disk_whole_chunks``: parsing whole
    chunks of batches where ``pipelines.LOAD_BYTES_PER_CHUNK`` makes ``load`` parse pieces.
    """
    task = seqtasks.make(name)
    out: dict[str, Callable[[], Rate]] = {}
    if task.raw_bytes_fields:
        values_disk = load_values_encoding(name, batch_size, data_dir)
        out["profile_load_disk_values"] = lambda: consumer.rate(values_disk, steps)
    sizes = parse_sizes(name, batch_size, data_dir)
    if sizes["whole_chunks"] != sizes["load"]:
        with _no_bytes_cap():
            whole_chunks = pipelines.load(name, "train", batch_size, data_dir=data_dir, cache=False).repeat()
        out["profile_load_disk_whole_chunks"] = lambda: consumer.rate(whole_chunks, steps)
    return out


def parse_sizes(name: str, batch_size: int, data_dir: str) -> dict[str, int]:
    """Records ``load(name, "train", batch_size)`` parses per call (``load``), and without the
    ``pipelines.LOAD_BYTES_PER_CHUNK`` cap (``whole_chunks``); the two differ only for large fixed-size records.
    """
    builder = tfds.builder(name, data_dir=data_dir)
    task = builder.task
    spec = task.supervised_spec()
    sequence_input = spec.input_field in task.sequence_fields
    # The fields load parses (pipelines.load): input, target and what the encoding also reads.
    fields = tuple(dict.fromkeys([spec.input_field, spec.target_field,
                                  *pipelines._extra_fields(spec, sequence_input)]))  # noqa: SLF001
    capped = pipelines.records_per_parse(builder, fields, batch_size)
    with _no_bytes_cap():
        return {"load": capped, "whole_chunks": pipelines.records_per_parse(builder, fields, batch_size)}


@contextlib.contextmanager
def _no_bytes_cap() -> Iterator[None]:
    """Within: ``pipelines.LOAD_BYTES_PER_CHUNK`` lifted (pipelines built here parse whole chunks of batches)."""
    capped = pipelines.LOAD_BYTES_PER_CHUNK
    pipelines.LOAD_BYTES_PER_CHUNK = 1 << 62
    try:
        yield
    finally:
        pipelines.LOAD_BYTES_PER_CHUNK = capped


def load_values_encoding(name: str, batch_size: int, data_dir: str) -> tf.data.Dataset:
    """``load(..., cache=False)`` from files that store the task's ``raw_bytes_fields`` one value per
    number, as files did before those fields were raw bytes: the same examples, in a folder of their own.

    Args:
        name: ``"task/config"`` of a task with ``raw_bytes_fields``.
        batch_size: Examples per batch.
        data_dir: The benchmark's tfds folder (the files go to a subfolder).

    Returns:
        The repeated pipeline (built while the fields are declared plain, so it parses them as values).
    """
    task_class = type(seqtasks.make(name))
    declared = task_class.raw_bytes_fields
    task_class.raw_bytes_fields = ()
    try:
        folder = os.path.join(data_dir, "values_encoding")
        tfds.builder(name, data_dir=folder).download_and_prepare()
        return pipelines.load(name, "train", batch_size, data_dir=folder, cache=False).repeat()
    finally:
        task_class.raw_bytes_fields = declared


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples per measurement and fewer repeats")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=list(BATCH_SIZES))
    parser.add_argument("--consumer", choices=("graph", "python"), default="graph",
                        help="pull batches in a tf.function (default) or in a Python loop")
    parser.add_argument("--lstm", action="store_true", help="also measure LSTM(128) training examples/s")
    parser.add_argument("--profile", action="store_true",
                        help="also measure load's stages (read; read and parse; 16 passes in one pipeline), stream "
                             "with one call in flight and, where they apply, the --encodings variants of load")
    parser.add_argument("--encodings", action="store_true",
                        help="only the ceiling and load from disk, beside the same examples in files of one value "
                             "per number (raw_bytes_fields) and parsed in whole chunks (large records), "
                             "interleaved; not with --profile or --lstm")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 5, --quick 3)")
    parser.add_argument("--data_dir", default=None, help="tfds data dir (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    args.examples = 20_000 if args.quick else 100_000
    args.seconds = 1.0 if args.quick else 3.0
    args.min_batches = 20 if args.quick else 50
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"invalid --repeats={args.repeats}; allowed: an integer >= 1")
    if args.encodings and (args.profile or args.lstm):
        parser.error("--encodings times only the ceiling and load from disk; it does not combine with "
                     "--profile or --lstm")
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.lstm_steps = 10 if args.quick else 40
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark, prints one line per config and batch size, optionally writes JSON."""
    args = parse_args(argv)
    tfds.disable_progress_bar()
    machine_before = _common.machine_description()
    results = []
    with tempfile.TemporaryDirectory(prefix="seqtasks_bench_ip_") as scratch:
        for name in args.configs:
            for batch_size in args.batch_sizes:
                result = measure(name, batch_size, args.data_dir or scratch, args)
                results.append(result)
                if args.encodings:
                    print(f"{name} B={batch_size}: ceiling {result['rates_examples_per_s']['ceiling']['median']:,.0f} "
                          "ex/s; of it: " + ", ".join(f"{key.removeprefix('profile_')} {ratio:.2f}x"
                                                      for key, ratio in result["ratios"].items())
                          + f"; records per parse {result['records_per_parse']['load']} "
                          f"(whole chunks {result['records_per_parse']['whole_chunks']})", flush=True)
                    continue
                rates, ratios = result["rates_examples_per_s"], result["ratios"]
                cpu = result["ratios_per_cpu_second"]
                print(
                    f"{name} B={batch_size}: ceiling {rates['ceiling']['median']:,.0f} ex/s; "
                    f"load disk {ratios['load_disk']:.2f}x (per CPU s {cpu['load_disk']:.2f}x), "
                    f"first epoch {ratios['load_first']:.2f}x ({cpu['load_first']:.2f}x), "
                    f"cached {ratios['load_cached']:.2f}x ({cpu['load_cached']:.2f}x) of it; "
                    f"stream {rates['stream']['median']:,.0f} ex/s = {ratios['stream']:.2f}x "
                    f"({cpu['stream']:.2f}x) the generator ({rates['generator']['median']:,.0f}); "
                    f"consumer floor {rates['floor']['median']:,.0f} ex/s"
                    + (f"; lstm {rates['lstm']['median']:,.0f} ex/s" if "lstm" in rates else ""),
                    flush=True,
                )
                if args.profile:
                    ceiling = rates["ceiling"]["median"]
                    print(f"  profile: read {rates['profile_read']['median'] / ceiling:.2f}x, read+parse "
                          f"{rates['profile_read_parse']['median'] / ceiling:.2f}x, read+parse+encode "
                          f"{ratios['load_disk']:.2f}x of the ceiling, 16 passes per epoch "
                          f"{rates['profile_16_passes']['median'] / ceiling:.2f}x; stream with 1 call in flight "
                          f"{rates['profile_stream_one_call']['median'] / rates['generator']['median']:.2f}x "
                          "the generator"
                          + (f"; load disk from files of one value per number "
                             f"{rates['profile_load_disk_values']['median'] / ceiling:.2f}x"
                             if "profile_load_disk_values" in rates else "")
                          + (f"; load disk parsing whole chunks of batches "
                             f"{rates['profile_load_disk_whole_chunks']['median'] / ceiling:.2f}x"
                             if "profile_load_disk_whole_chunks" in rates else ""), flush=True)
    machine = _common.machine_description()
    machine["load_average_1m_before"] = machine_before["load_average_1m"]
    print(f"machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, "
          f"load {machine_before['load_average_1m']:.2f} before, {machine['load_average_1m']:.2f} after")
    command = sys.argv if argv is None else [os.path.relpath(__file__), *argv]
    payload = {"benchmark": "input_pipeline", "command": " ".join(["python", *command]), "quick": args.quick,
               "encodings": args.encodings, "repeats": args.repeats,
               "consumer": args.consumer, "targets": TARGETS, "machine": machine, "results": results,
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _common.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
