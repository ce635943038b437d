"""Benchmark a sweep end to end: shared iteration 0 vs independent runs, phases, the SST-2 67k pool.

``make bench-sweep`` (= ``python scripts/bench_sweep.py --out benchmarks``) measures, on one offline
dataset (TREC from the mirror, the packaged MiniLM, ``trainer=fast``):

1. **Sharing.** 7 strategies (paper 1's, with BADGE in place of DAL) × 1 seed as ONE sweep with
   ``share_iteration0=true`` against the same sweep with ``share_iteration0=false`` (each in a fresh
   output root, so both tokenize once and pay the same process start-up).
   ``r`` = shared wall time / independent wall time.
   ``i`` (ideal ratio) = 1 − (n−1)/n · f, where f is the share of the independent sweep's wall time
   spent in the work that iteration 0 has in common across strategies: M0's training, its test
   evaluation and the deterministic part of the first pool inference (for MC-dropout, the MC passes
   cannot be shared and are left out: 1 of its 1 + T passes is counted). Sharing saves that work for
   n−1 of the n runs, so ``r ≈ i`` means sharing costs nothing beyond the work it saves.
   The reuse cost of the n−1 runs (loading M0's weights, cached metrics and pool outputs) is reported.
2. **Phases.** One experiment (least confidence, sharing off) in its own process: total train / infer /
   select / eval seconds from its results records, the rest (start-up, data, tokenization), and its
   peak RSS (``os.wait4`` of the child).
3. **SST-2 67k pool.** One pool inference pass (probabilities + [CLS] embeddings, as the loop does) over
   the full SST-2 training set (67,349 sentences) with the packaged MiniLM, plus a least-confidence
   selection of 50, in a child process: tokenization time, inference time, peak RSS.

Writes ``<out>/sweep.json`` and ``<out>/sweep.md``. ``--quick`` runs everything at a tiny scale (tiny
random BERT, 400-example pool, 2,000 SST-2 sentences) to check the script, in a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Paper 1's strategies with BADGE (paper 2) in place of DAL: DAL's selection (up to 10 × 1000 epochs
# of an MLP per iteration) dwarfs training and inference and says nothing about sharing; add it with
# --strategies ... dal.
STRATEGIES = (
    "random",
    "least_confidence",
    "mc_dropout",
    "perceptron_ensemble",
    "egl",
    "core_set",
    "badge",
)
PHASES = ("train_seconds", "infer_seconds", "select_seconds", "eval_seconds")
TARGET_RATIO = 0.9
TARGET_SLACK = 0.02


# ------------------------------------------------------------------------------------ child runs
def run_child(cmd: list[str], env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run ``cmd`` to completion; its wall time, exit status and peak RSS (from ``wait4``)."""
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"bench-sweep: {' '.join(cmd)} failed ({proc.returncode}):\n{tail}")
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform == "darwin" else 1024
    return {"wall_seconds": wall, "peak_rss_mb": usage.ru_maxrss * scale / 2**20}


def child_env(root: Path) -> dict[str, str]:
    env = {**os.environ, "AL_BERT_OUTPUT_DIR": str(root), "AL_BERT_OFFLINE": "1"}
    env.pop("AL_BERT_CACHE_DIR", None)  # each output root has its own caches: no warm start
    env.setdefault("AL_BERT_DATA_MIRROR", str(REPO.parent / "shared" / "datasets"))
    env.setdefault("WANDB_SILENT", "true")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def load_runs(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Strategy → its records, for every finished run under ``root``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for run_dir in sorted((root / "runs").iterdir()):
        status = json.loads((run_dir / "run.json").read_text())
        if status.get("status") != "finished":
            raise SystemExit(f"bench-sweep: run {run_dir} did not finish: {status}")
        rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        out[rows[0]["strategy"]] = rows
    return out


def al_bert_cmd(common: list[str], *extra: str, multirun: bool = True) -> list[str]:
    return [sys.executable, "-m", "al_bert", *(["-m"] if multirun else []), *common, *extra]


# ------------------------------------------------------------------------------------- analysis
def shareable_seconds(rows: list[dict[str, Any]], mc_passes: int) -> float:
    """Iteration 0's work that a shared M0 makes unnecessary: train + test eval + first pool pass."""
    first_pass = rows[1].get("infer_seconds", 0.0) if len(rows) > 1 else 0.0
    return (
        rows[0].get("train_seconds", 0.0)
        + rows[0].get("eval_seconds", 0.0)
        + first_pass / (1 + mc_passes)
    )


def phase_split(rows: list[dict[str, Any]], wall: float) -> dict[str, float]:
    split = {p.removesuffix("_seconds"): sum(r.get(p) or 0.0 for r in rows) for p in PHASES}
    split["other"] = max(0.0, wall - sum(split.values()))  # start-up, data, tokenization, writes
    return {k: round(v, 2) for k, v in split.items()}


# ----------------------------------------------------------------------------------- SST-2 child
def sst2_pool_pass(limit: int | None, model: str) -> dict[str, Any]:
    """One pool inference pass over SST-2's training set, in this process (run as a child)."""
    import numpy as np
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from al_bert.data.catalog import build_task
    from al_bert.data.fetch import FetchSettings
    from al_bert.model.backbones import BackboneConfig
    from al_bert.model.encoder_learner import build_datamodule
    from al_bert.model.inference import predict_rows
    from al_bert.model.module import ALClassifier
    from al_bert.outputs import PoolOutputs
    from al_bert.strategies.least_confidence import LeastConfidence
    from al_bert.weighting.base import Uniform

    conf = REPO / "conf"
    training = instantiate(OmegaConf.load(conf / "trainer" / "fast.yaml"))
    model_cfg = OmegaConf.to_container(OmegaConf.load(conf / "model" / f"{model}.yaml"))
    assert isinstance(model_cfg, dict)
    backbone = BackboneConfig(**{str(k): v for k, v in model_cfg.items()})
    started = time.perf_counter()
    task = build_task(
        "sst2",
        positive_class="positive",
        imbalance_ratio=None,
        fetch=FetchSettings(download=False),
    )
    if limit:
        task = task.subsample(limit, None, seed=0)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    datamodule = build_datamodule(task, backbone, training)
    datamodule.setup()
    tokenize_seconds = time.perf_counter() - started
    module = ALClassifier(backbone, training.optim(backbone), total_steps=1)
    module.eval()
    device = training.device()
    bf16 = training.use_bf16(device, inference=True)
    started = time.perf_counter()
    out = predict_rows(module, datamodule, "train", device=device, bf16=bf16, embeddings=True)
    infer_seconds = time.perf_counter() - started
    pool = np.arange(out["probs"].size)
    outputs = PoolOutputs(pool_positions=pool, probs=out["probs"], embeddings=out["embeddings"])
    started = time.perf_counter()
    LeastConfidence().select(outputs, Uniform()(outputs), 50, np.random.default_rng(0))
    select_seconds = time.perf_counter() - started
    import torch

    return {
        "pool_size": int(pool.size),
        "model": backbone.name_or_path,
        "device": str(device),
        "bf16_inference": bool(bf16),
        "torch_threads": torch.get_num_threads(),
        "max_length": training.max_length,
        "eval_batch_size": training.eval_batch_size,
        "load_seconds": round(load_seconds, 2),
        "tokenize_seconds": round(tokenize_seconds, 2),
        "infer_seconds": round(infer_seconds, 2),
        "sentences_per_second": round(pool.size / infer_seconds, 1),
        "select_least_confidence_seconds": round(select_seconds, 3),
        "embeddings_mb": round(out["embeddings"].nbytes / 2**20, 1),
    }


# ------------------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks", help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny scale: check the script only")
    parser.add_argument("--dataset", default="trec", help="an offline (mirror) dataset config")
    parser.add_argument("--limit-train", type=int, default=1000, help="pool cap (0: full task)")
    parser.add_argument("--iterations", type=int, default=5, help="al.iterations")
    parser.add_argument("--batch-size", type=int, default=50, help="al.batch_size")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--sst2-limit", type=int, default=0, help="SST-2 sentences (0: all 67,349)")
    parser.add_argument("--skip-sst2", action="store_true", help="leave out the 67k-pool pass")
    parser.add_argument("--workdir", type=Path, default=None, help="keep run outputs here")
    parser.add_argument(
        "--extra",
        nargs="*",
        default=[],
        help="more Hydra overrides for every run (e.g. limit.eval=300)",
    )
    parser.add_argument("--sst2-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="minilm", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.limit_train, args.iterations, args.batch_size = 400, 2, 10
        args.sst2_limit = args.sst2_limit or 2000
    return args


def common_overrides(args: argparse.Namespace) -> list[str]:
    common = [
        f"dataset={args.dataset}",
        "trainer=fast",
        "scenario=imbalanced",  # 100 positives + 100 weak negatives: buildable on any pool cap
        "logger=none",
        "seed=0",
        f"al.iterations={args.iterations}",
        f"al.batch_size={args.batch_size}",
        "print_table=false",
    ]
    if args.limit_train:
        common.append(f"limit.train={args.limit_train}")
    if args.quick:
        common += ["model=tiny", "trainer.max_epochs=1", "limit.eval=100", "scenario=imbalanced"]
        common += ["seed_builder.positives=30", "seed_builder.weak_negatives=30"]
    return common + list(args.extra)


def mc_passes(strategy: str) -> int:
    """The MC-dropout passes the strategy's inference request asks for (0 for most)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    node = OmegaConf.load(REPO / "conf" / "strategy" / f"{strategy}.yaml")
    return int(instantiate(node).request.mc_passes)


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    common = common_overrides(args)
    sweep = "strategy=" + ",".join(args.strategies)
    n = len(args.strategies)
    results: dict[str, Any] = {"config": {"overrides": common, "strategies": args.strategies}}

    # 1. One experiment on its own (also warms the OS file cache for the two sweeps).
    print("bench-sweep: one experiment (least confidence) for the phase split ...", flush=True)
    root = work / "phases"
    one = run_child(
        al_bert_cmd(common, "strategy=least_confidence", "share_iteration0=false", multirun=False),
        child_env(root),
        work / "phases.log",
    )
    rows = load_runs(root)["least_confidence"]
    results["phases"] = {
        "strategy": "least_confidence",
        "wall_seconds": round(one["wall_seconds"], 2),
        "peak_rss_mb": round(one["peak_rss_mb"], 1),
        "seconds": phase_split(rows, one["wall_seconds"]),
        "per_iteration": [
            {"iteration": r["iteration"], "train_size": r["train_size"]}
            | {p.removesuffix("_seconds"): round(r.get(p) or 0.0, 3) for p in PHASES}
            for r in rows
        ],
    }

    # 2. The sweep, independent runs then shared iteration 0.
    timings: dict[str, dict[str, Any]] = {}
    for mode, share in (("independent", "false"), ("shared", "true")):
        print(f"bench-sweep: {n} strategies as one sweep, share_iteration0={share} ...", flush=True)
        root = work / mode
        timings[mode] = run_child(
            al_bert_cmd(common, sweep, f"share_iteration0={share}"),
            child_env(root),
            work / f"{mode}.log",
        )
        timings[mode]["runs"] = load_runs(root)
    independent, shared = timings["independent"], timings["shared"]
    ratio = shared["wall_seconds"] / independent["wall_seconds"]
    per_run = {s: shareable_seconds(rows, mc_passes(s)) for s, rows in independent["runs"].items()}
    fraction = sum(per_run.values()) / independent["wall_seconds"]
    ideal = 1 - (n - 1) / n * fraction
    # What reusing cost the runs that did not train M0 (load weights, read metrics and pool outputs).
    reuse = {
        s: round(rows[0]["train_seconds"] + rows[0]["eval_seconds"], 3)
        for s, rows in shared["runs"].items()
        if s != args.strategies[0]
    }
    same_results = all(
        _strip(shared["runs"][s]) == _strip(independent["runs"][s]) for s in args.strategies
    )
    results.update(
        shared_vs_independent_ratio=round(ratio, 4),
        ideal_ratio=round(ideal, 4),
        targets={
            "ratio_at_most": TARGET_RATIO,
            "ratio_at_most_ideal_plus": TARGET_SLACK,
            "met": bool(ratio <= TARGET_RATIO and ratio <= ideal + TARGET_SLACK),
        },
        sweep={
            "strategies": n,
            "shared_wall_seconds": round(shared["wall_seconds"], 2),
            "independent_wall_seconds": round(independent["wall_seconds"], 2),
            "shared_peak_rss_mb": round(shared["peak_rss_mb"], 1),
            "independent_peak_rss_mb": round(independent["peak_rss_mb"], 1),
            "iteration0_share_of_independent_time": round(fraction, 4),
            "iteration0_seconds_per_run": {k: round(v, 2) for k, v in per_run.items()},
            "reuse_seconds_per_run": reuse,
            "identical_results_shared_vs_independent": same_results,
        },
    )

    # 3. The SST-2 67k pool.
    if not args.skip_sst2:
        print("bench-sweep: SST-2 pool inference pass ...", flush=True)
        out_json = work / "sst2.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--sst2-child",
            "--out",
            str(out_json),
        ]
        cmd += ["--sst2-limit", str(args.sst2_limit), "--model", args.model]
        child = run_child(cmd, child_env(work / "sst2"), work / "sst2.log")
        results["sst2_pool"] = json.loads(out_json.read_text()) | {
            "wall_seconds": round(child["wall_seconds"], 2),
            "peak_rss_mb": round(child["peak_rss_mb"], 1),
        }
    return results


def _strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in rows]


def machine() -> dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def markdown(results: dict[str, Any]) -> str:
    sweep, phases = results["sweep"], results["phases"]
    lines = [
        "# Sweep benchmark (`make bench-sweep`)",
        "",
        f"Machine: {results['machine']['platform']}, {results['machine']['cpu_count']} CPU cores, "
        f"GPU: {results['machine']['cuda'] or 'none'}, torch {results['machine']['torch']}; "
        f"load average at start {results['machine']['load_average_at_start']}, at end "
        f"{results['machine']['load_average_at_end']} (wall-time ratios need a quiet machine); "
        f"total {results['total_seconds']} s.",
        f"Overrides: `{' '.join(results['config']['overrides'])}`"
        + (" (**--quick**: not representative)" if results["quick"] else ""),
        "",
        f"## Shared iteration 0: {sweep['strategies']} strategies × 1 seed",
        "",
        "| | wall s | peak RSS MB |",
        "|---|---:|---:|",
        f"| one sweep, `share_iteration0=false` | {sweep['independent_wall_seconds']} | "
        f"{sweep['independent_peak_rss_mb']} |",
        f"| one sweep, `share_iteration0=true` | {sweep['shared_wall_seconds']} | "
        f"{sweep['shared_peak_rss_mb']} |",
        "",
        f"- **r = shared / independent = {results['shared_vs_independent_ratio']}**",
        f"- **i (ideal) = {results['ideal_ratio']}** = 1 − (n−1)/n · f with f = "
        f"{sweep['iteration0_share_of_independent_time']}, the share of the independent sweep's "
        "time spent on iteration 0's training, test evaluation and first (deterministic) pool pass",
        f"- targets r ≤ {TARGET_RATIO} and r ≤ i + {TARGET_SLACK}: "
        f"**{'met' if results['targets']['met'] else 'NOT met'}**",
        f"- reuse cost per run that did not train M0 (load weights + cached metrics), s: "
        f"{sweep['reuse_seconds_per_run']}",
        f"- shared and independent runs give identical results (timings aside): "
        f"{sweep['identical_results_shared_vs_independent']}",
        "",
        f"## One experiment ({phases['strategy']}, sharing off)",
        "",
        "| train s | infer s | select s | eval s | other s | wall s | peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        "| "
        + " | ".join(
            str(phases["seconds"][k]) for k in ("train", "infer", "select", "eval", "other")
        )
        + f" | {phases['wall_seconds']} | {phases['peak_rss_mb']} |",
        "",
        "`other` = process start-up, data loading, tokenization, result writes.",
    ]
    if "sst2_pool" in results:
        s = results["sst2_pool"]
        lines += [
            "",
            f"## SST-2 pool: one inference pass over {s['pool_size']:,} sentences",
            "",
            f"{s['model']} on {s['device']} ({s['torch_threads']} threads, bf16 "
            f"{s['bf16_inference']}, max_length {s['max_length']}, batch {s['eval_batch_size']}): "
            f"tokenization {s['tokenize_seconds']} s, **inference {s['infer_seconds']} s** "
            f"({s['sentences_per_second']} sentences/s), least-confidence selection of 50 "
            f"{s['select_least_confidence_seconds']} s, embeddings {s['embeddings_mb']} MB, "
            f"**peak RSS {s['peak_rss_mb']} MB** (whole child process, {s['wall_seconds']} s).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.sst2_child:
        args.out.write_text(json.dumps(sst2_pool_pass(args.sst2_limit or None, args.model)))
        return
    started = time.perf_counter()
    info = machine()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = bench(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
            results = bench(args, Path(tmp))
    results = {"machine": info, "quick": args.quick, **results}
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    for runs_of in ("shared", "independent"):
        results["sweep"].pop(runs_of, None)
    (args.out / "sweep.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "sweep.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
