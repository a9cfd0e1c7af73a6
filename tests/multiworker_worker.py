"""One worker of ``tests/test_scale.py``: trains a tiny baseline under ``MultiWorkerMirroredStrategy``.

Run one process per worker, each with its ``TF_CONFIG`` (``cluster.worker`` lists every
worker's ``host:port``, ``task.index`` is this one)::

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:PORT0", "127.0.0.1:PORT1"]},
                "task": {"type": "worker", "index": 0}}' python tests/multiworker_worker.py out0.npz 4

The strategy is created first, as ``baselines.train.make_strategy("multiworker")`` does.
The model is the stable LSTM recipe (``baselines.recipes``) at a small width; each worker
reads its own shard of ``seqtasks.stream`` (``distribute_datasets_from_function``), and
the gradients are summed across workers by the Keras optimizer (a custom loop with
``strategy.run``: ``keras.Model.fit`` under this strategy fails in Keras 3, see
keras-team/keras#20585). The file written holds the final weights, the initial weights and
this worker's first input batch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

RECIPE = "stable_lstm_sequence_reversal"
PER_REPLICA_BATCH = 16


def main(out: str, steps: int) -> None:
    """Trains ``steps`` updates and writes the weights to ``out`` (``.npz``)."""
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # reads TF_CONFIG; before any other TF work
    import keras  # noqa: PLC0415 - after the strategy

    import seqtasks  # noqa: PLC0415
    from baselines.catalog import get_recipe  # noqa: PLC0415

    recipe = get_recipe(RECIPE)
    task = seqtasks.make(recipe.task)
    spec = task.supervised_spec(recipe.target)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = recipe.build(task, spec)
    initial = [np.array(w) for w in model.get_weights()]

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return seqtasks.stream(recipe.task, seed=0, batch_size=PER_REPLICA_BATCH, inputs=recipe.inputs,
                               target=recipe.target, input_context=context)

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    first_batch = strategy.experimental_local_results(next(iterator)[0])[0].numpy()

    def replica_step(x: tf.Tensor, y: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = model.loss(y, model(x, training=True), sample_weight=weight) / strategy.num_replicas_in_sync
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))  # all-reduces across workers
        return loss

    @tf.function
    def train_step(batch: tuple) -> tf.Tensor:
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    losses = [float(train_step(next(iterator))) for _ in range(steps)]
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"initial_{i}": w for i, w in enumerate(initial)})
    np.savez(out, **arrays, first_batch=first_batch, losses=np.array(losses), replicas=strategy.num_replicas_in_sync)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
