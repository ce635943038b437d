"""Per-example gradient norms over the whole fine-tuned model: full-model EGL at a few passes' cost.

Expected Gradient Length (Settles et al. 2008; Huang et al. 2016; paper 1 §3.3) scores x by
Σ_c p(c | x) ‖∇_θ ℓ(x, c)‖ with ℓ the cross-entropy. For two classes with softmax logits z = (z₀, z₁),
∇_θ ℓ(x, c) = Σ_j (p_j − δ_jc) ∇_θ z_j, which is p₁ ∇_θ(z₁ − z₀) for c = 0 and −p₀ ∇_θ(z₁ − z₀) for
c = 1, so

    EGL(x) = 2 · p₀ · p₁ · ‖∇_θ (z₁ − z₀)‖.

For C > 2 classes, ∇_θ ℓ(x, c) = ∇_θ(Σ_j p_j z_j − z_c) with p held fixed, so

    EGL(x) = Σ_c p_c · ‖∇_θ (z_c − Σ_j p_j z_j)‖,

one backward pass per class c (C passes, each over the whole batch).

One backward pass of Σ_x (z₁ − z₀)(x) over a batch therefore gives every example's gradient: the examples
of a batch do not interact (padding is masked out of attention), so each layer's output gradient holds
the per-example gradients. Their norms are taken without materialising per-example gradients, by the
"ghost norm" identities (Goodfellow 2015; Li et al. 2022) that Opacus' fast gradient clipping
implements: for a Linear layer with inputs a_t and output gradients g_t over positions t,
‖Σ_t g_t a_tᵀ‖² = Σ_{t,s} (g_t·g_s)(a_t·a_s); Embedding layers sum the gradients of repeated ids first;
LayerNorm's per-example gradients are small (d values) and taken directly. θ is every trainable
parameter of the model (encoder, pooler and classification layer). Dropout is off (the model's
deterministic prediction, as for the probabilities).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from al_bert.data.datamodule import ALDataModule
from al_bert.model.module import ALClassifier

_PARAMETRISED_LEAVES = (nn.Linear, nn.Embedding, nn.LayerNorm)


class _ScalarView(nn.Module):
    """The classifier as a module returning (one scalar per example, softmax probabilities (B, C)).

    ``target=None``: the binary margin z₁ − z₀. ``target=c``: z_c − Σ_j p_j z_j with p held fixed, whose
    gradient is −∇_θ ℓ(x, c) (its norm is the norm of the cross-entropy gradient for label c)."""

    def __init__(self, module: ALClassifier, target: int | None = None) -> None:
        super().__init__()
        self.module = module
        self.target = target

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.module(input_ids, attention_mask)[0].float()
        probs = torch.softmax(logits, dim=-1)
        if self.target is None:
            return logits[:, 1] - logits[:, 0], probs
        expected = (probs.detach() * logits).sum(dim=1)
        return logits[:, self.target] - expected, probs


@contextlib.contextmanager
def _deterministic_with_hooks(model: nn.Module, batch_size: int) -> Iterator[None]:
    """Eval mode everywhere (no dropout), except the flag Opacus' hooks read on parametrised leaves.

    Linear, Embedding and LayerNorm compute the same in both modes; dropout and attention-dropout
    follow their own (eval) modules. Embedding inputs are made dense and one row per example:
    BERT broadcasts a single (1, T) row of position ids over the batch, which would merge the
    examples' position-embedding gradients into one."""
    modes = {layer: layer.training for layer in model.modules()}
    model.eval()
    handles = []
    for layer in model.modules():
        if isinstance(layer, _PARAMETRISED_LEAVES):
            layer.training = True
        if isinstance(layer, nn.Embedding):
            # BERT feeds expanded (strided) position / token-type ids; the ghost norm needs them dense.
            handles.append(layer.register_forward_pre_hook(_per_example_ids(batch_size)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for layer, mode in modes.items():
            layer.training = mode


def _per_example_ids(batch_size: int) -> Callable[..., tuple[torch.Tensor, ...]]:
    def hook(_layer: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        return tuple(arg.expand(batch_size, *arg.shape[1:]).contiguous() for arg in args)

    return hook


def scalar_grad_norms(
    module: ALClassifier, batch: Mapping[str, torch.Tensor], target: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example ‖∇_θ f(x)‖ over all trainable parameters, and the class probabilities, for one
    tokenized batch; f = z₁ − z₀ (``target=None``) or z_c − Σ_j p_j z_j (``target=c``, :class:`_ScalarView`).

    One forward and one backward pass with Opacus' ghost-norm hooks (``GradSampleModuleFastGradientClipping``
    with ghost clipping, loss reduction "sum"). Returns float64 tensors of shapes (batch,), (batch, C).
    """
    from opacus.grad_sample import GradSampleModuleFastGradientClipping

    view = _ScalarView(module, target)
    logger = logging.getLogger("opacus")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        wrapped = GradSampleModuleFastGradientClipping(
            view, batch_first=True, loss_reduction="sum", strict=False, use_ghost_clipping=True
        )
    finally:
        logger.setLevel(level)
    try:
        with _deterministic_with_hooks(view, batch["input_ids"].shape[0]), torch.enable_grad():
            scalar, probs = wrapped(batch["input_ids"], batch["attention_mask"])
            with warnings.catch_warnings():
                # Opacus' full backward hooks on the first layer, whose inputs are integer ids.
                warnings.filterwarnings("ignore", message="Full backward hook is firing")
                scalar.sum().backward()
            # Parameters the margin does not depend on (e.g. an unused pooler) get no norm: their
            # gradient is 0.
            parts = [
                p._norm_sample.double() for p in view.parameters() if hasattr(p, "_norm_sample")
            ]
            norms = torch.stack(parts).pow(2).sum(0).sqrt()
    finally:
        wrapped.cleanup()
        for param in view.parameters():
            param.grad = None
    return norms.detach().cpu(), probs.detach().double().cpu()


def _batch_egl(module: ALClassifier, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """EGL of one batch (float64): one pass for a binary head, one per class for C > 2."""
    if module.num_classes == 2:
        norms, probs = scalar_grad_norms(module, batch)
        p1 = probs[:, 1]
        return 2.0 * p1 * (1.0 - p1) * norms
    expected = torch.zeros(batch["input_ids"].shape[0], dtype=torch.float64)
    for c in range(module.num_classes):
        norms, probs = scalar_grad_norms(module, batch, c)
        expected += probs[:, c] * norms
    return expected


def expected_gradient_lengths(
    module: ALClassifier,
    datamodule: ALDataModule,
    rows: np.ndarray,
    *,
    device: torch.device,
    bf16: bool,
) -> np.ndarray:
    """Full-model EGL(x) for ``rows`` of the train split (float64, row order): 2·p₀·p₁·‖∇_θ(z₁ − z₀)‖ for
    a binary head (one pass), Σ_c p_c·‖∇_θ(z_c − Σ_j p_j z_j)‖ for C > 2 (one pass per class).

    Length-sorted batches as in pool inference; with ``bf16`` the forward and backward passes run
    under bf16 autocast (norms are accumulated in float32/64)."""
    order, loader = datamodule.inference_batches("train", np.asarray(rows, dtype=np.int64))
    module.to(device)
    result = np.empty(len(order), dtype=np.float64)
    start = 0
    autocast = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        if bf16
        else contextlib.nullcontext()
    )
    for batch in tqdm(loader, desc="full-model EGL", leave=False, disable=None):
        batch = {k: v.to(device) for k, v in batch.items()}
        target = order[start : start + batch["input_ids"].shape[0]]
        start += target.size
        with autocast:
            result[target] = _batch_egl(module, batch).numpy()
    module.zero_grad(set_to_none=True)
    return result
