"""What a run found, where the user looks: the findings block printed at the end of ``python -m baselines train``.

:func:`findings_block` formats a run's result (the contents of its ``metrics.json``):
the NaN locator's finding (update, layer, origin, report path), the floor
detector's verdict, and the linter's errors and warnings with their fixes.
:class:`TimeEstimate` times the first updates of a run and prints how long the
whole run will take before it is under way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import keras

SHOWN_SEVERITIES = ("error", "warning")
"""Linter findings printed with their fixes; ``info`` findings are counted only."""


def nan_lines(result: Mapping[str, Any]) -> list[str]:
    """The NaN finding: the locator's report, or the first non-finite update when only ``TerminateOnNaN`` watched."""
    report = result.get("nan_report")
    if report:
        output = report.get("first_non_finite_output") or {}
        where = f", layer '{output['layer']}' ({output['layer_class']})" if output else ""
        lines = [f"NaN: first non-finite value at update {report['update']} (epoch {report['epoch'] + 1}){where}; "
                 f"origin: {report['origin']}"]
        restored = report.get("restored_weights_from_update")
        if restored is not None:
            lines.append(
                "     training stopped; the weights and the final metrics are those after update "
                f"{restored}" + (" (the initial weights)" if restored == 0 else "")
            )
        files = report.get("report_files") or []
        if files:
            lines.append(f"     report: {files[-1]}")
        return lines
    if result.get("nan_update") is not None:
        return [f"NaN: the training loss was non-finite at update {result['nan_update']}; "
                "rerun with --locate-nan to find the layer and the cause"]
    return []


def floor_lines(result: Mapping[str, Any]) -> list[str]:
    """The floor detector's verdict in one or two lines (nothing when it did not run)."""
    verdict = result.get("floor_check")
    if not verdict:
        return []
    kind = verdict["verdict"]
    if kind == "ok":
        return [f"floor: ok, no training loss below what a correct model can reach ({verdict['updates']} updates checked)"]
    if kind == "error":
        return [
            f"floor: ERROR, training loss below the task's loss floor on data not trained on, first at update "
            f"{verdict['first_error_update']} ({verdict['error_flags']} flags)",
            "     fix: the loss is masking NaNs or measuring the wrong thing (e.g. a sigmoid output with "
            "categorical cross-entropy), or the targets leak into the inputs",
        ]
    gap = verdict.get("train_validation_gap")
    return [
        f"floor: memorisation, training loss below the floor on training data seen before, first at update "
        f"{verdict['first_memorisation_update']}" + (f"; validation minus training loss {gap:.3g}" if gap is not None else ""),
        "     fix: more (or fresh) training data, regularisation, or stop earlier; a generalisation gap, not a NaN",
    ]


def lint_lines(result: Mapping[str, Any]) -> list[str]:
    """The linter's errors and warnings, each with its fix; infos counted."""
    findings = result.get("lint") or []
    lines = []
    for finding in findings:
        if finding["severity"] in SHOWN_SEVERITIES:
            where = f" [{finding['layer']}]" if finding.get("layer") else ""
            lines.append(f"lint: {finding['severity'].upper()} {finding['rule_id']}{where}: {finding['message']}")
            lines.append(f"     fix: {finding['fix']}")
    infos = sum(finding["severity"] not in SHOWN_SEVERITIES for finding in findings)
    if infos:
        lines.append(f"lint: {infos} info finding{'s' if infos > 1 else ''} (speed only; see metrics.json lint)")
    return lines


def findings_block(result: Mapping[str, Any]) -> str:
    """The findings block of a run, from its result dict (``metrics.json``).

    Returns:
        A few lines under a ``findings`` heading; ``nothing to report`` when the run
        had no NaN, an ``ok`` floor verdict (or none) and no linter errors or warnings.
    """
    lines = [*nan_lines(result), *floor_lines(result), *lint_lines(result)]
    problems = (
        bool(nan_lines(result))
        or (result.get("floor_check") or {}).get("verdict", "ok") != "ok"
        or any(finding["severity"] in SHOWN_SEVERITIES for finding in result.get("lint") or [])
    )
    heading = f"findings ({result.get('recipe')} on {result.get('task')}, seed {result.get('seed')}):"
    if not problems:
        lines.append("nothing to report")
    return "\n".join([heading, *("  " + line for line in lines)]) + "\n"


def print_findings(result: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """Prints :func:`findings_block` to ``stream`` (default: stdout)."""
    print(findings_block(result), end="", file=stream or sys.stdout, flush=True)


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"6 min 40 s"`` or ``"2 h 05 min"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class TimeEstimate(keras.callbacks.Callback):
    """Prints the run's estimated training time once its first updates are timed.

    The first update (graph tracing) is left out; the median of the next ``timed``
    updates (the upper one of an even count) times the run's updates (``max_updates``,
    else epochs x steps per epoch) gives the estimate, printed when it is at least
    ``min_seconds``. Evaluation between epochs comes on top.

    Args:
        max_updates: The run's update budget when it stops early (``--steps``); ``None``: all epochs.
        timed: Updates timed after the first, >= 1.
        min_seconds: Print only estimates of at least this long.
        stream: Where to print (default: stderr).
    """

    def __init__(self, max_updates: int | None = None, timed: int = 2, min_seconds: float = 30.0, stream: TextIO | None = None) -> None:
        super().__init__()
        self.max_updates, self.timed, self.min_seconds = max_updates, timed, min_seconds
        self.stream = stream
        self.estimate: float | None = None
        self._seconds: list[float] = []
        self._started: float | None = None
        self._updates = 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._updates += 1
        if self.estimate is not None or self._started is None or self._updates == 1:
            return
        self._seconds.append(time.perf_counter() - self._started)
        if len(self._seconds) < self.timed:
            return
        total = self.total_updates()
        if total is None:
            return
        per_update = sorted(self._seconds)[len(self._seconds) // 2]
        self.estimate = per_update * total
        if self.estimate >= self.min_seconds:
            print(
                f"estimated training time: about {format_duration(self.estimate)} ({total} updates at "
                f"{per_update:.3g} s each, timed on updates 2 to {self.timed + 1}; evaluation comes on top)",
                file=self.stream or sys.stderr,
                flush=True,
            )

    def total_updates(self) -> int | None:
        """The run's updates: ``max_updates``, else Keras's epochs x steps per epoch (``None`` when unknown)."""
        steps, epochs = (self.params or {}).get("steps"), (self.params or {}).get("epochs")
        planned = steps * epochs if steps and epochs else None
        if self.max_updates is not None:
            return min(self.max_updates, planned) if planned else self.max_updates
        return planned

