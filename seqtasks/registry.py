"""The one registry of tasks and their published configurations (presets).

Tasks register themselves with :func:`register` in their own module under
``seqtasks/tasks/``; every module there is imported automatically, so adding a
task or a preset touches one file (plus its test).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from seqtasks.config import check_known_keys
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
    if name not in _TASKS:
        raise ValueError(f"invalid task name {name!r}; allowed: one of " + ", ".join(sorted(_TASKS)))
    return _TASKS[name]


def list_presets(name: str) -> list[str]:
    """Preset (config) names of a task, default first."""
    cls = task_class(name)
    names = [p.name for p in cls.presets]
    return [cls.default_preset] + [n for n in names if n != cls.default_preset]


def get_preset(name: str) -> tuple[type[Task], Preset]:
    """Resolves ``"task"`` or ``"task/preset"`` to its task class and preset."""
    task_name, _, preset_name = name.partition("/")
    cls = task_class(task_name)
    preset_name = preset_name or cls.default_preset
    for preset in cls.presets:
        if preset.name == preset_name:
            return cls, preset
    raise ValueError(
        f"{task_name}: invalid config name {preset_name!r}; allowed: one of " + ", ".join(list_presets(task_name))
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
    return cls(config)
