"""The one registry of tasks and their published configurations (presets).

Tasks register themselves with :func:`register` in their own module under
``seqtasks/tasks/``; every module there is imported automatically, so adding a
task or a preset touches one file (plus its test).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any

from seqtasks.config import MEMORY_BUDGET_ENV, check_known_keys, format_bytes, memory_budget_bytes, short_repr
from seqtasks.tasks.base import Preset, Task

_TASKS: dict[str, type[Task]] = {}
_loaded = False


def register(task_class: type[Task]) -> type[Task]:
    """Class decorator that adds a task to the registry."""
    if task_class.name in _TASKS and _TASKS[task_class.name] is not task_class:
        raise ValueError(f"task {task_class.name!r} is registered twice")
    names = [preset.name for preset in task_class.presets]
    if len(set(names)) != len(names) or task_class.default_preset not in names:
        raise ValueError(f"task {task_class.name!r}: preset names must be unique and include the default")
    _TASKS[task_class.name] = task_class
    return task_class


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import seqtasks.tasks as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True


def list_tasks() -> list[str]:
    """Names of all registered tasks, sorted."""
    _load_all()
    return sorted(_TASKS)


def task_class(name: str) -> type[Task]:
    """The task class registered under ``name``."""
    _load_all()
    if not isinstance(name, str) or name not in _TASKS:
        raise ValueError(f"invalid task name {short_repr(name)}; allowed: one of " + ", ".join(sorted(_TASKS)))
    return _TASKS[name]


def list_presets(name: str) -> list[str]:
    """Preset (config) names of a task, default first."""
    cls = task_class(name)
    names = [p.name for p in cls.presets]
    return [cls.default_preset] + [n for n in names if n != cls.default_preset]


def get_preset(name: str) -> tuple[type[Task], Preset]:
    """Resolves ``"task"`` or ``"task/preset"`` to its task class and preset."""
    if not isinstance(name, str):
        task_class(name)  # raises: names are strings
    task_name, _, preset_name = name.partition("/")
    cls = task_class(task_name)
    preset_name = preset_name or cls.default_preset
    for preset in cls.presets:
        if preset.name == preset_name:
            return cls, preset
    raise ValueError(
        f"{task_name}: invalid config name {short_repr(preset_name)}; allowed: one of "
        + ", ".join(list_presets(task_name))
    )


def make(name: str, **params: Any) -> Task:
    """Creates a task from its name, an optional preset and parameter overrides.

    Args:
        name: ``"task"`` (its default preset) or ``"task/preset"``.
        **params: Config fields to override; unknown keys raise ``ValueError``.

    Returns:
        The task with a frozen, validated config.

    Example:
        >>> task = make("sequence_reversal/len5_vocab10", vocab_size=20)
        >>> batch = task.sample(4, seed=0)
    """
    cls, preset = get_preset(name)
    check_known_keys(cls.config_class, params)
    config = preset.config.replace(**params) if params else preset.config
    task = cls(config)
    if params:
        check_servable(task)
    return task


def check_servable(task: Task) -> None:
    """Raises ``ValueError`` if even one example of some split would exceed the memory budget.

    Generators work a block of examples at a time, so a config whose block does
    not fit could serve no request at all; it is refused when it is made.
    """
    budget = memory_budget_bytes()
    for split in task.splits:
        needed = task.estimate_bytes(split, 1)
        if needed > budget:
            names = task.memory_parameters(split) or tuple(f.name for f in dataclasses.fields(task.config))
            values = ", ".join(f"{key}={short_repr(getattr(task.config, key))}" for key in names)
            raise ValueError(
                f"{task.name}: invalid {values}: one example of split {split!r} needs about {format_bytes(needed)} "
                f"(examples are generated {task.block_size} at a time), over the memory budget of "
                f"{format_bytes(budget)}; allowed: smaller {' or '.join(names)} (or raise {MEMORY_BUDGET_ENV})"
            )
