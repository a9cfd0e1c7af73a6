"""The task-author kit: the checks every task must pass, on its small test configuration.

:func:`check_task` checks a task instance against the contracts the rest of
seqtasks relies on (in the spirit of gymnasium's ``check_env``), with numpy
only. Every task class declares one small, unpublished configuration,
:attr:`Task.test_preset <seqtasks.tasks.base.Task.test_preset>`; :func:`make_test_task`
makes a task at it and :func:`builder_test_case` turns it into a tfds
``DatasetBuilderTestCase`` (importing TensorFlow Datasets only when called).

Example:
    >>> from seqtasks.testing import check_task, make_test_task
    >>> check_task(make_test_task("sequence_reversal"))
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from seqtasks.config import check_integer, is_integer, short_repr
from seqtasks.draws import SPLIT_IDS
from seqtasks.registry import task_class
from seqtasks.tasks.base import Preset, Task, TaskCard

TARGET_KINDS = ("sparse", "multi_hot", "dense", "binary")
"""The target kinds a :class:`~seqtasks.tasks.base.SupervisedSpec` may declare."""

_BAD_FIELD_VALUES = (object(), None, -1, "x", 2.5)  # each: a valid config or a ValueError naming the field


def make_test_task(name: str) -> Task:
    """The registered task ``name`` at its class's :attr:`~seqtasks.tasks.base.Task.test_preset`.

    Raises:
        ValueError: ``name`` is no registered task, or its class declares no test preset.
    """
    return task_class(name)(_test_preset(task_class(name)).config)


def preset_split_sizes(task: Task, preset: Preset) -> dict[str, int]:
    """Examples per split of ``task`` as ``preset`` gives them (:meth:`~seqtasks.tasks.base.Task.published_size`)."""
    return {split: task.published_size(split, preset) for split in task.splits}


def check_task(task: Task, n: int = 64) -> None:
    """Checks that a task keeps the contracts of seqtasks; raises on the first one it breaks.

    On ``n`` examples of every split (fewer where a split's pool is smaller), it checks:
    the declaration (splits, fields, targets, a :class:`~seqtasks.tasks.base.TaskCard`); fields
    of one length per example, the same fields, dtypes and shapes in an empty batch; sequence
    fields as wide as the longest example and zero beyond each ``length``; lengths among the
    split's declared ``length_strata``, within ``length_range`` and ``max_steps``; a meaning
    in the card for every field; each ``supervised_spec`` consistent with
    the fields (and ``to_supervised`` shapes); determinism (the same bytes twice and
    from a fresh instance, other bytes for another seed); slicing invariance, also across
    a block boundary; disjoint splits in :attr:`~seqtasks.tasks.base.Task.content_field`
    where the task promises it (held-out strata, or every example without strata; on
    ``16 * n`` examples per split); and a ``ValueError`` naming the argument or config
    field for bad requests and values.

    Args:
        task: The task, best at a small configuration (e.g. :func:`make_test_task`).
        n: Examples per split, >= 2.

    Raises:
        AssertionError: A contract is broken; the message names the task, the split and the check.
        ValueError: ``n`` is no integer >= 2.
    """
    n = check_integer("n", n, 2, numpy=False)
    _check_declaration(task)
    batches = {}
    for split in task.splits:
        natural = task.natural_size(split)
        size = n if natural is None else min(n, natural)
        batch = task.generate(split, 0, size, seed=0)
        _check_fields(task, split, batch, size)
        _check_lengths(task, split, batch)
        _check_supervised(task, split, batch)
        _check_determinism(task, split, batch)
        _check_block_boundaries(task, split)
        batches[split] = batch
    _check_seed_is_used(task, batches)
    _check_disjoint_splits(task, 16 * n)
    _check_bad_requests(task)
    _check_bad_config_values(task)
    _check_card_fields(task, batches)


def builder_test_case(task_name: str) -> type:
    """A ``tfds.testing.DatasetBuilderTestCase`` of the task's builder at its test preset.

    Assign it to a name in a test module, e.g. ``ReberGrammarBuilderTest =
    builder_test_case("reber_grammar")``, and pytest runs tfds's builder tests on it:
    it builds the preset's splits (their sizes as the preset says) and checks that
    no example occurs in two splits, except in the splits whose length strata are
    partly shared by design (``OVERLAPPING_SPLITS``). Imports TensorFlow Datasets.

    Args:
        task_name: A registered task.

    Returns:
        The test case class.
    """
    import tensorflow_datasets as tfds

    from seqtasks.tf import builders

    cls = task_class(task_name)
    preset = _test_preset(cls)
    task = cls(preset.config)
    overlapping = [
        split for split in task.splits
        if (strata := task.length_strata(split)) is not None and strata.held_out_share < 1.0
    ]
    attributes = {
        "__doc__": f"tfds's builder tests of {task_name} at its test preset {preset.name!r}.",
        "DATASET_CLASS": builders.BUILDERS[task_name],
        "BUILDER_CONFIG_NAMES_TO_TEST": [builders.builder_config_for(preset, cls.version)],
        "SPLITS": preset_split_sizes(task, preset),
        "OVERLAPPING_SPLITS": overlapping,
        "EXAMPLE_DIR": _no_dummy_data(),  # the test case wants a dummy-data folder; nothing is downloaded
    }
    name = "".join(part.title() for part in task_name.split("_")) + "BuilderTest"
    return type(name, (tfds.testing.DatasetBuilderTestCase,), attributes)


@functools.lru_cache(maxsize=None)
def _no_dummy_data() -> str:
    """An empty folder, made once per process."""
    return tempfile.mkdtemp(prefix="seqtasks_no_dummy_data_")


def _test_preset(cls: type[Task]) -> Preset:
    preset = cls.test_preset
    if not isinstance(preset, Preset):
        raise ValueError(f"{cls.name}: invalid test_preset={short_repr(preset)}; allowed: a Preset of a small config")
    return preset


def _fail(task: Task, where: str, message: str) -> None:
    raise AssertionError(f"{task.name} ({task.config}): {where}: {message}")


def _check(condition: Any, task: Task, where: str, message: str) -> None:
    if not condition:
        _fail(task, where, message)


def _check_declaration(task: Task) -> None:
    where = "declaration"
    _check(isinstance(task.name, str) and task.name, task, where, "name must be a non-empty string")
    _check(isinstance(task.config, task.config_class), task, where, "config must be a config_class instance")
    version = task.version.split(".")
    _check(len(version) == 3 and all(part.isdigit() for part in version), task, where,
           "version must be MAJOR.MINOR.PATCH")
    _check(task.splits and set(task.splits) <= set(SPLIT_IDS), task, where, f"splits must be among {sorted(SPLIT_IDS)}")
    _check(task.targets(), task, where, "targets() must name at least one supervised view")
    _check(is_integer(task.block_size, 1, numpy=False), task, where, "block_size must be an integer >= 1")
    card = task.card
    _check(isinstance(card, TaskCard), task, where, "card must be a TaskCard (the words of the task's docs page)")
    _check(all(isinstance(text, str) and text for text in (card.description, card.definition, card.metric)),
           task, where, "the card's description, definition and metric must be non-empty strings")
    _check(task.description == card.description and task.citation == card.citation, task, where,
           "description and citation must be the card's")
    if task.test_preset is not None:
        _check(isinstance(task.test_preset.config, task.config_class), task, where,
               "test_preset.config must be a config_class instance")
        _check(task.test_preset.name not in {p.name for p in task.presets}, task, where,
               "test_preset must not be a published preset")


def _check_fields(task: Task, split: str, batch: Mapping[str, np.ndarray], size: int) -> None:
    where = f"split {split!r}"
    _check(batch, task, where, "generate returned no fields")
    for key, value in batch.items():
        _check(isinstance(value, np.ndarray), task, where, f"field {key!r} is a {type(value).__name__}, not an array")
        _check(value.ndim >= 1 and len(value) == size, task, where, f"field {key!r} has not {size} rows")
    for key in task.sequence_fields:
        _check(key in batch, task, where, f"sequence field {key!r} is missing")
        _check(batch[key].ndim >= 2, task, where, f"sequence field {key!r} has no time axis")
    if task.content_field is not None:
        _check(task.content_field in batch, task, where, f"content_field {task.content_field!r} is missing")
    empty = task.generate(split, 0, 0)
    _check(set(empty) == set(batch), task, where, f"an empty batch has fields {sorted(empty)}, not {sorted(batch)}")
    for key, value in batch.items():
        other = empty[key]
        same_kind = other.dtype == value.dtype or (other.dtype.kind == value.dtype.kind and value.dtype.kind in "US")
        _check(same_kind, task, where, f"field {key!r} is {value.dtype} but {other.dtype} in an empty batch")
        skip = 2 if key in task.sequence_fields else 1
        _check(other.shape[skip:] == value.shape[skip:] and len(other) == 0, task, where,
               f"field {key!r} has shape {value.shape}, and {other.shape} in an empty batch")


def _check_lengths(task: Task, split: str, batch: Mapping[str, np.ndarray]) -> None:
    where = f"split {split!r}"
    content = task.content_lengths(batch)
    if "length" not in batch:
        _check(not task.sequence_fields, task, where, "sequence fields need a 'length' field")
        _check(content is None, task, where, "content_lengths must be None without a 'length' field")
        return
    lengths = batch["length"]
    _check(lengths.ndim == 1 and lengths.dtype.kind in "iu", task, where, "'length' must be one integer per example")
    _check((lengths >= 0).all(), task, where, "lengths must be >= 0")
    longest = int(lengths.max(initial=0))
    for key in task.sequence_fields:
        value = batch[key]
        if len(lengths):
            _check(value.shape[1] == longest, task, where,
                   f"sequence field {key!r} is {value.shape[1]} steps wide, not the longest length {longest}")
        padding = np.arange(value.shape[1])[None, :] >= lengths[:, None]
        _check(not np.any(value[padding]), task, where, f"sequence field {key!r} is not zero beyond 'length'")
    steps = task.max_steps(split)
    _check(steps is None or longest <= steps, task, where, f"a length {longest} exceeds max_steps={steps}")
    _check(content is not None and np.shape(content) == lengths.shape, task, where,
           "content_lengths must give one length per example")
    strata = task.length_strata(split)
    if strata is None:
        _check_length_range(task, split, content)
        return
    declared = np.asarray(strata.lengths)
    _check(declared.ndim == 1 and len(declared) and (np.diff(declared) > 0).all(), task, where,
           "length_strata.lengths must be ascending and distinct")
    _check(np.shape(strata.probabilities) == declared.shape == np.shape(strata.log2_sequences), task, where,
           "length_strata arrays must have one entry per length")
    _check(abs(float(np.sum(strata.probabilities)) - 1.0) < 1e-9, task, where, "length probabilities must sum to 1")
    outside = sorted(set(np.asarray(content).tolist()) - set(declared.tolist()))
    _check(not outside, task, where, f"lengths {outside[:5]} are not among the declared length_strata")
    _check_length_range(task, split, content, declared)


def _check_length_range(task: Task, split: str, content: np.ndarray, declared: np.ndarray | None = None) -> None:
    """The examples' lengths (and the declared strata's) lie within ``length_range``, where the task declares one."""
    window = task.length_range(split)
    if window is None:
        return
    where = f"split {split!r}"
    for what, values in (("lengths", np.asarray(content)), ("length_strata lengths", declared)):
        if values is not None and len(values):
            low, high = int(np.min(values)), int(np.max(values))
            _check(window[0] <= low and high <= window[1], task, where,
                   f"{what} {low}..{high} are outside length_range={window}")


def _check_supervised(task: Task, split: str, batch: Mapping[str, np.ndarray]) -> None:
    from seqtasks.encoding import to_supervised

    for target in task.targets():
        where = f"split {split!r}, target {target!r}"
        spec = task.supervised_spec(target)
        _check(spec.target_kind in TARGET_KINDS, task, where, f"target_kind must be one of {', '.join(TARGET_KINDS)}")
        for role, key in (("input_field", spec.input_field), ("target_field", spec.target_field),
                          ("weight_field", spec.weight_field)):
            _check(key is None or key in batch, task, where, f"{role}={key!r} is no field of the batch")
        inputs, targets = batch[spec.input_field], batch[spec.target_field]
        if spec.per_step:
            steps = {spec.input_field, spec.target_field} | ({spec.weight_field} - {None})
            _check(steps <= set(task.sequence_fields), task, where,
                   f"a per-step view's fields {sorted(steps)} must be sequence fields")
            _check(is_integer(spec.target_offset, 0, numpy=False), task, where,
                   "target_offset must be an integer >= 0")
        if spec.input_depth is None:
            _check(inputs.dtype.kind == "f", task, where, "input_depth=None needs float inputs")
        else:
            _check(inputs.dtype.kind in "iu", task, where, f"input_depth={spec.input_depth} needs integer inputs")
            _check(((inputs >= 0) & (inputs < spec.input_depth)).all(), task, where,
                   f"inputs must lie in [0, input_depth={spec.input_depth})")
        if spec.target_kind == "sparse":
            _check(targets.dtype.kind in "iu" and (targets >= 0).all(), task, where, "sparse targets must be ids >= 0")
            _check(spec.input_depth is None or (targets < spec.input_depth).all(), task, where,
                   f"sparse targets must lie below input_depth={spec.input_depth} (the output width)")
        elif spec.target_kind == "multi_hot":
            _check(spec.input_depth is None or targets.shape[-1] == spec.input_depth, task, where,
                   "multi-hot targets need one entry per symbol")
            _check(np.isin(targets, (0, 1)).all(), task, where, "multi-hot targets must be 0 or 1")
        elif spec.target_kind == "dense":
            _check(targets.dtype.kind == "f" and targets.ndim == 2, task, where, "dense targets must be (n, d) floats")
        else:
            _check(np.isin(targets, (0, 1)).all(), task, where, "binary targets must be 0 or 1")
        x, y, weight = to_supervised(task, batch, inputs="ids" if spec.input_depth else "one_hot", target=target)
        rows = len(inputs)
        _check(len(x) == len(y) == len(weight) == rows, task, where, "to_supervised must give one row per example")
        if spec.per_step:
            _check(weight.shape == inputs.shape[:2] and y.shape[:2] == inputs.shape[:2], task, where,
                   "to_supervised must give per-step y and sample_weight as wide as the inputs")
        _check(np.isfinite(np.asarray(x, dtype=np.float64)).all(), task, where, "inputs must be finite")
        _check(isinstance(task.headline_metric(target), str), task, where, "headline_metric must be a metric name")


def _check_card_fields(task: Task, batches: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Every field of every split's examples has a meaning in the task's card (its docs page's Fields table)."""
    for split, batch in batches.items():
        missing = sorted(set(batch) - set(task.card.fields))
        _check(not missing, task, f"split {split!r}", f"fields {missing} have no meaning in card.fields")


def _same_bytes(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> str:
    """'' when two batches hold the same fields with the same bytes, else what differs."""
    if set(a) != set(b):
        return f"fields {sorted(a)} and {sorted(b)}"
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            return f"field {key!r}"
    return ""


def _same_examples(a: list[Mapping[str, np.ndarray]], b: list[Mapping[str, np.ndarray]]) -> str:
    """'' when two lists of examples (padding removed) are equal, else what differs."""
    if len(a) != len(b):
        return f"{len(a)} and {len(b)} examples"
    for index, (x, y) in enumerate(zip(a, b)):
        difference = _same_bytes(x, y)
        if difference:
            return f"example {index}: {difference}"
    return ""


def _check_determinism(task: Task, split: str, batch: Mapping[str, np.ndarray]) -> None:
    where = f"split {split!r}"
    size = len(next(iter(batch.values())))
    difference = _same_bytes(batch, task.generate(split, 0, size, seed=0))
    _check(not difference, task, where, f"two calls with seed 0 differ in {difference}")
    fresh = type(task)(task.config)
    difference = _same_bytes(batch, fresh.generate(split, 0, size, seed=0))
    _check(not difference, task, where, f"a fresh instance differs in {difference} (hidden state or unseeded draws?)")
    difference = _same_bytes(batch, task.sample(size, seed=0, split=split))
    _check(not difference, task, where, f"sample(n) and generate(0, n) differ in {difference}")
    whole = task.examples(batch)
    cuts = sorted({0, size // 3, (2 * size) // 3, size})
    parts = [example for a, b in zip(cuts, cuts[1:]) for example in task.examples(task.generate(split, a, b))]
    difference = _same_examples(parts, whole)
    _check(not difference, task, where, f"generate over slices {cuts} differs from one call: {difference}")
    difference = _same_examples(task.examples(task.generate(split, 1, size)), whole[1:])
    _check(not difference, task, where, f"generate(1, n) differs from generate(0, n)[1:]: {difference}")


def _check_block_boundaries(task: Task, split: str) -> None:
    """Slicing invariance around the first block boundary (and the end of a finite pool)."""
    natural = task.natural_size(split)
    for boundary in sorted({task.block_size} | ({natural} if natural else set())):
        if boundary < 2:
            continue
        where = f"split {split!r}, around example {boundary}"
        start, stop = boundary - 2, boundary + 2
        whole = task.examples(task.generate(split, start, stop))
        parts = [*task.examples(task.generate(split, start, boundary)),
                 *task.examples(task.generate(split, boundary, stop))]
        difference = _same_examples(parts, whole)
        _check(not difference, task, where, f"slices cut at {boundary} differ from one call: {difference}")
        middle = task.examples(task.generate(split, boundary - 1, boundary + 1))
        difference = _same_examples(middle, whole[1:3])
        _check(not difference, task, where, f"generate({boundary - 1}, {boundary + 1}) differs: {difference}")


def _check_seed_is_used(task: Task, batches: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    for split, batch in batches.items():
        size = len(next(iter(batch.values())))
        if _same_bytes(batch, task.generate(split, 0, size, seed=1)):
            return
    _fail(task, "every split", "seeds 0 and 1 give the same examples (is the seed ignored?)")


def _content_keys(task: Task, split: str, batch: Mapping[str, np.ndarray]) -> set[bytes]:
    """The held-out examples' contents (the content field, padding removed)."""
    field = np.asarray(batch[task.content_field])
    strata, content = task.length_strata(split), task.content_lengths(batch)
    lengths = np.asarray(batch["length"]) if "length" in batch else None
    held = np.ones(len(field), dtype=bool)
    if strata is not None and content is not None and not strata.by_length:
        index = np.clip(np.searchsorted(strata.lengths, np.asarray(content)), 0, len(strata.lengths) - 1)
        held = np.asarray(strata.held_out)[index]
    keys = set()
    for row in np.flatnonzero(held):
        value = field[row]
        if lengths is not None and task.content_field in task.sequence_fields:
            value = value[: lengths[row]]
        keys.add(np.ascontiguousarray(value).tobytes() + repr(value.shape).encode())
    return keys


def _check_disjoint_splits(task: Task, n: int) -> None:
    """No held-out content in two splits, among the first ``n`` examples of each (all of a smaller pool)."""
    if task.content_field is None:
        return
    names = list(task.splits)
    keys = {}
    for split in names:
        natural = task.natural_size(split)
        keys[split] = _content_keys(task, split, task.generate(split, 0, n if natural is None else min(n, natural)))
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = len(keys[first] & keys[second])
            _check(not shared, task, f"splits {first!r} and {second!r}",
                   f"{shared} held-out {task.content_field!r} contents occur in both")
    for split in names:
        strata = task.length_strata(split)
        if strata is not None and strata.by_length:
            other_strata = [task.length_strata(other) for other in names if other != split]
            others = set().union(*(set(other.lengths.tolist()) for other in other_strata if other is not None))
            _check(not others & set(strata.lengths.tolist()), task, f"split {split!r}",
                   "a split disjoint by length shares lengths with another split")


def _expect_value_error(task: Task, call: Callable[[], Any], word: str, what: str) -> None:
    try:
        call()
    except ValueError as error:
        _check(word in str(error), task, what, f"the ValueError does not name {word!r}: {error}")
        return
    except Exception as error:  # noqa: BLE001 - any other exception breaks the contract
        _fail(task, what, f"raised {type(error).__name__} instead of ValueError: {error}")
    _fail(task, what, "raised no ValueError")


def _check_bad_requests(task: Task) -> None:
    split = task.splits[0]
    _expect_value_error(task, lambda: task.generate("no_such_split", 0, 1), "split=", "an unknown split")
    _expect_value_error(task, lambda: task.generate(split, 0, 1, seed=-1), "seed=", "seed=-1")
    _expect_value_error(task, lambda: task.generate(split, 0.5, 1), "start=", "start=0.5")
    _expect_value_error(task, lambda: task.generate(split, 0, "1"), "stop=", "stop='1'")
    _expect_value_error(task, lambda: task.generate(split, 2, 1), "start=", "start > stop")
    _expect_value_error(task, lambda: task.sample(-1, split=split), "n=", "sample(-1)")
    _expect_value_error(task, lambda: task.supervised_spec("no_such_target"), "target=", "an unknown target")


def _check_bad_config_values(task: Task) -> None:
    config = task.config
    _expect_value_error(task, lambda: config.replace(no_such_parameter=1), "no_such_parameter", "an unknown field")
    for field in dataclasses.fields(config):
        for value in _BAD_FIELD_VALUES:
            what = f"config {field.name}={short_repr(value)}"
            try:
                config.replace(**{field.name: value})
            except ValueError as error:
                _check(f"{field.name}=" in str(error), task, what, f"the ValueError does not name the field: {error}")
            except Exception as error:  # noqa: BLE001 - any other exception breaks the contract
                _fail(task, what, f"raised {type(error).__name__} instead of ValueError: {error}")
            else:
                _check(value is not _BAD_FIELD_VALUES[0], task, what, "a config field accepted an arbitrary object")
