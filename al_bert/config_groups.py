"""Config values validated before any work: Hydra's composition errors (an unknown group option or key, an
override it cannot parse) and instantiation errors become one-line :class:`~al_bert.errors.ConfigError`s
naming the key; the run-level values (``seed``, ``limit``, switches) are checked here, every group's
values in its own config object (:mod:`al_bert.validation`)."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from hydra.errors import (
    HydraException,
    InstantiationException,
    MissingConfigException,
    OverrideParseException,
)
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from al_bert.errors import AlBertError, ConfigError, one_line
from al_bert.validation import flag, show, whole_number

SEED_MAX = 2**32 - 1
"""The largest seed numpy's and Lightning's generators accept."""
LIMIT_KEYS = ("train", "eval")
SWITCHES = (
    "resume",
    "allow_environment_change",
    "share_iteration0",
    "deterministic",
    "print_table",
    "verbose",
)
GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def instantiate_group(node: Any, group: str, **context: Any) -> Any:
    """Instantiate one config group (``context``: objects passed to its builder as they are, not merged
    into the config); a bad value fails with one line naming the group, not a traceback."""
    try:
        if not context:
            return instantiate(node, _convert_="all")
        return instantiate(node, _convert_="all", _partial_=True)(**context)
    except InstantiationException as error:
        cause = error.__cause__ or error
        if isinstance(cause, AlBertError):
            raise cause from None
        raise ConfigError(f"{group}: {one_line(cause)}") from None
    except TypeError as error:  # an unknown or missing key, found when the builder is called
        if "argument" not in str(error):
            raise
        raise ConfigError(f"{group}: {one_line(error)}") from None


def settings_object(kind: type, node: DictConfig, group: str) -> Any:
    """A settings dataclass from its config node; an unknown key fails with one line listing the known."""
    values = OmegaConf.to_container(node, resolve=True)
    assert isinstance(values, dict)
    known = [f.name for f in dataclasses.fields(kind)]
    unknown = sorted(str(k) for k in values if k not in known)
    if unknown:
        raise ConfigError(f"{group}.{unknown[0]}: unknown key; {group} has {', '.join(known)}")
    try:
        return kind(**{str(k): v for k, v in values.items()})
    except (TypeError, ValueError) as error:
        message = one_line(error)
        raise ConfigError(message if message.startswith(group) else f"{group}: {message}") from None


def check_settings(cfg: DictConfig) -> None:
    """The run-level values (``seed``, ``limit``, ``threads``, the switches) are valid, before any data
    is read."""
    whole_number("seed", cfg.get("seed"), low=0, high=SEED_MAX)
    limits = cfg.get("limit")
    if limits is not None:
        if not isinstance(limits, Mapping):
            raise ConfigError(
                f"limit={show(limits)}: must hold {' and '.join(LIMIT_KEYS)} (each null or ≥ 1)"
            )
        for key in limits:
            if key not in LIMIT_KEYS:
                raise ConfigError(
                    f"limit.{key}: unknown key; limit has {' and '.join(LIMIT_KEYS)} "
                    "(pool and evaluation sizes, null or a whole number ≥ 1)"
                )
        for name in LIMIT_KEYS:
            whole_number(f"limit.{name}", limits.get(name), low=1, nullable=True)
    whole_number("threads", cfg.get("threads"), low=0, nullable=True)
    for name in SWITCHES:
        if name in cfg:
            flag(name, cfg.get(name))


COMPOSITION_ERRORS = (HydraException, OmegaConfBaseException, ValueError, TypeError)
"""What composing a config raises on a bad override (Hydra raises a ValueError for ``group=3``)."""


@contextlib.contextmanager
def composition_errors() -> Iterator[None]:
    """Compose inside: Hydra's composition errors leave as one-line :class:`ConfigError`s
    (:func:`composition_error`); an :class:`AlBertError` passes unchanged."""
    try:
        yield
    except AlBertError:
        raise
    except COMPOSITION_ERRORS as error:
        raise composition_error(error) from None


def composition_error(error: BaseException) -> ConfigError:
    """Hydra's error while composing the config as one line naming the key and what to do, in place of
    its multi-line report (options one per line, the config search path)."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, name = error.missing_cfg_file.rpartition("/")
        if error.options:
            options = sorted(str(o) for o in error.options)
            return ConfigError(
                f"{group}={name}: no such option{_did_you_mean(name, options)}; "
                f"choose one of {', '.join(options)}"
            )
        return ConfigError(f"{group}={name}: no such config ({_first_line(error)})")
    if isinstance(error, OverrideParseException):
        lines = [
            line.strip()
            for line in error.message.splitlines()
            if line.strip() and not line.startswith(("Error parsing override", "See http"))
        ]
        reason = "; ".join(lines) or "not key=value"
        return ConfigError(
            f"cannot parse the override {error.override!r}: {reason}; write key=value ({GRAMMAR})"
        )
    text = str(error)
    cause = error.__cause__
    unknown = re.match(r"Could not override '([^']+)'", text)
    if unknown:
        key = unknown.group(1)
        append = re.search(r"use (\+\S+)", text)
        added = f"; to add a new key write {append.group(1)}" if append else ""
        return ConfigError(f"{key}: no such key{_known_keys(key, cause)}{added}")
    ambiguous = re.match(r"Ambiguous value for argument '(.+)'", text)
    if ambiguous:
        override = ambiguous.group(1)
        key, _, value = override.partition("=")
        return ConfigError(
            f"{override}: a comma-separated value is a sweep: add -m to run one job per value, "
            f"or write {key}=[{value}] for a list, or quote it for a string"
        )
    parts = [_first_paragraph(text)]
    if isinstance(cause, OmegaConfBaseException):
        parts.append(_first_line(cause))
    return ConfigError(" ".join(" ".join(parts).split()))


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "")


def _first_paragraph(text: str) -> str:
    """Hydra's message without its trailer (config search path, the HYDRA_FULL_ERROR hint)."""
    text = text.split("Config search path:")[0].split(
        "Set the environment variable HYDRA_FULL_ERROR"
    )[0]
    return " ".join(text.split())


def _did_you_mean(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _known_keys(key: str, cause: BaseException | None) -> str:
    """`` in <node>; it has a, b, c`` from the OmegaConf error behind an unknown-key override."""
    parent = getattr(cause, "parent_node", None)
    if not isinstance(parent, DictConfig):
        return ""
    node, _, name = key.rpartition(".")
    keys = sorted(str(k) for k in parent if not str(k).startswith("_"))
    where = f" in {node}" if node else ""
    if not keys:
        return f"{where} ({node or 'the config'} has no keys)"
    return f"{where}{_did_you_mean(name, keys)}; {node or 'the config'} has: {', '.join(keys)}"
