"""What the compute device can do, and how many threads a job gives torch (a leaf: model, strategies
and the index all ask it)."""

from __future__ import annotations

import ctypes
import functools
import gc
import logging
import os
import sys

import torch

log = logging.getLogger(__name__)


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is fast and supported on ``device`` (Ampere+ GPUs; CPUs with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(probe()) if callable(probe) else False
    return False


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it (``malloc_trim`` is a glibc extension)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_memory(device: torch.device) -> None:
    """Give a dropped model's memory back: collect the reference cycles a Lightning fit leaves (Trainer ↔
    module ↔ optimiser), return freed heap pages to the OS (glibc ``malloc_trim``: without it, the
    fragmented arenas of many fits keep the resident size growing over an in-process sweep), and empty
    the CUDA cache on a GPU."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()


def rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def configure_threads(threads: int, deterministic: bool) -> None:
    """Torch threads per job so parallel jobs do not oversubscribe the CPU: ``threads`` when > 0, else
    the CPUs SLURM gave the job (``SLURM_CPUS_PER_TASK``; without cgroups torch would see every core
    of the node), else torch's default."""
    if threads <= 0 and os.environ.get("SLURM_CPUS_PER_TASK", "").isdigit():
        threads = int(os.environ["SLURM_CPUS_PER_TASK"])
    if threads > 0:
        torch.set_num_threads(threads)
    log.debug("torch threads per job: %d", torch.get_num_threads())
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
