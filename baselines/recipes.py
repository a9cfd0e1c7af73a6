"""The registry of training recipes: stable baselines and the failure zoo.

A recipe is everything needed to train one model on one task: how to build and
compile the model, the input encoding and the training schedule. Stable
baselines live in ``baselines/models.py``; the deliberately naive recipes that
reproduce the seed threads (and their fixes) live in ``baselines/zoo/``.
Both register here; :mod:`baselines.catalog` loads both and looks recipes up,
so ``python -m baselines train --recipe NAME`` runs either. This module knows
neither of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from seqtasks.config import check_integer, is_number, short_repr
from seqtasks.encoding import INPUT_ENCODINGS

_RECIPES: dict[str, "Recipe"] = {}

MODEL_KINDS = ("lstm", "gru", "bilstm", "bigru")
"""The stable recurrent baselines' model kinds, trained on every task (:func:`baselines.models.build_model`)."""
REFERENCE_MODELS = ("rnn", "transformer", "stack_rnn")
"""The reference architectures of Deletang et al. (2023) (:mod:`baselines.architectures`), trained only on
the configs whose settings list them (``"models"`` in ``baselines.models``)."""
ALL_MODEL_KINDS = MODEL_KINDS + REFERENCE_MODELS
"""Every model kind a stable recipe may have (the ``--model`` choices)."""


def _check_choice(owner: str, name: str, value: Any, allowed: str, ok: bool) -> None:
    """Raises ``ValueError("OWNER: invalid NAME=VALUE; allowed: ALLOWED")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{owner}: invalid {name}={short_repr(value)}; allowed: {allowed}")


def _check_optional_integer(owner: str, name: str, value: Any) -> None:
    """Raises ``ValueError`` unless ``value`` is ``None`` or an integer >= 1."""
    if value is not None:
        check_integer(name, value, 1, allowed="an integer >= 1, or None", owner=owner, numpy=False)


@dataclasses.dataclass(frozen=True)
class QuickSettings:
    """How ``--quick`` shrinks a recipe's run (``reproduce --quick``, smoke tests; minutes on 2 CPU cores).

    Attributes:
        epochs: Epochs (``None``: the recipe's).
        train_size: Training examples, per epoch with fresh data (``None``: the recipe's).
        task_overrides: Task config fields to override (``seqtasks.make`` keywords).
        eval_size: Cap on the examples of each evaluation split (``None``: no cap).
        task: Another config of the recipe's task, ``"task/config"`` (``None``: the recipe's).
    """

    epochs: int | None = None
    train_size: int | None = None
    task_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    eval_size: int | None = None
    task: str | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "train_size", "eval_size"):
            _check_optional_integer("quick settings", name, getattr(self, name))
        _check_choice(
            "quick settings", "task_overrides", self.task_overrides, "a mapping of config field names to values",
            isinstance(self.task_overrides, Mapping) and all(isinstance(key, str) for key in self.task_overrides),
        )
        _check_choice(
            "quick settings", "task", self.task, "a 'task/config' name, or None",
            self.task is None or (isinstance(self.task, str) and "/" in self.task),
        )

    def record(self) -> dict[str, Any]:
        """The settings given (not ``None``, overrides not empty), as ``metrics.json`` records them."""
        return {
            field.name: dict(value) if isinstance(value, Mapping) else value
            for field in dataclasses.fields(self)
            if (value := getattr(self, field.name)) is not None and value != {}
        }


LEARNING_RATE_SCHEDULES = ("cosine",)
"""The values of :attr:`Recipe.learning_rate_schedule` besides ``None``."""

_FLAGS = (
    "stateful", "bidirectional", "fresh_data", "length_grouped", "fixed_width", "one_hot_targets", "stop_when_solved",
    "zoo", "naive",
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe, validated on construction (a bad value raises ``ValueError``).

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
        model: The stable model kind (one of :data:`ALL_MODEL_KINDS`) of a stable recipe; ``None``: another model.
        units: The recurrent width its build uses (``None``: the build's own default).
        learning_rate: The learning rate its build uses (``None``: the build's own default).
        learning_rate_schedule: How the learning rate changes over the run: ``None`` keeps the
            build's rate; ``"cosine"`` decays it from that rate to zero over the run's updates
            (``keras.optimizers.schedules.CosineDecay``), so the last updates barely move the weights.
        train_size: Examples per epoch of a ``fresh_data`` recipe (``None``: the preset's train size).
        one_hot_targets: One-hot encode sparse id targets (for a categorical, not sparse categorical, loss).
        eval_every_sequences: Score the test split every this many training sequences and record
            when the headline metric first reaches its ceiling (``sequences_to_solve_test``); ``None``: never.
        stop_when_solved: Stop training once the test split is solved (needs ``eval_every_sequences``).
        select_epoch_by: A validation metric (higher is better): the run keeps, and is scored with, the
            weights of the epoch where it was highest (``keras.callbacks.EarlyStopping`` with
            ``restore_best_weights``, never stopping early); ``None``: the last epoch's.
        quick: What ``--quick`` changes (``None``: nothing).
        zoo: A failure-zoo recipe (``baselines.zoo``).
        naive: A zoo recipe that reproduces a thread's failure rather than its fix.
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
    model: str | None = None
    units: int | None = None
    learning_rate: float | None = None
    learning_rate_schedule: str | None = None
    train_size: int | None = None
    one_hot_targets: bool = False
    eval_every_sequences: int | None = None
    stop_when_solved: bool = False
    select_epoch_by: str | None = None
    quick: QuickSettings | None = None
    zoo: bool = False
    naive: bool = False

    def __post_init__(self) -> None:
        owner = f"recipe {self.name!r}"
        for name in ("batch_size", "epochs"):
            check_integer(name, getattr(self, name), 1, owner=owner, numpy=False)
        for name in ("units", "train_size", "eval_every_sequences"):
            _check_optional_integer(owner, name, getattr(self, name))
        for name in _FLAGS:
            _check_choice(owner, name, getattr(self, name), "True or False", isinstance(getattr(self, name), bool))
        rate = self.learning_rate
        checks = (
            ("name", isinstance(self.name, str) and bool(self.name), "a non-empty string"),
            ("task", isinstance(self.task, str) and "/" in self.task, "a 'task/config' name"),
            ("description", isinstance(self.description, str), "a string"),
            ("build", callable(self.build), "a callable build(task, spec)"),
            ("inputs", self.inputs in INPUT_ENCODINGS, "one of " + ", ".join(INPUT_ENCODINGS)),
            ("target", self.target is None or isinstance(self.target, str), "a target name, or None"),
            (
                "model",
                self.model is None or self.model in ALL_MODEL_KINDS,
                "one of " + ", ".join(ALL_MODEL_KINDS) + " or None",
            ),
            (
                "learning_rate",
                rate is None or (is_number(rate) and rate > 0),
                "a number > 0, or None",
            ),
            (
                "learning_rate_schedule",
                self.learning_rate_schedule is None or self.learning_rate_schedule in LEARNING_RATE_SCHEDULES,
                "one of " + ", ".join(map(repr, LEARNING_RATE_SCHEDULES)) + ", or None",
            ),
            ("quick", self.quick is None or isinstance(self.quick, QuickSettings), "QuickSettings, or None"),
            ("length_grouped", self.fresh_data or not self.length_grouped, "True only with fresh_data=True"),
            (
                "stop_when_solved",
                self.eval_every_sequences is not None or not self.stop_when_solved,
                "True only with eval_every_sequences set",
            ),
            ("naive", self.zoo or not self.naive, "True only with zoo=True"),
            (
                "select_epoch_by",
                self.select_epoch_by is None or (isinstance(self.select_epoch_by, str) and bool(self.select_epoch_by)),
                "a validation metric name, or None",
            ),
        )
        for name, ok, allowed in checks:
            _check_choice(owner, name, getattr(self, name), allowed, ok)

    @property
    def settings(self) -> dict[str, Any]:
        """The settings a run records as ``recipe_settings`` in ``metrics.json``.

        ``reproduce`` and ``zoo`` compare them with a finished run's to decide whether it can be
        reused, so they keep the form of the runs on disk: a zoo recipe records ``zoo``,
        ``one_hot_targets`` (when set) and ``naive``; any other recipe its schedule
        (``batch_size``, ``epochs``, ``units``, ``learning_rate``), the optional settings it
        sets (``learning_rate_schedule`` among them) and its ``model``.
        """
        if self.zoo:
            return {"zoo": True, **({"one_hot_targets": True} if self.one_hot_targets else {}), "naive": self.naive}
        recorded = {
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "units": self.units,
            "learning_rate": self.learning_rate,
            "learning_rate_schedule": self.learning_rate_schedule,
            "eval_every_sequences": self.eval_every_sequences,
            "stop_when_solved": self.stop_when_solved or None,
            "select_epoch_by": self.select_epoch_by,
            "quick": self.quick.record() if self.quick is not None else None,
            "train_size": self.train_size,
            "fresh_data": self.fresh_data or None,
            "length_grouped": self.length_grouped or None,
            "one_hot_targets": self.one_hot_targets or None,
            "model": self.model,
        }
        return {key: value for key, value in recorded.items() if value is not None}


def register_recipe(recipe: Recipe) -> Recipe:
    """Adds a recipe; names are unique."""
    if recipe.name in _RECIPES:
        raise ValueError(f"recipe {recipe.name!r} is registered twice")
    _RECIPES[recipe.name] = recipe
    return recipe


def registered_recipe(name: str) -> Recipe | None:
    """The recipe registered under ``name`` so far, or ``None`` (:func:`baselines.catalog.get_recipe`
    first registers every recipe)."""
    return _RECIPES.get(name)


def registered_names() -> list[str]:
    """The names registered so far, sorted."""
    return sorted(_RECIPES)
