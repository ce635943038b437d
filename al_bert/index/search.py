"""k-nearest-neighbour search, k-NN density and nearest-pool-point-to-centre matching."""

from __future__ import annotations

import numpy as np

from al_bert.index.exact import REFINE_MARGIN, as_points, as_weights, knn_sq


def knn(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    backend: str = "auto",
    exclude_self: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``base`` rows of every query under the Euclidean distance.

    Returns ``(distances, indices)``, both shaped (nq, k), nearest first. Distances are true
    (not squared) Euclidean distances, recomputed exactly in float64 on the float32 inputs; equal
    distances are ordered by the lower base index, so every back-end returns the same answer.
    ``exclude_self=True`` means ``queries`` *are* ``base`` (row for row) and row ``i`` is not
    reported as its own neighbour (an exact duplicate of it is).
    """
    q = as_points(queries, "queries")
    b = as_points(base, "base")
    sq, idx = knn_sq(q, b, k, backend=backend, exclude_self=exclude_self)
    return np.sqrt(sq), idx


def knn_density(
    points: np.ndarray,
    k: int = 10,
    *,
    reference: np.ndarray | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """Mean Euclidean distance (n,) of each point to its ``k`` nearest neighbours in ``reference``.

    With ``reference=None`` the reference set is ``points`` itself and a point is not its own
    neighbour. Smaller values mean denser regions (the k-NN density proxy of the batch analyses).
    """
    p = as_points(points)
    if reference is None:
        sq, _ = knn_sq(p, p, k, backend=backend, exclude_self=True)
    else:
        sq, _ = knn_sq(p, as_points(reference, "reference"), k, backend=backend)
    return np.sqrt(sq).mean(axis=1)


def nearest_to_centers(
    points: np.ndarray,
    centers: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    backend: str = "auto",
) -> np.ndarray:
    """One distinct pool row per centre: the nearest positive-weight row not taken by another centre.

    Collisions are resolved greedily over all (centre, row) pairs in increasing exact distance
    (ties: lower centre index, then lower row index): a centre whose nearest row is already taken
    gets its next nearest unused row. Rows of weight 0 are never returned (Fairstein et al.,
    Algorithm 3: "pick S to be the samples nearest to the cluster centers"). Returns int64 rows
    (m,), element ``j`` for ``centers[j]``.
    """
    p = as_points(points)
    c = as_points(centers, "centers")
    m = c.shape[0]
    w = as_weights(weights, p.shape[0], m)
    allowed = np.flatnonzero(w > 0)
    kk = min(allowed.size, m + REFINE_MARGIN)
    sq, local = knn_sq(c, np.ascontiguousarray(p[allowed]), kk, backend=backend)
    rows = allowed[local]
    centre_of = np.repeat(np.arange(m), kk)
    flat_rows = rows.ravel()
    order = np.lexsort((flat_rows, centre_of, sq.ravel()))
    chosen = np.full(m, -1, dtype=np.int64)
    used: set[int] = set()
    remaining = m
    for pos in order:
        j = int(centre_of[pos])
        r = int(flat_rows[pos])
        if chosen[j] >= 0 or r in used:
            continue
        chosen[j] = r
        used.add(r)
        remaining -= 1
        if remaining == 0:
            break
    # Each centre has kk ≥ m distinct candidates and at most m − 1 can be taken by others.
    assert remaining == 0
    return chosen
