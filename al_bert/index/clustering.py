"""Weighted covering and clustering: greedy k-center, k-means++ (D²·w) seeding, weighted k-means.

Weights follow Fairstein et al. (Algorithm 3): a point of weight 0 is never chosen, and uniform
weights give back the published, unweighted algorithm exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from al_bert.index.exact import MinSqDistance, as_points, as_weights, knn_sq, sq_dists_rows


def greedy_k_center(
    points: np.ndarray,
    k: int,
    *,
    initial_centers: np.ndarray | None,
    weights: np.ndarray | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Weighted greedy k-center (Sener & Savarese 2018, Algorithm 1 "k-Center-Greedy").

    Each step picks ``argmax_x w(x) · min_c ‖x − c‖`` over the not-yet-chosen rows of positive
    weight, where ``c`` runs over ``initial_centers`` (the labelled set) and the rows picked so far;
    with uniform weights this is the published greedy rule. The minimum distance is a running
    minimum updated once per pick (one distance pass to the new centre), never recomputed from all
    centres. Scores are exact float64; ties go to the lowest row index. Without initial centres the
    first pick is the row farthest (× w) from the weighted mean of the points. Returns the ``k``
    picked rows (int64) in pick order.
    """
    p = as_points(points)
    n = p.shape[0]
    w = as_weights(weights, n, k)
    mind = MinSqDistance(p, backend)
    if initial_centers is not None and len(initial_centers) > 0:
        mind.add_centers(as_points(initial_centers, "initial_centers"))
    alive = w > 0
    picked = np.empty(k, dtype=np.int64)
    for step in range(k):
        if np.isinf(mind.value).all():
            mean = (w[:, None] * p.astype(np.float64)).sum(axis=0) / w.sum()
            dist = np.sqrt(sq_dists_rows(p, np.arange(n), mean))
        else:
            dist = np.sqrt(mind.value)
        score = np.where(alive, w * dist, -np.inf)
        row = int(np.argmax(score))
        picked[step] = row
        alive[row] = False
        mind.add_point(row)
    return picked


def _draw(mass: np.ndarray, rng: np.random.Generator) -> int:
    """One draw with probability ∝ ``mass`` (one ``rng.random()``; as ``Generator.choice(p=…)``)."""
    cdf = np.cumsum(mass)
    cdf /= cdf[-1]
    row = int(np.searchsorted(cdf, rng.random(), side="right"))
    row = min(row, mass.size - 1)
    if mass[row] <= 0:  # pragma: no cover - only on a rounding edge at the end of the cdf
        row = int(np.flatnonzero(mass > 0)[-1])
    return row


def kmeans_pp_seeding(
    points: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
    backend: str = "auto",
    first: Literal["sample", "max_norm"] = "sample",
) -> np.ndarray:
    """k-means++ seeding with weights: exactly one draw per step with P(x) ∝ D(x)² · w(x).

    D(x) is the exact distance to the nearest centre chosen so far, kept as a running minimum (one
    distance pass per new centre). This is the sampler of Arthur & Vassilvitskii (2007) as BADGE's
    released code uses it (Ash et al. 2020) — not scikit-learn's greedy variant, which draws several
    candidates per step and keeps the best. The first centre is drawn ∝ w (``first="sample"``) or
    is ``argmax w(x)·‖x‖`` (``first="max_norm"``, BADGE's original choice). Rows of weight 0 have
    zero probability; a chosen row has D = 0 and is never drawn again. If every remaining
    positive-weight row has D = 0 (duplicates), the next centre is drawn ∝ w among the unchosen
    rows. Returns the ``k`` chosen rows (int64) in draw order.
    """
    p = as_points(points)
    n = p.shape[0]
    w = as_weights(weights, n, k)
    mind = MinSqDistance(p, backend)
    alive = w > 0
    picked = np.empty(k, dtype=np.int64)
    for step in range(k):
        if step == 0:
            if first == "max_norm":
                row = int(np.argmax(np.where(alive, w * np.sqrt(mind.sqnorms), -np.inf)))
            elif first == "sample":
                row = _draw(w, rng)
            else:
                raise ValueError(f"first must be 'sample' or 'max_norm', got {first!r}")
        else:
            mass = np.where(alive, mind.value * w, 0.0)
            if not mass.sum() > 0:
                mass = np.where(alive, w, 0.0)
            row = _draw(mass, rng)
        picked[step] = row
        alive[row] = False
        mind.add_point(row)
    return picked


def weighted_kmeans(
    points: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
    n_iter: int = 100,
    n_init: int = 1,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Lloyd's k-means with weighted k-means++ initialisation, best of ``n_init`` runs.

    Initial centres: :func:`kmeans_pp_seeding` with the same weights. Then at most ``n_iter``
    rounds of (1) assign every point (zero-weight ones included, for the returned assignment) to
    its exactly-nearest centre, ties to the lower centre index; (2) move each centre to the
    weighted mean ``Σ w x / Σ w`` of its points. A centre whose points have total weight 0 stays
    where it is. Stops early when no assignment changes. Returns ``(centroids (k, d) float64,
    assignment (n,) int64)`` where the assignment is to the returned centroids. With ``n_init`` > 1
    the runs start from independent k-means++ draws of ``rng`` and the one with the lowest weighted
    inertia Σ w‖x − c(x)‖² is kept (scikit-learn's ``KMeans(n_init=...)`` rule; the first on ties).
    """
    if n_init < 1:
        raise ValueError(f"n_init must be ≥ 1, got {n_init}")
    p = as_points(points)
    w = as_weights(weights, p.shape[0], k)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(n_init):
        centroids, assignment = _lloyd(p, k, rng, w, n_iter, backend)
        residual = p.astype(np.float64) - centroids[assignment]
        inertia = float(np.einsum("i,ij,ij->", w, residual, residual))
        if best is None or inertia < best[0]:
            best = (inertia, centroids, assignment)
    assert best is not None
    return best[1], best[2]


def _lloyd(
    p: np.ndarray, k: int, rng: np.random.Generator, w: np.ndarray, n_iter: int, backend: str
) -> tuple[np.ndarray, np.ndarray]:
    """One weighted Lloyd's run from a weighted k-means++ start (see :func:`weighted_kmeans`)."""
    n = p.shape[0]
    centroids = p[kmeans_pp_seeding(p, k, rng, weights=w, backend=backend)].astype(np.float64)
    assignment = np.full(n, -1, dtype=np.int64)
    for _ in range(max(n_iter, 0)):
        new = _assign(p, centroids, backend)
        if np.array_equal(new, assignment):
            break
        assignment = new
        members = sp.csr_matrix((w, (assignment, np.arange(n))), shape=(k, n))
        mass = np.asarray(members.sum(axis=1)).ravel()
        sums = members @ p.astype(np.float64)
        moved = mass > 0
        centroids[moved] = sums[moved] / mass[moved, None]
    else:
        assignment = _assign(p, centroids, backend)
    return centroids, assignment


def _assign(points: np.ndarray, centroids: np.ndarray, backend: str) -> np.ndarray:
    c = np.ascontiguousarray(centroids, dtype=np.float32)
    _, idx = knn_sq(points, c, 1, backend=backend)
    return idx[:, 0]
