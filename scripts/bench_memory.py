"""Memory of a long in-process sweep: resident memory after each of N jobs run in one Python process.

``make bench-memory`` (= ``python scripts/bench_memory.py --out benchmarks --jobs 24 --compare-env …``) runs
``--jobs`` small experiments one after the other in this process, as Hydra's basic launcher does in a multirun
(packaged MiniLM, TREC, a 400-example pool, 2 iterations of 20, ``trainer=fast``, a different seed per job,
iteration-0 sharing off so every job trains its own models), and records the process's resident set size
(``/proc/self/statm``; and CUDA memory when a GPU is used) after each job returns. Python's cyclic collector
is left to its own schedule: the number is what a user's sweep would see. Beside RSS: glibc's ``mallinfo2``
(bytes in live allocations vs free in the heap), Python's allocated blocks, and the NumPy arrays and CPU
tensors Python still reaches, so the growth can be placed; ``--compare-env`` re-runs the same jobs in a
fresh process under another environment (oneDNN's cache capacity, MKL's allocator) to attribute it.

Target: the growth from job 2 to the last job is below one model's size (< 100 MB on CPU; MiniLM-L6's
fp32 weights alone are ~90 MB, an AdamW state twice that), so memory does not grow with the number of runs.
Writes ``<out>/memory.json`` and ``<out>/memory.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_dir

from al_bert.app import run_experiment
from al_bert.devices import rss_mb

REPO = Path(__file__).resolve().parents[1]
TARGET_MB = 100.0
JOB = [
    "+experiment=trec_imb",
    "trainer=fast",
    "seed_builder.positives=20",
    "seed_builder.weak_negatives=20",
    "limit.train=400",
    "limit.eval=200",
    "al.iterations=2",
    "al.batch_size=20",
    "logger=none",
    "print_table=false",
    "share_iteration0=false",
]


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


def heap_mb() -> dict[str, float]:
    """glibc's view of the heap (``mallinfo2``): bytes in use by live allocations (small + mmapped) and
    bytes free inside the arenas (fragmentation the RSS still counts); Python's allocated blocks."""
    out: dict[str, float] = {"python_blocks_k": sys.getallocatedblocks() / 1000}
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return out
    out["malloc_in_use_mb"] = (info.uordblks + info.hblkhd) / 2**20
    out["malloc_free_mb"] = info.fordblks / 2**20
    return out


def live_arrays_mb() -> dict[str, float]:
    """Bytes held by NumPy arrays and CPU tensors that Python still reaches, each buffer counted once: if
    these stay flat, the growth is inside libraries, not data al-bert keeps. Arrays are not tracked by the
    cyclic collector, so they are found as referents of the objects it tracks (dicts, lists, instances)."""
    import numpy as np

    seen: set[int] = set()
    arrays = tensors = 0.0

    def reachable() -> Iterator[object]:
        # Untracked containers (a dict or tuple holding only arrays is untracked) are opened one level.
        for holder in gc.get_objects():
            yield holder
            for obj in gc.get_referents(holder):
                yield obj
                if isinstance(obj, dict | list | tuple) and not gc.is_tracked(obj):
                    yield from gc.get_referents(obj)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isinstance on deprecated torch aliases warns
        for obj in reachable():  # a generator: no list of every object (it would move the RSS)
            if isinstance(obj, np.ndarray):
                owner = obj.base if isinstance(obj.base, np.ndarray) else obj
                if id(owner) not in seen:
                    seen.add(id(owner))
                    arrays += owner.nbytes
            elif type(obj) in (torch.Tensor, torch.nn.Parameter):
                assert isinstance(obj, torch.Tensor)
                if obj.device.type != "cpu" or obj.is_meta:
                    continue
                try:
                    storage = obj.untyped_storage()
                except (RuntimeError, NotImplementedError):
                    continue
                if storage.data_ptr() not in seen:
                    seen.add(storage.data_ptr())
                    tensors += storage.nbytes()
    return {"numpy_mb": arrays / 2**20, "tensors_mb": tensors / 2**20}


def run(jobs: int, root: Path, overrides: list[str] | None = None) -> list[dict[str, Any]]:
    rows = []
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for job in range(jobs):
            cfg = compose(
                "config",
                overrides=[*JOB, *(overrides or []), f"seed={job}", f"paths.output_root={root}"],
            )
            started = time.perf_counter()
            run_experiment(cfg)
            row = {"job": job + 1, "seconds": time.perf_counter() - started, "rss_mb": rss_mb()}
            row.update(heap_mb())
            row.update(live_arrays_mb())
            if torch.cuda.is_available():
                row["cuda_allocated_mb"] = torch.cuda.memory_allocated() / 2**20
            rows.append(row)
            print(
                f"job {job + 1:2d}: RSS {row['rss_mb']:.0f} MiB ({row['seconds']:.0f} s)",
                flush=True,
            )
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Memory of an in-process sweep ({report['jobs']} jobs, packaged MiniLM)",
        "",
        f"Device: {report['device']}. Each job: {' '.join([*JOB, *report.get('overrides', [])])} "
        "seed=<job>.",
        "",
        f"Resident memory after job 2: {report['rss_after_job2_mb']:.0f} MiB; after job "
        f"{report['jobs']}: {report['rss_last_mb']:.0f} MiB; growth {report['growth_mb']:+.0f} MiB "
        f"(target < {TARGET_MB:.0f} MiB: {'met' if report['target_met'] else 'not met'}).",
        "",
        "Where the resident memory is (glibc `mallinfo2`): *in use* is held by live allocations "
        "(Python objects, tensors, library caches), *free in heap* is freed memory the allocator keeps "
        "(fragmentation, returned by `malloc_trim` only from the top of each arena).",
        "",
        *_breakdown_lines(report),
        "| job | RSS (MiB) | malloc in use (MiB) | free in heap (MiB) | Python blocks (k) | "
        "NumPy arrays (MiB) | CPU tensors (MiB) | seconds |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {r['job']} | {r['rss_mb']:.0f} | {r.get('malloc_in_use_mb', float('nan')):.0f} | "
            f"{r.get('malloc_free_mb', float('nan')):.0f} | "
            f"{r.get('python_blocks_k', float('nan')):.0f} | {r.get('numpy_mb', float('nan')):.0f} | "
            f"{r.get('tensors_mb', float('nan')):.0f} | {r['seconds']:.0f} |"
            for r in report["per_job"]
        ],
        "",
        *_comparison_lines(report),
        *([report["finding"], ""] if report.get("finding") else []),
        "Regenerate with `make bench-memory`.",
    ]
    return "\n".join(lines) + "\n"


def _breakdown_lines(report: dict[str, Any]) -> list[str]:
    """Which of the three grew from job 2 to the last job, from the measurements."""
    rows = report["per_job"]
    first, last = rows[min(1, len(rows) - 1)], rows[-1]
    if "malloc_in_use_mb" not in first:
        return []
    in_use = last["malloc_in_use_mb"] - first["malloc_in_use_mb"]
    free = last["malloc_free_mb"] - first["malloc_free_mb"]
    blocks = last["python_blocks_k"] - first["python_blocks_k"]
    held = ""
    if "numpy_mb" in last:
        arrays = last["numpy_mb"] + last["tensors_mb"]
        held = (
            f" NumPy arrays and CPU tensors Python still reaches after a job: {arrays:.0f} MiB after "
            f"job {last['job']} ({arrays - first['numpy_mb'] - first['tensors_mb']:+.0f} MiB since "
            "job 2), so al-bert keeps no data between jobs: what grows is held inside the libraries."
        )
    kind = (
        "mostly live allocations (library caches), not Python objects"
        if in_use >= 0.5 * report["growth_mb"]
        else "mostly freed memory the allocator keeps (fragmentation)"
    )
    return [
        f"From job 2 to job {last['job']}: malloc in use {in_use:+.0f} MiB, free in heap "
        f"{free:+.0f} MiB, Python blocks {blocks:+.0f} k, RSS {report['growth_mb']:+.0f} MiB: the "
        f"growth is {kind}.{held}",
        "",
    ]


def _comparison_lines(report: dict[str, Any]) -> list[str]:
    """The same jobs with another environment (``--compare-env``), one column per variant."""
    variants = report.get("compared", [])
    if not variants:
        return []
    header = ["job", "RSS (MiB), as above", *[f"RSS (MiB), {v['env']}" for v in variants]]
    rows = []
    for i, row in enumerate(report["per_job"]):
        cells = [str(row["job"]), f"{row['rss_mb']:.0f}"]
        cells += [
            f"{v['per_job'][i]['rss_mb']:.0f}" if i < len(v["per_job"]) else "" for v in variants
        ]
        rows.append("| " + " | ".join(cells) + " |")
    growth = "; ".join(f"{v['env']}: {v['growth_mb']:+.0f} MiB" for v in variants)
    return [
        f"The same jobs in a fresh process with another environment (growth from job 2: {growth}):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
        *rows,
        "",
        *[_attribution(report["growth_mb"], v) for v in variants],
        "",
    ]


def _attribution(growth: float, variant: dict[str, Any]) -> str:
    """What the variant's setting changes in the growth, from the two measurements."""
    other = variant["growth_mb"]
    line = (
        f"With `{variant['env']}` the growth from job 2 to job {len(variant['per_job'])} is "
        f"{other:+.0f} MiB instead of {growth:+.0f} MiB"
    )
    if abs(other - growth) < 5:
        line += ": that setting changes nothing measurable."
    elif other < growth:
        line += (
            f": that setting removes {growth - other:.0f} MiB "
            f"({(growth - other) / growth:.0%}) of it."
            if growth > 0
            else "."
        )
    else:
        line += (
            f": al-bert's setting saves {other - growth:.0f} MiB ({(other - growth) / other:.0%})."
        )
    if variant["env"].startswith("ONEDNN_PRIMITIVE_CACHE_CAPACITY"):
        line += (
            " oneDNN keeps an LRU cache of at most `ONEDNN_PRIMITIVE_CACHE_CAPACITY` compiled primitives "
            "(torch's default 1024; al-bert sets 256 unless the environment says otherwise: "
            "al_bert/__init__.py), one per new operator shape; dynamic padding meets new sequence "
            "lengths for a while, so the cache fills over many jobs."
        )
    return line


def compare_env(assignment: str, jobs: int, overrides: list[str]) -> dict[str, Any]:
    """Run the same jobs in a child process with ``NAME=VALUE`` set before torch loads (e.g. oneDNN's
    ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``, read once at start-up; several as ``A=1,B=2``); its report."""
    settings = dict(part.split("=", 1) for part in assignment.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, __file__, "--out", tmp, "--jobs", str(jobs)]
        if overrides:
            command += ["--override", *overrides]
        subprocess.run(command, env={**os.environ, **settings}, check=True)
        child: dict[str, Any] = json.loads((Path(tmp) / "memory.json").read_text())
    return {"env": assignment, "growth_mb": child["growth_mb"], "per_job": child["per_job"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--override", nargs="*", default=[], help="extra overrides of every job")
    parser.add_argument(
        "--compare-env", nargs="*", default=[], metavar="NAME=VALUE",
        help="also run the jobs in a fresh process with each of these set (one variant each)",
    )  # fmt: skip
    parser.add_argument(
        "--finding", default="", help="a measured conclusion, added to the markdown"
    )
    parser.add_argument("--render", metavar="JSON", help="only rebuild the markdown of a report")
    args = parser.parse_args(argv)
    if args.render:
        saved: dict[str, Any] = json.loads(Path(args.render).read_text())
        if args.finding:
            saved["finding"] = args.finding
            Path(args.render).write_text(json.dumps(saved, indent=1) + "\n")
        Path(args.render).with_suffix(".md").write_text(render_markdown(saved))
        return saved
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.jobs, Path(tmp), args.override)
    growth = rows[-1]["rss_mb"] - rows[min(1, len(rows) - 1)]["rss_mb"]
    report = {
        "jobs": args.jobs,
        "overrides": args.override,
        "device": "cuda" if torch.cuda.is_available() else f"cpu ({platform.machine()})",
        "rss_after_job2_mb": rows[min(1, len(rows) - 1)]["rss_mb"],
        "rss_last_mb": rows[-1]["rss_mb"],
        "growth_mb": growth,
        "target_mb": TARGET_MB,
        "target_met": growth < TARGET_MB,
        "per_job": rows,
        "compared": [compare_env(a, args.jobs, args.override) for a in args.compare_env],
        "finding": args.finding,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "memory.md").write_text(render_markdown(report))
    return report


if __name__ == "__main__":
    main()
