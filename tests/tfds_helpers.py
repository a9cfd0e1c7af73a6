"""Builder configs of the tasks' test presets (``Task.test_preset``) for the tfds tests, and one more
reversal layout (never registered as presets)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from seqtasks.registry import task_class
from seqtasks.tasks.base import Preset
from seqtasks.tasks.sequence_reversal import ReversalConfig, SequenceReversal
from seqtasks.tf.builders import SeqtasksBuilderConfig, builder_config_for


def builder_config_of(task_name: str) -> SeqtasksBuilderConfig:
    """The tfds builder config of a task's test preset."""
    cls = task_class(task_name)
    return builder_config_for(cls.test_preset, cls.version)


TINY_REBER = builder_config_of("reber_grammar")
TINY_REVERSAL = builder_config_of("sequence_reversal")
TINY_CHAR_TO_VECTOR = builder_config_of("char_to_vector")
TINY_RANDOM_LABELS = builder_config_of("random_labels")
TINY_READ_THEN_WRITE = builder_config_for(
    Preset(
        "tiny_read_then_write",
        ReversalConfig(vocab_size=2, min_length=1, max_length=8, long_max_length=12, layout="read_then_write",
                       test_long_lengths="each"),
        {"train": 40, "validation": 10, "test": 10, "test_long": 8},
        "Tiny read-then-write reversal config for tests (the layout of reverse_string).",
    ),
    SequenceReversal.version,
)


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
