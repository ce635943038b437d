"""Run keys: a stable identity of an experiment from its resolved config.

A user's own data files (``dataset=custom``) enter by their content digest. The key ignores where results
go, where the built-in datasets are read from and how the job is launched (``hydra``, ``paths`` — which
holds the data mirror, cache and download settings —, ``logger``, launcher settings), so re-running a sweep
from another directory, machine or launcher finds its finished runs.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
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
    "verbose",
    "run",
    "allow_environment_change",
    "stopping",  # criteria read the records; they never stop or change a run (al_bert/stopping.py)
)
# Dataset keys that said where the (checksum-verified) files come from, in the ``run.json`` of runs made
# before these settings moved to ``paths.data``: still ignored, so those runs keep their keys.
DATA_LOCATION_KEYS = ("mirror", "cache_dir", "download", "base_url")
# What M0 depends on (:mod:`al_bert.tracking.iteration0`); the strategy and weighting are deliberately absent.
ITERATION0_KEYS = (
    "dataset",
    "data_digest",
    "scenario",
    "seed_builder",
    "seed",
    "model",
    "trainer",
    "limit",
)
# Settings added after runs were committed, with the value every earlier run used: that value is left out
# of the key (those runs keep theirs), any other value enters it (a run that computes differently gets a
# key of its own). (group, key) -> the earlier runs' value.
KEYLESS_EARLIER_VALUES: dict[tuple[str, str], Any] = {
    ("trainer", "fused_adamw"): False,
    ("dataset", "multiclass"): False,  # dataset=custom: binary, as every earlier custom run was
}
# Hydra targets that moved after runs were committed: a key holds the path they had then, so renaming a
# module changes no key. New path -> the path in earlier keys.
EARLIER_TARGETS = {"al_bert.data.catalog.build_task": "al_bert.data.tasks.build_task"}
# Dataset keys naming a user's own data file (dataset=custom): keyed by the file's content.
DATA_FILE_KEYS = ("path", "test_path", "dev_path")


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """SHA-256 (16 hex digits) of a file's bytes, computed once per (path, size, mtime)."""
    stat = Path(path).stat()
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def data_digests(cfg: DictConfig | dict[str, Any]) -> dict[str, str]:
    """Content digests of the user data files a config reads (``dataset.path`` etc.), by key.

    The built-in datasets need none: their files are verified against published checksums."""
    container = (
        OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    )
    dataset = container.get("dataset") if isinstance(container, dict) else None
    if not isinstance(dataset, dict):
        return {}
    return {
        key: file_digest(value)
        for key in DATA_FILE_KEYS
        if isinstance(value := dataset.get(key), str) and Path(value).is_file()
    }


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
        digests = data_digests({str(k): v for k, v in container.items()})
        if digests:  # edited data never reuses old results
            ident["data_digest"] = digests
    for group, node in list(ident.items()):
        if isinstance(node, dict) and node.get("_target_") in EARLIER_TARGETS:
            ident[group] = {**node, "_target_": EARLIER_TARGETS[node["_target_"]]}
    for (group, key), earlier in KEYLESS_EARLIER_VALUES.items():
        node = ident.get(group)
        if isinstance(node, dict) and key in node and node[key] == earlier:
            ident[group] = {k: v for k, v in node.items() if k != key}
    return ident


def _digest(ident: dict[str, Any], keys: tuple[str, ...] | None = None) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of an identity (or of its ``keys``)."""
    # Keys a config lacks are left out, so adding an optional key (data_digest) changes no other key.
    part = ident if keys is None else {k: ident[k] for k in keys if k in ident}
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_key(cfg: DictConfig | dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of :func:`identity`."""
    return _digest(identity(cfg))


def sub_key(cfg: DictConfig | dict[str, Any], keys: tuple[str, ...]) -> str:
    """Key of a subset of the config, e.g. what iteration 0 depends on."""
    return _digest(identity(cfg), keys)


@dataclass(frozen=True)
class RunIdentity:
    """Who a run is, computed once per launch from its config (:meth:`of`: one resolve, one digest of
    each user data file) and passed down: nothing below the composition root recomputes it."""

    key: str
    iteration0_key: str
    """Key of what M0 depends on (:data:`ITERATION0_KEYS`): runs sharing it start from one M0 and U."""
    results_dir: Path
    """``<paths.output_root>/runs/<key>``: keyed by the config, not by launch time or directory."""
    data_digest: Mapping[str, str]
    config: Mapping[str, Any]
    """The resolved config without ``hydra`` (what ``run.json`` records)."""

    @classmethod
    def of(cls, cfg: DictConfig | dict[str, Any]) -> RunIdentity:
        resolved = (
            OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
        )
        assert isinstance(resolved, dict)
        config = {str(k): v for k, v in resolved.items() if k != "hydra"}
        ident = identity(config)
        key = _digest(ident)
        return cls(
            key=key,
            iteration0_key=_digest(ident, ITERATION0_KEYS),
            results_dir=Path(str(config["paths"]["output_root"])) / "runs" / key,
            data_digest=dict(ident.get("data_digest", {})),
            config=config,
        )

    def columns(self, strategy: str, weighting: str) -> dict[str, Any]:
        """Identifying columns repeated in every record (tidy tables need no join), the run key and
        the iteration-0 key (runs with the same one started from the same M0 and U) included."""
        config = self.config
        return {
            "run_key": self.key,
            "iteration0_key": self.iteration0_key,
            "experiment": config.get("experiment_name") or "default",
            "dataset": str(config["dataset"]["name"]),
            "scenario": str(config["scenario"]["name"]),
            "strategy": strategy,
            "weighting": weighting,
            "model": str(config["model"]["name_or_path"]),
            "trainer": str(config["trainer"]["name"]),
            "seed": int(config["seed"]),
            "imbalance_ratio": config["dataset"].get("imbalance_ratio"),
            "bins": (config.get("weighting") or {}).get("bins"),
        }


def results_dir(cfg: DictConfig | dict[str, Any]) -> Path:
    """Where a run's results live (:attr:`RunIdentity.results_dir`)."""
    return RunIdentity.of(cfg).results_dir
