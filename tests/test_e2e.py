"""End-to-end runs of `python -m al_bert` on the mirror: tiny BERT, truncated MiniLM, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from al_bert.app import run_experiment
from al_bert.errors import RunFailure
from tests.conftest import compose_config

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SMALL = [
    "scenario=imbalanced",
    "seed_builder.positives=30",
    "seed_builder.weak_negatives=30",
    "limit.train=600",
    "limit.eval=200",
    "al.iterations=2",
    "al.batch_size=20",
    "logger=none",
]


def cfg_for(tmp_path: Path, overrides: list[str]):
    return compose_config(overrides, root=tmp_path)


def test_tiny_bert_runs_the_whole_loop(tmp_path):
    cfg = cfg_for(tmp_path, [*SMALL, "model=tiny", "trainer=fast", "strategy=least_confidence"])
    records = run_experiment(cfg)
    assert [r["iteration"] for r in records] == [0, 1, 2]
    assert [r["train_size"] for r in records] == [60, 80, 100]
    for r in records:
        for metric in ("accuracy", "f1", "precision", "recall", "balanced_accuracy", "roc_auc"):
            assert 0.0 <= r[metric] <= 1.0
    assert records[1]["diversity"] > 0 and records[1]["representativeness"] > 0
    assert 0 < records[1]["diversity_second_nearest"] < records[1]["diversity"]
    run_dirs = list((tmp_path / "runs").iterdir())
    assert len(run_dirs) == 1
    status = json.loads((run_dirs[0] / "run.json").read_text())
    assert status["status"] == "finished"


def test_same_config_and_seed_give_identical_results(tmp_path):
    overrides = [*SMALL, "model=tiny", "trainer=fast", "strategy=random", "share_iteration0=false"]
    first = run_experiment(cfg_for(tmp_path / "a", overrides))
    second = run_experiment(cfg_for(tmp_path / "b", overrides))
    strip = ("train_seconds", "eval_seconds", "infer_seconds", "select_seconds")
    assert [{k: v for k, v in r.items() if k not in strip} for r in first] == [
        {k: v for k, v in r.items() if k not in strip} for r in second
    ]


def test_shared_iteration0_gives_the_same_results_as_running_alone(tmp_path):
    """M0's pool outputs cached by one strategy (probabilities only) and completed by another (DAL:
    pool and labelled embeddings) give DAL exactly the records it gets with sharing off."""
    base = [*SMALL, "model=tiny", "trainer=fast"]
    run_experiment(cfg_for(tmp_path / "shared", [*base, "strategy=least_confidence"]))
    shared = run_experiment(cfg_for(tmp_path / "shared", [*base, "strategy=dal"]))
    alone = run_experiment(
        cfg_for(tmp_path / "alone", [*base, "strategy=dal", "share_iteration0=false"])
    )
    assert len(list((tmp_path / "shared" / ".cache" / "iteration0").iterdir())) == 1
    assert not (tmp_path / "alone" / ".cache" / "iteration0").exists()
    strip = ("train_seconds", "eval_seconds", "infer_seconds", "select_seconds")
    assert [{k: v for k, v in r.items() if k not in strip} for r in shared] == [
        {k: v for k, v in r.items() if k not in strip} for r in alone
    ]


def test_finished_run_is_skipped_on_rerun(tmp_path):
    cfg = cfg_for(tmp_path, [*SMALL, "model=tiny", "trainer=fast", "strategy=random"])
    first = run_experiment(cfg)
    again = run_experiment(cfg)
    assert again == first
    lines = next((tmp_path / "runs").iterdir()).joinpath("results.jsonl").read_text().splitlines()
    assert len(lines) == 3


def test_packaged_minilm_two_layers_learns(tmp_path):
    cfg = cfg_for(
        tmp_path,
        [
            *SMALL,
            "model.num_hidden_layers=2",
            "trainer=fast",
            "strategy=random",
            "dataset=trec",
            "scenario=imbalanced",
        ],
    )
    records = run_experiment(cfg)
    assert records[-1]["roc_auc"] > 0.6


def test_impossible_budget_is_reported_and_recorded(tmp_path):
    cfg = cfg_for(tmp_path, [*SMALL, "model=tiny", "al.iterations=100", "al.batch_size=50"])
    with pytest.raises(RunFailure, match="impossible budget"):
        run_experiment(cfg)
    status = json.loads(next((tmp_path / "runs").iterdir()).joinpath("run.json").read_text())
    assert status["status"] == "failed" and "impossible budget" in status["reason"]


@pytest.mark.slow
def test_cli_multirun_gives_two_runs_with_different_selections(tmp_path):
    env = {**os.environ, "AL_BERT_OUTPUT_DIR": str(tmp_path)}
    cmd = [
        sys.executable,
        "-m",
        "al_bert",
        "+experiment=isear_imb_practical",
        "trainer=fast",
        "logger=none",
        "limit.train=800",
        "limit.eval=200",
        "al.iterations=1",
        "-m",
        "seed=0,1",
    ]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, timeout=900)
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2
    selections = [
        json.loads(p.joinpath("results.jsonl").read_text().splitlines()[-1])["selected_ids"]
        for p in runs
    ]
    assert selections[0] != selections[1]


def test_wandb_offline_run_holds_every_iteration(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    overrides = [o for o in SMALL if o != "logger=none"]
    cfg = cfg_for(
        tmp_path, [*overrides, "model=tiny", "trainer=fast", "strategy=random", "logger=wandb"]
    )
    records = run_experiment(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    import wandb

    wandb.teardown()  # wait for the W&B service to flush the offline run file
    rows = wandb_history(next(runs[0].glob("*.wandb")))
    logged = [(int(i["train_size"]), float(i["accuracy"])) for i in rows if "accuracy" in i]
    assert logged == [(r["train_size"], pytest.approx(r["accuracy"])) for r in records]


def wandb_history(path: Path) -> list[dict[str, str]]:
    """History rows of an offline ``.wandb`` file (a LevelDB-style log of protobuf records)."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data, pos, block, pending, rows = path.read_bytes(), 7, 32768, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            if record.WhichOneof("record_type") == "history":
                rows.append(
                    {i.key or "/".join(i.nested_key): i.value_json for i in record.history.item}
                )
    return rows


STRATEGIES = sorted(p.stem for p in (CONF / "strategy").glob("*.yaml") if p.stem != "alps")


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("weighting", ["uniform", "invprop"])
def test_every_strategy_and_weighting_runs_through_the_app(tmp_path, strategy, weighting):
    overrides = [
        *SMALL,
        "model=tiny",
        "trainer=fast",
        f"strategy={strategy}",
        f"weighting={weighting}",
        "al.iterations=1",
    ]
    records = run_experiment(cfg_for(tmp_path, overrides))
    selected = records[-1]["selected_ids"]
    assert len(selected) == len(set(selected)) == 20
    assert (records[-1]["strategy"], records[-1]["weighting"]) == (strategy, weighting)


def test_alps_with_the_packaged_minilm_stops_with_what_works(tmp_path):
    cfg = cfg_for(tmp_path, [*SMALL, "strategy=alps"])
    with pytest.raises(RunFailure, match="model=bert_base"):
        run_experiment(cfg)


def test_alps_runs_with_a_masked_lm_backbone(tmp_path):
    records = run_experiment(
        cfg_for(
            tmp_path, [*SMALL, "model=tiny", "trainer=fast", "strategy=alps", "al.iterations=1"]
        )
    )
    assert len(set(records[-1]["selected_ids"])) == 20


def test_a_finished_run_leaves_no_model_trainer_or_optimizer_alive(tmp_path, monkeypatch):
    """Every model, Trainer and optimiser of a run is freed when the run returns, by the run's own
    release (Python's automatic cyclic collection is off during the run), so an in-process sweep
    stays flat."""
    import gc
    import weakref

    import lightning as L

    from al_bert.model.module import ALClassifier

    refs: list[weakref.ref] = []

    def tracked(cls, method):
        original = getattr(cls, method)

        def wrapper(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            refs.append(weakref.ref(self))
            if method == "configure_optimizers":
                refs.append(weakref.ref(result["optimizer"]))
            return result

        monkeypatch.setattr(cls, method, wrapper)

    tracked(ALClassifier, "__init__")
    tracked(ALClassifier, "configure_optimizers")
    tracked(L.Trainer, "__init__")
    cfg = cfg_for(tmp_path, [*SMALL, "model=tiny", "trainer=fast", "strategy=core_set"])
    gc.collect()
    gc.disable()
    try:
        run_experiment(cfg)
        alive = [type(r()).__name__ for r in refs if r() is not None]
    finally:
        gc.enable()
    assert len(refs) >= 9  # 3 fits: a model, a Trainer and an optimiser each
    assert alive == []


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("al.iterations=-1", "al.iterations=-1"),
        ("al.batch_size=abc", "al.batch_size='abc'"),
        ("al.batch_size=0", "al.batch_size=0"),
        ("al.batch_size=2.5", "al.batch_size=2.5"),
        ("seed=-1", "seed=-1"),
        ("limit.train=0", "limit.train=0"),
        ("trainer.lr=-1", "trainer.lr=-1"),
        ("trainer.max_grad_norm=0", "trainer.max_grad_norm=0"),
        ("strategy=badge", "strategy.first"),
        ("strategy=egl", "strategy.gradient"),
        ("model.pooling=max", "model.pooling='max'"),
        ("seed_builder=random", "scenario=imbalanced: drop the seed_builder override"),
    ],
)
def test_bad_values_stop_before_any_work_with_one_line(tmp_path, override, named):
    extra = {"strategy=badge": ["strategy.first=bogus"], "strategy=egl": ["strategy.gradient=all"]}
    base = (
        SMALL
        if override != "seed_builder=random"
        else [o for o in SMALL if "seed_builder." not in o]
    )
    cfg = cfg_for(tmp_path, [*base, "model=tiny", override, *extra.get(override, [])])
    with pytest.raises(RunFailure) as failure:
        run_experiment(cfg)
    message = str(failure.value)
    assert named in message and "\n" not in message
    assert not (tmp_path / "runs").exists()  # nothing written, no data read


def test_cli_bad_value_prints_one_line_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "al_bert", f"paths.output_root={tmp_path}", "trainer.lr=-1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    failed = [line for line in result.stderr.splitlines() if "run failed" in line]
    assert len(failed) == 1 and "trainer.lr=-1" in failed[0]


def test_console_is_quiet_by_default(tmp_path):
    """A two-run multirun prints no framework banner or tip, one header per run, one line per
    iteration, a running count and, when the sweep ends, the comparison table of both runs. ``srun``
    is on PATH, as on every SLURM login and compute node: Lightning's SLURM hint stays silent too."""
    args = [sys.executable, "-m", "al_bert", f"paths.output_root={tmp_path}", "model=tiny", *SMALL]
    sweep = [*args, "print_table=false", "-m", "strategy=random,least_confidence"]
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")
    (fake_bin / "srun").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SLURM_NTASKS", None)  # outside a job, as on a login node
    quiet = subprocess.run(sweep, cwd=REPO, capture_output=True, text=True, timeout=900, env=env)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    console = quiet.stdout + quiet.stderr
    for noise in (
        "srun",
        "SLURM",
        "Tip:",
        "GPU available",
        "Loading weights",
        "LeafSpec",
        "faiss.loader",
        "max_epochs",
        "Traceback",
    ):
        assert noise not in console
    lines = quiet.stdout.splitlines()
    assert sum("random × uniform" in line for line in lines) == 1  # one header per run
    assert sum("least_confidence × uniform" in line for line in lines) == 1
    iteration_lines = [line for line in lines if line.strip().startswith("it ")]
    assert [line.split()[1] for line in iteration_lines] == ["0/2", "1/2", "2/2"] * 2
    assert any(line.startswith("[1/2] 1 finished") for line in lines)
    assert any(line.startswith("[2/2] 2 finished") for line in lines)
    table = [line for line in lines if line.startswith("| ")]
    assert any("least_confidence" in row for row in table)
    assert any("random (baseline)" in row for row in table)
    loud = subprocess.run(
        [*args, "verbose=true", "resume=false", f"paths.output_root={tmp_path / 'loud'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert loud.returncode == 0 and "GPU available" in loud.stdout + loud.stderr
