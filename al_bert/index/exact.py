"""Exact float64 refinement shared by every routine of :mod:`al_bert.index`.

The back-ends (:mod:`al_bert.index.backends`) compute distances in float32, where different
libraries round differently. To make selections independent of the back-end, every routine asks the
back-end only for *candidates* (a few extra neighbours, or every point whose minimum distance could
have changed, with a tolerance far above float32 rounding) and recomputes the distances of those
candidates here, in float64, as ``sum((x - c)²)`` over the float32 inputs. Ties on these exact
values are broken by the lowest row index.
"""

from __future__ import annotations

import numpy as np

from al_bert.index.backends import Engine, make_engine

REFINE_MARGIN = 8
"""Extra neighbours requested from a back-end before the exact re-ranking."""

_EXACT_BLOCK = 1 << 22
"""Maximum number of float64 elements materialised at once by the exact recomputation."""

_REL_TOL = 1e-4
"""Relative tolerance (of ‖x‖² + ‖c‖²) covering a back-end's float32 error on a squared distance."""


def as_points(x: np.ndarray, name: str = "points") -> np.ndarray:
    """``x`` as a C-contiguous float32 matrix (n, d)."""
    arr = np.ascontiguousarray(np.asarray(x), dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_weights(weights: np.ndarray | None, n: int, k: int | None = None) -> np.ndarray:
    """Validated float64 weights (n,) — ones when ``None``; at least ``k`` must be positive."""
    if weights is None:
        w = np.ones(n, dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"weights must have shape ({n},), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
    if k is not None:
        positive = int(np.count_nonzero(w > 0))
        if k > positive:
            raise ValueError(f"cannot choose {k} points: only {positive} have a positive weight")
    return w


def sq_dists_rows(points: np.ndarray, rows: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Exact float64 squared distances between ``points[rows]`` and one float64 ``center``."""
    out = np.empty(rows.size, dtype=np.float64)
    step = max(1, _EXACT_BLOCK // max(points.shape[1], 1))
    for start in range(0, rows.size, step):
        diff = points[rows[start : start + step]].astype(np.float64) - center[None, :]
        out[start : start + step] = np.sum(diff * diff, axis=1)
    return out


def sq_dists_pairs(queries: np.ndarray, base: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Exact float64 squared distances between ``queries[i]`` and ``base[cand[i, j]]``."""
    nq, kk = cand.shape
    out = np.empty((nq, kk), dtype=np.float64)
    step = max(1, _EXACT_BLOCK // max(kk * base.shape[1], 1))
    for start in range(0, nq, step):
        q = queries[start : start + step].astype(np.float64)
        b = base[cand[start : start + step]].astype(np.float64)
        diff = b - q[:, None, :]
        out[start : start + step] = np.sum(diff * diff, axis=2)
    return out


def knn_sq(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    backend: str = "auto",
    exclude_self: bool = False,
    engine: Engine | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact squared distances and indices of the ``k`` nearest base rows (float32 inputs).

    The back-end proposes ``k + REFINE_MARGIN`` candidates; they are re-ranked on exact float64
    distances, ties broken by the lower base index. With ``exclude_self``, ``queries`` are the base
    rows themselves and row ``i`` is never its own neighbour (duplicates of it still are).
    """
    nq, nb = queries.shape[0], base.shape[0]
    if queries.shape[1] != base.shape[1]:
        raise ValueError(
            f"dimension mismatch: queries d={queries.shape[1]}, base d={base.shape[1]}"
        )
    if exclude_self and nq != nb:
        raise ValueError("exclude_self=True needs queries to be the base rows (same length)")
    needed = k + (1 if exclude_self else 0)
    if k < 1 or needed > nb:
        raise ValueError(f"k={k} neighbours requested from a base of {nb} rows")
    kk = min(nb, needed + REFINE_MARGIN)
    if engine is None:
        engine = make_engine(base, backend)
    cand = engine.search(queries, kk)
    if np.any(cand < 0):  # pragma: no cover - FAISS pads with -1 only when kk > nb
        raise RuntimeError("index backend returned fewer neighbours than requested")
    sq = sq_dists_pairs(queries, base, cand)
    if exclude_self:
        sq[cand == np.arange(nq)[:, None]] = np.inf
    order = np.lexsort((cand, sq), axis=-1)[:, :k]
    return np.take_along_axis(sq, order, axis=1), np.take_along_axis(cand, order, axis=1)


class MinSqDistance:
    """Running minimum squared distance of every point to a growing set of centres.

    Each new centre costs one back-end pass (distances of all points to it) plus an exact float64
    recomputation for the points whose minimum may have dropped, i.e. whose approximate distance
    is within a float32-safe tolerance of their current minimum. Distances to earlier centres are
    never recomputed (Sener & Savarese 2018, greedy k-center; Arthur & Vassilvitskii 2007, D²).
    """

    def __init__(self, points: np.ndarray, backend: str = "auto") -> None:
        self.points = points
        self.engine = make_engine(points, backend)
        self.backend = backend
        self.sqnorms = np.einsum("ij,ij->i", points, points, dtype=np.float64)
        self.value = np.full(points.shape[0], np.inf, dtype=np.float64)
        d = points.shape[1]
        self._rel_tol = max(_REL_TOL, 4.0 * d * float(np.finfo(np.float32).eps))

    def add_centers(self, centers: np.ndarray) -> None:
        """Fold a batch of (float32) centres in — one exact nearest-centre search."""
        if centers.shape[0] == 0:
            return
        sq, _ = knn_sq(self.points, centers, 1, backend=self.backend)
        np.minimum(self.value, sq[:, 0], out=self.value)

    def add_point(self, row: int) -> None:
        """Make pool row ``row`` a centre (incremental update)."""
        self.add_center(self.points[row])
        self.value[row] = 0.0

    def add_center(self, center: np.ndarray) -> None:
        """Make the float32 vector ``center`` a centre (incremental update)."""
        center = np.ascontiguousarray(center, dtype=np.float32)
        approx = np.asarray(self.engine.sq_dists_to(center), dtype=np.float64)
        c_sq = float(np.dot(center.astype(np.float64), center.astype(np.float64)))
        tol = self._rel_tol * (self.sqnorms + c_sq) + 1e-12
        rows = np.flatnonzero(approx <= self.value + tol)
        if rows.size:
            exact = sq_dists_rows(self.points, rows, center.astype(np.float64))
            self.value[rows] = np.minimum(self.value[rows], exact)
