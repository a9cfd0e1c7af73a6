"""The registry of training recipes: stable baselines and the failure zoo.

A recipe is everything needed to train one model on one task: how to build and
compile the model, the input encoding and the training schedule. Stable
baselines live in ``baselines/models.py``; the deliberately naive recipes that
reproduce the seed threads (and their fixes) live in ``baselines/zoo.py``.
Both register here, so ``python -m baselines train --recipe NAME`` runs either.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from typing import Any

_RECIPES: dict[str, "Recipe"] = {}
_ALIASES: dict[str, str] = {}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe.

    Attributes:
        name: Registry name, e.g. ``"stable_lstm_reber_grammar"`` or ``"noise_relu_lstm"``.
        task: Default dataset, ``"task/config"``.
        description: One sentence; for naive recipes, the failure it reproduces.
        build: ``build(task, spec) -> keras.Model`` returning a compiled model,
            where ``task`` is a ``seqtasks.Task`` and ``spec`` its
            ``SupervisedSpec`` for ``target``.
        batch_size: Training batch size.
        epochs: Default number of epochs.
        inputs: ``"one_hot"`` or ``"ids"`` (see ``seqtasks.encoding``).
        target: The task's supervised view (``None``: its default).
        stateful: True when the model keeps state across batches (needs a fixed batch size, no shuffling).
        bidirectional: True when the model reads each sequence in both directions; on a view
            where that leaks the target (``Task.bidirectional_leak``) its runs are no baseline
            and ``reproduce`` leaves them out of the tables, with the reason.
        fresh_data: Train on fresh examples every update (``seqtasks.stream``) instead of
            epochs over the published ``train`` split; scoring stays on the published splits.
        length_grouped: With ``fresh_data``, batch examples of (nearly) one length, as the
            training loop of Deletang et al. (2023) does (:class:`baselines.data.StreamBatches`).
        fixed_width: Pad every batch, for training and evaluation, to the longest training
            sequence the task allows (``baselines.data.training_width``), as the forum posts'
            fixed-length padding did, and predict at that width instead of each batch's own
            (a model without a mask reads the padding).
        extra: Free-form settings (for example a learning rate) recorded in ``metrics.json``.
    """

    name: str
    task: str
    description: str
    build: Callable[..., Any]
    batch_size: int = 32
    epochs: int = 10
    inputs: str = "one_hot"
    target: str | None = None
    stateful: bool = False
    bidirectional: bool = False
    fresh_data: bool = False
    length_grouped: bool = False
    fixed_width: bool = False
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def register_recipe(recipe: Recipe) -> Recipe:
    """Adds a recipe; names are unique."""
    if recipe.name in _RECIPES or recipe.name in _ALIASES:
        raise ValueError(f"recipe {recipe.name!r} is registered twice")
    _RECIPES[recipe.name] = recipe
    return recipe


def register_alias(old: str, new: str) -> None:
    """Keeps the retired recipe name ``old`` working as a deprecated alias of ``new``."""
    if old in _RECIPES or _ALIASES.get(old, new) != new:
        raise ValueError(f"invalid alias {old!r}; allowed: a name that is no recipe and no alias of another recipe")
    _ALIASES[old] = new


def aliases() -> dict[str, str]:
    """The deprecated recipe names and the names that replace them."""
    _load_all()
    return dict(_ALIASES)


def get_recipe(name: str) -> Recipe:
    """The recipe registered under ``name``; a deprecated alias warns (``DeprecationWarning``) and resolves."""
    _load_all()
    if name in _ALIASES:
        warnings.warn(
            f"recipe {name!r} is deprecated; use {_ALIASES[name]!r} (old zoo names are listed in docs/stability.md)",
            DeprecationWarning,
            stacklevel=2,
        )
        name = _ALIASES[name]
    if name not in _RECIPES:
        raise ValueError(f"invalid recipe {name!r}; allowed: one of " + ", ".join(sorted(_RECIPES)))
    return _RECIPES[name]


def list_recipes() -> list[str]:
    """All recipe names, sorted (deprecated aliases left out)."""
    _load_all()
    return sorted(_RECIPES)


def _load_all() -> None:
    import importlib

    for module in ("baselines.models", "baselines.zoo"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:  # a module not written yet
            if error.name != module:
                raise
    # Stable recipes for every registered task, also for tasks registered after the first call.
    importlib.import_module("baselines.models").register_stable_recipes()
