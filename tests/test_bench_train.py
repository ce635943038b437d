"""``make bench-train``'s step timer marks every phase of a real Lightning fit, in order, and the bare loop
times the same steps; the committed report renders its markdown from its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from al_bert.model.backbones import BackboneConfig
from al_bert.model.encoder_learner import build_datamodule
from al_bert.model.module import ALClassifier
from al_bert.model.training import TrainingConfig, fit_model
from tests.conftest import load_script, synthetic_task

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_train")


@pytest.mark.parametrize(("fused", "precision"), [(False, "32"), (True, "32"), (True, "bf16")])
def test_step_timer_marks_every_phase_of_a_lightning_fit(bench, fused, precision):
    """Fused AdamW with gradient clipping under bf16-mixed too (Lightning's mixed-precision plugin refuses
    that pair unless ALClassifier clips itself: its check guards fp16's GradScaler only)."""
    task = synthetic_task(n_train=120, n_test=20)
    backbone = BackboneConfig(name_or_path="tiny-random-bert")
    training = TrainingConfig(
        max_epochs=2, batch_size=8, max_length=32, max_grad_norm=1.0, fused_adamw=fused,
        select_best_on_dev=False, precision=precision,
    )  # fmt: skip
    datamodule = build_datamodule(task, backbone, training)
    rows = np.arange(40)
    timer = bench.StepTimer()
    module = fit_model(
        backbone, training, datamodule, rows, task.train["label"][:40].to_numpy(), 0, [timer]
    )
    # 5 batches an epoch, the last of each left out: 4 timed steps per epoch.
    assert len(timer.steps) == 8
    for step in timer.steps:
        marks = [step[k] for k in ("start", "forward_start", "backward_end", "optimizer_hook")]
        assert marks == sorted(marks) and step["optimizer_end"] >= step["optimizer_hook"]
        assert step["next_start"] >= step["optimizer_end"] and step["clip_seconds"] >= 0
        phases = bench.step_phases(step)
        assert phases["forward_backward"] > 0 and phases["optimizer"] > 0 and phases["other"] >= 0
        assert sum(phases[k] for k in bench.PHASES) == pytest.approx(phases["step"])
    assert "configure_gradient_clipping" not in vars(module)  # the timer left nothing behind

    summary = bench.summarize(timer.steps, [1.0])
    assert summary["steps_timed"] == 8 and 0 < summary["share_besides_forward_backward"] < 1


def test_bare_loop_takes_the_same_steps(bench):
    task = synthetic_task(n_train=120, n_test=20)
    backbone = BackboneConfig(name_or_path="tiny-random-bert")
    training = TrainingConfig(max_epochs=3, batch_size=8, max_length=32, precision="32")
    datamodule = build_datamodule(task, backbone, training)
    datamodule.setup()
    datamodule.set_labelled(np.arange(40), task.train["label"][:40].to_numpy(), 0)
    module = ALClassifier(backbone, training.optim(backbone), total_steps=15)
    before = [p.detach().clone() for p in module.parameters()]
    steps = bench.bare_fit(
        module, training, datamodule.train_dataloader(), bench.torch.device("cpu")
    )
    assert len(steps) == 3 * 4
    assert any(not bench.torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_committed_train_report_covers_every_trainer_and_renders(bench):
    report = json.loads((REPO / "benchmarks/train.json").read_text())
    assert set(report["trainers"]) == set(bench.SETUPS)
    for trainer in report["trainers"].values():
        assert len(trainer["labelled_sizes"]) == report["iterations"] + 1 == 6
        assert np.all(np.diff(trainer["labelled_sizes"]) == 50)
        for variant in trainer["variants"].values():
            ms = variant["ms_per_step"]
            assert ms["step"] == pytest.approx(sum(ms[k] for k in bench.PHASES))
            assert variant["target_met"] == (
                variant["share_besides_forward_backward"] <= report["target_share"]
            )
    assert bench.render_markdown(report) == (REPO / "benchmarks/train.md").read_text()
