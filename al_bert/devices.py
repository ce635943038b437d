"""What the compute device can do (a leaf: model, strategies and the index all ask it)."""

from __future__ import annotations

import torch


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 autocast is fast and supported on ``device`` (Ampere+ GPUs; CPUs with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(probe()) if callable(probe) else False
    return False
