"""Tiny, unpublished builder configs used by the tfds tests (never registered as presets)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from seqtasks.tasks.base import Preset
from seqtasks.tasks.char_to_vector import CharToVector, CharToVectorConfig
from seqtasks.tasks.random_labels import RandomLabels, RandomLabelsConfig
from seqtasks.tasks.reber_grammar import ReberConfig
from seqtasks.tasks.sequence_reversal import ReversalConfig
from seqtasks.tfds_builders import builder_config_for

SMALL_SIZES = {"train": 40, "validation": 10, "test": 10, "test_long": 10}

TINY_REBER = builder_config_for(
    Preset("tiny_embedded", ReberConfig(variant="embedded", max_length=20, long_max_length=30), SMALL_SIZES,
           "Tiny embedded Reber config for tests."),
    "1.0.0",
)
TINY_REVERSAL = builder_config_for(
    Preset("tiny_len1to8", ReversalConfig(vocab_size=3, min_length=1, max_length=8, long_max_length=16), SMALL_SIZES,
           "Tiny variable-length reversal config for tests."),
    "1.0.0",
)
TINY_READ_THEN_WRITE = builder_config_for(
    Preset(
        "tiny_read_then_write",
        ReversalConfig(vocab_size=2, min_length=1, max_length=8, long_max_length=12, layout="read_then_write",
                       test_long_lengths="each"),
        {"train": 40, "validation": 10, "test": 10, "test_long": 8},
        "Tiny read-then-write reversal config for tests (the layout of reverse_string).",
    ),
    "2.0.0",
)
TINY_CHAR_TO_VECTOR_CONFIG = CharToVectorConfig(dim=8, vocab_size=300, max_word_length=8, long_max_word_length=12)
TINY_CHAR_TO_VECTOR = builder_config_for(
    Preset("tiny_d8", TINY_CHAR_TO_VECTOR_CONFIG, dict.fromkeys(SMALL_SIZES), "Tiny char_to_vector config for tests."),
    "1.0.0",
)
TINY_CHAR_TO_VECTOR_SIZES = {
    split: CharToVector(TINY_CHAR_TO_VECTOR_CONFIG).natural_size(split) for split in SMALL_SIZES
}
TINY_RANDOM_LABELS = builder_config_for(
    Preset("tiny_t6_f3", RandomLabelsConfig(time_steps=6, features=3), {"train": 64, "validation": 32, "test": 32},
           "Tiny random_labels config for tests."),
    "1.0.0",
)
assert RandomLabels(TINY_RANDOM_LABELS.preset.config).splits == ("train", "validation", "test")


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, keyed by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
