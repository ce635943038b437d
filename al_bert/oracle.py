"""The oracle: the one holder of the pool's gold labels."""

from __future__ import annotations

import numpy as np


class Oracle:
    """Reveals gold labels of train-split rows and counts what was asked (the annotation budget)."""

    def __init__(self, labels: np.ndarray) -> None:
        self._labels = np.asarray(labels, dtype=np.int64)
        self.revealed = 0

    def label(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        self.revealed += int(rows.size)
        return self._labels[rows].copy()
