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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from baselines.callbacks import STATE_FILE, RunState, ValidationMetrics
from baselines.data import (
    PUBLISHED_SEED,
    EpochShuffledBatches,
    SetEpoch,
    SplitArrays,
    StreamBatches,
    length_range,
    pad_split,
    split_arrays,
    take_split,
    training_width,
)
from baselines.recipes import QuickSettings, Recipe, get_recipe
from baselines.records import (
    environment_versions,
    machine_description,
    plot_curves,
    protocol,
    read_history,
    write_metrics,
)
from baselines.scoring import PREDICT_BATCH_SIZE, fixed_batch_size, predict, score
from seqtasks import metrics as task_metrics
from seqtasks.config import check_integer, is_number
from seqtasks.registry import get_preset, make

if TYPE_CHECKING:
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

    Every evaluation split is the published one (seed 0; capped by ``eval_size``),
    scored by the task's own evaluation.

    Args:
        recipe: A :class:`Recipe` or its registry name.
        task: ``"task/config"`` to train on (``None``: the recipe's default);
            must be the recipe's task family.
        seed: Seed of the initial weights and of the batch order, >= 0 (not of the data).
        epochs: Number of epochs, >= 1 (``None``: the recipe's, or its quick setting, or what ``steps`` needs).
        out: Output directory (``None``: ``runs/<recipe>/seed<seed>``). Rerunning
            with the same directory resumes an interrupted run.
        strategy: ``default``, ``mirrored`` or ``multiworker`` (``tf.distribute``).
        deterministic: Turn on ``tf.config.experimental.enable_op_determinism``.
        quick: Small sizes and few epochs (the recipe's ``quick`` settings).
        train_size: Training examples (per epoch with fresh data; ``None``: the preset's, or the quick setting).
        eval_size: Cap on the examples of each evaluation split.
        task_overrides: Task config fields to override (``seqtasks.make`` keywords).
        verbose: Keras progress display: 0 silent, 1 progress bar, 2 one line per epoch.
        locate_nan: Watch every update with :class:`seqtasks.stability.NaNLocator` instead of
            ``TerminateOnNaN``: at the first non-finite loss, weight or layer output, stop,
            restore the last finite weights and write ``nan_report.json``/``.md`` (costs a
            host copy of the weights and a probe forward pass per update).
        floor_check: Watch every update with :class:`seqtasks.stability.FloorDetector` (each
            batch's loss against that batch's own floor; validation loss against the validation
            floor) and record its verdict in ``metrics.json`` (``floor_check``).
        callbacks: Extra Keras callbacks (run after the built-in ones).
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

    Returns:
        The contents of ``metrics.json``.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    if isinstance(recipe, str):
        recipe = get_recipe(recipe)
    check_integer("seed", seed, 0, numpy=False)
    if strategy not in STRATEGIES:
        raise ValueError(f"invalid strategy={strategy!r}; allowed: one of " + ", ".join(STRATEGIES))
    if epochs is not None:
        check_integer("epochs", epochs, 1, numpy=False)
    for name, value in (("train_size", train_size), ("eval_size", eval_size)):
        if value is not None:
            check_integer(name, value, 1, allowed="an integer >= 1 (or None for the default)", numpy=False)
    if verbose not in (0, 1, 2):
        raise ValueError(f"invalid verbose={verbose!r}; allowed: 0, 1 or 2")
    check_integer("data_seed", data_seed, 0, numpy=False)
    fresh_data = recipe.fresh_data if fresh_data is None else fresh_data
    if fresh_data not in (False, True) or (fresh_data and recipe.stateful and recipe.length_grouped):
        raise ValueError(
            f"invalid fresh_data={fresh_data!r} for recipe {recipe.name!r}; allowed: False for stateful length-grouped recipes"
        )
    if steps is not None:
        check_integer("steps", steps, 1, allowed="an integer >= 1 (or None for epochs)", numpy=False)
    if steps is not None and epochs is not None:
        raise ValueError(f"invalid epochs={epochs!r} together with steps={steps!r}; allowed: one of the two")
    build_overrides = dict(build_overrides or {})
    _check_build_overrides(recipe, build_overrides)
    if locate_nan not in (False, True) or (locate_nan and strategy != "default"):
        raise ValueError(f"invalid locate_nan={locate_nan!r} with strategy={strategy!r}; allowed: True only with 'default'")
    quick_settings = recipe.quick if quick and recipe.quick is not None else QuickSettings()
    task_name = task or quick_settings.task or recipe.task
    if task_name.partition("/")[0] != recipe.task.partition("/")[0]:
        raise ValueError(
            f"invalid task={task_name!r} for recipe {recipe.name!r}; allowed: a config of {recipe.task.partition('/')[0]}"
        )
    task_cls, preset = get_preset(task_name)  # its split sizes count, also for a run that overrides config fields
    task_name = f"{task_cls.name}/{preset.name}"  # "char_to_vector" -> "char_to_vector/synthetic_d100" in the record
    overrides = {**quick_settings.task_overrides, **(task_overrides or {})}
    if steps is None:
        epochs = epochs or quick_settings.epochs or recipe.epochs
    out_dir = Path(out) if out is not None else Path("runs") / recipe.name / f"seed{seed}"
    out_dir.mkdir(parents=True, exist_ok=True)

    import keras
    import tensorflow as tf

    distribution = make_strategy(strategy)  # before any other TensorFlow work (multi-worker needs this)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()

    the_task = make(task_name, **overrides)
    target = recipe.target
    spec = the_task.supervised_spec(target)
    epoch_size = train_size or quick_settings.train_size or recipe.train_size
    if steps is not None and fresh_data and not epoch_size:
        epoch_size = steps * recipe.batch_size  # the updates asked for, in one epoch
    train_size = epoch_size or the_task.published_size("train", preset)
    eval_cap = eval_size or quick_settings.eval_size
    one_hot_targets = recipe.one_hot_targets
    # A fixed-width recipe pads every batch to the longest training sequence the task allows (the posts' padding).
    width = training_width(the_task) if recipe.fixed_width else None
    # Evaluation: always the published splits (seed 0), the first `eval_size` examples when capped.
    eval_arrays: dict[str, SplitArrays] = {}
    published_sizes: dict[str, int] = {}
    for split in the_task.splits:
        if split == "train":
            continue
        published_sizes[split] = the_task.published_size(split, preset)
        size = min(published_sizes[split], eval_cap) if eval_cap else published_sizes[split]
        eval_arrays[split] = split_arrays(
            the_task, split, size, PUBLISHED_SEED, recipe.inputs, target, one_hot_targets
        )
        if width is not None:
            eval_arrays[split] = pad_split(eval_arrays[split], width, spec.per_step)

    with distribution.scope():
        model = recipe.build(the_task, spec, **build_overrides)
    # A model built for one batch size (keras.Input(batch_shape=...), stateful layers) gets only full
    # batches of it, in training, validation and prediction.
    fixed_batch = fixed_batch_size(model)
    if fixed_batch is not None and fixed_batch != recipe.batch_size:
        raise ValueError(
            f"invalid batch_size={recipe.batch_size} for recipe {recipe.name!r}; allowed: {fixed_batch}, "
            "the batch size its model is built for"
        )
    predict_options = {"batch_size": fixed_batch or PREDICT_BATCH_SIZE, "fixed_batch": fixed_batch is not None}
    train_arrays: SplitArrays | None = None
    if fresh_data:
        batches = StreamBatches(
            the_task, recipe.batch_size, -(-train_size // recipe.batch_size), data_seed, recipe.inputs, target,
            one_hot_targets, length_grouped=recipe.length_grouped, width=width,
        )
        first_training_batch = batches.examples(0)
        train_lengths = length_range(the_task, batches.chunk_examples(0))  # the first updates' lengths
    else:
        train_arrays = split_arrays(the_task, "train", train_size, data_seed, recipe.inputs, target, one_hot_targets)
        if width is not None:
            train_arrays = pad_split(train_arrays, width, spec.per_step)
        full_batches_only = recipe.stateful or fixed_batch is not None
        batches = EpochShuffledBatches(
            train_arrays, recipe.batch_size, seed, shuffle=not recipe.stateful, drop_remainder=full_batches_only
        )
        if len(batches) == 0:
            raise ValueError(
                f"invalid train_size={train_size}; allowed: at least one full batch ({recipe.batch_size}) for {recipe.name!r}"
            )
        first_training_batch = train_arrays.batch
        train_lengths = length_range(the_task, train_arrays.batch)
    if steps is not None:
        epochs = -(-steps // len(batches))  # RunState stops the last epoch after the `steps`-th update
    if recipe.learning_rate_schedule == "cosine":
        # Keyed by the optimizer's update count, which BackupAndRestore restores, so a resumed run
        # continues the same curve; the base is the built rate (a --lr override included).
        model.optimizer.learning_rate = keras.optimizers.schedules.CosineDecay(
            float(model.optimizer.learning_rate), steps if steps is not None else epochs * len(batches)
        )
    findings = None
    if lint:
        from seqtasks.stability import check

        first_x, first_y, _ = batches[0]
        findings = [dataclasses.asdict(finding) for finding in check(model, dataset=(first_x, first_y), task=the_task)]
    headline = the_task.headline_metric(target)
    # Sequences until the test set is solved: checked when the recipe asks and the headline has a ceiling.
    eval_every = recipe.eval_every_sequences
    if headline not in the_task.ceiling(target=target) or "test" not in eval_arrays:
        eval_every = None
    run_state = RunState(
        batches,
        out_dir / "backup" / STATE_FILE,
        solve_task=the_task if eval_every else None,
        solve_arrays=eval_arrays.get("test") if eval_every else None,
        eval_every=eval_every,
        stop_when_solved=recipe.stop_when_solved,
        target=target,
        max_updates=steps,
        predict_options=predict_options,
    )
    run_state.cpu_started = cpu_started
    validation = eval_arrays.get("validation")
    # Keras's own validation pass (val_loss, and the floor detector's validation check): whole batches only
    # for a model with a fixed batch size.
    fit_validation = validation
    if validation is not None and fixed_batch is not None:
        whole = len(validation) // fixed_batch * fixed_batch
        fit_validation = take_split(validation, whole) if whole else None
    # The callbacks, in order: bookkeeping, validation metrics, the NaN guard, logging and backup,
    # then the caller's. Add a built-in callback by appending to `callback_list` here.
    callback_list = [SetEpoch(batches), run_state]
    if validation is not None:
        callback_list.append(ValidationMetrics(the_task, validation, target, predict_options))
    locator = None
    if locate_nan:
        from seqtasks.stability import NaNLocator

        # Within an epoch, update `step` used batch `step % len(batches)` of that epoch's order.
        locator = NaNLocator(probe_inputs=lambda step: batches[step % len(batches)][0], report_path=out_dir / "nan_report")
    floor_detector = None
    if floor_check:
        from seqtasks.stability import FloorDetector

        floor_detector = FloorDetector.for_batches(
            the_task, batches, target, fit_validation.batch if fit_validation is not None else None,
            validation_batch_size=predict_options["batch_size"],
        )
    callback_list += [
        locator or keras.callbacks.TerminateOnNaN(),
        *([floor_detector] if floor_detector is not None else []),
        keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True),
        keras.callbacks.BackupAndRestore(str(out_dir / "backup")),
        *callbacks,
    ]
    history_path = out_dir / "history.csv"
    if not (out_dir / "backup").exists() and history_path.exists():
        history_path.unlink()  # a fresh run, not a resume: start a new log
    model.fit(
        batches,
        epochs=epochs,
        shuffle=False,  # the order comes from the batches object, keyed by (seed, epoch)
        validation_data=(
            (fit_validation.x, fit_validation.y, fit_validation.sample_weight) if fit_validation is not None else None
        ),
        validation_batch_size=predict_options["batch_size"],
        callbacks=callback_list,
        verbose=verbose,
    )

    final: dict[str, Any] = {}
    length_reports: list[dict[str, Any]] = []
    finite_predictions: dict[str, bool] = {}
    for split, arrays in eval_arrays.items():
        predictions = predict(model, arrays, **predict_options)
        finite_predictions[split] = bool(np.all(np.isfinite(predictions)))
        final[split] = score(the_task, model, arrays, target, predictions)
        if "test_long" in eval_arrays and split != "validation" and the_task.content_lengths(arrays.batch) is not None:
            length_reports.append(task_metrics.length_report(the_task, arrays.batch, predictions, split=split, target=target))
    history = read_history(history_path)
    state = run_state.state
    leak = the_task.bidirectional_leak(target) if recipe.bidirectional else None
    steps_run = state["nan_free_steps"] + state["nonfinite_steps"]
    losses = state["per_update_loss"]
    if locator is not None and locator.report is not None:
        nan_update = locator.report["update"]
    else:
        nan_update = next((update for update, loss in enumerate(losses, 1) if loss is None), None)
    floor_verdict = None
    if floor_detector is not None:
        floor_verdict = {
            **floor_detector.verdict,
            "below_floor_updates": [event["update"] for event in floor_detector.events if event["data"] != "validation"],
        }
    result: dict[str, Any] = {
        "recipe": recipe.name,
        "model": recipe.model,
        "task": task_name,
        "task_config": the_task.config.to_dict(),
        "target": target or the_task.targets()[0],
        "seed": seed,
        "data_seed": data_seed,
        "fresh_data": fresh_data,
        "valid_baseline": leak is None,
        "invalid_reason": leak,
        "epochs": epochs,
        "epochs_completed": state["epochs_completed"],
        "resumed_from_epoch": run_state.resumed_from_epoch,
        "steps": steps,
        "updates": steps_run,
        "batch_size": recipe.batch_size,
        "fixed_batch_size": fixed_batch,
        "fixed_width": width,
        "build_overrides": build_overrides,
        "parameters": int(model.count_params()),
        "train_size": train_size if fresh_data else len(train_arrays),
        "eval_sizes": {split: len(arrays) for split, arrays in eval_arrays.items()},
        "strategy": strategy,
        "replicas": int(distribution.num_replicas_in_sync),
        "deterministic": deterministic,
        "quick": quick,
        "recipe_settings": recipe.settings,
        "protocol": protocol(
            task_name, the_task, overrides, target, eval_arrays, published_sizes, train_arrays, fresh_data,
            data_seed, train_size, recipe.batch_size,
        ),
        "headline_metric": headline,
        "ceiling": {split: the_task.ceiling(arrays.batch, target) for split, arrays in eval_arrays.items()},
        "final": final,
        "finite_predictions": finite_predictions,
        "final_train_loss": history[-1]["loss"] if history else None,
        "per_epoch": history,
        "per_update_loss": losses,
        "median_seconds_per_update": float(np.median(run_state.update_seconds)) if run_state.update_seconds else None,
        "sequences_seen": state["sequences_seen"],
        "nan_free_steps": state["nan_free_steps"],
        "nonfinite_steps": state["nonfinite_steps"],
        "nan_free_fraction": state["nan_free_steps"] / steps_run if steps_run else None,
        "locate_nan": locate_nan,
        "nan_update": nan_update,
        "nan_report": locator.report if locator is not None else None,
        "floor_check": floor_verdict,
        "lint": findings,
        "wall_time_s": time.perf_counter() - started,
        "cpu_time_s": run_state.cpu_seconds_earlier + time.process_time() - cpu_started,
        "cpu_time_counts_resumes": True,
        "train_time_s": state["train_seconds"],
        "versions": environment_versions(),
        "machine": machine_description(),
        "command": command if command is not None else " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
    }
    # The lowest mean training loss a correct model reaches (None: unknown), e.g. the label entropy.
    result["loss_floor"] = the_task.loss_floor(first_training_batch) if spec.target_kind != "multi_hot" else None
    if eval_every:
        result["sequences_to_solve_test"] = state["solved_at_sequences"]
        result["solve_metric"] = headline
        result["solve_eval_every_sequences"] = eval_every
        result["solve_curve"] = state["solve_curve"]
    if length_reports:
        metric = length_reports[0]["metric"]
        files = task_metrics.write_length_report(
            length_reports,
            out_dir / "length_report",
            train_lengths=train_lengths,
            ceiling=the_task.ceiling(target=target).get(metric),
            title=f"{recipe.name} on {task_name}, seed {seed}: {metric} per length",
        )
        result["length_scores"] = {report["split"]: report["score"] for report in length_reports}
        result["length_report"] = {
            "metric": metric,
            "score": f"mean over lengths of {metric}",
            "train_lengths": list(train_lengths) if train_lengths else None,
            "files": [file.name for file in files],
            "reports": length_reports,
        }
    if leak and verbose:
        print(f"warning: {recipe.name} is no valid baseline on {task_name}: {leak}", file=sys.stderr)
    model.save(out_dir / "model.keras")
    result = write_metrics(out_dir, result)
    plot_curves(
        history, out_dir / "curves.png", f"{recipe.name} on {task_name}, seed {seed}", headline, result["loss_floor"]
    )
    return result
