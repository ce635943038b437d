"""Config values validated before any work: one helper instantiates every group and turns Hydra's
instantiation errors into one-line :class:`~al_bert.errors.ConfigError`s naming the group."""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from al_bert.errors import AlBertError, ConfigError, one_line


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


def check_settings(cfg: DictConfig) -> None:
    """The run-level numbers (``seed``, ``limit``) are valid, before any data is read."""
    seed = cfg.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r}: must be a whole number ≥ 0")
    for name in ("train", "eval"):
        value = (cfg.get("limit") or {}).get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"limit.{name}={value!r}: must be null or a whole number ≥ 1")
