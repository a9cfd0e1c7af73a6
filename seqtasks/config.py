"""Frozen, validated task configurations.

Every task config is a frozen dataclass that validates itself on construction:
a bad value raises ``ValueError`` naming the parameter, the value and the
allowed range, before any work is done or any file is written.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

MEMORY_BUDGET_BYTES = 8 * 2**30
"""Most memory one request may need (8 GiB): configs and requests estimated above it are refused.

Every size parameter is bounded so that one block of a config's examples fits,
and ``Task.generate`` refuses, before any work, a request whose estimated peak
(the output fields plus the generator's temporaries) exceeds the budget. Set
the environment variable ``SEQTASKS_MEMORY_BUDGET_GIB`` (a number of GiB) to
change it for a machine with more or less memory.
"""
MEMORY_BUDGET_ENV = "SEQTASKS_MEMORY_BUDGET_GIB"
_REPR_LIMIT = 60  # longer values are abbreviated in error messages


def memory_budget_bytes() -> int:
    """The memory budget in bytes: ``SEQTASKS_MEMORY_BUDGET_GIB`` if set, else :data:`MEMORY_BUDGET_BYTES`.

    Raises:
        ValueError: The environment variable is not a positive number.
    """
    text = os.environ.get(MEMORY_BUDGET_ENV)
    if text is None or not text.strip():
        return int(MEMORY_BUDGET_BYTES)
    try:
        gib = float(text)
    except ValueError:
        gib = math.nan
    if not (math.isfinite(gib) and gib > 0):
        raise ValueError(f"invalid {MEMORY_BUDGET_ENV}={text!r}; allowed: a positive number of GiB")
    return int(gib * 2**30)


def format_bytes(count: float) -> str:
    """``count`` bytes as a short human-readable string, e.g. ``"7.28 TiB"``."""
    if count >= 2**100:  # beyond any machine (and perhaps beyond float)
        return f"about 10**{int(math.log10(count))} B"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            break
        value /= 1024
    if unit == "B":
        return f"{value:.0f} B"
    return f"{value:.3g} {unit}" if abs(value) < 1000 else f"{value:,.0f} {unit}"


def short_repr(value: Any) -> str:
    """``repr(value)``, abbreviated when long (huge integers included, which ``repr`` may refuse to print)."""
    if is_integer(value, numpy=False) and value.bit_length() > 3 * _REPR_LIMIT:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"{'-' if value < 0 else ''}<an integer of about {digits} digits>"
    try:
        text = repr(value)
    except ValueError:  # e.g. an int subclass beyond the int-to-str digit limit
        return f"<a {type(value).__name__} too long to print>"
    if len(text) > _REPR_LIMIT:
        return f"{text[:40]}...{text[-12:]} ({len(text)} characters)"
    return text


def is_integer(value: Any, minimum: int | None = None, maximum: int | None = None, *, numpy: bool = True) -> bool:
    """True when ``value`` is an integer (not a bool) in ``[minimum, maximum]``: the test of :func:`check_integer`.

    Args:
        value: The value to test.
        minimum: Smallest allowed value (``None``: no bound).
        maximum: Largest allowed value (``None``: no bound).
        numpy: Accept NumPy integers too.
    """
    kinds = (int, np.integer) if numpy else int
    return (
        not isinstance(value, bool)
        and isinstance(value, kinds)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    )


def is_number(value: Any) -> bool:
    """True when ``value`` is a Python ``int`` or ``float`` (a bool is not a number here)."""
    return not isinstance(value, bool) and isinstance(value, (int, float))


def check_integer(
    name: str,
    value: Any,
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    allowed: str | None = None,
    owner: str = "",
    numpy: bool = True,
) -> int:
    """Returns ``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    The one check of integer arguments and fields in seqtasks and baselines.

    Args:
        name: The parameter, as the message names it.
        value: The value to check.
        minimum: Smallest allowed value (``None``: no bound).
        maximum: Largest allowed value (``None``: no bound).
        allowed: The message's ``allowed:`` text (default: the range, e.g. ``"an integer >= 1"``).
        owner: What the parameter belongs to, e.g. a task name, put before the message.
        numpy: Accept NumPy integers too (``False`` for values kept as given, e.g. config fields).

    Raises:
        ValueError: ``"[OWNER: ]invalid NAME=VALUE; allowed: ALLOWED"``.
    """
    if not is_integer(value, minimum, maximum, numpy=numpy):
        text = _range_text(minimum, maximum, "an integer") if allowed is None else allowed
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}invalid {name}={short_repr(value)}; allowed: {text}")
    return int(value)


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

    added_fields: ClassVar[tuple[str, ...]] = ()
    """Fields added in a MINOR dataset release: left out of the seed salt at their default, so
    the configs published before them keep their bytes."""

    def salt_dict(self) -> dict[str, Any]:
        """The fields that identify the config's random streams (see :attr:`added_fields`)."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return {
            key: value
            for key, value in self.to_dict().items()
            if not (key in self.added_fields and value == defaults[key])
        }

    def replace(self, **changes: Any) -> "TaskConfig":
        """A copy with some fields changed (validated again)."""
        check_known_keys(type(self), changes)
        return dataclasses.replace(self, **changes)

    # Small helpers so that every message has the same shape.
    def _fail(self, parameter: str, value: Any, allowed: str) -> None:
        raise ValueError(f"{self.task_name}: invalid {parameter}={short_repr(value)}; allowed: {allowed}")

    def check_int(self, parameter: str, low: int | None = None, high: int | None = None, *, note: str = "") -> int:
        """Checks that a field is an integer in ``[low, high]`` and returns it.

        Args:
            parameter: The field.
            low: Smallest allowed value (``None``: no bound).
            high: Largest allowed value (``None``: no bound).
            note: Why the bounds are what they are, e.g. the other field a bound
                comes from (added to the message in parentheses).
        """
        value = getattr(self, parameter)
        allowed = _range_text(low, high, "an integer") + (f" ({note})" if note else "")
        check_integer(parameter, value, low, high, allowed=allowed, owner=self.task_name, numpy=False)
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
        if not is_number(value):
            self._fail(parameter, value, allowed)
        try:
            number = float(value)  # an int beyond float's range raises OverflowError
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self._fail(parameter, value, allowed)
        if low is not None and (number < low or (low_open and number == low)):
            self._fail(parameter, value, allowed)
        if high is not None and (number > high or (high_open and number == high)):
            self._fail(parameter, value, allowed)
        return number

    def check_choice(self, parameter: str, choices: Iterable[Any]) -> Any:
        """Checks that a field is one of ``choices`` and returns it."""
        value = getattr(self, parameter)
        choices = list(choices)
        if not any(type(value) is type(choice) and value == choice for choice in choices):
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
