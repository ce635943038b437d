"""What the compute device can do (a leaf: model, strategies and the index all ask it)."""

from __future__ import annotations

import ctypes
import functools
import gc
import os
import sys

import torch


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
