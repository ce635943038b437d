"""Run keys: a stable identity of an experiment from its resolved config.

The key ignores where results go, where data is read from and how the job is launched (``hydra``,
``paths``, ``logger``, launcher settings, the dataset's mirror / cache / download settings), so re-running a
sweep from another directory, machine or launcher finds its finished runs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

# Top-level keys that say where or how, not what.
NON_IDENTITY_KEYS = (
    "hydra",
    "paths",
    "logger",
    "launcher",
    "resume",
    "share",
    "share_iteration0",
    "threads",
    "print_table",
    "run",
)
# Dataset keys that say where the (checksum-verified) files come from, not what they hold.
DATA_LOCATION_KEYS = ("mirror", "cache_dir", "download", "base_url")


def identity(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The resolved config without the keys that do not change results."""
    container = (
        OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    )
    assert isinstance(container, dict)
    ident = {str(k): v for k, v in container.items() if k not in NON_IDENTITY_KEYS}
    if isinstance(ident.get("dataset"), dict):
        ident["dataset"] = {
            k: v for k, v in ident["dataset"].items() if k not in DATA_LOCATION_KEYS
        }
    return ident


def run_key(cfg: DictConfig | dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of :func:`identity`."""
    blob = json.dumps(identity(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sub_key(cfg: DictConfig | dict[str, Any], keys: tuple[str, ...]) -> str:
    """Key of a subset of the config, e.g. what iteration 0 depends on."""
    ident = identity(cfg)
    blob = json.dumps({k: ident.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
