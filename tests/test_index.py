"""al_bert.index: identical answers on every back-end, and behaviour known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from al_bert.index import (
    BACKENDS,
    available_backends,
    greedy_k_center,
    kmeans_pp_seeding,
    knn,
    knn_density,
    nearest_to_centers,
    resolve_backend,
    weighted_kmeans,
)

HERE = available_backends()


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(600, 24)).astype(np.float32)
    labelled = rng.normal(size=(30, 24)).astype(np.float32)
    weights = rng.uniform(0.1, 2.0, size=600)
    weights[rng.choice(600, size=100, replace=False)] = 0.0
    return {"points": points, "labelled": labelled, "weights": weights}


def _all_results(backend: str, d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    p, lab, w = d["points"], d["labelled"], d["weights"]
    dist, idx = knn(p[:50], p, 7, backend=backend)
    dist_self, idx_self = knn(p, p, 3, backend=backend, exclude_self=True)
    centroids, assignment = weighted_kmeans(
        p, 8, np.random.default_rng(3), weights=w, backend=backend
    )
    return {
        "knn_d": dist,
        "knn_i": idx,
        "knn_self_d": dist_self,
        "knn_self_i": idx_self,
        "kcenter": greedy_k_center(p, 40, initial_centers=lab, backend=backend),
        "kcenter_w": greedy_k_center(p, 40, initial_centers=lab, weights=w, backend=backend),
        "kcenter_noinit": greedy_k_center(p, 10, initial_centers=None, weights=w, backend=backend),
        "seed": kmeans_pp_seeding(p, 40, np.random.default_rng(1), backend=backend),
        "seed_w": kmeans_pp_seeding(p, 40, np.random.default_rng(2), weights=w, backend=backend),
        "kmeans_c": centroids,
        "kmeans_a": assignment,
        "nearest": nearest_to_centers(p, centroids, weights=w, backend=backend),
        "density": knn_density(p, 10, backend=backend),
        "density_ref": knn_density(p, 5, reference=lab, backend=backend),
    }


def test_every_available_backend_gives_identical_results(data: dict[str, np.ndarray]) -> None:
    assert "faiss-cpu" in HERE and "torch" in HERE
    results = {b: _all_results(b, data) for b in HERE}
    first, *others = HERE
    for other in others:
        for key, value in results[first].items():
            np.testing.assert_array_equal(value, results[other][key], err_msg=f"{key}: {other}")


def test_resolve_backend() -> None:
    assert resolve_backend("auto") == HERE[0]
    assert resolve_backend() in BACKENDS
    for b in HERE:
        assert resolve_backend(b) == b
    with pytest.raises(ValueError, match="unknown index backend"):
        resolve_backend("annoy")
    if "faiss-gpu" not in HERE:
        assert resolve_backend() == "faiss-cpu"
        with pytest.raises(RuntimeError, match="not available"):
            resolve_backend("faiss-gpu")


@pytest.mark.parametrize("backend", HERE)
def test_knn_matches_brute_force(backend: str, data: dict[str, np.ndarray]) -> None:
    p = data["points"]
    q = p[:20]
    full = np.sqrt(((q[:, None, :].astype(np.float64) - p[None, :, :]) ** 2).sum(axis=2))
    dist, idx = knn(q, p, 5, backend=backend)
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(dist, np.sort(full, axis=1)[:, :5], rtol=1e-12)
    assert np.all(idx[:, 0] == np.arange(20))  # a query that is in the base finds itself
    _, idx_self = knn(q, q, 2, backend=backend, exclude_self=True)
    assert not np.any(idx_self == np.arange(20)[:, None])


def test_knn_exclude_self_keeps_duplicates() -> None:
    x = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0]], dtype=np.float32)
    dist, idx = knn(x, x, 1, exclude_self=True)
    assert idx[:, 0].tolist() == [1, 0, 0]
    np.testing.assert_allclose(dist[:, 0], [0.0, 0.0, 5.0])


def _line(xs: list[float]) -> np.ndarray:
    return np.array([[x, 0.0] for x in xs], dtype=np.float32)


@pytest.mark.parametrize("backend", HERE)
def test_greedy_k_center_picks_the_farthest_point(backend: str) -> None:
    pool = _line([1.0, 2.0, 10.0, 4.0, -3.0])
    labelled = _line([0.0])
    picked = greedy_k_center(pool, 3, initial_centers=labelled, backend=backend)
    # 10 is farthest from L = {0}; after {0, 10} the min distances are 1, 2, —, 4, 3 → 4.0 (row 3);
    # after {0, 10, 4} they are 1, 2, —, —, 3 → −3 (row 4).
    assert picked.tolist() == [2, 3, 4]


def test_greedy_k_center_weights() -> None:
    pool = _line([1.0, 2.0, 10.0, 4.0, -3.0])
    labelled = _line([0.0])
    w = np.array([1.0, 1.0, 0.0, 1.0, 3.0])
    # Row 2 (farthest) has weight 0; row 4 scores 3·3 = 9 > 4·1.
    picked = greedy_k_center(pool, 2, initial_centers=labelled, weights=w)
    assert picked.tolist() == [4, 3]
    ones = greedy_k_center(pool, 4, initial_centers=labelled, weights=np.ones(5))
    assert ones.tolist() == greedy_k_center(pool, 4, initial_centers=labelled).tolist()


def _reference_k_center(points: np.ndarray, centers: np.ndarray, k: int) -> list[int]:
    """From-scratch greedy k-center: recompute every min distance at every step."""
    p = points.astype(np.float64)
    chosen: list[int] = []
    for _ in range(k):
        cs = np.concatenate([centers.astype(np.float64), p[chosen]], axis=0)
        mind = np.sqrt(((p[:, None, :] - cs[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
        mind[chosen] = -1.0
        chosen.append(int(np.argmax(mind)))
    return chosen


def test_greedy_k_center_matches_from_scratch_reference(data: dict[str, np.ndarray]) -> None:
    p, lab = data["points"][:200], data["labelled"]
    assert greedy_k_center(p, 25, initial_centers=lab).tolist() == _reference_k_center(p, lab, 25)


def _reference_d2_sampler(
    points: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray
) -> list[int]:
    """Textbook k-means++ with weights: first ∝ w, then one draw ∝ D²·w, D from scratch."""
    p = points.astype(np.float64)
    chosen = [int(rng.choice(len(p), p=weights / weights.sum()))]
    for _ in range(k - 1):
        d2 = np.min([np.sum((p - p[c]) ** 2, axis=1) for c in chosen], axis=0)
        mass = d2 * weights
        chosen.append(int(rng.choice(len(p), p=mass / mass.sum())))
    return chosen


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_pp_seeding_matches_reference_d2_sampler(
    weighted: bool, data: dict[str, np.ndarray]
) -> None:
    p = data["points"][:300]
    w = data["weights"][:300] if weighted else np.ones(300)
    for seed in range(5):
        ours = kmeans_pp_seeding(
            p, 20, np.random.default_rng(seed), weights=w if weighted else None
        )
        ref = _reference_d2_sampler(p, 20, np.random.default_rng(seed), w)
        assert ours.tolist() == ref


def test_kmeans_pp_seeding_never_picks_zero_weight_nor_repeats(
    data: dict[str, np.ndarray],
) -> None:
    p, w = data["points"], data["weights"]
    for seed in range(10):
        rows = kmeans_pp_seeding(p, 100, np.random.default_rng(seed), weights=w)
        assert np.all(w[rows] > 0)
        assert len(set(rows.tolist())) == 100
    # More centres than distinct points: the fallback draws ∝ w among unchosen rows.
    dup = np.repeat(_line([0.0, 1.0]), 5, axis=0)
    rows = kmeans_pp_seeding(dup, 6, np.random.default_rng(0))
    assert len(set(rows.tolist())) == 6
    with pytest.raises(ValueError, match="positive weight"):
        kmeans_pp_seeding(p, 501, np.random.default_rng(0), weights=w)


def test_kmeans_pp_seeding_max_norm_first() -> None:
    pool = _line([1.0, -7.0, 3.0])
    assert kmeans_pp_seeding(pool, 1, np.random.default_rng(0), first="max_norm")[0] == 1
    w = np.array([1.0, 0.0, 1.0])
    assert kmeans_pp_seeding(pool, 1, np.random.default_rng(0), weights=w, first="max_norm")[0] == 2


def test_weighted_kmeans_recovers_blobs_and_uses_weighted_means() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    x = np.concatenate([c + rng.normal(size=(50, 2)) for c in centres]).astype(np.float32)
    w = rng.uniform(0.5, 2.0, size=150)
    w[:10] = 0.0
    centroids, assignment = weighted_kmeans(x, 3, np.random.default_rng(1), weights=w)
    truth = np.repeat(np.arange(3), 50)
    for blob in range(3):
        assert len(set(assignment[truth == blob].tolist())) == 1
    for j in range(3):
        members = (assignment == j) & (w > 0)
        expected = (w[members, None] * x[members].astype(np.float64)).sum(0) / w[members].sum()
        np.testing.assert_allclose(centroids[j], expected, rtol=1e-10)


def test_nearest_to_centers_distinct_and_skips_zero_weight() -> None:
    pool = _line([0.0, 0.1, 0.2, 5.0, 5.1])
    centres = _line([0.0, 0.0, 5.05])
    rows = nearest_to_centers(pool, centres)
    assert rows.tolist()[2] in (3, 4)
    assert sorted(rows.tolist()[:2]) == [0, 1]  # a collision on row 0 goes to the next nearest
    w = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    rows_w = nearest_to_centers(pool, centres, weights=w)
    assert 0 not in rows_w.tolist() and sorted(rows_w.tolist()[:2]) == [1, 2]


def test_knn_density_known_answer() -> None:
    pool = _line([0.0, 1.0, 2.0, 10.0])
    np.testing.assert_allclose(knn_density(pool, 1), [1.0, 1.0, 1.0, 8.0])
    np.testing.assert_allclose(knn_density(pool, 2), [1.5, 1.0, 1.5, 8.5])
    np.testing.assert_allclose(knn_density(pool, 1, reference=_line([0.0])), [0, 1, 2, 10])


def test_greedy_k_center_updates_the_minimum_incrementally(
    data: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One nearest-centre search for L, then one distance pass per pick — never all centres again."""
    import al_bert.index.exact as exact

    calls = {"batch": 0, "single": 0}
    add_centers, add_center = exact.MinSqDistance.add_centers, exact.MinSqDistance.add_center

    def counting_batch(self: exact.MinSqDistance, centers: np.ndarray) -> None:
        calls["batch"] += 1
        add_centers(self, centers)

    def counting_single(self: exact.MinSqDistance, center: np.ndarray) -> None:
        calls["single"] += 1
        add_center(self, center)

    monkeypatch.setattr(exact.MinSqDistance, "add_centers", counting_batch)
    monkeypatch.setattr(exact.MinSqDistance, "add_center", counting_single)
    greedy_k_center(data["points"], 12, initial_centers=data["labelled"])
    assert calls == {"batch": 1, "single": 12}
