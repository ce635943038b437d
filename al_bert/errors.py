"""Every error a user can act on, under one base class (small-text style exception hierarchy).

The composition root (:mod:`al_bert.app`) catches :class:`AlBertError` once: the run is marked failed with
the message, and the console shows that one line instead of a traceback. Each message says what to
change. This module is a leaf: it imports nothing from al_bert, so every package can raise its errors.
"""

from __future__ import annotations


class AlBertError(Exception):
    """A run cannot proceed for a reason the user can act on; the message says what to change."""


class ConfigError(AlBertError, ValueError):
    """A config value is invalid: the message names the key, the value and what is allowed."""


class RunFailure(AlBertError, RuntimeError):
    """A run stopped; raised by :func:`al_bert.app.run_experiment` with the one-line reason."""


class DataError(AlBertError, ValueError):
    """Data that cannot be obtained or used as configured (missing file, bad checksum, no positives)."""


class SeedError(AlBertError, ValueError):
    """The initial labelled set of this scenario cannot be built for this task."""


class BudgetError(AlBertError, ValueError):
    """The run asks for more examples than the pool holds."""


class NonFiniteLossError(AlBertError, RuntimeError):
    """Training produced a NaN or infinite loss."""


class MissingMaskedLMHeadError(AlBertError, RuntimeError):
    """The backbone checkpoint has no (complete) pretrained masked-LM head (ALPS needs one)."""


class StoreError(AlBertError, RuntimeError):
    """A run's results folder cannot be used as it is."""


class RunBusyError(StoreError):
    """Another live process holds this run (its lock); nothing was written."""


class CorruptStoreError(StoreError):
    """A store file cannot be read; the message names it and what to do."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (what the console and ``run.json`` show)."""
    return " ".join(str(error).split())
