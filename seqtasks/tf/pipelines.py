"""``tf.data`` pipelines: prepared tfds datasets (:func:`load`) and endless streams (:func:`stream`).

Both yield Keras-ready ``(x, y, sample_weight)`` batches, identical to
:func:`seqtasks.encoding.to_supervised` of the same examples: sequences are
padded to the longest in the batch, and padded steps have zero inputs (one-hot),
zero targets and zero weight, so they never count in the loss or the metrics.

Both do their per-example work many examples at a time: :func:`load` batches the
serialized records and parses a chunk of batches with one ``tf.io.parse_example``
(fields stored as raw bytes, ``Task.raw_bytes_fields``, then with one ``tf.io.decode_raw``);
:func:`stream` runs several generator calls at once (``map`` with
``num_parallel_calls``, in a deterministic order), each generating many batches.
:func:`encode_batch` then encodes a whole chunk with a handful of vectorised ops, and
the chunk is cut into batches, each trimmed to its own longest example.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core import file_adapters

from seqtasks.config import check_integer
from seqtasks.encoding import INPUT_ENCODINGS
from seqtasks.registry import make
from seqtasks.tasks.base import SupervisedSpec, Task
from seqtasks.tf.builders import SeqtasksBuilder, SeqtasksBuilderConfig, check_dataset_name

AUTOTUNE = tf.data.AUTOTUNE

READ_BUFFER_BYTES = 1 << 20
"""Read buffer of :func:`serialized_records` per file (tfds's 8 MiB read measurably slower here)."""

LOAD_EXAMPLES_PER_CHUNK = 256
"""Records :func:`load` parses per ``tf.io.parse_example`` call, at least (rounded up to whole batches)."""

LOAD_BYTES_PER_CHUNK = 2 << 20
"""For fixed-size records, the most bytes :func:`load` parses per call (fewer records than
``LOAD_EXAMPLES_PER_CHUNK``: batches of large records, e.g. ``random_labels/t672_f16``'s 43 KB, are
read and parsed in cache-sized pieces, then joined)."""

STREAM_EXAMPLES_PER_CALL = 4096
"""Examples :func:`stream` asks the generator for per call (see :func:`stream_batches_per_call`)."""

STREAM_BYTES_PER_CALL = 4 << 20
"""Rough cap on the bytes of fields one :func:`stream` generator call makes (see :func:`stream_batches_per_call`)."""

STREAM_PARALLEL_CALLS = 4
"""Generator calls :func:`stream` keeps in flight (their results are used in order)."""


def _check_batch_size(batch_size: int) -> int:
    return check_integer("batch_size", batch_size, 1)


def _check_inputs(inputs: str) -> str:
    if inputs not in INPUT_ENCODINGS:
        raise ValueError(f"invalid inputs={inputs!r}; allowed: one of " + ", ".join(INPUT_ENCODINGS))
    return inputs


def encode_example(
    example: dict[str, tf.Tensor], spec: SupervisedSpec, inputs: str = "one_hot"
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """TensorFlow twin of :func:`seqtasks.encoding.to_supervised` for one unpadded example.

    Batching the results with ``padded_batch`` (zero padding) gives exactly the
    numpy reference's arrays for the same examples. :func:`encode_batch` does the
    same for a whole padded batch at once (what :func:`load` and :func:`stream` use).

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
    if spec.weight_field is not None:
        weight *= tf.cast(example[spec.weight_field], tf.float32)
    tail = tf.zeros(tf.concat([[tf.minimum(offset, length)], tf.shape(field)[1:]], axis=0), field.dtype)
    shifted = tf.concat([field[offset:], tail], axis=0)
    if spec.target_kind == "sparse":
        y = tf.cast(shifted, tf.int32) * tf.cast(weight, tf.int32)
    else:
        y = tf.cast(shifted, tf.float32) * weight[:, None]
    return x, y, weight


def encode_batch(
    batch: Mapping[str, tf.Tensor], spec: SupervisedSpec, inputs: str = "one_hot"
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """TensorFlow twin of :func:`seqtasks.encoding.to_supervised` for a zero-padded batch.

    Args:
        batch: The batch's fields (time axes zero-padded to a common width) and,
            for sequence inputs, ``length``.
        spec: The task's supervised view.
        inputs: ``"one_hot"`` or ``"ids"`` (for integer inputs).

    Returns:
        ``x``, ``y`` and ``sample_weight``, equal to the numpy reference's for the
        same examples padded to the same width.
    """
    raw = batch[spec.input_field]
    field = batch[spec.target_field]
    if spec.input_depth is None:
        x = tf.cast(raw, tf.float32)
    else:
        ids = tf.cast(raw, tf.int32)
        steps = tf.range(tf.shape(ids)[1])[None, :]
        length = tf.cast(batch["length"], tf.int32)[:, None]
        valid = steps < length
        # one_hot of -1 is an all-zero row: padding stays zero.
        x = tf.one_hot(tf.where(valid, ids, -1), spec.input_depth) if inputs == "one_hot" else tf.where(valid, ids, 0)
    if not spec.per_step:
        return x, tf.cast(field, tf.float32), tf.ones(tf.shape(raw)[:1], tf.float32)
    offset = spec.target_offset
    weight = tf.cast(steps < length - offset, tf.float32)
    if spec.weight_field is not None:
        weight *= tf.cast(batch[spec.weight_field], tf.float32)
    shifted = tf.concat([field[:, offset:], tf.zeros_like(field[:, :offset])], axis=1)
    if spec.target_kind == "sparse":
        y = tf.cast(shifted, tf.int32) * tf.cast(weight, tf.int32)
    else:
        y = tf.cast(shifted, tf.float32) * weight[..., None]
    return x, y, weight


def _parse_spec(builder: SeqtasksBuilder, fields: tuple[str, ...]) -> dict[str, tf.io.FixedLenFeature]:
    """``tf.io.parse_example`` features of ``fields``, as tfds itself parses them.

    Integers are stored as ``int64``, floats as ``float32``, raw-bytes fields as one
    string per example (decoded by :func:`_parser`); a variable-length first axis
    becomes a ``FixedLenSequenceFeature``, which ``parse_example`` zero-pads to the
    longest example of the batch (exactly ``padded_batch``).
    """
    serialized = builder.info.features.get_serialized_info()
    specs = {}
    for key in fields:
        info = serialized[key]
        dtype = tf.float32 if info.tf_dtype.is_floating else tf.string if info.tf_dtype == tf.string else tf.int64
        if info.shape and info.shape[0] is None:
            specs[key] = tf.io.FixedLenSequenceFeature(info.shape[1:], dtype, allow_missing=True)
        else:
            specs[key] = tf.io.FixedLenFeature(info.shape, dtype)
    return specs


def _raw_bytes_fields(builder: SeqtasksBuilder, fields: tuple[str, ...]) -> dict[str, tuple[tf.DType, tuple[int, ...]]]:
    """The fields among ``fields`` stored as raw bytes (tfds ``Tensor(..., encoding=BYTES)``): dtype and shape of each."""
    out = {}
    for key in fields:
        feature = builder.info.features[key]
        if isinstance(feature, tfds.features.Tensor) and feature.to_json_content().encoding == "bytes":
            out[key] = (feature.tf_dtype, tuple(feature.shape))
    return out


def _parser(builder: SeqtasksBuilder, fields: tuple[str, ...]) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """A function from a batch of serialized records to its ``fields``, decoded as tfds decodes them.

    One ``tf.io.parse_example`` for the batch (:func:`_parse_spec`), then one
    ``tf.io.decode_raw`` per raw-bytes field (:func:`_raw_bytes_fields`): the records of
    a batch hold strings of the same length, which decode to one ``[batch, values]``
    tensor, reshaped to the field's per-example shape.
    """
    spec = _parse_spec(builder, fields)
    raw = _raw_bytes_fields(builder, fields)

    def parse(records: tf.Tensor) -> dict[str, tf.Tensor]:
        features = tf.io.parse_example(records, spec)
        for key, (dtype, shape) in raw.items():
            features[key] = tf.reshape(tf.io.decode_raw(features[key], dtype, little_endian=True), [-1, *shape])
        return features

    return parse


def _fixed_record_bytes(builder: SeqtasksBuilder, fields: tuple[str, ...]) -> int | None:
    """Bytes of ``fields`` per example when every one has a fixed shape and a numeric dtype, else ``None``."""
    total = 0
    for key in fields:
        info = builder.info.features[key].get_tensor_info()
        dtype = np.dtype(info.np_dtype)
        if dtype.kind not in "biuf" or any(dim is None for dim in info.shape):
            return None
        total += int(np.prod(info.shape, dtype=np.int64)) * dtype.itemsize
    return total


def records_per_parse(builder: SeqtasksBuilder, fields: tuple[str, ...], batch_size: int) -> int:
    """Records :func:`load` parses per ``tf.io.parse_example`` call.

    ``LOAD_EXAMPLES_PER_CHUNK`` or more, rounded up to whole batches (the per-call cost
    is shared by many batches); for fixed-size records, at most ``LOAD_BYTES_PER_CHUNK``
    of them: whole batches, or, when one batch is larger, equal pieces of a batch.
    """
    chunk = batch_size * max(1, -(-LOAD_EXAMPLES_PER_CHUNK // batch_size))
    record = _fixed_record_bytes(builder, fields)
    fit = chunk if record is None else max(1, LOAD_BYTES_PER_CHUNK // max(record, 1))
    if fit >= chunk:
        return chunk
    if fit >= batch_size:
        return batch_size * (fit // batch_size)
    return -(-batch_size // -(-batch_size // fit))


def serialized_records(builder: tfds.core.DatasetBuilder, split: str) -> tf.data.Dataset:
    """The serialized records of a prepared split, in canonical (index) order, unparsed.

    Reads the same files and the same ``skip``/``take`` ranges as ``builder.as_dataset``
    (any tfds split expression, e.g. ``"train[:10%]"``), through tfds's file adapter.

    Args:
        builder: A prepared tfds builder.
        split: A split or split expression.

    Returns:
        A dataset of scalar ``tf.string`` records.
    """
    instructions = builder.info.splits[split].file_instructions
    if not instructions:
        raise ValueError(f"invalid split={split!r}: it selects no examples")
    adapter = file_adapters.ADAPTER_FOR_FORMAT[builder.info.file_format]
    paths = [str(i.filename) for i in instructions]
    if builder.info.file_format == file_adapters.FileFormat.TFRECORD and all(
        i.skip == 0 and i.take == i.examples_in_shard for i in instructions
    ):  # whole files: one reader, files in order, no per-record skip/take
        return tf.data.TFRecordDataset(paths, buffer_size=READ_BUFFER_BYTES)
    files = tf.data.Dataset.from_tensor_slices(
        (
            paths,
            np.array([i.skip for i in instructions], np.int64),
            np.array([i.take for i in instructions], np.int64),
        )
    )
    return files.flat_map(
        lambda path, skip, take: adapter.make_tf_data(path, buffer_size=READ_BUFFER_BYTES).skip(skip).take(take)
    )


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
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Batches of a prepared tfds dataset as Keras ``(x, y, sample_weight)``.

    Records are batched while still serialized, parsed ``LOAD_EXAMPLES_PER_CHUNK`` at a
    time (:func:`records_per_parse`) with one ``tf.io.parse_example`` (and one
    ``tf.io.decode_raw`` per raw-bytes field) and encoded with :func:`encode_batch`.

    Args:
        name: ``"task"`` or ``"task/config"``, e.g. ``"reber_grammar/embedded"``.
        split: A split of the config (``"train"``, ``"test_long"``, or any tfds
            split expression such as ``"train[:10%]"``).
        batch_size: Examples per batch, >= 1 (per input pipeline with ``input_context``).
        inputs: ``"one_hot"`` (float32, zero rows at padding) or ``"ids"``
            (int32, 0 at padding). Float inputs are passed through either way.
        target: One of the task's ``targets()`` (``None``: the default).
        data_dir: tfds data directory (``None``: tfds's default).
        shuffle: Shuffle examples before batching (reshuffled every epoch).
        shuffle_seed: Seed of the shuffle, for a reproducible order.
        shuffle_buffer: Shuffle buffer size, >= 1.
        download: Build the dataset first if it is not prepared in ``data_dir``.
        drop_remainder: Drop the last, smaller batch.
        cache: Keep the data in memory (the encoded batches; with ``shuffle``, the
            serialized records, reshuffled every epoch), read once before ``load`` returns.
        builder_config: An unpublished configuration to build instead of the
            named config (``name`` is then the task name); see
            :func:`seqtasks.tf.builders.builder_config_for`.
        input_context: From ``tf.distribute.Strategy.distribute_datasets_from_function``:
            input pipeline ``i`` of ``n`` reads examples ``i, i + n, i + 2n, ...``.

    Returns:
        A finite ``tf.data.Dataset`` of ``(x, y, sample_weight)`` batches, prefetched.
    """
    batch_size = _check_batch_size(batch_size)
    _check_inputs(inputs)
    check_integer("shuffle_buffer", shuffle_buffer, 1, numpy=False)
    builder = _builder(name, data_dir, builder_config)
    spec = builder.task.supervised_spec(target)  # an unknown target fails before any build
    _prepare(builder, name, download)
    records = _ordered_records(builder, split, input_context, shuffle, shuffle_seed, shuffle_buffer, cache)
    batches = _parsed_batches(builder, spec, records, inputs, batch_size, drop_remainder)
    batches = batches.apply(tf.data.experimental.assert_cardinality(batch_count(
        builder.info.splits[split].num_examples, batch_size, drop_remainder, input_context
    )))
    if cache and not shuffle:
        batches = _filled_cache(batches)
    return batches.prefetch(AUTOTUNE)


def _prepare(builder: SeqtasksBuilder, name: str, download: bool) -> None:
    """Build the dataset when ``download``; else check that it is prepared already."""
    if download:
        builder.download_and_prepare()
    elif not builder.is_prepared():
        raise FileNotFoundError(
            f"dataset {name!r} is not prepared in {builder.data_dir}; allowed: download=True, or a data_dir "
            f"where `seqtasks build {name} --data_dir DIR` prepared it"
        )


def _ordered_records(
    builder: SeqtasksBuilder,
    split: str,
    input_context: tf.distribute.InputContext | None,
    shuffle: bool,
    shuffle_seed: int | None,
    shuffle_buffer: int,
    cache: bool,
) -> tf.data.Dataset:
    """The split's serialized records in the order :func:`load` batches them (sharded, then shuffled)."""
    records = serialized_records(builder, split)
    if input_context is not None:
        records = records.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        if cache:
            records = _filled_cache(records)
        records = records.shuffle(shuffle_buffer, seed=shuffle_seed, reshuffle_each_iteration=True)
    return records


def _parsed_batches(
    builder: SeqtasksBuilder,
    spec: SupervisedSpec,
    records: tf.data.Dataset,
    inputs: str,
    batch_size: int,
    drop_remainder: bool,
) -> tf.data.Dataset:
    """Serialized records batched, parsed and encoded as ``(x, y, sample_weight)``."""
    sequence_input = spec.input_field in builder.task.sequence_fields
    fields = tuple(dict.fromkeys([spec.input_field, spec.target_field, *_extra_fields(spec, sequence_input)]))
    parse = _parser(builder, fields)

    def parse_and_encode(records: tf.Tensor) -> tuple[tf.Tensor, ...]:
        features = parse(records)
        encoded = encode_batch(features, spec, inputs)
        return (*encoded, features["length"]) if sequence_input else encoded

    # Parse and encode whole chunks of batches (the per-call cost of parse_example and of the
    # encoding ops is then shared by many batches), then cut the chunks into batches; batches of
    # large fixed-size records are parsed in pieces and joined (records_per_parse).
    chunk = records_per_parse(builder, fields, batch_size)
    if chunk == batch_size:  # parse_example pads each batch to its own longest example
        return records.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda records: parse_and_encode(records)[:3], num_parallel_calls=AUTOTUNE, deterministic=True
        )
    batches = (
        records.batch(chunk)
        .map(parse_and_encode, num_parallel_calls=AUTOTUNE, deterministic=True)
        .rebatch(batch_size, drop_remainder=drop_remainder)
    )
    if sequence_input:
        batches = batches.map(functools.partial(_trim_to_longest, per_step=spec.per_step))
    return batches


def batch_count(
    examples: int, batch_size: int, drop_remainder: bool, input_context: tf.distribute.InputContext | None = None
) -> int:
    """Batches :func:`load` yields for a split of ``examples`` examples (its ``cardinality()``).

    Keras reads the cardinality to know an epoch's length: a dataset that says ``UNKNOWN``
    makes ``fit`` stop each epoch with "Your input ran out of data".
    """
    if input_context is not None:  # pipeline i of n reads examples i, i + n, ...
        pipelines, index = input_context.num_input_pipelines, input_context.input_pipeline_id
        examples = len(range(index, examples, pipelines))
    return examples // batch_size if drop_remainder else -(-examples // batch_size)


def _filled_cache(batches: tf.data.Dataset) -> tf.data.Dataset:
    """``batches.cache()``, filled now by one full pass, so that every iteration reads the cache.

    A cache that an iterator leaves half-written (``.take(3)``, an interrupted epoch) is thrown
    away with a warning ("did not fully read the dataset being cached"); once full, it never is.
    The pass is the work the first epoch would otherwise do.
    """
    cached = batches.cache()
    cached.reduce(np.int64(0), lambda count, *_: count + 1)
    return cached


def _builder(name: str, data_dir: str | None, builder_config: SeqtasksBuilderConfig | None) -> SeqtasksBuilder:
    """The tfds builder of a seqtasks dataset; a name that is none raises a one-line ``ValueError``.

    The name is checked against the registry first: tfds's own error for an unknown name lists
    every dataset it knows (hundreds of lines).
    """
    check_dataset_name(name, custom_config=builder_config is not None)
    builder_kwargs = {} if builder_config is None else {"config": builder_config}
    try:
        builder = tfds.builder(name, data_dir=data_dir, **builder_kwargs)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(f"invalid name={name!r}; allowed: a seqtasks dataset (task or task/config)") from error
    if not isinstance(builder, SeqtasksBuilder):
        raise ValueError(f"invalid name={name!r}; allowed: a seqtasks dataset (task or task/config)")
    return builder


def _trim_to_longest(
    x: tf.Tensor, y: tf.Tensor, weight: tf.Tensor, length: tf.Tensor, *, per_step: bool
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Cuts a batch's time axes to its longest example (batches cut from a chunk keep the chunk's width)."""
    width = tf.reduce_max(length)
    if per_step:
        return x[:, :width], y[:, :width], weight[:, :width]
    return x[:, :width], y, weight


def _extra_fields(spec: SupervisedSpec, has_length: bool) -> list[str]:
    """Fields besides input and target that encoding reads: ``length`` and the spec's weight field."""
    return [*(["length"] if has_length else []), *([spec.weight_field] if spec.weight_field else [])]


def _stream_fields(task: Task, spec: SupervisedSpec, split: str, seed: int) -> dict[str, tf.TensorSpec]:
    """The generated fields a stream needs, with their dtypes and shapes (batch and time axes unknown)."""
    probe = task.generate(split, 0, 1, seed)  # also validates split and seed
    keys = dict.fromkeys([spec.input_field, spec.target_field, *_extra_fields(spec, "length" in probe)])
    out = {}
    for key in keys:
        value = np.asarray(probe[key])
        shape = [None, *value.shape[1:]]
        if key in task.sequence_fields:
            shape[1] = None
        out[key] = tf.TensorSpec(shape, tf.as_dtype(value.dtype))
    return out


def _split_rows(tensor: tf.Tensor, batches: int, batch_size: int) -> tf.Tensor:
    """``[batches * batch_size, ...]`` -> ``[batches, batch_size, ...]``."""
    return tf.reshape(tensor, tf.concat([[batches, batch_size], tf.shape(tensor)[1:]], axis=0))


def stream_batches_per_call(task: Task, batch_size: int) -> int:
    """Batches :func:`stream` makes per generator call.

    ``STREAM_EXAMPLES_PER_CALL`` examples (fewer for large examples: about
    ``STREAM_BYTES_PER_CALL`` of generated fields), but at least one generator block,
    rounded up to whole batches (so no block is made twice for power-of-two batch sizes).
    """
    probe = task.generate(task.splits[0], 0, 1, seed=0)
    example_bytes = max(1, sum(np.asarray(value).nbytes for value in probe.values()))
    examples = max(task.block_size, min(STREAM_EXAMPLES_PER_CALL, STREAM_BYTES_PER_CALL // example_bytes))
    return max(1, -(-examples // batch_size))


def stream(
    name: str,
    seed: int,
    batch_size: int,
    *,
    inputs: str = "one_hot",
    target: str | None = None,
    split: str = "train",
    prefetch: int = AUTOTUNE,
    parallel_calls: int = STREAM_PARALLEL_CALLS,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """An endless stream of fresh batches generated on the fly, deterministic for a seed.

    Batch ``i`` is ``to_supervised(task, task.generate(split, i * batch_size,
    (i + 1) * batch_size, seed))``: every step sees new examples (tasks with a
    finite word pool, such as ``char_to_vector``, start a new seeded epoch over
    the pool), and the same seed gives the same batches on any machine.

    Each generator call makes a chunk of whole batches (:func:`stream_batches_per_call`);
    ``parallel_calls`` calls run at once (numpy releases the GIL in its kernels), and
    their chunks are used in order, then encoded and cut into batches by TensorFlow.

    Args:
        name: ``"task"`` or ``"task/config"``.
        seed: Sampling seed, an integer >= 0.
        batch_size: Examples per batch, >= 1.
        inputs: ``"one_hot"`` or ``"ids"``.
        target: One of the task's ``targets()`` (``None``: the default).
        split: Split whose distribution is sampled.
        prefetch: Batches prepared ahead (default: tuned by tf.data).
        parallel_calls: Generator calls in flight, >= 1 (``tf.data.AUTOTUNE``: tuned).
        input_context: From ``tf.distribute.Strategy.distribute_datasets_from_function``:
            input pipeline ``i`` of ``n`` gets chunks ``i, i + n, i + 2n, ...`` of the
            single-pipeline stream, so the pipelines never repeat each other's batches.

    Returns:
        An infinite ``tf.data.Dataset`` of ``(x, y, sample_weight)``.
    """
    batch_size = _check_batch_size(batch_size)
    _check_inputs(inputs)
    if parallel_calls != AUTOTUNE:
        check_integer("parallel_calls", parallel_calls, 1, allowed="an integer >= 1 or tf.data.AUTOTUNE", numpy=False)
    task = make(name)
    spec = task.supervised_spec(target)
    fields = _stream_fields(task, spec, split, seed)
    keys = list(fields)
    batches_per_call = stream_batches_per_call(task, batch_size)
    per_call = batches_per_call * batch_size
    sequence_input = spec.input_field in task.sequence_fields

    def generate(call: np.int64) -> list[np.ndarray]:
        chunk = task.generate(split, int(call) * per_call, (int(call) + 1) * per_call, seed)
        return [np.asarray(chunk[key]) for key in keys]

    def chunk_of_batches(call: tf.Tensor) -> tuple[tf.Tensor, ...]:
        arrays = tf.numpy_function(generate, [call], [fields[key].dtype for key in keys], stateful=False)
        chunk = {key: tf.ensure_shape(array, fields[key].shape) for key, array in zip(keys, arrays)}
        batches = tuple(_split_rows(t, batches_per_call, batch_size) for t in encode_batch(chunk, spec, inputs))
        if not sequence_input:
            return batches
        return (*batches, _split_rows(chunk["length"], batches_per_call, batch_size))

    calls = tf.data.Dataset.range(np.iinfo(np.int64).max // per_call)
    if input_context is not None:
        calls = calls.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    dataset = calls.map(chunk_of_batches, num_parallel_calls=parallel_calls, deterministic=True).unbatch()
    if sequence_input:  # each batch is padded to its own longest example, as task.generate of its range is
        dataset = dataset.map(functools.partial(_trim_to_longest, per_step=spec.per_step))
    return dataset.prefetch(prefetch)
