"""Random binary labels on Gaussian noise (seed thread 001).

Inputs are i.i.d. Gaussian sequences of shape ``(time_steps, features)``;
labels carry no signal, with exactly ``positive_fraction * label_block``
positives in every consecutive block of ``label_block`` examples (the seed:
5 of every 32). A stable model's training loss settles at the label entropy;
a loss far below it means memorisation, leakage or a numerical failure.
``input_scale`` and ``input_offset`` produce unnormalised inputs on purpose
(seed thread 003).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from seqtasks import _random
from seqtasks.config import TaskConfig
from seqtasks.registry import register
from seqtasks.tasks.base import SupervisedSpec, Preset, Task


@dataclasses.dataclass(frozen=True)
class RandomLabelsConfig(TaskConfig):
    """Configuration of the random labels task.

    Attributes:
        time_steps: Sequence length T.
        features: Features per step F.
        positive_fraction: Fraction of positive labels, in (0, 1); times
            ``label_block`` it must be a whole number.
        label_block: Size of the blocks of consecutive examples that hold an
            exact number of positives.
        input_scale: Standard deviation of the inputs.
        input_offset: Mean of the inputs.
    """

    task_name: ClassVar[str] = "random_labels"
    time_steps: int = 672
    features: int = 16
    positive_fraction: float = 5 / 32
    label_block: int = 32
    input_scale: float = 1.0
    input_offset: float = 0.0

    @property
    def positives_per_block(self) -> int:
        return round(self.positive_fraction * self.label_block)

    def validate(self) -> None:
        self.check_int("time_steps", 1, 100_000)
        self.check_int("features", 1, 100_000)
        self.check_float("positive_fraction", 0.0, 1.0, low_open=True, high_open=True)
        self.check_int("label_block", 2, 1_000_000)
        exact = self.positive_fraction * self.label_block
        if abs(exact - round(exact)) > 1e-9 or round(exact) in (0, self.label_block):
            self._fail(
                "positive_fraction",
                self.positive_fraction,
                f"k / label_block for a whole k in [1, {self.label_block - 1}] (label_block={self.label_block})",
            )
        self.check_float("input_scale", 0.0, 1e6, low_open=True)
        self.check_float("input_offset", -1e6, 1e6)


@register
class RandomLabels(Task[RandomLabelsConfig]):
    """Binary classification of pure noise: nothing to learn but the base rate."""

    name = "random_labels"
    config_class = RandomLabelsConfig
    version = "1.0.0"
    description = (
        "Gaussian noise sequences with random binary labels at an exact base rate. Nothing can be "
        "learned beyond the base rate, so the training loss floor is the label entropy and test AUC is 0.5."
    )
    citation = """@inproceedings{zhang2017understanding,
  title={Understanding deep learning requires rethinking generalization},
  author={Zhang, Chiyuan and Bengio, Samy and Hardt, Moritz and Recht, Benjamin and Vinyals, Oriol},
  booktitle={International Conference on Learning Representations},
  year={2017}
}"""
    presets = (
        Preset(
            "t672_f16",
            RandomLabelsConfig(),
            {"train": 3_200, "validation": 320, "test": 320},
            "Batches of 32 sequences of 672 x 16 Gaussian inputs, 5 of 32 positive: seed thread 001.",
        ),
        Preset(
            "t48_f16",
            RandomLabelsConfig(time_steps=48),
            {"train": 3_200, "validation": 320, "test": 320},
            "The short variant (32 x 48 x 16) tried in seed thread 001.",
        ),
        Preset(
            "t48_f16_unnormalised",
            RandomLabelsConfig(time_steps=48, input_scale=64.0, input_offset=128.0),
            {"train": 3_200, "validation": 320, "test": 320},
            "Unnormalised inputs (mean 128, std 64, as raw 0..255 pixel data) to reproduce seed thread 003.",
        ),
    )
    default_preset = "t672_f16"

    def __init__(self, config: RandomLabelsConfig) -> None:
        super().__init__(config)
        self.block_size = config.label_block

    def supervised_spec(self, target: str | None = None) -> SupervisedSpec:
        self._check_target(target)
        return SupervisedSpec("inputs", None, "label", "binary")

    def _generate_block(self, draws: _random.Draws, split: str, block: int) -> dict[str, np.ndarray]:
        c = self.config
        noise = draws.normal((self.block_size, c.time_steps, c.features))
        order = draws.permutation(self.block_size)
        labels = np.zeros(self.block_size, dtype=np.int32)
        labels[order[: c.positives_per_block]] = 1
        return {"inputs": (noise * c.input_scale + c.input_offset).astype(np.float32), "label": labels}

    def describe(self, example: Mapping[str, Any]) -> str:
        x = np.asarray(example["inputs"])
        return f"inputs {x.shape} mean={x.mean():+.3f} std={x.std():.3f}  label={int(example['label'])}"

    def summary(self, batch: Mapping[str, np.ndarray]) -> str:
        block = self.config.label_block
        labels = self.generate("train", 0, 4 * block, seed=0)["label"].reshape(4, block)
        return f"positives per block of {block}: {labels.sum(axis=1).tolist()}"

    def label_entropy(self) -> float:
        """Entropy of the labels in nats: the binary cross-entropy floor."""
        p = self.config.positive_fraction
        return -(p * math.log(p) + (1 - p) * math.log(1 - p))

    def loss_floor(self, batch: Mapping[str, np.ndarray]) -> float:
        return self.label_entropy()
