"""Bad input raises ValueError naming the parameter, before any work; requests are bounded by a memory budget.

The property-based tests iterate over the registry and every config field, so a
new task or field is covered without touching this file.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqtasks
from seqtasks import config as config_module
from seqtasks.config import MEMORY_BUDGET_ENV, format_bytes, memory_budget_bytes, short_repr
from seqtasks.registry import task_class
from seqtasks.tasks.base import Task

FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure is reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SMALL = 64 * 2**20  # fuzzed configs estimated below this are also sampled


def _fields() -> list[tuple[str, str]]:
    return [
        (name, field.name)
        for name in seqtasks.list_tasks()
        for field in dataclasses.fields(task_class(name).config_class)
    ]


def _choices() -> list[str]:
    """Every string value some preset uses: valid choices, so the fuzzer also builds valid configs."""
    values = set()
    for name in seqtasks.list_tasks():
        for preset in task_class(name).presets:
            values.update(v for v in preset.config.to_dict().values() if isinstance(v, str))
    return sorted(values)


def fuzz_values() -> st.SearchStrategy:
    """Values of every kind a user might pass: wrong types, out of range, huge, negative, NaN, bool."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-3, max_value=70),  # near the boundaries of most fields
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([2**31, 2**63, 2**64, 10**12, 10**400, -(10**400), 10**5000]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, 0.5, 5 / 32, 1.0, 1e-300, 1e300, -0.0]),
        st.text(max_size=6),
        st.sampled_from(_choices()),
        st.binary(max_size=4),
        st.lists(st.integers(min_value=0, max_value=3), max_size=2),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
        st.just(object()),
        st.just(np.float32(0.5)),
        st.just(np.int64(5)),
    )


def _names_parameter(error: ValueError, parameter: str) -> bool:
    return parameter in str(error)


def _small(task: Task, split: str) -> bool:
    c = task.config
    if hasattr(c, "vocab_size") and hasattr(c, "dim") and c.vocab_size * c.dim > 20_000:
        return False  # building a large synthetic vocabulary takes seconds (it is bounded, not small)
    return task.estimate_bytes(split, 2) <= SMALL


@pytest.mark.parametrize("name, field", _fields())
@FUZZ
@given(value=fuzz_values(), preset_index=st.integers(min_value=0, max_value=9))
def test_every_config_field_gives_a_valid_config_or_a_value_error_naming_it(name, field, value, preset_index):
    cls = task_class(name)
    preset = cls.presets[preset_index % len(cls.presets)]
    try:
        task = seqtasks.make(f"{name}/{preset.name}", **{field: value})
    except ValueError as error:
        assert _names_parameter(error, field), f"{name}.{field}={short_repr(value)}: {error}"
        return
    # Accepted: the config is what was asked for, and a small request works.
    assert getattr(task.config, field) == value or (isinstance(value, float) and math.isnan(value))
    if _small(task, task.splits[0]):
        batch = task.sample(2, split=task.splits[0])
        assert all(len(v) == 2 for v in batch.values())


@pytest.mark.parametrize("name", seqtasks.list_tasks())
@FUZZ
@given(data=st.data())
def test_several_fields_at_once_give_a_valid_config_or_a_value_error_naming_one(name, data):
    fields = [field.name for field in dataclasses.fields(task_class(name).config_class)]
    params = data.draw(st.dictionaries(st.sampled_from(fields), fuzz_values(), min_size=2, max_size=4))
    try:
        task = seqtasks.make(name, **params)
    except ValueError as error:
        assert any(_names_parameter(error, field) for field in params), f"{name} {params}: {error}"
        return
    if _small(task, task.splits[0]):
        assert all(len(value) == 2 for value in task.sample(2, split=task.splits[0]).values())


def request_values() -> st.SearchStrategy:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-3, max_value=40),
        st.sampled_from([2**31, 2**62, 2**63, 2**64, 10**12, 10**400]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=4),
        st.sampled_from(["train", "validation", "test", "test_long"]),
        st.just(np.int64(3)),
    )


@pytest.fixture(scope="module")
def default_tasks() -> dict[str, Task]:
    overrides = {"char_to_vector": {"vocab_size": 300}}
    return {name: seqtasks.make(name, **overrides.get(name, {})) for name in seqtasks.list_tasks()}


@pytest.mark.parametrize("name", seqtasks.list_tasks())
@FUZZ
@given(n=request_values(), seed=request_values(), split=request_values())
def test_sample_returns_n_rows_or_a_value_error_naming_the_argument(default_tasks, name, n, seed, split):
    task = default_tasks[name]
    try:
        batch = task.sample(n, seed=seed, split=split)
    except ValueError as error:
        assert any(word in str(error) for word in ("n=", "seed=", "split=")), str(error)
        return
    assert all(len(value) == int(n) for value in batch.values())


@pytest.mark.parametrize("name", seqtasks.list_tasks())
@FUZZ
@given(start=request_values(), stop=request_values())
def test_generate_returns_stop_minus_start_rows_or_a_value_error(default_tasks, name, start, stop):
    task = default_tasks[name]
    try:
        batch = task.generate("train", start, stop)
    except ValueError as error:
        assert any(word in str(error) for word in ("start=", "stop=")), str(error)
        return
    assert all(len(value) == int(stop) - int(start) for value in batch.values())


@pytest.mark.parametrize("name", [None, 123, 1.5, ["reber_grammar"], b"reber_grammar", ""])
def test_make_with_a_name_that_is_not_a_task_name(name):
    with pytest.raises(ValueError, match=r"invalid task name .*; allowed: one of char_to_vector, random_labels"):
        seqtasks.make(name)


@pytest.mark.parametrize(
    "start, stop, parameter",
    [(0, 2.5, "stop=2.5"), (0, True, "stop=True"), (1.0, 3, "start=1.0"), (0, "3", "stop='3'"), (0, None, "stop=None")],
)
def test_generate_refuses_indices_that_are_not_integers(default_tasks, start, stop, parameter):
    for task in default_tasks.values():
        with pytest.raises(ValueError, match=rf"invalid {parameter}; allowed: an integer >= 0"):
            task.generate("train", start, stop)


def test_numpy_integers_are_accepted_indices(default_tasks):
    task = default_tasks["sequence_reversal"]
    batch = task.generate("train", np.int64(2), np.int32(5), seed=np.uint8(1))
    np.testing.assert_array_equal(batch["inputs"], task.generate("train", 2, 5, seed=1)["inputs"])


@pytest.mark.parametrize("name", seqtasks.list_tasks())
@pytest.mark.parametrize("n", [10**12, 2**63 - 1])
def test_huge_requests_are_refused_before_any_work(default_tasks, monkeypatch, name, n):
    task = seqtasks.make(name, **({"vocab_size": 300} if name == "char_to_vector" else {}))
    generated = []
    original = type(task)._generate_block

    def counting(self, draws, split, block):
        generated.append(self.block_size)
        return original(self, draws, split, block)

    monkeypatch.setattr(type(task), "_generate_block", counting)
    began = time.monotonic()
    with pytest.raises(ValueError) as error:
        task.sample(n)
    message = str(error.value)
    assert f"invalid n={n}" in message and "over the memory budget of 8 GiB" in message
    assert "allowed: at most" in message and "lower n or" in message
    assert sum(generated) <= 1  # at most the one-example probe
    assert "_pool" not in task.__dict__  # char_to_vector: no vocabulary was built
    assert time.monotonic() - began < 30
    with pytest.raises(ValueError, match=rf"invalid stop={n} for split 'train'"):
        task.generate("train", 5, n)
    for huge in (2**63, 2**64, 10**400):  # beyond int64 indices
        with pytest.raises(ValueError, match=r"invalid n=.*; allowed: an integer in \[0, 2\*\*63 - 1\]"):
            task.sample(huge)
        with pytest.raises(ValueError, match=r"invalid stop=.*; allowed: an integer in \[0, 2\*\*63 - 1\]"):
            task.generate("train", 0, huge)


def test_huge_request_message_quotes_the_need_and_the_largest_allowed(default_tasks):
    task = default_tasks["random_labels"]
    most = task.max_examples("train")
    assert task.estimate_bytes("train", most) <= memory_budget_bytes() < task.estimate_bytes("train", most + 1)
    with pytest.raises(ValueError) as error:
        task.sample(most + 1)
    assert f"at most {most:,} examples per call" in str(error.value)
    assert "lower n or time_steps or features" in str(error.value)


def test_memory_budget_can_be_changed_with_the_environment(monkeypatch):
    task = seqtasks.make("random_labels")
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "0.5")
    assert memory_budget_bytes() == 2**29
    most = task.max_examples("train")
    task.sample(min(most, 64))
    with pytest.raises(ValueError, match=r"over the memory budget of 512 MiB.*SEQTASKS_MEMORY_BUDGET_GIB"):
        task.sample(most + 1)
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match=r"invalid SEQTASKS_MEMORY_BUDGET_GIB='lots'; allowed: a positive number"):
        task.sample(1)
    monkeypatch.setenv(MEMORY_BUDGET_ENV, "0.0001")  # too small for one block: a new config is refused
    with pytest.raises(ValueError, match=r"invalid time_steps=600, features=16, label_block=32: one block"):
        seqtasks.make("random_labels", time_steps=600)


@pytest.mark.parametrize(
    "name, field",
    [
        ("random_labels", "input_scale"),
        ("random_labels", "positive_fraction"),
        ("random_labels", "input_offset"),
        ("char_to_vector", "compositional_weight"),
    ],
)
@pytest.mark.parametrize(
    "value", [10**400, -(10**400), 10**5000, 2**1024], ids=["1e400", "-1e400", "1e5000", "2**1024"]
)
def test_floats_too_large_for_a_float_are_value_errors(name, field, value):
    pattern = rf"{name}: invalid {field}=-?<an integer of about \d+ digits>; allowed: a finite"
    with pytest.raises(ValueError, match=pattern):
        seqtasks.make(name, **{field: value})


def test_random_labels_blocks_that_cannot_fit_are_refused_at_construction():
    with pytest.raises(ValueError) as error:
        seqtasks.make("random_labels", time_steps=100_000, features=100_000)
    message = str(error.value)
    assert message.startswith("random_labels: invalid time_steps=100000, features=100000, label_block=32:")
    assert "over the memory budget of 8 GiB" in message and "lower time_steps, features or label_block" in message
    with pytest.raises(ValueError, match=r"invalid time_steps=672, features=16, label_block=1000000: one block"):
        seqtasks.make("random_labels", label_block=1_000_000, positive_fraction=0.5)
    # The message's limit is exact: the largest block it allows is accepted, one more value is not.
    with pytest.raises(ValueError) as error:
        seqtasks.make("random_labels", time_steps=2000, features=10_000)
    found = re.search(r"allowed: time_steps \* features <= ([\d,]+) at label_block=32", str(error.value))
    limit = int(found[1].replace(",", ""))
    time_steps = -(-limit // 100_000)  # features is at most 100,000
    task = seqtasks.make("random_labels", time_steps=time_steps, features=limit // time_steps)
    assert task.estimate_bytes("train", 1) <= memory_budget_bytes()
    with pytest.raises(ValueError, match="one block"):
        seqtasks.make("random_labels", time_steps=time_steps, features=limit // time_steps + 1)


def test_estimates_cover_the_measured_peak_of_every_preset_and_split():
    """tracemalloc's peak while generating two partial blocks stays under the estimate."""
    for name in seqtasks.list_tasks():
        for preset in seqtasks.list_presets(name):
            task = seqtasks.make(f"{name}/{preset}", **({"vocab_size": 3000} if name == "char_to_vector" else {}))
            for split in task.splits:
                start, stop = 3, task.block_size + 7
                task.generate(split, 0, 1)  # lookup tables and caches are built once, outside the request
                estimate = task.estimate_bytes(split, stop - start)
                tracemalloc.start()
                try:
                    task.generate(split, start, stop)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                assert peak <= estimate, (name, preset, split, format_bytes(peak), format_bytes(estimate))


def test_estimates_grow_with_the_size_parameters():
    """Ten times the size parameter: at least twice the memory for a large request."""
    n = 1_000_000
    for name, params in [
        ("reber_grammar", {"max_length": 50, "long_max_length": 4000}),
        ("sequence_reversal", {"max_length": 5}),
        ("random_labels", {"time_steps": 48}),
        ("char_to_vector", {"dim": 100}),
    ]:
        (field, small), *rest = params.items()
        a = seqtasks.make(name, **params).estimate_bytes("train", n)
        b = seqtasks.make(name, **{**params, field: 10 * small}).estimate_bytes("train", n)
        assert b > 2 * a, (name, field, format_bytes(a), format_bytes(b))


def test_check_float_and_messages():
    assert format_bytes(7.28 * 2**40) == "7.28 TiB"
    assert format_bytes(512) == "512 B"
    assert short_repr(10**400) == "<an integer of about 401 digits>"
    assert short_repr("x" * 100).endswith("(102 characters)")
    assert config_module.MEMORY_BUDGET_BYTES == 8 * 2**30
