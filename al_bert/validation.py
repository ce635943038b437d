"""Typed validators for config values: each checks one key's value and, when it is not allowed, raises a
one-line :class:`~al_bert.errors.ConfigError` naming the key, the value and what is allowed, e.g.
``trainer.max_epochs=2.5: must be a whole number ≥ 1``.

Config objects call them in their constructor (``__post_init__``), next to the key they check, so a bad
value fails when its group is instantiated, before any data is read. Values arrive as Hydra/OmegaConf
leave them (``int``, ``float``, ``str``, ``bool``, ``None``, lists); a validator never converts a wrong
type (``"5"``, ``2.5`` for a whole number, ``1`` for a flag): it refuses it. Each returns the value it
accepted, typed. This module is a leaf: it imports only :mod:`al_bert.errors`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any, Literal, TypeVar, overload

from al_bert.errors import ConfigError

__all__ = ["choice", "finite_number", "flag", "show", "text", "whole_number", "whole_numbers"]

T = TypeVar("T")
_SHOWN = 80  # a value longer than this is cut in messages (a message stays one readable line)


def show(value: Any) -> str:
    """``value`` as a user writes it in an override (``null``, ``true``, ``'abc'``, ``2.5``), one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    shown = repr(value)  # repr escapes newlines: always one line
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 1] + "…"


def _fail(key: str, value: Any, allowed: str, nullable: bool) -> ConfigError:
    return ConfigError(f"{key}={show(value)}: must be {'null or ' if nullable else ''}{allowed}")


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def _bounds(
    low: float | None, high: float | None, open_low: bool = False, open_high: bool = False
) -> str:
    if low is not None and high is not None:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        return f" in {left}{_number(low)}, {_number(high)}{right}"
    if low is not None:
        return f" {'>' if open_low else '≥'} {_number(low)}"
    if high is not None:
        return f" {'<' if open_high else '≤'} {_number(high)}"
    return ""


def _is_whole(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


@overload
def whole_number(
    key: str,
    value: Any,
    *,
    low: int | None = ...,
    high: int | None = ...,
    nullable: Literal[False] = ...,
) -> int: ...
@overload
def whole_number(
    key: str, value: Any, *, low: int | None = ..., high: int | None = ..., nullable: bool
) -> int | None: ...
def whole_number(
    key: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    nullable: bool = False,
) -> int | None:
    """``value`` is an integer (not a bool, not ``2.0``) in ``[low, high]``; ``None`` when ``nullable``."""
    if value is None and nullable:
        return None
    ok = _is_whole(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        raise _fail(key, value, f"a whole number{_bounds(low, high)}", nullable)
    return int(value)


def whole_numbers(
    key: str, value: Any, *, low: int | None = None, nullable: bool = False
) -> list[int] | None:
    """``value`` is a non-empty list of whole numbers ≥ ``low``; ``None`` when ``nullable``."""
    if value is None and nullable:
        return None
    ok = (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(_is_whole(v) and (low is None or v >= low) for v in value)
    )
    if not ok:
        raise _fail(key, value, f"a list of whole numbers{_bounds(low, None)}", nullable)
    return [int(v) for v in value]


@overload
def finite_number(
    key: str,
    value: Any,
    *,
    low: float | None = ...,
    high: float | None = ...,
    open_low: bool = ...,
    open_high: bool = ...,
    nullable: Literal[False] = ...,
) -> float: ...
@overload
def finite_number(
    key: str,
    value: Any,
    *,
    low: float | None = ...,
    high: float | None = ...,
    open_low: bool = ...,
    open_high: bool = ...,
    nullable: bool,
) -> float | None: ...
def finite_number(
    key: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
    nullable: bool = False,
) -> float | None:
    """``value`` is a finite real number (an int is fine, a bool is not) within the bounds; ``open_low``
    / ``open_high`` exclude the bound itself; ``None`` when ``nullable``."""
    if value is None and nullable:
        return None
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value < high if open_high else value <= high
    if not ok:
        allowed = f"a finite number{_bounds(low, high, open_low, open_high)}"
        raise _fail(key, value, allowed, nullable)
    return float(value)


def flag(key: str, value: Any) -> bool:
    """``value`` is a real boolean (``true``/``false``; not ``1``, not ``'yes'``)."""
    if not isinstance(value, bool):
        raise _fail(key, value, "true or false", False)
    return value


@overload
def choice(key: str, value: Any, options: Iterable[T], *, nullable: Literal[False] = ...) -> T: ...
@overload
def choice(key: str, value: Any, options: Iterable[T], *, nullable: bool) -> T | None: ...
def choice(key: str, value: Any, options: Iterable[T], *, nullable: bool = False) -> T | None:
    """``value`` is one of ``options``, of the same type (``['auto']``, ``3`` or ``true`` is not ``'auto'``,
    ``'3'``, ``1``); ``None`` when ``nullable``."""
    allowed = tuple(options)
    if value is None and nullable:
        return None
    for option in allowed:
        if type(option) is type(value) and option == value:
            return option
    names = ", ".join(o if isinstance(o, str) else show(o) for o in allowed)
    raise _fail(key, value, f"one of {names}", nullable)


@overload
def text(key: str, value: Any, *, nullable: Literal[False] = ..., empty: bool = ...) -> str: ...
@overload
def text(key: str, value: Any, *, nullable: bool, empty: bool = ...) -> str | None: ...
def text(key: str, value: Any, *, nullable: bool = False, empty: bool = False) -> str | None:
    """``value`` is a string (non-empty unless ``empty``); ``None`` when ``nullable``."""
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not (empty or value.strip()):
        raise _fail(key, value, "a string" if empty else "a non-empty string", nullable)
    return value
