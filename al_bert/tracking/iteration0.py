"""Shared iteration 0: one M0 per (dataset, scenario, seed builder, seed, model, trainer).

Paper 1 §3.2: "all AL strategies start with the same initial seed". Every run of a sweep that differs
only in strategy or weighting therefore trains the same M0 on the same L0. :class:`SharedIteration0` wraps
a learner so that M0 is trained once: its weights, its test probabilities and its pool outputs are kept in
:class:`Iteration0Cache` and every other run reuses them. A file lock makes this safe under parallel
launchers: a second job with the same key waits for the first, then reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from al_bert.learner import CheckpointLearner
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.tracking.store import remove_stale_temporaries

# One line per M0 fit in a cache folder (who trained it); reuses add nothing.
TRAINED_LOG = "trained.jsonl"
# Pool outputs of M0 that are stored (they depend on M0 and U only, never on the strategy).
POOL_FIELDS = ("probs", "embeddings", "mc_probs", "expected_grad_norms", "labelled_embeddings")


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
            remove_stale_temporaries(self.dir)  # left by a run killed while saving
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
        """Store M0, and note who trained it in ``trained.jsonl`` (one line per fit: under the lock
        every other run reuses it, so a shared M0 has exactly one line)."""
        tmp = self.dir / f".model.{os.getpid()}.tmp"
        torch.save({k: v.detach().cpu() for k, v in state.items()}, tmp)
        os.replace(tmp, self.dir / "model.pt")
        trainer = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "slurm_job": os.environ.get("SLURM_JOB_ID"),
            "time": time.time(),
        }
        with open(self.dir / TRAINED_LOG, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(trainer) + "\n")

    def load_test_probs(self) -> np.ndarray | None:
        path = self.dir / "test_probs.npy"
        return np.load(path) if path.exists() else None

    def save_test_probs(self, probs: np.ndarray) -> None:
        tmp = self.dir / f".test_probs.{os.getpid()}.tmp.npy"
        np.save(tmp, np.asarray(probs))
        os.replace(tmp, self.dir / "test_probs.npy")

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


class SharedIteration0:
    """A :class:`~al_bert.learner.Learner` that trains M0 once per cache key and reuses it.

    While the current model is M0 (after ``fit(..., iteration=0)``), the weights, the test probabilities
    and the pool outputs come from the cache when an earlier run stored them; only what is missing is
    computed by the wrapped learner, then stored. Later iterations go straight to the wrapped learner.
    """

    def __init__(self, inner: CheckpointLearner, cache: Iteration0Cache) -> None:
        self.inner, self.cache = inner, cache
        self.holds_m0 = False

    def fit(self, rows: np.ndarray, labels: np.ndarray, iteration: int) -> None:
        self.holds_m0 = iteration == 0
        if not self.holds_m0:
            self.inner.fit(rows, labels, iteration)
            return
        with self.cache.locked():
            state = self.cache.load_model(rows_digest(rows, labels))
            if state is None:
                self.inner.fit(rows, labels, iteration)
                self.cache.save_model(self.inner.state_dict())
                return
        self.inner.load_state_dict(state)

    def infer(
        self,
        request: InferenceRequest,
        pool: np.ndarray,
        labelled: np.ndarray,
        labels: np.ndarray,
        iteration: int,
    ) -> PoolOutputs:
        if not self.holds_m0:
            return self.inner.infer(request, pool, labelled, labels, iteration)
        with self.cache.locked():
            stored = {str(n.value) for n in request.needs if n.value in POOL_FIELDS}
            stored.add(Need.PROBS.value)
            cached = self.cache.load_pool(stored)
            if "mc_probs" in cached and cached["mc_probs"].shape[0] != request.mc_passes:
                cached.pop("mc_probs")
            missing = frozenset(Need(name) for name in stored - set(cached))
            not_stored = frozenset(n for n in request.needs if n.value not in POOL_FIELDS)
            wanted = missing | not_stored
            outputs = (
                self.inner.infer(request.only(wanted), pool, labelled, labels, iteration)
                if wanted
                else PoolOutputs(
                    pool_positions=np.asarray(pool),
                    # every stored pool holds the probabilities: (n,) binary, (n, C) otherwise
                    num_classes=2 if np.ndim(cached["probs"]) == 1 else len(cached["probs"][0]),
                )
            )
            for name, value in cached.items():
                setattr(outputs, name, value)
            if Need.LABELLED_EMBEDDINGS in request.needs:
                outputs.labelled_positions = np.asarray(labelled)
                outputs.labelled_labels = np.asarray(labels)
            self.cache.save_pool(outputs)
        return outputs

    def predict_test(self) -> np.ndarray:
        if not self.holds_m0:
            return self.inner.predict_test()
        with self.cache.locked():
            probs = self.cache.load_test_probs()
            if probs is None:
                probs = self.inner.predict_test()
                self.cache.save_test_probs(probs)
        return probs

    def release(self) -> None:
        self.holds_m0 = False
        self.inner.release()
