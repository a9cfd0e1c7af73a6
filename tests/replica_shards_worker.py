"""Helper of ``tests/test_scale.py``: per-replica batches of ``load`` and ``stream`` under ``tf.distribute``.

Splits the CPU into two logical devices (which must happen before TensorFlow starts, hence
a process of its own), makes a ``MirroredStrategy`` over them and gives every replica its
own input pipeline (``distribute_datasets_from_function`` with
``InputReplicationMode.PER_REPLICA``), so each replica calls ``load``/``stream`` with its own
``input_context``. Writes every replica's batches to an ``.npz``::

    python tests/replica_shards_worker.py DATA_DIR OUT.npz BATCH_SIZE STREAM_BATCHES
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

STREAM_NAME = "reber_grammar/embedded"


def main(data_dir: str, out: str, batch_size: int, stream_batches: int) -> None:
    """Writes ``load_{replica}_{batch}_{x,y,w}`` and ``stream_{replica}_{batch}_{x,y,w}`` arrays to ``out``."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import seqtasks  # noqa: PLC0415 - after the device configuration
    from tfds_helpers import TINY_REVERSAL  # noqa: PLC0415

    strategy = tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
    options = tf.distribute.InputOptions(experimental_replication_mode=tf.distribute.InputReplicationMode.PER_REPLICA)
    pipelines = {
        "load": lambda context: seqtasks.load("sequence_reversal", "test", batch_size, data_dir=data_dir,
                                              builder_config=TINY_REVERSAL, input_context=context),
        "stream": lambda context: seqtasks.stream(STREAM_NAME, seed=3, batch_size=batch_size, inputs="ids",
                                                  input_context=context),
    }
    arrays = {"replicas": np.array(strategy.num_replicas_in_sync)}
    for name, dataset_fn in pipelines.items():
        distributed = strategy.distribute_datasets_from_function(dataset_fn, options)
        steps = stream_batches if name == "stream" else None
        for step, batch in enumerate(distributed):
            if steps is not None and step == steps:
                break
            for part, values in zip("xyw", batch):
                for replica, value in enumerate(strategy.experimental_local_results(values)):
                    arrays[f"{name}_{replica}_{step}_{part}"] = value.numpy()
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
