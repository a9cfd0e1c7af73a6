"""Scale on real engines: two-worker training and one input shard per replica (Beam with two
worker processes: ``tests/test_builders.py``).

Each test starts processes of its own (the strategies and logical devices must be set up
before TensorFlow starts), so all are ``slow``; none asserts a duration.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqtasks
from seqtasks.encoding import to_supervised
from seqtasks.tf import pipelines
from tfds_helpers import TINY_REVERSAL

TESTS = Path(__file__).resolve().parent


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_workers_train_a_baseline_to_the_same_weights(tmp_path):
    """MultiWorkerMirroredStrategy over two processes on loopback ports: same final weights on both."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        subprocess.Popen(
            [sys.executable, str(TESTS / "multiworker_worker.py"), str(tmp_path / f"worker{index}.npz"), "3"],
            env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for index in range(2)
    ]
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=240)[0])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [w.returncode for w in workers] == [0, 0], "\n".join(out[-3000:] for out in outputs)
    first, second = (np.load(tmp_path / f"worker{index}.npz") for index in range(2))
    assert int(first["replicas"]) == int(second["replicas"]) == 2
    weights = sorted(key for key in first.files if key.startswith("weight_"))
    assert weights and all(np.array_equal(first[key], second[key]) for key in weights)
    assert any(not np.array_equal(first[key], first[key.replace("weight_", "initial_")]) for key in weights)
    np.testing.assert_array_equal(first["losses"], second["losses"])  # the all-reduced loss of each update
    assert not np.array_equal(first["first_batch"], second["first_batch"])  # each worker read its own shard


def _rows(task: seqtasks.Task, batch: dict, index: np.ndarray) -> dict:
    """Rows ``index`` of a generated batch, padded to their own longest sequence."""
    rows = {key: np.asarray(value)[index] for key, value in batch.items()}
    width = int(rows["length"].max())
    for key in task.sequence_fields:
        rows[key] = rows[key][:, :width]
    return rows


@pytest.mark.slow
def test_load_and_stream_give_each_replica_its_own_deterministic_shard(tmp_path):
    """MirroredStrategy over two logical CPUs, one input pipeline per replica (``input_context``)."""
    batch_size, stream_batches = 2, 3
    subprocess.run(
        [sys.executable, str(TESTS / "replica_shards_worker.py"), str(tmp_path / "data"), str(tmp_path / "out.npz"),
         str(batch_size), str(stream_batches)],
        check=True, capture_output=True, text=True, timeout=240,
    )
    got = np.load(tmp_path / "out.npz")
    replicas = int(got["replicas"])
    assert replicas == 2

    # load: replica r reads examples r, r + 2, r + 4, ... of the split, in batches of batch_size.
    task = seqtasks.registry.task_class("sequence_reversal")(TINY_REVERSAL.preset.config)
    size = TINY_REVERSAL.preset.split_sizes["test"]
    split = task.generate("test", 0, size, seed=0)
    for replica in range(replicas):
        mine = np.arange(replica, size, replicas)
        for step, start in enumerate(range(0, len(mine), batch_size)):
            want = to_supervised(task, _rows(task, split, mine[start : start + batch_size]))
            for part, array in zip("xyw", want):
                np.testing.assert_array_equal(got[f"load_{replica}_{step}_{part}"], array)
        assert f"load_{replica}_{-(-len(mine) // batch_size)}_x" not in got.files

    # stream: replica r gets generator calls r, r + 2, ... of the one-pipeline stream.
    task = seqtasks.make("reber_grammar/embedded")
    per_call = pipelines.stream_batches_per_call(task, batch_size)
    for replica in range(replicas):
        for step in range(stream_batches):
            index = (replica + replicas * (step // per_call)) * per_call + step % per_call
            generated = task.generate("train", index * batch_size, (index + 1) * batch_size, seed=3)
            for part, array in zip("xyw", to_supervised(task, generated, inputs="ids")):
                np.testing.assert_array_equal(got[f"stream_{replica}_{step}_{part}"], array)
    assert not np.array_equal(got["stream_0_0_x"], got["stream_1_0_x"])
