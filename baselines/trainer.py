"""The one trainer: :func:`train` trains one recipe on one task (``python -m baselines train ...``).

Writes into ``--out``:

* ``model.keras``: the trained model;
* ``metrics.json``: final metrics on every evaluation split (scored by the
  task's own evaluation, ``seqtasks.metrics.evaluate``), the protocol (dataset
  version, the scored splits with their sizes and fingerprints, the training
  data, the evaluation settings), per-epoch metrics, every update's training
  loss (``per_update_loss``), wall time, sequences seen, NaN-free steps, the
  first non-finite update, the floor detector's verdict, the stability linter's
  findings (``lint``), environment versions and the exact command;
* ``history.csv``: the per-epoch log (Keras ``CSVLogger``, kept across resumes);
* ``curves.png``: learning curves;
* for tasks with a ``test_long`` split, ``length_report.{md,csv,json,png}``:
  the task's length metric per length on ``test`` and ``test_long``, and its
  mean over lengths (the length-generalisation score).

Every run is scored on the published evaluation splits (seed 0, the bytes
``tfds.load`` returns). ``--seed`` sets the initial weights and the batch order;
the training data is the published ``train`` split unless ``--data-seed`` asks
for another one (a data-variance study, recorded in ``metrics.json``) or the
recipe trains on fresh data every update (``seqtasks.stream``).

``--steps N`` trains exactly N updates (the failure zoo's unit: ``python -m
baselines train --recipe reber_softmax_lstm --steps 1000 --locate-nan``).
Recipes that need one batch shape get it: a model built for a fixed batch size
(``keras.Input(batch_shape=...)``, stateful layers) sees only full batches, and a
``fixed_width`` recipe is padded to one width in training and evaluation.

A killed run started again with the same ``--out`` resumes from the last
completed epoch (``keras.callbacks.BackupAndRestore`` in ``out/backup``).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import shlex
import sys
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.callbacks import STATE_FILE, RunState, ValidationMetrics
from baselines.catalog import get_recipe
from baselines.data import PUBLISHED_SEED, SetEpoch, SplitArrays, TrainingBatches, evaluation_arrays, take_split, training_batches
from baselines.recipes import QuickSettings, Recipe
from baselines.records import environment_versions, machine_description, plot_curves, protocol, read_history, write_metrics
from baselines.scoring import PREDICT_BATCH_SIZE, fixed_batch_size, predict, score
from seqtasks import metrics as task_metrics
from seqtasks.config import check_integer, is_number
from seqtasks.registry import get_preset, make
from seqtasks.tasks.base import Preset, Task
from seqtasks.training import best_epoch

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy called ``name`` (``default``: no distribution)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":  # reads TF_CONFIG; without it, a single local worker
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"invalid strategy={name!r}; allowed: one of " + ", ".join(STRATEGIES))


def _check_build_overrides(recipe: Recipe, overrides: Mapping[str, Any]) -> None:
    """Raises ``ValueError`` unless ``recipe.build`` takes every keyword of ``overrides``."""
    try:
        parameters = inspect.signature(recipe.build).parameters
    except (TypeError, ValueError):  # a builtin or other callable without a signature: let the build decide
        return
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
        return
    allowed = [name for name, parameter in parameters.items() if parameter.kind is not inspect.Parameter.VAR_POSITIONAL][2:]
    for key, value in overrides.items():
        if key == "units":
            check_integer("units", value, 1, numpy=False)
        if key == "learning_rate" and not (is_number(value) and value > 0):
            raise ValueError(f"invalid learning_rate={value!r}; allowed: a number > 0")
        if key not in allowed:
            raise ValueError(
                f"invalid {key}={value!r} for recipe {recipe.name!r}; allowed: "
                + (", ".join(allowed) if allowed else "no overrides (its build takes none)")
            )


def resolve_recipe(recipe: str | None, task: str | None, model: str | None) -> Recipe:
    """The recipe named ``recipe``, or the stable recipe of ``model`` on ``task``."""
    if recipe is not None:
        if model is not None:
            raise ValueError(f"invalid model={model!r} together with recipe={recipe!r}; allowed: one of the two")
        return get_recipe(recipe)
    if task is None or model is None:
        raise ValueError("invalid arguments: give --recipe, or both --task and --model")
    from baselines.models import recipe_name

    return get_recipe(recipe_name(task, model))


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The validated arguments of one :func:`train` run, made before any TensorFlow work.

    Attributes:
        recipe: The recipe.
        out_dir: Output directory (``out``; ``None``: ``runs/<recipe>/seed<seed>``). Rerunning
            with the same directory resumes an interrupted run.
        seed: Seed of the initial weights and of the batch order, >= 0 (not of the data).
        epochs: Number of epochs, >= 1 (``None``: the recipe's, or its quick setting, or what ``steps`` needs).
        strategy: ``default``, ``mirrored`` or ``multiworker`` (``tf.distribute``).
        deterministic: Turn on ``tf.config.experimental.enable_op_determinism``.
        quick: Small sizes and few epochs (the recipe's ``quick`` settings).
        epoch_size: Training examples (``train_size``; per epoch with fresh data; ``None``: the protocol's,
            or the quick setting).
        eval_cap: Cap on the examples of each evaluation split (``eval_size``; ``None``: the whole published split).
        overrides: Task config fields changed from the preset's (``task_overrides``, ``seqtasks.make``
            keywords, and the quick settings').
        verbose: Keras progress display: 0 silent, 1 progress bar, 2 one line per epoch.
        locate_nan: Watch every update with :class:`seqtasks.stability.NaNLocator` instead of
            ``TerminateOnNaN``: at the first non-finite loss, weight or layer output, stop,
            restore the last finite weights and write ``nan_report.json``/``.md`` (costs a
            host copy of the weights and a probe forward pass per update).
        floor_check: Watch every update with :class:`seqtasks.stability.FloorDetector` (each
            batch's loss against that batch's own floor; validation loss against the validation
            floor) and record its verdict in ``metrics.json`` (``floor_check``). Off when
            ``build_overrides`` names another ``loss``: the task's floor is that of its standard
            loss (a cosine loss is negative).
        command: The command line recorded in ``metrics.json`` (``None``: ``sys.argv``).
        data_seed: Seed of the training data (0: the published ``train`` split).
            Another value varies the training data for a data-variance study;
            the run records it and its results are not on the published training set.
        fresh_data: Train on fresh examples every update (``seqtasks.stream`` of
            ``data_seed``) rather than epochs over a fixed training set
            (``None``: the recipe's setting).
        steps: Train exactly this many updates, >= 1, instead of ``epochs`` epochs (``None``:
            epochs). With fresh data and no ``train_size`` they are one epoch; otherwise as
            many epochs as needed, the last one stopped after the ``steps``-th update.
        build_overrides: Keywords for the recipe's ``build``, e.g. ``{"units": 8}`` for a
            smaller model (the zoo's and the stable recipes' builds take ``units`` and
            ``learning_rate``); recorded in ``metrics.json``.
        lint: Record :func:`seqtasks.stability.check`'s findings on the model and its first
            training batch in ``metrics.json`` (``lint``).
        task_name: ``"task/config"`` (a bare task name resolved to its default config).
        preset: The published config the run's split sizes come from.
    """

    recipe: Recipe
    task_name: str
    preset: Preset
    overrides: dict[str, Any]
    seed: int
    epochs: int | None
    steps: int | None
    out_dir: Path
    strategy: str
    deterministic: bool
    quick: bool
    epoch_size: int | None
    eval_cap: int | None
    verbose: int
    locate_nan: bool
    floor_check: bool
    data_seed: int
    fresh_data: bool
    build_overrides: dict[str, Any]
    lint: bool
    command: str


def _check_run_arguments(recipe: Recipe, **arguments: Any) -> None:
    """Raises ``ValueError`` naming the first invalid argument of :func:`train`."""
    a = types.SimpleNamespace(**arguments)
    check_integer("seed", a.seed, 0, numpy=False)
    if a.strategy not in STRATEGIES:
        raise ValueError(f"invalid strategy={a.strategy!r}; allowed: one of " + ", ".join(STRATEGIES))
    if a.epochs is not None:
        check_integer("epochs", a.epochs, 1, numpy=False)
    for name, value in (("train_size", a.train_size), ("eval_size", a.eval_size)):
        if value is not None:
            check_integer(name, value, 1, allowed="an integer >= 1 (or None for the default)", numpy=False)
    if a.verbose not in (0, 1, 2):
        raise ValueError(f"invalid verbose={a.verbose!r}; allowed: 0, 1 or 2")
    check_integer("data_seed", a.data_seed, 0, numpy=False)
    if a.fresh_data not in (False, True) or (a.fresh_data and recipe.stateful and recipe.length_grouped):
        raise ValueError(
            f"invalid fresh_data={a.fresh_data!r} for recipe {recipe.name!r}; allowed: False for stateful length-grouped recipes"
        )
    if a.steps is not None:
        check_integer("steps", a.steps, 1, allowed="an integer >= 1 (or None for epochs)", numpy=False)
    if a.steps is not None and a.epochs is not None:
        raise ValueError(f"invalid epochs={a.epochs!r} together with steps={a.steps!r}; allowed: one of the two")
    _check_build_overrides(recipe, a.build_overrides)
    if a.locate_nan not in (False, True) or (a.locate_nan and a.strategy != "default"):
        raise ValueError(f"invalid locate_nan={a.locate_nan!r} with strategy={a.strategy!r}; allowed: True only with 'default'")


def plan_run(recipe: Recipe | str, **arguments: Any) -> RunPlan:
    """Step 1: checks :func:`train`'s arguments and resolves the recipe, the task and the defaults."""
    if isinstance(recipe, str):
        recipe = get_recipe(recipe)
    arguments["fresh_data"] = recipe.fresh_data if arguments["fresh_data"] is None else arguments["fresh_data"]
    arguments["build_overrides"] = dict(arguments["build_overrides"] or {})
    _check_run_arguments(recipe, **{key: value for key, value in arguments.items() if key not in ("task", "out")})
    quick = recipe.quick if arguments["quick"] and recipe.quick is not None else QuickSettings()
    task_name = arguments["task"] or quick.task or recipe.task
    if task_name.partition("/")[0] != recipe.task.partition("/")[0]:
        raise ValueError(
            f"invalid task={task_name!r} for recipe {recipe.name!r}; allowed: a config of {recipe.task.partition('/')[0]}"
        )
    task_class, preset = get_preset(task_name)  # its split sizes count, also for a run that overrides config fields
    seed, steps, out = arguments["seed"], arguments["steps"], arguments["out"]
    command = arguments["command"]
    return RunPlan(
        recipe=recipe,
        task_name=f"{task_class.name}/{preset.name}",  # "char_to_vector" -> "char_to_vector/synthetic_d100"
        preset=preset,
        overrides={**quick.task_overrides, **(arguments["task_overrides"] or {})},
        seed=seed,
        epochs=None if steps is not None else arguments["epochs"] or quick.epochs or recipe.epochs,
        steps=steps,
        out_dir=Path(out) if out is not None else Path("runs") / recipe.name / f"seed{seed}",
        strategy=arguments["strategy"],
        deterministic=arguments["deterministic"],
        quick=arguments["quick"],
        epoch_size=arguments["train_size"] or quick.train_size or recipe.train_size,
        eval_cap=arguments["eval_size"] or quick.eval_size,
        verbose=arguments["verbose"],
        locate_nan=arguments["locate_nan"],
        floor_check=arguments["floor_check"] and not arguments["build_overrides"].get("loss"),
        data_seed=arguments["data_seed"],
        fresh_data=arguments["fresh_data"],
        build_overrides=arguments["build_overrides"],
        lint=arguments["lint"],
        command=command if command is not None else " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
    )


def start_tensorflow(plan: RunPlan) -> tf.distribute.Strategy:
    """Step 2: the distribution strategy (before any other TensorFlow work), the seed and op determinism."""
    import keras
    import tensorflow as tf

    distribution = make_strategy(plan.strategy)  # multi-worker needs this first
    keras.utils.set_random_seed(plan.seed)
    if plan.deterministic:
        tf.config.experimental.enable_op_determinism()
    return distribution


def build_run_model(plan: RunPlan, task: Task, distribution: tf.distribute.Strategy) -> tuple[keras.Model, int | None]:
    """Step 4: the recipe's compiled model and the batch size it is built for (``None``: any).

    A model built for one batch size (``keras.Input(batch_shape=...)``, stateful layers) gets only
    full batches of it, in training, validation and prediction.
    """
    with distribution.scope():
        model = plan.recipe.build(task, task.supervised_spec(plan.recipe.target), **plan.build_overrides)
    fixed_batch = fixed_batch_size(model)
    if fixed_batch is not None and fixed_batch != plan.recipe.batch_size:
        raise ValueError(
            f"invalid batch_size={plan.recipe.batch_size} for recipe {plan.recipe.name!r}; allowed: {fixed_batch}, "
            "the batch size its model is built for"
        )
    return model, fixed_batch


def schedule_learning_rate(plan: RunPlan, model: keras.Model, updates: int) -> None:
    """The recipe's learning-rate schedule over the run's ``updates`` (none: the built rate stays)."""
    import keras

    if plan.recipe.learning_rate_schedule == "cosine":
        # Keyed by the optimizer's update count, which BackupAndRestore restores, so a resumed run
        # continues the same curve; the base is the built rate (a --lr override included).
        model.optimizer.learning_rate = keras.optimizers.schedules.CosineDecay(
            float(model.optimizer.learning_rate), updates
        )


def lint_findings(plan: RunPlan, model: keras.Model, task: Task, data: TrainingBatches) -> list[dict[str, Any]] | None:
    """:func:`seqtasks.stability.check`'s findings on the model and its first training batch (``None``: not asked)."""
    if not plan.lint:
        return None
    from seqtasks.stability import check

    first_x, first_y, _ = data.batches[0]
    return [dataclasses.asdict(finding) for finding in check(model, dataset=(first_x, first_y), task=task)]


@dataclasses.dataclass
class RunCallbacks:
    """Step 5's callbacks and the pieces :func:`record_run` reads after training."""

    callbacks: list[Any]
    run_state: RunState
    locator: Any | None
    floor_detector: Any | None
    fit_validation: SplitArrays | None
    eval_every: int | None
    epoch_selector: Any | None = None


def make_callbacks(
    plan: RunPlan, task: Task, data: TrainingBatches, eval_arrays: Mapping[str, SplitArrays],
    predict_options: Mapping[str, Any], extra: Sequence[Any],
) -> RunCallbacks:
    """Step 5: bookkeeping, validation metrics, the NaN guard, the floor detector, logging and backup, then ``extra``."""
    import keras

    recipe, batches, target = plan.recipe, data.batches, plan.recipe.target
    # Sequences until the test set is solved: checked when the recipe asks and the headline has a ceiling.
    eval_every = recipe.eval_every_sequences
    if task.headline_metric(target) not in task.ceiling(target=target) or "test" not in eval_arrays:
        eval_every = None
    run_state = RunState(
        batches, plan.out_dir / "backup" / STATE_FILE, solve_task=task if eval_every else None,
        solve_arrays=eval_arrays.get("test") if eval_every else None, eval_every=eval_every,
        stop_when_solved=recipe.stop_when_solved, target=target, max_updates=plan.steps, predict_options=predict_options,
    )
    validation = eval_arrays.get("validation")
    # Keras's own validation pass (val_loss, the floor detector's validation check): whole batches only
    # for a model with a fixed batch size.
    fit_validation = validation
    if validation is not None and predict_options["fixed_batch"]:
        whole = len(validation) // predict_options["batch_size"] * predict_options["batch_size"]
        fit_validation = take_split(validation, whole) if whole else None
    callbacks: list[Any] = [SetEpoch(batches), run_state]
    epoch_selector = None
    if validation is not None:
        callbacks.append(ValidationMetrics(task, validation, target, predict_options))
        if recipe.select_epoch_by:  # after ValidationMetrics, which puts val_<metric> in the epoch's logs
            epoch_selector = keras.callbacks.EarlyStopping(
                monitor=f"val_{recipe.select_epoch_by}", mode="max", patience=recipe.epochs + 1,
                restore_best_weights=True,
            )
            callbacks.append(epoch_selector)
    locator = floor_detector = None
    if plan.locate_nan:
        from seqtasks.stability import NaNLocator

        # Within an epoch, update `step` used batch `step % len(batches)` of that epoch's order.
        locator = NaNLocator(probe_inputs=lambda step: batches[step % len(batches)][0], report_path=plan.out_dir / "nan_report")
    if plan.floor_check:
        from seqtasks.stability import FloorDetector

        floor_detector = FloorDetector.for_batches(
            task, batches, target, fit_validation.batch if fit_validation is not None else None,
            validation_batch_size=predict_options["batch_size"],
        )
    callbacks += [
        locator or keras.callbacks.TerminateOnNaN(),
        *([floor_detector] if floor_detector is not None else []),
        keras.callbacks.CSVLogger(str(plan.out_dir / "history.csv"), append=True),
        keras.callbacks.BackupAndRestore(str(plan.out_dir / "backup")),
        *extra,
    ]
    return RunCallbacks(callbacks, run_state, locator, floor_detector, fit_validation, eval_every, epoch_selector)


def fit(plan: RunPlan, model: keras.Model, data: TrainingBatches, run: RunCallbacks, epochs: int, batch_size: int) -> None:
    """Step 6: ``model.fit`` over the batches (a new run starts a new log; a resumed one appends)."""
    history_path = plan.out_dir / "history.csv"
    if not (plan.out_dir / "backup").exists() and history_path.exists():
        history_path.unlink()  # a fresh run, not a resume
    validation = run.fit_validation
    model.fit(
        data.batches,
        epochs=epochs,
        shuffle=False,  # the order comes from the batches object, keyed by (seed, epoch)
        validation_data=(validation.x, validation.y, validation.sample_weight) if validation is not None else None,
        validation_batch_size=batch_size,
        callbacks=run.callbacks,
        verbose=plan.verbose,
    )


@dataclasses.dataclass
class RunScores:
    """Step 7's output: the task's scores per evaluation split and the per-length reports."""

    final: dict[str, Any]
    finite_predictions: dict[str, bool]
    length_reports: list[dict[str, Any]]


def score_run(
    model: keras.Model, task: Task, eval_arrays: Mapping[str, SplitArrays], target: str | None,
    predict_options: Mapping[str, Any],
) -> RunScores:
    """Step 7: the model's outputs on every evaluation split, scored by the task's own evaluation."""
    scores = RunScores({}, {}, [])
    for split, arrays in eval_arrays.items():
        predictions = predict(model, arrays, **predict_options)
        scores.finite_predictions[split] = bool(np.all(np.isfinite(predictions)))
        scores.final[split] = score(task, model, arrays, target, predictions)
        if "test_long" in eval_arrays and split != "validation" and task.content_lengths(arrays.batch) is not None:
            scores.length_reports.append(
                task_metrics.length_report(task, arrays.batch, predictions, split=split, target=target)
            )
    return scores


def train(
    recipe: Recipe | str,
    *,
    task: str | None = None,
    seed: int = 0,
    epochs: int | None = None,
    out: str | os.PathLike | None = None,
    strategy: str = "default",
    deterministic: bool = False,
    quick: bool = False,
    train_size: int | None = None,
    eval_size: int | None = None,
    task_overrides: Mapping[str, Any] | None = None,
    verbose: int = 1,
    locate_nan: bool = False,
    floor_check: bool = True,
    callbacks: Sequence[Any] = (),
    command: str | None = None,
    data_seed: int = PUBLISHED_SEED,
    fresh_data: bool | None = None,
    steps: int | None = None,
    build_overrides: Mapping[str, Any] | None = None,
    lint: bool = True,
) -> dict[str, Any]:
    """Trains one recipe and writes ``model.keras``, ``metrics.json``, ``history.csv`` and ``curves.png``.

    A pipeline of named steps: :func:`plan_run` (arguments), :func:`start_tensorflow`,
    :func:`baselines.data.evaluation_arrays` (the published evaluation splits),
    :func:`build_run_model`, :func:`baselines.data.training_batches` (the protocol's
    training batches), :func:`make_callbacks`, :func:`fit`, :func:`score_run` and
    :func:`record_run` (``metrics.json`` and the files beside it). Every evaluation split is
    the published one (seed 0; capped by ``eval_size``), scored by the task's own evaluation.

    Args:
        recipe: A :class:`Recipe` or its registry name.
        task: ``"task/config"`` to train on (``None``: the recipe's default); the recipe's task family.
        callbacks: Extra Keras callbacks (run after the built-in ones).
        **others: See :class:`RunPlan`'s attributes of the same names.

    Returns:
        The contents of ``metrics.json``.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    plan = plan_run(
        recipe, task=task, seed=seed, epochs=epochs, out=out, strategy=strategy, deterministic=deterministic,
        quick=quick, train_size=train_size, eval_size=eval_size, task_overrides=task_overrides, verbose=verbose,
        locate_nan=locate_nan, floor_check=floor_check, command=command, data_seed=data_seed, fresh_data=fresh_data,
        steps=steps, build_overrides=build_overrides, lint=lint,
    )
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    distribution = start_tensorflow(plan)
    the_task = make(plan.task_name, **plan.overrides)
    evaluation = evaluation_arrays(the_task, plan.preset, plan.recipe, plan.eval_cap)
    model, fixed_batch = build_run_model(plan, the_task, distribution)
    predict_options = {"batch_size": fixed_batch or PREDICT_BATCH_SIZE, "fixed_batch": fixed_batch is not None}
    data = training_batches(
        the_task, plan.preset, plan.recipe, fresh_data=plan.fresh_data, epoch_size=plan.epoch_size,
        steps=plan.steps, seed=plan.seed, data_seed=plan.data_seed, full_batches_only=fixed_batch is not None,
    )
    run_epochs = plan.epochs if plan.steps is None else -(-plan.steps // len(data.batches))
    # RunState stops the last epoch after the `steps`-th update.
    schedule_learning_rate(plan, model, plan.steps if plan.steps is not None else run_epochs * len(data.batches))
    findings = lint_findings(plan, model, the_task, data)
    run = make_callbacks(plan, the_task, data, evaluation.arrays, predict_options, callbacks)
    run.run_state.cpu_started = cpu_started
    fit(plan, model, data, run, run_epochs, predict_options["batch_size"])
    scores = score_run(model, the_task, evaluation.arrays, plan.recipe.target, predict_options)
    result = record_run(
        plan, the_task, data, evaluation, scores, run, distribution, findings, run_epochs, fixed_batch,
        parameters=int(model.count_params()), started=started, cpu_started=cpu_started,
    )
    return write_run(plan, model, the_task, data, scores, result)


def record_run(
    plan: RunPlan, task: Task, data: TrainingBatches, evaluation: Any, scores: RunScores, run: RunCallbacks,
    distribution: Any, findings: list[dict[str, Any]] | None, epochs: int, fixed_batch: int | None, *,
    parameters: int, started: float, cpu_started: float,
) -> dict[str, Any]:
    """Step 8: the contents of ``metrics.json`` (what was trained, on what, how it scored, and at what cost)."""
    recipe, target = plan.recipe, plan.recipe.target
    history = read_history(plan.out_dir / "history.csv")
    state = run.run_state.state
    leak = task.bidirectional_leak(target) if recipe.bidirectional else None
    steps_run = state["nan_free_steps"] + state["nonfinite_steps"]
    result: dict[str, Any] = {
        "recipe": recipe.name,
        "model": recipe.model,
        "task": plan.task_name,
        "task_config": task.config.to_dict(),
        "target": target or task.targets()[0],
        "seed": plan.seed,
        "data_seed": plan.data_seed,
        "fresh_data": plan.fresh_data,
        "valid_baseline": leak is None,
        "invalid_reason": leak,
        "epochs": epochs,
        "epochs_completed": state["epochs_completed"],
        "resumed_from_epoch": run.run_state.resumed_from_epoch,
        "steps": plan.steps,
        "updates": steps_run,
        "batch_size": recipe.batch_size,
        "fixed_batch_size": fixed_batch,
        "fixed_width": data.width,
        "build_overrides": plan.build_overrides,
        "parameters": parameters,
        "train_size": data.train_size,
        "eval_sizes": {split: len(arrays) for split, arrays in evaluation.arrays.items()},
        "strategy": plan.strategy,
        "replicas": int(distribution.num_replicas_in_sync),
        "deterministic": plan.deterministic,
        "quick": plan.quick,
        "recipe_settings": recipe.settings,
        "protocol": protocol(
            plan.task_name, task, plan.overrides, target, evaluation.arrays, evaluation.published_sizes,
            data.train_arrays, plan.fresh_data, plan.data_seed, data.train_size, recipe.batch_size,
        ),
        "headline_metric": task.headline_metric(target),
        "ceiling": {split: task.ceiling(arrays.batch, target) for split, arrays in evaluation.arrays.items()},
        "final": scores.final,
        "finite_predictions": scores.finite_predictions,
        "final_train_loss": history[-1]["loss"] if history else None,
        "per_epoch": history,
        **_training_outcome(run, state, steps_run),
        "lint": findings,
        "wall_time_s": time.perf_counter() - started,
        "cpu_time_s": run.run_state.cpu_seconds_earlier + time.process_time() - cpu_started,
        "cpu_time_counts_resumes": True,
        "train_time_s": state["train_seconds"],
        "versions": environment_versions(),
        "machine": machine_description(),
        "command": plan.command,
    }
    # The lowest mean training loss a correct model reaches (None: unknown), e.g. the label entropy.
    multi_hot = task.supervised_spec(target).target_kind == "multi_hot"
    result["loss_floor"] = None if multi_hot else task.loss_floor(data.first_examples)
    if run.epoch_selector is not None:
        result["selected_epoch"] = selected_epoch(run.epoch_selector, run.run_state.resumed_from_epoch, history,
                                                  plan.recipe.select_epoch_by)
    if run.eval_every:
        result["sequences_to_solve_test"] = state["solved_at_sequences"]
        result["solve_metric"] = task.headline_metric(target)
        result["solve_eval_every_sequences"] = run.eval_every
        result["solve_curve"] = state["solve_curve"]
    return result


def selected_epoch(selector: Any, resumed_from_epoch: int, history: Sequence[Mapping[str, Any]], metric: str) -> dict[str, Any]:
    """Which epoch's weights the run kept and was scored with (1-based), and the best epoch of its whole
    history (they differ only when a resume lost the selector's memory of the epochs before it)."""
    kept = resumed_from_epoch + selector.best_epoch + 1 if selector.best_weights is not None else len(history)
    return {"by": f"validation {metric}", "epoch": kept, "of": len(history), "best_in_history": best_epoch(history, metric)}


def _training_outcome(run: RunCallbacks, state: Mapping[str, Any], steps_run: int) -> dict[str, Any]:
    """Per-update losses, NaN-free steps, the NaN locator's and the floor detector's findings."""
    losses = state["per_update_loss"]
    if run.locator is not None and run.locator.report is not None:
        nan_update = run.locator.report["update"]
    else:
        nan_update = next((update for update, loss in enumerate(losses, 1) if loss is None), None)
    floor_verdict = None
    if run.floor_detector is not None:
        floor_verdict = {
            **run.floor_detector.verdict,
            "below_floor_updates": [event["update"] for event in run.floor_detector.events if event["data"] != "validation"],
        }
    seconds = run.run_state.update_seconds
    return {
        "per_update_loss": losses,
        "median_seconds_per_update": float(np.median(seconds)) if seconds else None,
        "sequences_seen": state["sequences_seen"],
        "nan_free_steps": state["nan_free_steps"],
        "nonfinite_steps": state["nonfinite_steps"],
        "nan_free_fraction": state["nan_free_steps"] / steps_run if steps_run else None,
        "locate_nan": run.locator is not None,
        "nan_update": nan_update,
        "nan_report": run.locator.report if run.locator is not None else None,
        "floor_check": floor_verdict,
    }


def write_run(
    plan: RunPlan, model: keras.Model, task: Task, data: TrainingBatches, scores: RunScores, result: dict[str, Any]
) -> dict[str, Any]:
    """Step 9: the length report, ``model.keras``, ``metrics.json`` and ``curves.png``; returns the record written."""
    recipe, target, out_dir = plan.recipe, plan.recipe.target, plan.out_dir
    if scores.length_reports:
        metric = scores.length_reports[0]["metric"]
        files = task_metrics.write_length_report(
            scores.length_reports,
            out_dir / "length_report",
            train_lengths=data.train_lengths,
            ceiling=task.ceiling(target=target).get(metric),
            title=f"{recipe.name} on {plan.task_name}, seed {plan.seed}: {metric} per length",
        )
        result["length_scores"] = {report["split"]: report["score"] for report in scores.length_reports}
        result["length_report"] = {
            "metric": metric,
            "score": f"mean over lengths of {metric}",
            "train_lengths": list(data.train_lengths) if data.train_lengths else None,
            "files": [file.name for file in files],
            "reports": scores.length_reports,
        }
    if result["invalid_reason"] and plan.verbose:
        print(f"warning: {recipe.name} is no valid baseline on {plan.task_name}: {result['invalid_reason']}", file=sys.stderr)
    model.save(out_dir / "model.keras")
    result = write_metrics(out_dir, result)
    plot_curves(
        result["per_epoch"], out_dir / "curves.png", f"{recipe.name} on {plan.task_name}, seed {plan.seed}",
        result["headline_metric"], result["loss_floor"],
    )
    return result
