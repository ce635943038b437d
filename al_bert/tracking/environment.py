"""Where a run's iterations were computed: the environment recorded in ``run.json`` at every launch.

A run may be interrupted on one machine and resumed on another (a requeued SLURM job lands on whatever node
is free). What decides its numbers besides the config is recorded per launch, as one entry of
``run.json``'s ``environments`` list whose ``from_iteration`` is the first iteration that launch computed
(it computed every iteration up to the next entry's ``from_iteration``):

- the resolved training and inference precision (``trainer.precision=auto`` is bf16 autocast where the
  device supports it, fp32 elsewhere) and the device: its kind (``cpu`` / ``cuda``), the CPU model and
  the flags that decide CPU precision (AVX512-BF16, AMX-BF16), or the GPU's name and compute capability;
- torch, transformers, lightning and faiss versions, al-bert's version and git revision when known, the
  number of torch threads.

Resuming under a different resolved precision or device kind would silently make a hybrid of two
numerics under one key, so :func:`check_resume` refuses it with one line, unless the user says
``allow_environment_change=true`` (recorded in the new entry). Other differences (library versions, CPU
model, GPU name) only warn. Runs recorded before this existed have no entry: their environment is
"unknown" and they are never refused.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from al_bert.devices import bf16_supported
from al_bert.errors import AlBertError

log = logging.getLogger(__name__)

# What decides a run's numerics: a resume that changes one of these is refused without the flag.
DECISIVE = ("device_kind", "train_precision", "inference_precision")
# Recorded, compared with a warning only.
INFORMATIVE = ("device", "torch", "transformers", "lightning", "faiss", "al_bert", "git_revision")
PACKAGES = {
    "torch": ("torch",),
    "transformers": ("transformers",),
    "lightning": ("lightning",),
    "faiss": ("faiss-cpu", "faiss-gpu-cu12", "faiss-gpu-cu11", "faiss-gpu", "faiss"),
    "al_bert": ("al-bert",),
}
CPU_PRECISION_FLAGS = ("avx512_bf16", "amx_bf16", "avx512f")


class EnvironmentChangedError(AlBertError, RuntimeError):
    """A run would resume under another resolved precision or device kind than it started with."""


@functools.cache
def _package_version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


@functools.cache
def git_revision() -> str | None:
    """The commit of the al-bert checkout this code runs from (``+dirty`` with local changes), or None
    outside a git checkout (an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


@functools.cache
def _cpu() -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and which of the precision-deciding flags it has (Linux ``/proc/cpuinfo``)."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return model, tuple(flag for flag in CPU_PRECISION_FLAGS if flag in flags)


def describe_device(device: torch.device) -> dict[str, Any]:
    """The device a run computes on: kind, name and what decides its precision."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return {
            "device_kind": "cuda",
            "device": torch.cuda.get_device_name(index),
            "compute_capability": f"{major}.{minor}",
            "bf16_supported": bf16_supported(device),
        }
    model, flags = _cpu()
    return {
        "device_kind": device.type,
        "device": model,
        "cpu_flags": list(flags),
        "bf16_supported": bf16_supported(device),
    }


def describe_environment(
    device: torch.device, *, train_bf16: bool, inference_bf16: bool
) -> dict[str, Any]:
    """Everything :mod:`al_bert.tracking.environment` records for one launch of a run."""
    described: dict[str, Any] = describe_device(device)
    described.update(
        train_precision="bf16-mixed" if train_bf16 else "32",
        inference_precision="bf16-autocast" if inference_bf16 else "32",
        torch_threads=torch.get_num_threads(),
        host=platform.node(),
        python=platform.python_version(),
        git_revision=git_revision(),
    )
    described.update({key: _package_version(names) for key, names in PACKAGES.items()})
    slurm = {k: os.environ[v] for k, v in SLURM_VARIABLES.items() if v in os.environ}
    if slurm:
        described["slurm"] = slurm
    return described


def numerics_tag(environment: dict[str, Any]) -> str:
    """What decides a model's numbers besides its config, as a folder-name suffix (``cpu-32-32``): a
    shared M0 trained in bf16 is never reused by a run computing in fp32."""
    return "-".join(str(environment.get(key, "unknown")) for key in DECISIVE)


# The SLURM job a launch ran in (a requeued job keeps its id; SLURM_RESTART_COUNT counts requeues).
SLURM_VARIABLES = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "restart_count": "SLURM_RESTART_COUNT",
    "node": "SLURMD_NODENAME",
}


def check_resume(
    recorded: list[dict[str, Any]], current: dict[str, Any], *, allow_change: bool, run: str
) -> None:
    """Refuse to resume ``run`` under another resolved precision or device kind than its last launch
    (one line: what differs and how to proceed); other differences are logged as warnings.

    ``recorded`` empty (a new run, or one recorded before environments were) is never refused."""
    if not recorded:
        return
    last = recorded[-1]

    def differences(keys: tuple[str, ...]) -> list[str]:
        return [
            f"{key} {last.get(key)} → {current.get(key)}"
            for key in keys
            if key in last and last.get(key) != current.get(key)
        ]

    changed = differences(DECISIVE)
    if changed and not allow_change:
        raise EnvironmentChangedError(
            f"run {run} was computed with {', '.join(changed)}; resuming would mix both in one run. "
            "Resume it where it started, set allow_environment_change=true to continue anyway "
            "(recorded in run.json), or pin trainer.precision / trainer.inference_precision / "
            "trainer.accelerator to start a fresh run under a new key"
        )
    if changed:
        log.warning(
            "run %s resumes with %s (allow_environment_change=true)", run, ", ".join(changed)
        )
    drift = differences(INFORMATIVE)
    if drift:
        log.warning("run %s resumes with %s", run, ", ".join(drift))
