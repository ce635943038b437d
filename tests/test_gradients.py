"""Full-model EGL (al_bert.model.gradients): equal to per-example autograd, and not least confidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from al_bert.model.backbones import BackboneConfig
from al_bert.model.encoder_learner import build_datamodule
from al_bert.model.gradients import expected_gradient_lengths, scalar_grad_norms
from al_bert.model.module import ALClassifier, OptimConfig
from al_bert.model.training import TrainingConfig
from al_bert.strategies.egl import last_layer_egl
from al_bert.strategies.least_confidence import binary_entropy
from tests.conftest import synthetic_task


def _tiny_model(pooling: str, num_classes: int = 2) -> ALClassifier:
    torch.manual_seed(0)
    model = ALClassifier(
        BackboneConfig(name_or_path="tiny-random-bert", pooling=pooling),
        OptimConfig(),
        1,
        num_classes=num_classes,
    )
    model.eval()
    return model


def _autograd_egl(model: ALClassifier, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """Σ_c p(c|x) ‖∇_θ CE(x, c)‖ over all parameters, one example and class at a time."""
    out = []
    for i in range(ids.shape[0]):
        x, m = ids[i : i + 1], mask[i : i + 1]
        with torch.no_grad():
            p = torch.softmax(model(x, m)[0], dim=-1)[0]
        total = 0.0
        for c in range(model.num_classes):
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(x, m)[0], torch.tensor([c])).backward()
            sq = sum(
                float((q.grad.double() ** 2).sum())
                for q in model.parameters()
                if q.grad is not None
            )
            total += float(p[c]) * np.sqrt(sq)
        out.append(total)
    model.zero_grad()
    return np.asarray(out)


def test_ghost_norm_egl_equals_per_example_autograd() -> None:
    for pooling in ("pooler", "mean"):
        model = _tiny_model(pooling)
        ids = torch.randint(5, 1000, (5, 9))
        ids[1, 6] = ids[1, 2]  # a repeated token: its embedding gradient is summed first
        mask = torch.ones_like(ids)
        mask[3, 5:] = 0  # padding does not leak into another example's gradient
        norms, probs = scalar_grad_norms(model, {"input_ids": ids, "attention_mask": mask})
        p1 = probs[:, 1]
        fast = (2.0 * p1 * (1.0 - p1) * norms).numpy()
        np.testing.assert_allclose(fast, _autograd_egl(model, ids, mask), rtol=1e-4)
        assert not model.training  # the model's mode is restored
        assert all(p.grad is None for p in model.parameters())
        assert not any(hasattr(p, "_norm_sample") for p in model.parameters())


@pytest.mark.parametrize("num_classes", [2, 5])
def test_expected_gradient_lengths_come_back_in_row_order(num_classes: int) -> None:
    """Binary: one pass per batch; C = 5: Σ_c p_c ‖∇ℓ_c‖ from one pass per class, against autograd."""
    task = synthetic_task(n_train=40, n_test=10)
    if num_classes > 2:
        train = task.train.assign(label=np.arange(len(task.train)) % num_classes)
        classes = tuple(f"class{c}" for c in range(num_classes))
        task = replace(task, train=train, classes=classes, positive_class=classes[0])
    backbone = BackboneConfig(name_or_path="tiny-random-bert", pooling="mean")
    datamodule = build_datamodule(task, backbone, TrainingConfig(max_length=32, eval_batch_size=8))
    datamodule.setup()
    model = _tiny_model("mean", num_classes)
    rows = np.array([7, 3, 31, 0, 12, 25, 19])
    lengths = expected_gradient_lengths(
        model, datamodule, rows, device=torch.device("cpu"), bf16=False
    )
    batch = datamodule.collate([{"input_ids": datamodule.splits["train"].ids(r)} for r in rows])
    reference = _autograd_egl(model, batch["input_ids"], batch["attention_mask"])
    np.testing.assert_allclose(lengths, reference, rtol=1e-4)


def test_full_model_egl_ranks_differently_from_least_confidence() -> None:
    """A constructed case: the classification layer is set so that every example has the same p
    (least confidence ties them all and last-layer EGL orders them by ‖h‖ alone), while the
    gradients through the encoder still differ; full-model EGL must order them by those."""
    model = _tiny_model("mean")
    torch.manual_seed(1)
    ids = torch.randint(5, 1000, (12, 10))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        h = model(ids, mask)[1].double().numpy()
        # u ⟂ (h_i − h_0) for every i: the margin u·h + b is the same for all 12 examples.
        _, _, vt = np.linalg.svd(h[1:] - h[0])
        u = vt[-1] / np.linalg.norm(vt[-1])
        weight = torch.zeros_like(model.net.classifier.weight)
        weight[1] = torch.tensor(u, dtype=weight.dtype)
        model.net.classifier.weight.copy_(weight)
        model.net.classifier.bias.copy_(torch.tensor([0.0, -float(u @ h[0]) + 0.3]))
    norms, probs = scalar_grad_norms(model, {"input_ids": ids, "attention_mask": mask})
    p1 = probs[:, 1]
    p = p1.numpy()
    np.testing.assert_allclose(p, p[0], atol=1e-5)  # one probability: LC ties every example
    lc = binary_entropy(p)
    assert np.ptp(lc) < 1e-4
    full = (2.0 * p1 * (1.0 - p1) * norms).numpy()
    last = last_layer_egl(p, h)
    assert np.ptp(full) / full.mean() > 0.05  # full-model EGL separates what LC cannot
    full_rank = np.argsort(np.argsort(full))
    last_rank = np.argsort(np.argsort(last))
    assert not np.array_equal(full_rank, last_rank)
