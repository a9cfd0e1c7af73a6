"""seqtasks: deterministic synthetic sequence tasks for TensorFlow.

The generators are pure numpy (``seqtasks.make``); TensorFlow, tfds and Keras
layers live in separate modules and are imported only when used.
"""

from seqtasks.config import TaskConfig
from seqtasks.registry import get_preset, list_presets, list_tasks, make, register
from seqtasks.tasks.base import Batch, Preset, Task

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "Preset",
    "Task",
    "TaskConfig",
    "get_preset",
    "list_presets",
    "list_tasks",
    "make",
    "register",
]
