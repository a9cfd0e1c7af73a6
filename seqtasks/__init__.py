"""seqtasks: deterministic synthetic sequence tasks for TensorFlow.

The generators are pure numpy (``seqtasks.make``); the TensorFlow layer
(``seqtasks.tf``: tfds builders, ``tf.data`` pipelines) and the Keras stability kit
(``seqtasks.stability``) live in their own subpackages and are imported only when used.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import warnings
from typing import Any

from seqtasks.config import TaskConfig
from seqtasks.protocols import ModelBatch, Protocol, protocol
from seqtasks.registry import get_preset, list_presets, list_tasks, make, register
from seqtasks.tasks.base import Batch, Preset, Task
from seqtasks.training import TrainingSpec
from seqtasks import metrics  # noqa: E402 - numpy only; `seqtasks.metrics.evaluate` after `import seqtasks`
from seqtasks.scorer import score

__version__ = "0.2.0"

__all__ = [
    "Batch",
    "ModelBatch",
    "Preset",
    "Protocol",
    "Task",
    "TaskConfig",
    "TrainingSpec",
    "get_preset",
    "list_presets",
    "list_tasks",
    "load",
    "make",
    "metrics",
    "protocol",
    "register",
    "score",
    "stream",
]

_LAZY_TF_FUNCTIONS = {"load": "seqtasks.tf.pipelines", "stream": "seqtasks.tf.pipelines"}


def __getattr__(name: str) -> Any:
    """``seqtasks.load`` and ``seqtasks.stream`` import TensorFlow only when first used."""
    if name in _LAZY_TF_FUNCTIONS:
        module = importlib.import_module(_LAZY_TF_FUNCTIONS[name])
        return getattr(module, name)
    raise AttributeError(f"module 'seqtasks' has no attribute {name!r}")


def _register_builders() -> None:
    try:
        importlib.import_module("seqtasks.tf.builders")
    except Exception as error:  # noqa: BLE001 - a broken builder must not break `import tensorflow_datasets`
        warnings.warn(f"seqtasks: could not register the tfds builders: {error!r}", stacklevel=2)


class _RegisterAfterLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow_datasets``, then registers the builders."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        # Resource readers, get_filename, is_package...: importlib.resources needs the real loader's.
        return getattr(self._loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec):  # noqa: ANN201 - importlib protocol
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _register_builders()


class _TfdsImportHook(importlib.abc.MetaPathFinder):
    """Registers the tfds builders right after ``tensorflow_datasets`` finishes importing.

    This keeps ``import seqtasks`` free of TensorFlow while ``import seqtasks;
    import tensorflow_datasets as tfds; tfds.load("reber_grammar/embedded")`` works.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "tensorflow_datasets":
            return None
        sys.meta_path.remove(self)  # one-shot; also keeps the lookup below from finding this hook again
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _RegisterAfterLoader(spec.loader)
                return spec
        return None


if "tensorflow_datasets" in sys.modules:
    _register_builders()
elif not any(isinstance(finder, _TfdsImportHook) for finder in sys.meta_path):
    sys.meta_path.insert(0, _TfdsImportHook())
