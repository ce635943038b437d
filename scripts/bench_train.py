"""Where a fine-tuning step's time goes: al-bert's fits against a bare PyTorch loop, for every trainer.

``make bench-train`` (= ``python scripts/bench_train.py --out benchmarks``). For each trainer (``ein_dor``,
``fairstein``, ``fast``) it takes the labelled sets of one committed reproduction run — iterations 0–5,
50 labels a step: L0 rebuilt from the run's seed and its recorded selections replayed
(:func:`al_bert.loop.replay_labelled`) — and fits each of them

- **al-bert**: as a run fits it (:func:`al_bert.model.training.fit_model`: Lightning Trainer, the trainer's
  epochs, clipping, schedule and dev-epoch selection), with torch's default AdamW (per-tensor on CPU,
  foreach on CUDA: what the committed runs used, ``trainer.fused_adamw=false``) and with the fused kernel
  (today's default);
- **bare PyTorch**: the same optimiser steps on the same batches (the same module, loss, clipping and
  schedule; no Lightning, no dev pass) in a plain loop, fused AdamW.

Per step (from one batch's start to the next one's in the same epoch; epochs' last steps are left out):
forward + backward (first forward call to the end of backward; Lightning's closure zeroes the gradients
and logs the loss in between, and the bare loop does the same there), optimiser step (torch's ``step``
without the closure and the clipping), and everything else (clipping, scheduler, fetching the next batch,
hooks). On CUDA every mark synchronises first, so asynchronous kernels land in their own phase. Target:
everything besides forward + backward ≤ 10 % of a step on CPU.
Writes ``<out>/train<suffix>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir

from al_bert.app import build_components
from al_bert.config_groups import instantiate_group
from al_bert.console import quiet_frameworks
from al_bert.data.fetch import FetchSettings
from al_bert.devices import configure_threads
from al_bert.loop import initial_set, replay_labelled
from al_bert.model.encoder_learner import build_datamodule
from al_bert.model.module import ALClassifier
from al_bert.model.training import TrainingConfig, fit_model
from al_bert.oracle import Oracle
from al_bert.tracking.environment import describe_device
from al_bert.tracking.runkey import results_dir
from al_bert.tracking.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
TARGET_SHARE = 0.10
# trainer -> (the committed run whose labelled sets are fitted, overrides of the fitted config).
# ``fast`` has no committed run: it fits ein_dor's run's sets (same task, seed and selections).
PAPER1_RUN = [
    "+experiment=trec_imb_practical", "strategy=random", "seed=0", "trainer.fused_adamw=false",
]  # fmt: skip
PAPER2_RUN = [
    "+experiment=fairstein_sst2", "limit.train=5000", "dataset.imbalance_ratio=50", "strategy=random",
    "weighting=uniform", "seed=0", "trainer.fused_adamw=false",
]  # fmt: skip
SETUPS: dict[str, tuple[list[str], list[str]]] = {
    "ein_dor": (PAPER1_RUN, []),
    "fairstein": (PAPER2_RUN, []),
    "fast": (PAPER1_RUN, ["trainer=fast"]),
}
PHASES = ("forward_backward", "optimizer", "other")


class StepTimer(L.Callback):
    """Marks each training step's phases on one clock (``time.perf_counter``): batch start, first
    forward call, end of backward, optimiser hook, clipping, end of torch's optimiser step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, float]] = []
        self._current: dict[str, float] | None = None
        self._handles: list[Any] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._handles.append(pl_module.register_forward_pre_hook(self._forward_started))
        for optimizer in trainer.optimizers:
            self._handles.append(optimizer.register_step_post_hook(self._stepped))
        clip = pl_module.configure_gradient_clipping

        def timed_clip(*args: Any, **kwargs: Any) -> None:
            started = _now()
            clip(*args, **kwargs)
            self._mark("clip_seconds", _now() - started)

        pl_module.configure_gradient_clipping = timed_clip  # type: ignore[method-assign]

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        vars(pl_module).pop("configure_gradient_clipping", None)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.on_train_end(trainer, pl_module)

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        now = _now()
        if self._current is not None and self._current["epoch"] == trainer.current_epoch:
            self._current["next_start"] = now
            self.steps.append(self._current)
        self._current = {"start": now, "epoch": trainer.current_epoch}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._current = None  # an epoch's last step: its span would include the dev pass

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._mark("backward_end", _now())

    def on_before_optimizer_step(self, *args: Any) -> None:
        self._mark("optimizer_hook", _now())

    def _forward_started(self, *args: Any) -> None:
        if self._current is not None and "forward_start" not in self._current:
            self._current["forward_start"] = _now()

    def _stepped(self, *args: Any) -> None:
        self._mark("optimizer_end", _now())

    def _mark(self, name: str, value: float) -> None:
        if self._current is not None:
            self._current[name] = value


def step_phases(step: dict[str, float]) -> dict[str, float]:
    """Seconds of one step by phase (the optimiser window minus the clipping inside it)."""
    span = step["next_start"] - step["start"]
    forward_backward = step["backward_end"] - step["forward_start"]
    optimizer = step["optimizer_end"] - step["optimizer_hook"] - step.get("clip_seconds", 0.0)
    return {
        "step": span,
        "forward_backward": forward_backward,
        "optimizer": optimizer,
        "other": span - forward_backward - optimizer,
        "clipping": step.get("clip_seconds", 0.0),  # part of "other"
    }


def bare_fit(
    module: ALClassifier,
    training: TrainingConfig,
    loader: torch.utils.data.DataLoader,
    device: torch.device,
) -> list[dict[str, float]]:
    """The same optimiser steps as a fit in a plain PyTorch loop; each step's phases."""
    module.to(device).train()
    configured = module.configure_optimizers()
    optimizer, schedule = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if training.use_bf16(device, inference=False)
        else nullcontext()
    )
    steps: list[dict[str, float]] = []
    for _ in range(training.max_epochs):
        previous: dict[str, float] | None = None
        for batch in loader:
            start = time.perf_counter()
            if previous is not None:
                previous["next_start"] = start
                steps.append(previous)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            _synchronize(device)
            forward_start = time.perf_counter()
            with autocast:
                logits, _ = module(batch["input_ids"], batch["attention_mask"])
            loss = module.loss(logits.float(), batch["labels"])
            optimizer.zero_grad(set_to_none=True)  # where Lightning's closure zeroes them
            loss.backward()
            _synchronize(device)
            backward_end = time.perf_counter()
            if training.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(module.parameters(), training.max_grad_norm)
            _synchronize(device)
            optimizer_hook = time.perf_counter()
            clip_seconds = optimizer_hook - backward_end
            optimizer.step()
            _synchronize(device)
            optimizer_end = time.perf_counter()
            schedule.step()
            previous = {
                "start": start,
                "forward_start": forward_start,
                "backward_end": backward_end,
                "optimizer_hook": optimizer_hook - clip_seconds,
                "optimizer_end": optimizer_end,
                "clip_seconds": clip_seconds,
            }
    return steps


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _now() -> float:
    """``time.perf_counter`` after the GPU's queued work is done (asynchronous kernels are timed in
    the phase that launched them)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def labelled_sets(cfg: Any, seed_builder: Any, task: Any, iterations: int) -> list[Any]:
    """L_0 … L_iterations of the committed run ``cfg`` names (its ``results.jsonl``)."""
    run_dir = results_dir(cfg)
    records = [r for r in ResultsStore(run_dir).records() if int(r["iteration"]) <= iterations]
    if len(records) < iterations + 1:
        sys.exit(
            f"bench-train: {run_dir} holds {len(records)} iterations, not {iterations + 1}: "
            "run `make reproduce` (or lower --iterations)"
        )
    oracle = Oracle(task.train["label"].to_numpy())
    start = initial_set(task, seed_builder, oracle, int(cfg.seed), str(cfg.scenario.name))
    ids = task.train["id"].astype(str).to_numpy()
    labelled = replay_labelled(start, records, ids, oracle)
    return [labelled.upto(i) for i in range(iterations + 1)]


def bench_trainer(name: str, iterations: int, threads: int) -> dict[str, Any]:
    """Every fit of one trainer's run, three ways; per-step phases and per-fit seconds."""
    run_overrides, extra = SETUPS[name]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        committed = compose(
            "config", overrides=[*run_overrides, "paths.output_root=" + str(REPO / "reproduction")]
        )
        cfg = compose(
            "config",
            overrides=[*run_overrides, *extra, "paths.output_root=" + str(REPO / "reproduction")],
        )
    configure_threads(threads, bool(cfg.get("deterministic", True)))
    parts = build_components(cfg)
    task = instantiate_group(
        cfg.dataset, "dataset", fetch=FetchSettings(**cfg.paths.get("data", {}))
    )
    limits = cfg.get("limit") or {}
    if limits.get("train") or limits.get("eval"):
        task = task.subsample(limits.get("train"), limits.get("eval"), seed=0)
    sets = labelled_sets(committed, parts["seed_builder"], task, iterations)
    backbone = parts["backbone"]
    base: TrainingConfig = parts["training"]
    device = base.device()
    datamodule = build_datamodule(task, backbone, base, seed=int(cfg.seed))
    datamodule.setup()
    variants = {
        "al-bert, torch's default AdamW": ("al-bert", False),
        "al-bert, fused AdamW": ("al-bert", True),
        "bare PyTorch, fused AdamW": ("bare", True),
    }
    results: dict[str, Any] = {}
    for label, (how, fused) in variants.items():
        training = dataclasses.replace(base, fused_adamw=fused)
        steps: list[dict[str, float]] = []
        fit_seconds: list[float] = []
        for iteration, labelled in enumerate(sets):
            seed = int(cfg.seed) * 1000 + iteration
            started = time.perf_counter()
            if how == "al-bert":
                timer = StepTimer()
                fit_model(
                    backbone, training, datamodule, labelled.rows, labelled.labels, seed, [timer]
                )
                steps += timer.steps
            else:
                L.seed_everything(seed, workers=True, verbose=False)
                datamodule.set_labelled(labelled.rows, labelled.labels, seed)
                train_rows, _ = datamodule.train_rows()
                per_epoch = int(np.ceil(train_rows.size / training.batch_size))
                module = ALClassifier(
                    backbone, training.optim(backbone), total_steps=per_epoch * training.max_epochs
                )
                steps += bare_fit(module, training, datamodule.train_dataloader(), device)
                del module
            fit_seconds.append(time.perf_counter() - started)
            print(
                f"{name} · {label} · iteration {iteration} (|L| = {labelled.rows.size}): "
                f"{fit_seconds[-1]:.1f} s",
                flush=True,
            )
        results[label] = summarize(steps, fit_seconds)
    probe = ALClassifier(backbone, base.optim(backbone), total_steps=1)
    parameters = sum(p.numel() for p in probe.parameters() if p.requires_grad)
    del probe
    return {
        "run": " ".join([*run_overrides, *extra]),
        "parameters": int(parameters),
        "labelled_sizes": [int(s.rows.size) for s in sets],
        "epochs": base.max_epochs,
        "batch_size": base.batch_size,
        "precision": "bf16-mixed" if base.use_bf16(device, inference=False) else "fp32",
        "variants": results,
    }


def copy_gib_s(mib: int = 256, repeats: int = 5) -> float:
    """Memory traffic of the fastest of ``repeats`` copies of a ``mib`` MiB fp32 tensor (read + write),
    GiB/s: what a memory-bound update can hope for on this machine."""
    source = torch.ones(mib * 2**18)
    target = torch.empty_like(source)
    best = float("inf")
    for _ in range(repeats):
        started = _now()
        target.copy_(source)
        best = min(best, _now() - started)
    return 2 * mib / 1024 / best


def summarize(steps: list[dict[str, float]], fit_seconds: list[float]) -> dict[str, Any]:
    """Mean milliseconds per step by phase, their shares, and the fits' seconds."""
    phases = [step_phases(s) for s in steps if "next_start" in s and "optimizer_end" in s]
    mean = {k: 1000 * statistics.fmean(p[k] for p in phases) for k in ("step", *PHASES, "clipping")}
    share_besides = 1 - mean["forward_backward"] / mean["step"]
    return {
        "steps_timed": len(phases),
        "ms_per_step": mean,
        "share_besides_forward_backward": share_besides,
        "target_met": share_besides <= TARGET_SHARE,
        "fit_seconds": fit_seconds,
        "fit_seconds_total": sum(fit_seconds),
        "steps_seconds_total": sum(p["step"] for p in phases),
    }


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Where a fine-tuning step's time goes (al-bert vs a bare PyTorch loop)",
        "",
        f"Device: {report['device']}, {report['threads']} torch threads, torch {report['torch']}. "
        f"Each trainer fits the labelled sets of iterations 0–{report['iterations']} of one committed "
        "reproduction run (its L0 and recorded selections replayed). A step spans one batch's start to "
        "the next's (epochs' last steps left out); *optimiser* is torch's update alone, *other* is "
        "everything else (clipping, schedule, the next batch, hooks; zero_grad and logging fall "
        "between forward and backward). Target: "
        f"optimiser + other ≤ {TARGET_SHARE:.0%} of a step on CPU.",
        "",
        "| trainer | how | steps | step (ms) | fwd + bwd (ms) | optimiser (ms) | other (ms) | "
        "of which clipping (ms) | besides fwd + bwd | fits (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, trainer in report["trainers"].items():
        for label, v in trainer["variants"].items():
            ms = v["ms_per_step"]
            lines.append(
                f"| {name} | {label} | {v['steps_timed']} | {ms['step']:.0f} | "
                f"{ms['forward_backward']:.0f} | {ms['optimizer']:.1f} | {ms['other']:.1f} | "
                f"{ms.get('clipping', float('nan')):.1f} | "
                f"{v['share_besides_forward_backward']:.1%} "
                f"({'met' if v['target_met'] else 'not met'}) | {v['fit_seconds_total']:.0f} |"
            )
    lines += ["", "Runs fitted (|L| per iteration, epochs × batch, training precision):", ""]
    for name, trainer in report["trainers"].items():
        lines.append(
            f"- {name}: `{trainer['run']}`; |L| = {trainer['labelled_sizes']}; "
            f"{trainer['epochs']} epochs × batch {trainer['batch_size']}; {trainer['precision']}."
        )
    lines += ["", *_findings(report), "", "Regenerate with `make bench-train`."]
    return "\n".join(lines) + "\n"


def _findings(report: dict[str, Any]) -> list[str]:
    """What the measurements say, computed from them: the fused kernel's gain, Lightning's cost against
    the bare loop, and how close the fused update is to its memory traffic (AdamW reads θ, g, m, v and
    writes θ, m, v: 28 bytes per fp32 parameter)."""
    out = []
    for name, trainer in report["trainers"].items():
        v = trainer["variants"]
        loop = v["al-bert, torch's default AdamW"]["ms_per_step"]
        fused = v["al-bert, fused AdamW"]["ms_per_step"]
        bare = v["bare PyTorch, fused AdamW"]["ms_per_step"]
        share = v["al-bert, fused AdamW"]["share_besides_forward_backward"]
        line = (
            f"- {name}: the fused kernel takes the optimiser from {loop['optimizer']:.0f} to "
            f"{fused['optimizer']:.0f} ms a step ({loop['step'] / fused['step']:.2f}× faster steps); "
            f"al-bert's step is {fused['step'] / bare['step']:.2f}× the bare loop's "
            f"({fused['other'] - bare['other']:+.1f} ms of other work a step)."
        )
        if "parameters" in trainer and fused["optimizer"] > 0:
            traffic = 28 * trainer["parameters"] / 2**30
            rate = traffic / (fused["optimizer"] / 1000)
            line += (
                f" The fused update moves {traffic:.2f} GiB a step ({trainer['parameters'] / 1e6:.1f} M "
                f"parameters × 28 bytes): {rate:.1f} GiB/s"
            )
            if report.get("copy_gib_s"):
                line += (
                    f", {rate / report['copy_gib_s']:.0%} of the {report['copy_gib_s']:.0f} GiB/s a "
                    "plain tensor copy moves here"
                )
            if fused.get("clipping", 0.0) > 0.5:
                line += (
                    f"; clipping the global norm reads every gradient twice more "
                    f"({fused['clipping']:.1f} ms)"
                )
            floor = fused["optimizer"] / fused["forward_backward"]
            line += (
                f". Besides forward + backward is {share:.1%} of a step"
                + (
                    ""
                    if share <= TARGET_SHARE
                    else f" (target not met: the update alone is {floor:.1%} of forward + backward at "
                    f"batch {trainer['batch_size']})"
                )
                + "."
            )
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks")
    parser.add_argument("--suffix", default="", help="file name suffix (train<suffix>.json)")
    parser.add_argument("--trainers", nargs="*", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--iterations", type=int, default=5, help="fit iterations 0..N")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--render", metavar="JSON", help="only rebuild the markdown of a report")
    args = parser.parse_args(argv)
    if args.render:
        rendered = json.loads(Path(args.render).read_text())
        Path(args.render).with_suffix(".md").write_text(render_markdown(rendered))
        return dict(rendered)
    quiet_frameworks()
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    trainers = {name: bench_trainer(name, args.iterations, args.threads) for name in args.trainers}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report = {
        "device": f"{device.type} ({describe_device(device)['device']})",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "iterations": args.iterations,
        "target_share": TARGET_SHARE,
        "copy_gib_s": copy_gib_s(),
        "trainers": trainers,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"train{args.suffix}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"train{args.suffix}.md").write_text(render_markdown(report))
    return report


if __name__ == "__main__":
    main()
