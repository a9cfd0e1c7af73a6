"""seqtasks.load and seqtasks.stream produce exactly the numpy reference encoding."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import seqtasks
from seqtasks.encoding import to_supervised
from seqtasks.tf import pipelines
from seqtasks.tf.pipelines import load, stream
from tfds_helpers import TINY_RANDOM_LABELS, TINY_READ_THEN_WRITE, TINY_REBER, TINY_REVERSAL, builder_config_of

TINY = {task_name: builder_config_of(task_name) for task_name in seqtasks.list_tasks()}  # the test presets
CASES = [
    (task_name, target, inputs)
    for task_name, config in TINY.items()
    for target in seqtasks.registry.task_class(task_name)(config.preset.config).targets()
    for inputs in ("one_hot", "ids")
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds_load")


def _assert_same(got: tuple, want: tuple) -> None:
    for got_array, want_array in zip(got, want):
        got_array = got_array.numpy()
        assert got_array.dtype == want_array.dtype and got_array.shape == want_array.shape
        np.testing.assert_array_equal(got_array, want_array)


@pytest.mark.parametrize("task_name, target, inputs", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_load_matches_numpy_reference(task_name, target, inputs, data_dir):
    config = TINY[task_name]
    task = seqtasks.registry.task_class(task_name)(config.preset.config)
    batch_size = 7  # not a divisor of the split sizes: the last batch is smaller
    split = "test"
    dataset = load(task_name, split, batch_size, inputs=inputs, target=target, data_dir=data_dir, builder_config=config)
    batches = list(dataset)
    size = config.preset.split_sizes[split] or task.natural_size(split)
    assert len(batches) == -(-size // batch_size)
    for index, got in enumerate(batches):
        stop = min((index + 1) * batch_size, size)
        want = to_supervised(task, task.generate(split, index * batch_size, stop, seed=0), inputs=inputs, target=target)
        _assert_same(got, want)


def _reference(task, split: str, start: int, stop: int, **kwargs) -> tuple:
    return to_supervised(task, task.generate(split, start, stop, seed=0), **kwargs)


@pytest.mark.parametrize("task_name", sorted(TINY))
@pytest.mark.parametrize("cache", [False, True], ids=["from_disk", "cached"])
@pytest.mark.parametrize("batch_size, chunk", [(3, 8), (300, 256)], ids=["chunks_of_batches", "one_batch_per_parse"])
def test_load_every_epoch_matches_numpy_reference(task_name, cache, batch_size, chunk, data_dir, monkeypatch):
    """From disk (cache=False) and from the cache, batches cut from parsed chunks or parsed one by one."""
    monkeypatch.setattr(pipelines, "LOAD_EXAMPLES_PER_CHUNK", chunk)  # (3, 8): chunks of 9 records, cut in 3
    config = TINY[task_name]
    task = seqtasks.registry.task_class(task_name)(config.preset.config)
    size = config.preset.split_sizes["train"] or task.natural_size("train")
    dataset = load(task_name, "train", batch_size, data_dir=data_dir, builder_config=config, cache=cache)
    for _ in range(2):  # the first epoch reads the files; with cache=True the second is served from memory
        batches = list(dataset)
        assert len(batches) == -(-size // batch_size)
        for index, got in enumerate(batches):
            _assert_same(got, _reference(task, "train", index * batch_size, min((index + 1) * batch_size, size)))


def test_load_split_expression_and_drop_remainder(data_dir):
    task = seqtasks.registry.task_class("reber_grammar")(TINY_REBER.preset.config)
    batches = list(load("reber_grammar", "train[10:30]", 6, data_dir=data_dir, builder_config=TINY_REBER, cache=False,
                        drop_remainder=True, inputs="ids", target="next_symbol"))
    assert len(batches) == 3
    for index, got in enumerate(batches):
        _assert_same(got, _reference(task, "train", 10 + 6 * index, 16 + 6 * index, inputs="ids", target="next_symbol"))


def test_padding_has_zero_weight(data_dir):
    x, y, weight = next(iter(load("sequence_reversal", "train", 16, data_dir=data_dir, builder_config=TINY_REVERSAL)))
    lengths = tf.reduce_sum(tf.reduce_sum(x, axis=-1), axis=1).numpy()  # one-hot rows are zero at padding
    assert len(set(lengths.tolist())) > 1, "needs a batch with mixed lengths"
    np.testing.assert_array_equal(weight.numpy().sum(axis=1), lengths)
    assert (y.numpy()[weight.numpy() == 0] == 0).all()


def test_load_shuffle_is_seeded_permutation(data_dir):
    def labels(seed):
        ds = load("random_labels", "train", 64, data_dir=data_dir, builder_config=TINY_RANDOM_LABELS,
                  shuffle=True, shuffle_seed=seed)
        return next(iter(ds))[0].numpy()

    plain = next(iter(load("random_labels", "train", 64, data_dir=data_dir, builder_config=TINY_RANDOM_LABELS)))[0]
    first, again, other = labels(1), labels(1), labels(2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other) and not np.array_equal(first, plain.numpy())
    key = lambda a: sorted(map(bytes, a.reshape(len(a), -1)))  # noqa: E731 - same multiset of examples
    assert key(first) == key(plain.numpy())


@pytest.mark.parametrize(
    "parameter, value", [("batch_size", 0), ("inputs", "onehot"), ("shuffle_buffer", 0)]
)
def test_load_rejects_bad_parameters(parameter, value, data_dir):
    kwargs = {"batch_size": 4, parameter: value}
    with pytest.raises(ValueError, match=f"invalid {parameter}={value!r}"):
        load("sequence_reversal", "test", data_dir=data_dir, builder_config=TINY_REVERSAL, **kwargs)


def test_load_without_download_refuses_missing_data(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dataset 'sequence_reversal' is not prepared in .*; allowed: download=True"):
        load("sequence_reversal", "test", 4, data_dir=tmp_path, builder_config=TINY_REVERSAL, download=False)
    assert not any(tmp_path.rglob("*.tfrecord*"))  # nothing was built


@pytest.mark.parametrize(
    "name, target, inputs",
    [("reber_grammar/embedded", "next_symbol", "ids"), ("reber_grammar/embedded", "legal_set", "one_hot"),
     ("sequence_reversal/len1to40_vocab2", None, "one_hot"),
     pytest.param("char_to_vector", None, "one_hot", marks=pytest.mark.slow),  # its generator is ~300 examples/s
     ("random_labels/t48_f16", None, "one_hot")],
)
def test_stream_is_fresh_deterministic_and_matches_reference(name, target, inputs):
    task = seqtasks.make(name)
    batch_size = 8
    first = list(stream(name, seed=5, batch_size=batch_size, inputs=inputs, target=target).take(3))
    again = list(stream(name, seed=5, batch_size=batch_size, inputs=inputs, target=target).take(3))
    other = next(iter(stream(name, seed=6, batch_size=batch_size, inputs=inputs, target=target)))
    for index, (got, repeat) in enumerate(zip(first, again)):
        want = to_supervised(task, task.generate("train", index * batch_size, (index + 1) * batch_size, 5),
                             inputs=inputs, target=target)
        _assert_same(got, want)
        _assert_same(repeat, want)
    assert not np.array_equal(first[0][0].numpy(), first[1][0].numpy())  # fresh data every step
    assert not np.array_equal(first[0][0].numpy(), other[0].numpy()) or not np.array_equal(
        first[0][1].numpy(), other[1].numpy()
    )


@pytest.mark.slow
def test_stream_wraps_a_finite_pool_into_new_epochs():
    task = seqtasks.make("char_to_vector")
    pool = task.natural_size("validation")
    batch_size = 512
    batches = list(stream("char_to_vector", seed=0, batch_size=batch_size, split="validation").take(-(-pool // batch_size) + 1))
    total = sum(int(b[0].shape[0]) for b in batches)
    assert total > pool and all(int(b[0].shape[0]) == batch_size for b in batches)


def test_stream_fits_a_keras_model():
    keras = tf.keras
    model = keras.Sequential([keras.Input((None, 7)), keras.layers.LSTM(8, return_sequences=True),
                              keras.layers.Dense(7)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), weighted_metrics=["accuracy"])
    history = model.fit(stream("reber_grammar", seed=0, batch_size=16, inputs="one_hot"), steps_per_epoch=3, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][-1])


@pytest.mark.parametrize("parameter, value", [("batch_size", 0), ("seed", -1), ("split", "nope"), ("parallel_calls", 0)])
def test_stream_rejects_bad_parameters(parameter, value):
    kwargs = {"seed": 0, "batch_size": 4, parameter: value}
    with pytest.raises(ValueError, match=f"invalid {parameter}={value!r}"):
        stream("sequence_reversal", **kwargs)


def test_lazy_attributes_on_the_package():
    assert seqtasks.load is load and seqtasks.stream is stream
    with pytest.raises(AttributeError):
        seqtasks.no_such_function  # noqa: B018


def test_stream_is_the_same_for_any_number_of_parallel_calls(monkeypatch):
    monkeypatch.setattr(pipelines, "stream_batches_per_call", lambda task, batch_size: 2)  # many calls, few batches
    name, batch_size = "sequence_reversal/len1to40_vocab2", 5
    task = seqtasks.make(name)
    for parallel_calls in (1, 3, tf.data.AUTOTUNE):
        got = list(stream(name, seed=1, batch_size=batch_size, parallel_calls=parallel_calls).take(12))
        for index, batch in enumerate(got):
            want = to_supervised(task, task.generate("train", index * batch_size, (index + 1) * batch_size, 1))
            _assert_same(batch, want)


def test_stream_batches_across_generator_calls_match_reference():
    """Batches are cut from multi-batch generator calls; at call boundaries they must still match."""
    task = seqtasks.make("reber_grammar/embedded")
    batch_size = 100  # 3 batches per generator call (block size 256): batch 3 starts a new call
    got = list(stream("reber_grammar/embedded", seed=2, batch_size=batch_size, inputs="ids").take(4))
    for index, batch in enumerate(got):
        want = to_supervised(task, task.generate("train", index * batch_size, (index + 1) * batch_size, 2), inputs="ids")
        _assert_same(batch, want)


@pytest.mark.parametrize("cache", [True, False])
def test_read_then_write_layout_weights_only_the_writing_steps(data_dir, cache):
    """The reverse_string layout through tfds: blank reading steps carry no weight, as in the numpy reference."""
    import tensorflow_datasets as tfds

    config = TINY_READ_THEN_WRITE
    task = seqtasks.registry.task_class("sequence_reversal")(config.preset.config)
    for split in ("test", "test_long"):
        size = config.preset.split_sizes[split]
        (got,) = list(load("sequence_reversal", split, size, data_dir=data_dir, builder_config=config, cache=cache))
        want = _reference(task, split, 0, size)
        _assert_same(got, want)
        x, _, weight = (array.numpy() for array in got)
        lengths = task.content_lengths(task.generate(split, 0, size))
        for row, n in enumerate(lengths):
            assert weight[row, :n].sum() == 0 and (weight[row, n : 2 * n] == 1).all() and weight[row, 2 * n :].sum() == 0
            assert (x[row, n : 2 * n, 2] == 1).all()  # the blank token on every writing step
    as_supervised = tfds.load("sequence_reversal", split="test", as_supervised=True, data_dir=data_dir,
                              builder_kwargs={"config": config})
    inputs, targets, weights = next(iter(tfds.as_numpy(as_supervised)))  # a weighted view: its weight field third
    assert len(inputs) == len(targets) == len(weights) and len(inputs) % 2 == 0
    published = seqtasks.make("sequence_reversal/reverse_string")
    got = next(iter(stream("sequence_reversal/reverse_string", seed=1, batch_size=6)))
    _assert_same(got, to_supervised(published, published.generate("train", 0, 6, seed=1)))
    assert "reverse_string" in {c.name for c in tfds.builder_cls("sequence_reversal").BUILDER_CONFIGS}
