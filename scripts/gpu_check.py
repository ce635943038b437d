"""The GPU path's checks, for the day a CUDA GPU is lent: same selections on every index back-end.

``python scripts/gpu_check.py --out benchmarks/gpu`` selects a Core-Set and a BADGE batch and runs
k-means++ / k-NN on the same random embeddings with every available back-end of :mod:`al_bert.index`
(``faiss-gpu``, ``faiss-cpu``, ``torch`` on CUDA or CPU) and checks that they pick the same rows. It writes
``<out>/backends.json``. On a machine without a GPU it checks the back-ends it has (the CPU part of
``scripts/gpu_check.sh``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from al_bert.index import available_backends, kmeans_pp_seeding, knn
from al_bert.outputs import PoolOutputs
from al_bert.strategies.badge import BadgeStrategy
from al_bert.strategies.core_set import CoreSet


def selections(backend: str, seed: int = 0) -> dict[str, list[int]]:
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(3000, 64)).astype(np.float32)
    labelled = rng.normal(size=(100, 64)).astype(np.float32)
    outputs = PoolOutputs(
        pool_positions=np.arange(3000),
        probs=rng.uniform(size=3000),
        embeddings=pool,
        labelled_positions=np.arange(100),
        labelled_embeddings=labelled,
        labelled_labels=(rng.uniform(size=100) < 0.3).astype(np.int64),
    )
    weights = np.ones(3000)
    _, neighbours = knn(pool[:200], pool, 5, backend=backend)
    return {
        "core_set": CoreSet(backend=backend)
        .select(outputs, weights, 50, np.random.default_rng(1))
        .tolist(),
        "badge": BadgeStrategy(backend=backend)
        .select(outputs, weights, 50, np.random.default_rng(1))
        .tolist(),
        "kmeans_pp": np.asarray(
            kmeans_pp_seeding(pool, 50, np.random.default_rng(2), backend=backend)
        ).tolist(),
        "knn": neighbours.tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/gpu"))
    args = parser.parse_args(argv)
    backends = available_backends()
    picks = {b: selections(b) for b in backends}
    reference = picks[backends[-1]]
    agree = {b: {k: picks[b][k] == reference[k] for k in reference} for b in backends}
    report = {
        "cuda": torch.cuda.is_available(),
        "backends": backends,
        "reference": backends[-1],
        "agree": agree,
        "all_agree": all(all(v.values()) for v in agree.values()),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backends.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("cuda", "backends", "all_agree")}))
    return 0 if report["all_agree"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
