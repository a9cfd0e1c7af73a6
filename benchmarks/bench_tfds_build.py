"""Examples/s of each seqtasks tfds builder vs tfds's own ceiling, and peak memory as a dataset grows.

For each task (its default config, with a larger ``train`` split so that the
rate is not dominated by fixed costs) the script builds the dataset with
``download_and_prepare`` and then builds a *trivial* tfds builder that writes
the same number of examples of the same average size (one constant ``uint8``
payload per example, so it does no generation work at all): its rate is the
ceiling that tfds's own encoding, serialisation and writing allow. The ratio
``seqtasks / trivial`` says how close the builders come to that ceiling.

Memory: ``sequence_reversal/len5_vocab10`` is built with a 10,000-example and
a 1,000,000-example ``train`` split (``--quick``: 100,000), each in a fresh
process; the peak resident set size of the process (``ru_maxrss``) minus its
size right before the build shows whether memory stays flat as the dataset grows
(examples are generated in chunks of ``EXAMPLES_PER_CHUNK`` and streamed to disk).

Every build runs in its own subprocess (``--worker``), so that one build's
memory and caches do not affect the next; TensorFlow is imported before the
timer starts on both sides. Statistics computation is skipped
in both builders (``ComputeStatsMode.SKIP``): it is an optional tfds pass that
would dominate both sides equally.

Usage::

    python benchmarks/bench_tfds_build.py              # full sizes
    python benchmarks/bench_tfds_build.py --quick      # smaller sizes
    python benchmarks/bench_tfds_build.py --json out.json
    python benchmarks/bench_tfds_build.py --quick --beam-workers 2   # also Beam, 2 processes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _common  # noqa: E402

# train-split size per task at full size (--quick divides by 10); other splits keep their preset size.
TRAIN_SIZES: dict[str, int] = {
    "reber_grammar/embedded": 50_000,
    "sequence_reversal/len5_vocab10": 100_000,
    "char_to_vector/synthetic_d100": 0,  # 0: the preset's natural size (one pass over the training words)
    "random_labels/t672_f16": 3_200,
}
MEMORY_TASK = "sequence_reversal/len5_vocab10"
MEMORY_SIZES = (10_000, 1_000_000)
MEMORY_SIZES_QUICK = (10_000, 100_000)


def _max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _directory_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _record_bytes(path: str) -> int:
    """Bytes of the written record files (not the metadata JSON)."""
    return sum(
        os.path.getsize(os.path.join(root, f))
        for root, _, files in os.walk(path)
        for f in files
        if ".tfrecord" in f or ".array_record" in f
    )


def build_seqtasks(name: str, train_size: int, data_dir: str, beam_workers: int = 0) -> dict[str, Any]:
    """Builds one seqtasks dataset (in this process) and measures it.

    Args:
        name: ``"task/config"``.
        train_size: Examples in ``train``; 0 keeps the preset's size.
        data_dir: tfds data directory.
        beam_workers: Build with Beam's DirectRunner in this many worker processes (0: plain build).

    Returns:
        Examples written, seconds, record bytes and memory before/after.
    """
    import tensorflow_datasets as tfds

    import seqtasks
    from seqtasks.tasks.base import Preset
    from seqtasks.tf import builders

    task_cls, preset = seqtasks.get_preset(name)
    sizes = dict(preset.split_sizes)
    if train_size:
        sizes["train"] = train_size
    bench_preset = Preset(f"bench{train_size}", preset.config, sizes, preset.description)
    config = builders.builder_config_for(bench_preset, task_cls.version)
    builder = tfds.builder_cls(task_cls.name)(config=config, data_dir=data_dir)
    beam_options = None
    if beam_workers:
        from apache_beam.options.pipeline_options import PipelineOptions

        beam_options = PipelineOptions(
            ["--runner=DirectRunner", f"--direct_num_workers={beam_workers}", "--direct_running_mode=multi_processing"]
        )
    rss_before = _max_rss_mib()
    seconds, _ = _common.time_call(
        lambda: builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                compute_stats=tfds.download.ComputeStatsMode.SKIP, beam_options=beam_options
            )
        )
    )
    examples = sum(split.num_examples for split in builder.info.splits.values())
    return _build_result(name, examples, seconds, data_dir, rss_before)


def _build_result(name: str, examples: int, seconds: float, data_dir: str, rss_before: float) -> dict[str, Any]:
    """The figures recorded for one build."""
    return {
        "name": name,
        "examples": examples,
        "seconds": seconds,
        "examples_per_s": examples / seconds,
        "record_bytes": _record_bytes(data_dir),
        "rss_before_mib": rss_before,
        "rss_peak_mib": _max_rss_mib(),
    }


def build_trivial(examples: int, payload_bytes: int, data_dir: str) -> dict[str, Any]:
    """Builds a tfds dataset of ``examples`` constant ``uint8`` payloads of ``payload_bytes`` each.

    Args:
        examples: Number of examples (one ``train`` split).
        payload_bytes: Bytes per example.
        data_dir: tfds data directory.

    Returns:
        Examples written, seconds, record bytes and memory before/after.
    """
    import numpy as np
    import tensorflow_datasets as tfds

    payload = np.zeros(max(payload_bytes, 1), dtype=np.uint8)

    class TrivialPayload(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        """Constant payloads: no generation work, only tfds encoding and writing."""

        VERSION = tfds.core.Version("1.0.0")

        def _info(self) -> tfds.core.DatasetInfo:
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({"payload": tfds.features.Tensor(shape=(None,), dtype=np.uint8)}),
                disable_shuffling=True,
            )

        def _split_generators(self, dl_manager):  # noqa: ANN001, ANN202 - tfds signature
            return {"train": self._generate_examples()}

        def _generate_examples(self):  # noqa: ANN202 - tfds signature
            for index in range(examples):
                yield index, {"payload": payload}

    builder = TrivialPayload(data_dir=data_dir)
    rss_before = _max_rss_mib()
    seconds, _ = _common.time_call(
        lambda: builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(compute_stats=tfds.download.ComputeStatsMode.SKIP)
        )
    )
    return _build_result("trivial", examples, seconds, data_dir, rss_before)


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs one build described by ``spec`` in a fresh temporary data directory.

    TensorFlow is imported first, outside the timed build: tfds imports it lazily when
    it writes the first record, which would add seconds of imports to either side.
    """
    import tensorflow  # noqa: F401, PLC0415 - see above

    with tempfile.TemporaryDirectory(prefix="seqtasks_bench_tfds_") as data_dir:
        if spec["kind"] == "seqtasks":
            return build_seqtasks(spec["name"], spec["train_size"], data_dir, spec.get("beam_workers", 0))
        return build_trivial(spec["examples"], spec["payload_bytes"], data_dir)


def in_subprocess(spec: dict[str, Any], timeout_s: int) -> dict[str, Any]:
    """Runs :func:`run_worker` in a fresh Python process and returns its result.

    Args:
        spec: The build to run.
        timeout_s: Seconds before giving up.

    Returns:
        The worker's result dict.
    """
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"build {spec} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def payload_for(ours: dict[str, Any], timeout_s: int, calibration_examples: int = 1000) -> int:
    """Payload size that makes the trivial builder write as many record bytes per example as ``ours``.

    A small calibration build measures tfds's fixed per-record overhead.

    Args:
        ours: Result of the seqtasks build.
        timeout_s: Seconds allowed for the calibration build.
        calibration_examples: Examples in the calibration build.

    Returns:
        Payload bytes per example (at least 1).
    """
    target = ours["record_bytes"] / max(ours["examples"], 1)
    probe = max(int(target), 1)
    calibration = in_subprocess(
        {"kind": "trivial", "examples": calibration_examples, "payload_bytes": probe}, timeout_s
    )
    overhead = calibration["record_bytes"] / calibration_examples - probe
    return max(int(round(target - overhead)), 1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the train sizes; 10k vs 100k for memory")
    parser.add_argument("--tasks", nargs="*", default=None, help="only these task/config names")
    parser.add_argument("--skip-memory", action="store_true", help="skip the 10k vs large memory comparison")
    parser.add_argument("--skip-builds", action="store_true", help="only the memory comparison")
    parser.add_argument(
        "--memory-sizes", type=int, nargs=2, default=None, metavar=("SMALL", "LARGE"),
        help="train sizes of the memory comparison (default 10000 1000000; --quick: 10000 100000)",
    )
    parser.add_argument(
        "--beam-workers", type=int, default=0, metavar="N",
        help="also build each task with Beam's DirectRunner in N processes (multi_processing), next to the plain build",
    )
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the results to this JSON file")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per build (default 1800)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark and prints the tables.

    Args:
        argv: Command-line arguments (``None``: ``sys.argv``).

    Returns:
        The results (also written with ``--json``).
    """
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return {}
    names = args.tasks or list(TRAIN_SIZES)
    unknown = [name for name in names if name not in TRAIN_SIZES]
    if unknown:
        raise SystemExit(f"invalid --tasks={unknown}; allowed: " + ", ".join(TRAIN_SIZES))
    import tensorflow_datasets as tfds  # for the versions in the machine description

    del tfds
    machine = _common.machine_description()
    builds = []
    for name in [] if args.skip_builds else names:
        train_size = TRAIN_SIZES[name] // (10 if args.quick else 1)
        ours = in_subprocess({"kind": "seqtasks", "name": name, "train_size": train_size}, args.timeout)
        trivial = in_subprocess(
            {"kind": "trivial", "examples": ours["examples"], "payload_bytes": payload_for(ours, args.timeout)},
            args.timeout,
        )
        builds.append({"task": name, "seqtasks": ours, "trivial": trivial,
                       "ratio": ours["examples_per_s"] / trivial["examples_per_s"], "target": 0.9})
        print(
            f"{name}: {ours['examples']:,} examples, {ours['record_bytes'] / 2**20:.1f} MiB; "
            f"seqtasks {ours['examples_per_s']:,.0f} ex/s, trivial tfds builder "
            f"({trivial['record_bytes'] / 2**20:.1f} MiB) {trivial['examples_per_s']:,.0f} ex/s, "
            f"ratio {builds[-1]['ratio']:.2f} (target 0.9: {'met' if builds[-1]['ratio'] >= 0.9 else 'NOT met'})",
            flush=True,
        )
        if args.beam_workers:
            beam = in_subprocess(
                {"kind": "seqtasks", "name": name, "train_size": train_size, "beam_workers": args.beam_workers},
                args.timeout,
            )
            builds[-1]["beam"] = beam
            builds[-1]["beam_over_plain"] = beam["examples_per_s"] / ours["examples_per_s"]
            print(
                f"  Beam DirectRunner, {args.beam_workers} processes: {beam['examples_per_s']:,.0f} ex/s "
                f"= {builds[-1]['beam_over_plain']:.2f}x the plain build",
                flush=True,
            )
    memory = []
    if not args.skip_memory:
        for size in args.memory_sizes or (MEMORY_SIZES_QUICK if args.quick else MEMORY_SIZES):
            result = in_subprocess({"kind": "seqtasks", "name": MEMORY_TASK, "train_size": size}, args.timeout)
            result["growth_mib"] = result["rss_peak_mib"] - result["rss_before_mib"]
            memory.append(result)
            print(
                f"{MEMORY_TASK} train={size:,}: {result['examples_per_s']:,.0f} ex/s, "
                f"{result['record_bytes'] / 2**20:.1f} MiB written, peak RSS {result['rss_peak_mib']:.0f} MiB "
                f"(+{result['growth_mib']:.0f} MiB during the build)",
                flush=True,
            )
    print(
        f"machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, load {machine['load_average_1m']:.2f}; "
        f"Python {machine['python']}, numpy {machine['numpy']}, tensorflow-datasets {machine.get('tensorflow_datasets')}"
    )
    payload = {"benchmark": "tfds_build", "command": " ".join(["python", *sys.argv]), "machine": machine,
               "builds": builds, "memory": memory, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _common.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
