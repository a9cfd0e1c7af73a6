"""Fingerprints: SHA-256 of the canonical bytes of generated data.

The canonical bytes of a batch do not depend on padding: for every field in
sorted order, the field name, dtype and per-example shape, then the
little-endian bytes of each example with sequence fields cut to their length.
``seqtasks/fingerprints.json`` records the fingerprint of the first
:data:`FINGERPRINT_EXAMPLES` examples of every preset and split for seed 0; a
test regenerates them, so any change to published data is caught.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from seqtasks.registry import get_preset, list_presets, list_tasks
from seqtasks.tasks.base import Task

FINGERPRINT_EXAMPLES = 512
FINGERPRINT_FILE = Path(__file__).with_name("fingerprints.json")


def canonical_bytes(task: Task, batch: Mapping[str, np.ndarray]) -> bytes:
    """Padding-independent canonical serialisation of a batch."""
    chunks: list[bytes] = []
    lengths = batch.get("length")
    for key in sorted(batch):
        value = np.asarray(batch[key])
        if value.dtype.kind == "U":
            data = "\x00".join(value.tolist()).encode("utf-8")
            chunks.append(f"{key}|str|{len(value)}|".encode() + data)
            continue
        little = value.astype(value.dtype.newbyteorder("<"), copy=False)
        if key in task.sequence_fields and lengths is not None:
            mask = np.arange(value.shape[1])[None, :] < np.asarray(lengths)[:, None]
            flat = np.ascontiguousarray(little[mask])
            shape = value.shape[2:]
        else:
            flat = np.ascontiguousarray(little)
            shape = value.shape[1:]
        chunks.append(f"{key}|{little.dtype.str}|{shape}|".encode() + flat.tobytes())
    return b"\n".join(chunks)


def fingerprint(task: Task, batch: Mapping[str, np.ndarray]) -> str:
    """Hex SHA-256 of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(task, batch)).hexdigest()


def compute_all(examples: int = FINGERPRINT_EXAMPLES) -> dict[str, dict[str, str]]:
    """Fingerprints of every preset and split (seed 0, first ``examples`` examples)."""
    out: dict[str, dict[str, str]] = {}
    for task_name in list_tasks():
        for preset_name in list_presets(task_name):
            cls, preset = get_preset(f"{task_name}/{preset_name}")
            task = cls(preset.config)
            out[f"{task_name}/{preset_name}"] = {
                split: fingerprint(task, task.generate(split, 0, examples, seed=0)) for split in task.splits
            }
    return out


def recorded() -> dict[str, dict[str, str]]:
    """The fingerprints recorded in the repository."""
    return json.loads(FINGERPRINT_FILE.read_text())


def write(path: Path = FINGERPRINT_FILE) -> None:
    """Recomputes and writes the fingerprint file (only when a data change is intended)."""
    path.write_text(json.dumps(compute_all(), indent=2, sort_keys=True) + "\n")
