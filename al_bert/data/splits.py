"""Seeded 70% / 10% / 20% split with caps 15K / 3K / 3K (Ein-Dor et al. 2020, §3.1).

Rows are permuted with ``numpy.random.default_rng(seed)``; the first ``round(0.7 n)`` go to train,
the next ``round(0.1 n)`` to dev, the rest to test; each part is then capped by taking its first
``cap`` permuted rows (a uniform random sample). Each split keeps the source row order.
"""

from __future__ import annotations

import numpy as np

from al_bert.errors import DataError

__all__ = ["CAPS", "FRACTIONS", "seeded_split_indices"]

FRACTIONS = (0.7, 0.1, 0.2)
CAPS = (15_000, 3_000, 3_000)


def seeded_split_indices(
    n: int,
    seed: int,
    fractions: tuple[float, float, float] = FRACTIONS,
    caps: tuple[int | None, int | None, int | None] = CAPS,
) -> dict[str, np.ndarray]:
    """Positions (sorted) of the train / dev / test rows among ``n`` rows."""
    if n < 3:
        raise DataError(f"need at least 3 rows for a train/dev/test split, got {n}")
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise DataError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_dev = int(round(fractions[1] * n))
    parts = {
        "train": perm[:n_train],
        "dev": perm[n_train : n_train + n_dev],
        "test": perm[n_train + n_dev :],
    }
    out = {}
    for (name, idx), cap in zip(parts.items(), caps):
        out[name] = np.sort(idx if cap is None else idx[:cap])
    return out
