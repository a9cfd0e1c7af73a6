"""Frozen, validated task configurations.

Every task config is a frozen dataclass that validates itself on construction:
a bad value raises ``ValueError`` naming the parameter, the value and the
allowed range, before any work is done or any file is written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Base class of task configurations; subclasses implement :meth:`validate`."""

    task_name: ClassVar[str] = "task"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raises ``ValueError`` if a field is out of range."""

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain, JSON-serialisable dict."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TaskConfig":
        """A copy with some fields changed (validated again)."""
        check_known_keys(type(self), changes)
        return dataclasses.replace(self, **changes)

    # Small helpers so that every message has the same shape.
    def _fail(self, parameter: str, value: Any, allowed: str) -> None:
        raise ValueError(f"{self.task_name}: invalid {parameter}={value!r}; allowed: {allowed}")

    def check_int(self, parameter: str, low: int | None = None, high: int | None = None) -> int:
        """Checks that a field is an integer in ``[low, high]`` and returns it."""
        value = getattr(self, parameter)
        allowed = _range_text(low, high, "an integer")
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(parameter, value, allowed)
        if (low is not None and value < low) or (high is not None and value > high):
            self._fail(parameter, value, allowed)
        return value

    def check_float(
        self,
        parameter: str,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        """Checks that a field is a finite number in the given interval and returns it."""
        value = getattr(self, parameter)
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        allowed = f"a finite number in {left}{lo}, {hi}{right}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self._fail(parameter, value, allowed)
        if low is not None and (value < low or (low_open and value == low)):
            self._fail(parameter, value, allowed)
        if high is not None and (value > high or (high_open and value == high)):
            self._fail(parameter, value, allowed)
        return float(value)

    def check_choice(self, parameter: str, choices: Iterable[Any]) -> Any:
        """Checks that a field is one of ``choices`` and returns it."""
        value = getattr(self, parameter)
        choices = list(choices)
        if value not in choices:
            self._fail(parameter, value, "one of " + ", ".join(repr(c) for c in choices))
        return value


def _range_text(low: int | None, high: int | None, kind: str) -> str:
    if low is not None and high is not None:
        return f"{kind} in [{low}, {high}]"
    if low is not None:
        return f"{kind} >= {low}"
    if high is not None:
        return f"{kind} <= {high}"
    return kind


def check_known_keys(config_class: type[TaskConfig], params: dict[str, Any]) -> None:
    """Raises ``ValueError`` for keys that are not fields of ``config_class``."""
    known = [f.name for f in dataclasses.fields(config_class)]
    for key in params:
        if key not in known:
            raise ValueError(
                f"{config_class.task_name}: unknown parameter {key!r}; allowed: " + ", ".join(known)
            )
