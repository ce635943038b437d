"""Shared iteration 0: one M0 per (dataset, scenario, seed builder, seed, model, trainer).

Paper 1 §3.2: "all AL strategies start with the same initial seed". Every run of a sweep that differs
only in strategy or weighting therefore trains the same M0 on the same L0; we train it once, keep its
weights, its test metrics and its pool inference, and every other run reuses them. A file lock makes
this safe under parallel launchers: a second job with the same key waits for the first, then reads.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from al_bert.outputs import PoolOutputs

POOL_FIELDS = ("probs", "embeddings", "mc_probs", "expected_grad_norms", "labelled_embeddings")

# What M0 depends on (config keys); the strategy and weighting are deliberately absent.
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


def rows_digest(rows: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes())
    h.update(np.asarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


class Iteration0Cache:
    """Files of one shared iteration 0 under ``root/<key>/``."""

    def __init__(self, root: str | Path, key: str) -> None:
        self.dir = Path(root) / key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(self.dir / ".lock"))

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self.lock:
            yield

    def _check_seed(self, digest: str) -> None:
        marker = self.dir / "seed.txt"
        if marker.exists() and marker.read_text().strip() != digest:
            raise RuntimeError(
                f"shared iteration-0 cache {self.dir} was built from another seed set; delete it"
            )
        if not marker.exists():
            marker.write_text(digest + "\n")

    def load_model(self, digest: str) -> dict[str, torch.Tensor] | None:
        self._check_seed(digest)
        path = self.dir / "model.pt"
        return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None

    def save_model(self, state: dict[str, torch.Tensor]) -> None:
        tmp = self.dir / f".model.{os.getpid()}.tmp"
        torch.save({k: v.detach().cpu() for k, v in state.items()}, tmp)
        os.replace(tmp, self.dir / "model.pt")

    def load_metrics(self) -> dict[str, float] | None:
        path = self.dir / "metrics.json"
        return json.loads(path.read_text()) if path.exists() else None

    def save_metrics(self, metrics: dict[str, float]) -> None:
        tmp = self.dir / f".metrics.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(metrics))
        os.replace(tmp, self.dir / "metrics.json")

    def load_pool(self, fields: set[str]) -> dict[str, np.ndarray]:
        """The cached pool outputs among ``fields`` (those computed by an earlier run)."""
        out = {}
        for name in fields:
            path = self.dir / f"pool_{name}.npy"
            if path.exists():
                out[name] = np.load(path)
        return out

    def save_pool(self, outputs: PoolOutputs) -> None:
        for name in POOL_FIELDS:
            value = getattr(outputs, name)
            path = self.dir / f"pool_{name}.npy"
            if value is not None and not path.exists():
                tmp = self.dir / f".pool_{name}.{os.getpid()}.tmp.npy"
                np.save(tmp, value)
                os.replace(tmp, path)
