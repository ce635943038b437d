"""Choose a backbone preset on dev data: fine-tune variants on the labelled sets a Random run builds.

For one experiment (``+experiment=...``) and a few seeds this script builds the seed set L0 exactly as a
run does, grows it by uniform random batches of ``al.batch_size`` (the Random strategy's sets at each
iteration) and, at the chosen iterations, fine-tunes every variant (a list of Hydra overrides of ``model``
and ``trainer``) from the pretrained weights. Each model is scored on **dev data only**: the task's dev
split, or, for tasks without one (paper 2's SST-2), ``--dev-size`` rows held out of the pool (never drawn
into L). The test split is never read, so presets chosen here are not tuned on reported numbers.

    python scripts/tune_backbone.py +experiment=trec_imb_practical --seeds 0 1 2 \\
        --variant "pooler: model.pooling=pooler model.head_lr=null" \\
        --variant "mean: model.pooling=mean" --out benchmarks/backbone

Writes ``<out>/<experiment>.jsonl`` (one line per seed × iteration × variant, appended as they finish,
so an interrupted run resumes) and ``<out>/<experiment>.md``, a summary per variant: mean and minimum of dev AUC, F1 and
balanced accuracy, and how many models fall below F1 0.3.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from al_bert.analysis.tables import markdown_table
from al_bert.app import build_components
from al_bert.data.task import Task
from al_bert.loop import derived_rng
from al_bert.metrics.classification import classification_metrics
from al_bert.model.encoder_learner import build_datamodule
from al_bert.model.inference import predict_rows
from al_bert.model.training import fit_model
from al_bert.oracle import Oracle

REPO = Path(__file__).resolve().parents[1]


def compose_config(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        return compose("config", overrides=[*overrides, "logger=none"])


def split_dev(task: Task, dev_size: int) -> tuple[Task, np.ndarray]:
    """The task with a dev split (held out of the pool when it has none) and the pool rows allowed."""
    if task.dev is not None and len(task.dev):
        return task, np.arange(len(task.train))
    rng = np.random.default_rng(12345)
    held = np.sort(
        rng.choice(len(task.train), size=min(dev_size, len(task.train) // 4), replace=False)
    )
    dev = task.train.iloc[held].reset_index(drop=True)
    keep = np.setdiff1d(np.arange(len(task.train)), held)
    return replace(task, dev=dev), keep


def labelled_sets(
    cfg: DictConfig, task: Task, allowed: np.ndarray, iterations: list[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """L_t of a Random run at each wanted iteration t: the seed plus t uniform batches of k."""
    components = build_components(cfg)
    oracle = Oracle(task.train["label"].to_numpy())
    seed = components["seed_builder"].build(task, oracle, derived_rng(int(cfg.seed), 0, 0))
    rows, labels = seed.rows, seed.labels
    sets = {0: (rows, labels)}
    k = int(cfg.al.batch_size)
    for t in range(1, max(iterations) + 1):
        pool = np.setdiff1d(allowed, rows)
        picked = np.sort(derived_rng(int(cfg.seed), t, 1).choice(pool, size=k, replace=False))
        rows = np.concatenate([rows, picked])
        labels = np.concatenate([labels, oracle.label(picked)])
        sets[t] = (rows, labels)
    return {t: sets[t] for t in iterations}


def evaluate_variant(
    base: list[str], variant: list[str], task: Task, sets: dict, seed: int
) -> list[dict[str, Any]]:
    cfg = compose_config([*base, *variant, f"seed={seed}"])
    components = build_components(cfg)
    backbone, training = components["backbone"], components["training"]
    datamodule = build_datamodule(
        task, backbone, training, cache_dir=REPO / "outputs/.cache/tokenized"
    )
    datamodule.setup()
    device = training.device()
    dev_labels = task.dev["label"].to_numpy()
    out = []
    for t, (rows, labels) in sets.items():
        started = time.perf_counter()
        model = fit_model(backbone, training, datamodule, rows, labels, seed * 1000 + t)
        seconds = time.perf_counter() - started
        probs = predict_rows(
            model,
            datamodule,
            "dev",
            device=device,
            bf16=training.use_bf16(device, inference=True),
            embeddings=False,
        )["probs"]
        metrics = classification_metrics(probs, dev_labels)
        out.append(
            {
                "seed": seed,
                "iteration": t,
                "train_size": int(rows.size),
                "train_positives": int(labels.sum()),
                "train_seconds": seconds,
                "dev_positive_rate": float((probs >= 0.5).mean()),
                **{f"dev_{k}": v for k, v in metrics.items()},
            }
        )
        del model
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the experiment")
    parser.add_argument("--variant", action="append", required=True, help='"name: override ..."')
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, nargs="+", default=[0, 1, 2, 5])
    parser.add_argument("--dev-size", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "backbone")
    args = parser.parse_args()

    base = list(args.overrides)
    cfg0 = compose_config(base)
    name = str(cfg0.get("experiment_name") or "default")
    task: Task = instantiate(cfg0.dataset, _convert_="all")
    limits = cfg0.get("limit") or {}
    if limits.get("train"):
        task = task.subsample(limits.get("train"), None, seed=0)
    task, allowed = split_dev(task, args.dev_size)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}.jsonl"
    done = set()
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            done.add((r["variant"], r["seed"], r["iteration"]))
    for seed in args.seeds:
        cfg = compose_config([*base, f"seed={seed}"])
        sets = labelled_sets(cfg, task, allowed, args.iterations)
        for spec in args.variant:
            vname, _, rest = spec.partition(":")
            todo = {t: s for t, s in sets.items() if (vname, seed, t) not in done}
            if not todo:
                continue
            for record in evaluate_variant(base, rest.split(), task, todo, seed):
                record = {"experiment": name, "variant": vname, "overrides": rest.strip(), **record}
                with path.open("a") as fh:
                    fh.write(json.dumps(record) + "\n")
                print(
                    f"{vname:>14} seed {seed} it {record['iteration']}: AUC "
                    f"{record['dev_roc_auc']:.3f} F1 {record['dev_f1']:.3f} bal "
                    f"{record['dev_balanced_accuracy']:.3f} ({record['train_seconds']:.0f}s)",
                    flush=True,
                )
    frame = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    summary = frame.groupby(["variant", "iteration"]).agg(
        auc_mean=("dev_roc_auc", "mean"),
        auc_min=("dev_roc_auc", "min"),
        f1_mean=("dev_f1", "mean"),
        f1_min=("dev_f1", "min"),
        bal_mean=("dev_balanced_accuracy", "mean"),
        bal_min=("dev_balanced_accuracy", "min"),
        f1_below_0_3=("dev_f1", lambda s: int((s < 0.3).sum())),
        models=("dev_f1", "size"),
        seconds=("train_seconds", "mean"),
    )
    print(summary.round(3).to_string())
    table = summary.round(3).reset_index()
    overrides = frame.groupby("variant")["overrides"].first()
    (args.out / f"{name}.md").write_text(
        f"# Backbone variants on dev data: {name}\n\n"
        f"Overrides: `{' '.join(base)}`; dev: {len(task.dev)} rows (the task's dev split, or rows held "
        "out of the pool and never drawn into L); models fitted on Random's labelled sets at "
        f"iterations {sorted(set(frame['iteration']))}, seeds {sorted(set(frame['seed']))}. "
        "Regenerate with `python scripts/tune_backbone.py` (it resumes from the .jsonl).\n\n"
        + markdown_table(
            [str(c) for c in table.columns], [[str(v) for v in row] for row in table.to_numpy()]
        )
        + "\n\n"
        + "\n".join(f"- `{v}`: `{o}`" for v, o in overrides.items())
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
