"""Distance back-ends for :mod:`al_bert.index`: FAISS on GPU, FAISS on CPU, or torch.

A back-end only does the heavy, approximate-in-float32 part of the work: it proposes candidate
neighbours (``search``) and the squared distance of every base row to one new centre
(``sq_dists_to``). Every decision (which neighbour is nearest, which point is farthest, which point
a D² draw lands on) is then taken on *exact* float64 distances that :mod:`al_bert.index.exact`
recomputes in numpy for the candidates, so the back-ends give identical selections whenever their
float32 rounding is smaller than the refinement margins (see ``docs/reproducibility.md``).

Selection order for ``backend="auto"``: ``faiss-gpu`` when FAISS was built with GPU support and sees
a GPU (``faiss.get_num_gpus() > 0``), else ``faiss-cpu`` when FAISS imports, else ``torch``
(on CUDA when torch sees a GPU, on CPU otherwise).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import numpy as np

BACKENDS: tuple[str, ...] = ("faiss-gpu", "faiss-cpu", "torch")
"""Every back-end name accepted by ``backend=`` (besides ``"auto"``)."""

_FAISS_GPU_MAX_K = 2048
"""GPU FAISS's k-selection limit; larger searches run on the CPU index instead."""

_TORCH_BLOCK = 1 << 24
"""Maximum number of query × base distances the torch back-end holds at once."""


def _faiss() -> Any | None:
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a hard dependency on x86_64 / arm64
        return None
    return faiss


def _faiss_num_gpus() -> int:
    faiss = _faiss()
    if faiss is None or not hasattr(faiss, "get_num_gpus"):
        return 0
    try:
        return int(faiss.get_num_gpus())
    except Exception:  # pragma: no cover - defensive: broken CUDA driver
        return 0


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True


def available_backends() -> list[str]:
    """The back-ends usable on this machine, in ``auto`` preference order."""
    found = []
    if _faiss_num_gpus() > 0:
        found.append("faiss-gpu")
    if _faiss() is not None:
        found.append("faiss-cpu")
    if _torch_available():
        found.append("torch")
    return found


def resolve_backend(backend: str = "auto") -> str:
    """Return the concrete back-end for ``backend`` ("auto", "faiss-gpu", "faiss-cpu" or "torch").

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` when an explicitly requested
    back-end is not usable here.
    """
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(
            f"unknown index backend {backend!r}; choose one of auto, {', '.join(BACKENDS)}"
        )
    found = available_backends()
    if backend == "auto":
        if not found:  # pragma: no cover - torch is a hard dependency
            raise RuntimeError("no index backend available: install faiss-cpu or torch")
        return found[0]
    if backend not in found:
        hint = (
            "GPU FAISS needs the faiss-gpu-cu12 package and a visible CUDA GPU"
            if backend == "faiss-gpu"
            else f"the {backend} backend needs its package installed"
        )
        raise RuntimeError(f"index backend {backend!r} is not available here ({hint})")
    return backend


class Engine(Protocol):
    """A set of base vectors that answers approximate (float32) distance queries."""

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Indices (nq, k) of the ``k`` base rows nearest each query, nearest first (approximate)."""
        ...

    def sq_dists_to(self, center: np.ndarray) -> np.ndarray:
        """Squared distance (n,) of every base row to one vector ``center`` (approximate)."""
        ...


class _FaissCpuEngine:
    def __init__(self, base: np.ndarray) -> None:
        faiss = _faiss()
        assert faiss is not None
        self._faiss = faiss
        self._base = base
        self._index = faiss.IndexFlatL2(base.shape[1])
        self._index.add(base)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        _, idx = self._index.search(queries, k)
        return np.asarray(idx, dtype=np.int64)

    def sq_dists_to(self, center: np.ndarray) -> np.ndarray:
        # One query: FAISS's direct SIMD kernel (no BLAS / OpenMP start-up per call).
        faiss = self._faiss
        n, d = self._base.shape
        out = np.empty(n, dtype=np.float32)
        center = np.ascontiguousarray(center, dtype=np.float32)
        faiss.fvec_L2sqr_ny(
            faiss.swig_ptr(out), faiss.swig_ptr(center), faiss.swig_ptr(self._base), d, n
        )
        return out


@lru_cache(maxsize=1)
def _gpu_resources() -> Any:  # pragma: no cover - needs GPU FAISS
    faiss = _faiss()
    assert faiss is not None
    return faiss.StandardGpuResources()


class _FaissGpuEngine:  # pragma: no cover - needs GPU FAISS
    def __init__(self, base: np.ndarray) -> None:
        faiss = _faiss()
        assert faiss is not None
        self._faiss = faiss
        self._base = base
        self._res = _gpu_resources()
        self._index = faiss.index_cpu_to_gpu(self._res, 0, faiss.IndexFlatL2(base.shape[1]))
        self._index.add(base)
        self._cpu: _FaissCpuEngine | None = None

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        if k > _FAISS_GPU_MAX_K:
            if self._cpu is None:
                self._cpu = _FaissCpuEngine(self._base)
            return self._cpu.search(queries, k)
        _, idx = self._index.search(queries, k)
        return np.asarray(idx, dtype=np.int64)

    def sq_dists_to(self, center: np.ndarray) -> np.ndarray:
        out = self._faiss.pairwise_distance_gpu(self._res, center[None, :], self._base)
        return np.asarray(out[0])


class _TorchEngine:
    def __init__(self, base: np.ndarray) -> None:
        import torch

        self._torch = torch
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._base = torch.from_numpy(base).to(self._device)
        self._norms = (self._base * self._base).sum(dim=1)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        torch = self._torch
        n = self._base.shape[0]
        step = max(1, _TORCH_BLOCK // max(n, 1))
        out = np.empty((queries.shape[0], k), dtype=np.int64)
        with torch.no_grad():
            for start in range(0, queries.shape[0], step):
                q = torch.from_numpy(queries[start : start + step]).to(self._device)
                sq = (
                    (q * q).sum(dim=1, keepdim=True) + self._norms[None, :] - 2.0 * q @ self._base.T
                )
                idx = torch.topk(sq, k, dim=1, largest=False, sorted=True).indices
                out[start : start + step] = idx.cpu().numpy()
        return out

    def sq_dists_to(self, center: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.no_grad():
            c = torch.from_numpy(center).to(self._device)
            diff = self._base - c[None, :]
            return (diff * diff).sum(dim=1).cpu().numpy()


def make_engine(base: np.ndarray, backend: str = "auto") -> Engine:
    """An :class:`Engine` over ``base`` (float32, C-contiguous) for the resolved ``backend``."""
    name = resolve_backend(backend)
    if name == "faiss-gpu":  # pragma: no cover - needs GPU FAISS
        return _FaissGpuEngine(base)
    if name == "faiss-cpu":
        return _FaissCpuEngine(base)
    return _TorchEngine(base)
