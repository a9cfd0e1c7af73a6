"""The task-author kit: check_task on every task's test preset, the broken tasks it catches, check_integer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import seqtasks
from seqtasks.config import check_integer, is_integer
from seqtasks.registry import task_class
from seqtasks.tasks.base import Preset
from seqtasks.tasks.sequence_reversal import ReversalConfig, SequenceReversal
from seqtasks.testing import check_task, make_test_task, preset_split_sizes


@pytest.mark.parametrize("name", seqtasks.list_tasks())
def test_every_task_declares_one_small_unpublished_test_preset(name):
    cls = task_class(name)
    assert isinstance(cls.test_preset, Preset) and isinstance(cls.test_preset.config, cls.config_class)
    assert cls.test_preset.name not in seqtasks.list_presets(name)
    task = make_test_task(name)
    assert sum(preset_split_sizes(task, cls.test_preset).values()) <= 1000


@pytest.mark.parametrize("name", seqtasks.list_tasks())
def test_every_task_passes_check_task_at_its_test_preset(name):
    check_task(make_test_task(name))


def test_check_task_passes_the_read_then_write_layout():
    config = ReversalConfig(vocab_size=2, min_length=1, max_length=8, long_max_length=12, layout="read_then_write",
                            test_long_lengths="each")
    check_task(SequenceReversal(config))


class _IgnoresTheSeed(SequenceReversal):
    def generate(self, split, start, stop, seed=0):
        return super().generate(split, start, stop, 0)


class _UnseededDraws(SequenceReversal):
    def _finish(self, arrays):
        return {**super()._finish(arrays), "noise": np.random.default_rng().random(len(arrays["length"]))}


class _LeaksAcrossSplits(SequenceReversal):
    def split_bucket_mask(self, hashes, split):
        return np.ones(len(hashes), dtype=bool)


class _DirtyPadding(SequenceReversal):
    def _finish(self, arrays):
        out = super()._finish(arrays)
        out["targets"] = out["targets"] + 1
        return out


class _SliceDependent(SequenceReversal):
    def generate(self, split, start, stop, seed=0):
        return super().generate(split, 0, stop - start, seed)


class _WrongDepth(SequenceReversal):
    def supervised_spec(self, target=None):
        return dataclasses.replace(super().supervised_spec(target), input_depth=1)


class _UndeclaredLengths(SequenceReversal):
    def content_lengths(self, batch):
        return super().content_lengths(batch) + 100


class _UndescribedField(SequenceReversal):
    card = dataclasses.replace(SequenceReversal.card, fields={"inputs": "token ids"})


@pytest.mark.parametrize(
    "cls, message",
    [
        (_IgnoresTheSeed, "seeds 0 and 1 give the same examples"),
        (_UnseededDraws, "differ in field 'noise'"),
        (_LeaksAcrossSplits, "held-out 'inputs' contents occur in both"),
        (_DirtyPadding, "is not zero beyond 'length'"),
        (_SliceDependent, "differs from one call"),
        (_WrongDepth, "inputs must lie in"),
        (_UndeclaredLengths, "are not among the declared length_strata"),
        (_UndescribedField, r"fields \['length', 'targets'\] have no meaning in card.fields"),
    ],
)
def test_check_task_catches_a_broken_task(cls, message):
    with pytest.raises(AssertionError, match=message):
        check_task(cls(SequenceReversal.test_preset.config))


def test_check_task_catches_lengths_outside_the_declared_length_range():
    from seqtasks.tasks.char_to_vector import CharToVector

    class WrongLengthFields(CharToVector):  # its words keep their lengths; the declared range is narrower
        length_fields = ("min_word_length", "min_word_length", "long_max_word_length")

    with pytest.raises(AssertionError, match=r"lengths 2\.\.\d+ are outside length_range=\(2, 2\)"):
        check_task(WrongLengthFields(CharToVector.test_preset.config))


def test_check_task_refuses_a_bad_n():
    with pytest.raises(ValueError, match=r"invalid n=1; allowed: an integer >= 2"):
        check_task(make_test_task("sequence_reversal"), n=1)


def test_make_test_task_needs_a_registered_task():
    with pytest.raises(ValueError, match="invalid task name 'nope'"):
        make_test_task("nope")


def test_the_draws_module_is_public_and_its_former_private_alias_is_gone():
    from seqtasks import draws

    assert not (Path(draws.__file__).parent / "_random.py").exists()
    assert {"Draws", "block_bit_generator", "hash_rows", "salt_words"} <= set(draws.__all__)


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (True, {}, r"^invalid k=True; allowed: an integer$"),
        (2.0, {"minimum": 1}, r"^invalid k=2\.0; allowed: an integer >= 1$"),
        (0, {"minimum": 1}, r"^invalid k=0; allowed: an integer >= 1$"),
        (9, {"minimum": 1, "maximum": 8}, r"^invalid k=9; allowed: an integer in \[1, 8\]$"),
        (np.int64(3), {"numpy": False}, r"^invalid k=.*3\)?; allowed: an integer$"),
        (-1, {"minimum": 0, "owner": "task", "allowed": "a count"}, r"^task: invalid k=-1; allowed: a count$"),
        (10**400, {"maximum": 5}, r"^invalid k=<an integer of about 401 digits>; allowed: an integer <= 5$"),
    ],
)
def test_check_integer_messages(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_integer("k", value, **kwargs)


def test_check_integer_returns_a_python_int():
    assert check_integer("k", np.uint8(3), 0) == 3 and type(check_integer("k", np.uint8(3), 0)) is int


def test_is_integer_is_the_test_of_check_integer():
    assert is_integer(3, 1, 3) and is_integer(np.int8(0), 0) and not is_integer(np.int8(0), numpy=False)
    assert not is_integer(True) and not is_integer(2.0) and not is_integer(0, 1)


def test_a_card_gives_the_class_its_description_and_citation():
    card = SequenceReversal.card
    assert SequenceReversal.description == card.description and SequenceReversal.citation == card.citation
    assert set(card.fields) >= {"inputs", "targets", "length", "output_mask"}


def test_length_range_comes_from_the_declared_length_fields():
    task = seqtasks.make("sequence_reversal/len1to40_vocab2")
    assert task.length_range("train") == (1, 40) and task.length_range("test_long") == (41, 500)
    assert task.memory_parameters("test_long") == ("long_max_length",)
    assert seqtasks.make("reber_grammar/embedded").length_range("train") == (9, 50)
    assert seqtasks.make("random_labels").length_range("train") is None
    assert "test_long" not in seqtasks.make("sequence_reversal/len5_vocab10").splits
