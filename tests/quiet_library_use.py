"""Used as a library, seqtasks prints none of the notices its own internals used to cause.

Run as a script by ``tests/test_library_use.py`` (a fresh process: tfds and TensorFlow log
once per process). For each task, at its test preset, into a fresh ``data_dir`` (argv[1]):
``tfds.load`` (first build: tfds's prepared check), ``seqtasks.load``, ``.take(3)`` of the
cached dataset, and one epoch of ``fit``. TensorFlow's own log level is left at 0.
"""

import sys

import keras
import numpy as np
import tensorflow_datasets as tfds

import seqtasks
from seqtasks.registry import list_tasks, task_class
from seqtasks.tf.builders import builder_config_for


def model_for(kind: str, x: np.ndarray, depth: int) -> keras.Model:
    """A one-layer recurrent model with the output and loss of a target kind."""
    inputs = keras.Input(shape=x.shape[1:])
    if kind in ("sparse", "multi_hot"):
        outputs = keras.layers.Dense(depth)(keras.layers.SimpleRNN(4, return_sequences=True)(inputs))
        loss = "sparse_categorical_crossentropy" if kind == "sparse" else "binary_crossentropy"
        loss = keras.losses.get({"class_name": loss, "config": {"from_logits": True}})
    else:
        outputs = keras.layers.Dense(depth)(keras.layers.SimpleRNN(4)(inputs))
        loss = "mse" if kind == "dense" else keras.losses.BinaryCrossentropy(from_logits=True)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=loss)
    return model


def main(data_dir: str) -> None:
    for name in list_tasks():
        cls = task_class(name)
        config = builder_config_for(cls.test_preset, cls.version)
        tfds.load(name, split="train", data_dir=data_dir, builder_kwargs={"config": config})
        dataset = seqtasks.load(name, "train", 8, data_dir=data_dir, builder_config=config)
        list(dataset.take(3))
        spec = cls(cls.test_preset.config).supervised_spec()
        x, y, _ = next(iter(dataset))
        if spec.target_kind == "sparse":
            depth = 1 + max(int(np.max(batch[1])) for batch in dataset)
        else:
            depth = 1 if spec.target_kind == "binary" else y.shape[-1]
        model_for(spec.target_kind, x.numpy(), depth).fit(dataset, epochs=1, verbose=0)
        print(f"ok {name}")


if __name__ == "__main__":
    main(sys.argv[1])
