"""``tf.data`` pipelines: prepared tfds datasets (:func:`load`) and endless streams (:func:`stream`).

Both yield Keras-ready ``(x, y, sample_weight)`` batches, identical to
:func:`seqtasks.encoding.to_supervised` of the same examples: sequences are
padded to the longest in the batch, and padded steps have zero inputs (one-hot),
zero targets and zero weight, so they never count in the loss or the metrics.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from seqtasks.encoding import INPUT_ENCODINGS, to_supervised
from seqtasks.registry import make
from seqtasks.tasks.base import SupervisedSpec, Task
from seqtasks.tfds_builders import SeqtasksBuilder, SeqtasksBuilderConfig

AUTOTUNE = tf.data.AUTOTUNE


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"invalid batch_size={batch_size!r}; allowed: an integer >= 1")
    return int(batch_size)


def _check_inputs(inputs: str) -> str:
    if inputs not in INPUT_ENCODINGS:
        raise ValueError(f"invalid inputs={inputs!r}; allowed: one of " + ", ".join(INPUT_ENCODINGS))
    return inputs


def encode_example(
    example: dict[str, tf.Tensor], spec: SupervisedSpec, inputs: str = "one_hot"
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """TensorFlow twin of :func:`seqtasks.encoding.to_supervised` for one unpadded example.

    Batching the results with ``padded_batch`` (zero padding) gives exactly the
    numpy reference's arrays for the same examples.

    Args:
        example: Decoded tfds features of one example.
        spec: The task's supervised view.
        inputs: ``"one_hot"`` or ``"ids"`` (for integer inputs).

    Returns:
        ``x``, ``y`` and ``sample_weight`` of the example.
    """
    raw = example[spec.input_field]
    if spec.input_depth is None:
        x = tf.cast(raw, tf.float32)
    elif inputs == "one_hot":
        x = tf.one_hot(raw, spec.input_depth, dtype=tf.float32)
    else:
        x = tf.cast(raw, tf.int32)
    field = example[spec.target_field]
    if not spec.per_step:
        return x, tf.cast(field, tf.float32), tf.constant(1.0, tf.float32)
    length = tf.shape(raw)[0]
    offset = spec.target_offset
    weight = tf.cast(tf.range(length) < length - offset, tf.float32)
    tail = tf.zeros(tf.concat([[tf.minimum(offset, length)], tf.shape(field)[1:]], axis=0), field.dtype)
    shifted = tf.concat([field[offset:], tail], axis=0)
    if spec.target_kind == "sparse":
        y = tf.cast(shifted, tf.int32) * tf.cast(weight, tf.int32)
    else:
        y = tf.cast(shifted, tf.float32) * weight[:, None]
    return x, y, weight


def load(
    name: str,
    split: str,
    batch_size: int,
    *,
    inputs: str = "one_hot",
    target: str | None = None,
    data_dir: str | None = None,
    shuffle: bool = False,
    shuffle_seed: int | None = None,
    shuffle_buffer: int = 10_000,
    download: bool = True,
    drop_remainder: bool = False,
    cache: bool = True,
    builder_config: SeqtasksBuilderConfig | None = None,
) -> tf.data.Dataset:
    """Batches of a prepared tfds dataset as Keras ``(x, y, sample_weight)``.

    Args:
        name: ``"task"`` or ``"task/config"``, e.g. ``"reber_grammar/embedded"``.
        split: A split of the config (``"train"``, ``"test_long"``, or any tfds
            split expression such as ``"train[:10%]"``).
        batch_size: Examples per batch, >= 1.
        inputs: ``"one_hot"`` (float32, zero rows at padding) or ``"ids"``
            (int32, 0 at padding). Float inputs are passed through either way.
        target: One of the task's ``targets()`` (``None``: the default).
        data_dir: tfds data directory (``None``: tfds's default).
        shuffle: Shuffle examples before batching (reshuffled every epoch).
        shuffle_seed: Seed of the shuffle, for a reproducible order.
        shuffle_buffer: Shuffle buffer size, >= 1.
        download: Build the dataset first if it is not prepared in ``data_dir``.
        drop_remainder: Drop the last, smaller batch.
        cache: Cache the encoded examples in memory after the first epoch.
        builder_config: An unpublished configuration to build instead of the
            named config (``name`` is then the task name); see
            :func:`seqtasks.tfds_builders.builder_config_for`.

    Returns:
        A finite ``tf.data.Dataset`` of ``(x, y, sample_weight)`` batches, prefetched.
    """
    batch_size = _check_batch_size(batch_size)
    _check_inputs(inputs)
    if isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, int) or shuffle_buffer < 1:
        raise ValueError(f"invalid shuffle_buffer={shuffle_buffer!r}; allowed: an integer >= 1")
    builder_kwargs = {} if builder_config is None else {"config": builder_config}
    builder = tfds.builder(name, data_dir=data_dir, **builder_kwargs)
    if not isinstance(builder, SeqtasksBuilder):
        raise ValueError(f"invalid name={name!r}; allowed: a seqtasks dataset (task or task/config)")
    task = builder.task
    spec = task.supervised_spec(target)
    if download:
        builder.download_and_prepare()
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    dataset = dataset.map(lambda example: encode_example(example, spec, inputs), num_parallel_calls=AUTOTUNE)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
    return dataset.padded_batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)


def _slice_batch(task: Task, examples: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Rows ``[start, stop)`` of a generated batch, padded to their own longest sequence.

    Equal to ``task.generate`` of the same index range, which pads to the range's longest.
    """
    rows = {key: value[start:stop] for key, value in examples.items()}
    if task.sequence_fields and "length" in rows:
        width = int(rows["length"].max(initial=1))
        for key in task.sequence_fields:
            rows[key] = rows[key][:, :width]
    return rows


def _output_signature(task: Task, target: str | None, inputs: str, split: str, seed: int):
    """Static shapes of stream batches: batch and time axes unknown, feature axes fixed."""
    spec = task.supervised_spec(target)
    x, y, weight = to_supervised(task, task.generate(split, 0, 1, seed), inputs=inputs, target=target)

    def spec_of(array: np.ndarray, time_axis: bool) -> tf.TensorSpec:
        shape = [None, *array.shape[1:]]
        if time_axis:
            shape[1] = None
        return tf.TensorSpec(shape=shape, dtype=tf.as_dtype(array.dtype))

    sequence_input = spec.input_field in task.sequence_fields
    return spec_of(x, sequence_input), spec_of(y, spec.per_step), spec_of(weight, spec.per_step)


def stream(
    name: str,
    seed: int,
    batch_size: int,
    *,
    inputs: str = "one_hot",
    target: str | None = None,
    split: str = "train",
    prefetch: int = AUTOTUNE,
) -> tf.data.Dataset:
    """An endless stream of fresh batches generated on the fly, deterministic for a seed.

    Batch ``i`` is ``to_supervised(task, task.generate(split, i * batch_size,
    (i + 1) * batch_size, seed))``: every step sees new examples (tasks with a
    finite word pool, such as ``char_to_vector``, start a new seeded epoch over
    the pool), and the same seed gives the same batches on any machine.

    Args:
        name: ``"task"`` or ``"task/config"``.
        seed: Sampling seed, an integer >= 0.
        batch_size: Examples per batch, >= 1.
        inputs: ``"one_hot"`` or ``"ids"``.
        target: One of the task's ``targets()`` (``None``: the default).
        split: Split whose distribution is sampled.
        prefetch: Batches prepared ahead (default: tuned by tf.data).

    Returns:
        An infinite ``tf.data.Dataset`` of ``(x, y, sample_weight)``.
    """
    batch_size = _check_batch_size(batch_size)
    _check_inputs(inputs)
    task = make(name)
    signature = _output_signature(task, target, inputs, split, seed)  # also validates split and seed

    # Generate several batches per call: the generator works in blocks of `block_size`
    # examples, so one call per small batch would regenerate the same block many times.
    batches_per_call = max(1, -(-max(task.block_size, 256) // batch_size))

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for call in itertools.count():
            first = call * batches_per_call * batch_size
            examples = task.generate(split, first, first + batches_per_call * batch_size, seed)
            for index in range(batches_per_call):
                batch = _slice_batch(task, examples, index * batch_size, (index + 1) * batch_size)
                yield to_supervised(task, batch, inputs=inputs, target=target)

    return tf.data.Dataset.from_generator(batches, output_signature=signature).prefetch(prefetch)
