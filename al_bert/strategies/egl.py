"""Expected Gradient Length (Settles, Craven & Ray 2008; Huang et al. 2016), as in Ein-Dor et al.
(2020) §3.3: select the examples whose training gradient is expected to be largest, the expectation
taken over the label distribution the trained model predicts:

    EGL(x) = Σ_c p(c | x) · ‖∇_θ ℓ(x, c)‖,     ℓ = cross-entropy.

``gradient="last_layer"`` (default) restricts θ to the classification layer ``z = W h + b`` on the
pooled [CLS] vector ``h``, where the gradient has a closed form: ∇_W ℓ(x, c) = (p − e_c) hᵀ and
∇_b ℓ(x, c) = p − e_c, hence

    ‖∇ ℓ(x, c)‖ = ‖p − e_c‖ · sqrt(‖h‖² + 1)      (drop the "+ 1" with ``include_bias=False``).

For two classes with p = P(y = 1 | x) this is EGL(x) = 2√2 · p(1 − p) · sqrt(‖h‖² + 1): exactly 0 at
p ∈ {0, 1}. It is exact for that layer and costs nothing beyond the shared pool pass.

``gradient="full_model"`` uses every trainable parameter. A strategy cannot run the model, so the loop
computes it with :func:`per_example_grad_norms` (torch.func per-example gradients) when the strategy's
``extra_needs`` contains ``"egl_full"`` and stores the result in ``outputs.extras["egl_full"]``.
Weighted: top-k of ``w · EGL`` (Fairstein et al., Algorithm 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from al_bert.model.outputs import Need, PoolOutputs
from al_bert.strategies.base import ScoreStrategy

EGL_FULL_KEY = "egl_full"
"""Key of ``PoolOutputs.extras`` holding full-model expected gradient norms, shape (n,)."""


def last_layer_egl(
    probs: np.ndarray, embeddings: np.ndarray, include_bias: bool = True
) -> np.ndarray:
    """Closed-form EGL of the classification layer for a binary model (shape (n,), float64).

    ``probs`` is P(y = 1 | x) (n,), ``embeddings`` the pooled vectors h (n, d) entering the layer.
    """
    p1 = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    h = np.asarray(embeddings, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] != p1.shape[0]:
        raise ValueError(f"embeddings must be ({p1.shape[0]}, d), got {h.shape}")
    probs2 = np.stack([1.0 - p1, p1], axis=1)  # (n, C) with C = 2
    scale = np.sqrt(np.einsum("ij,ij->i", h, h) + (1.0 if include_bias else 0.0))
    expected = np.zeros_like(p1)
    for c in range(probs2.shape[1]):
        residual = probs2.copy()
        residual[:, c] -= 1.0  # p − e_c
        expected += probs2[:, c] * np.linalg.norm(residual, axis=1)
    return np.asarray(expected * scale)


def per_example_grad_norms(
    model: Any, batch: Mapping[str, Any], *, chunk_size: int | None = 1
) -> np.ndarray:
    """Full-model EGL of each example of a tokenized batch: Σ_c p(c|x) ‖∇_θ CE(x, c)‖.

    ``model`` is a Hugging Face ``…ForSequenceClassification`` (anything returning ``.logits``
    from ``model(**batch)``); ``batch`` its tokenized inputs (``input_ids``, ``attention_mask``, …)
    as tensors on the model's device. θ are all parameters with ``requires_grad``. Dropout is off
    (``model.eval()`` for the call; the previous mode is restored). Per-example gradients come from
    ``torch.func.vmap(torch.func.grad(...))``, ``chunk_size`` examples at a time (each holds one
    copy of the parameters' gradients). Models with data-dependent control flow cannot be vmapped
    (Hugging Face BERT in transformers 5 inspects the attention mask in Python); they fall back to
    differentiating the examples one by one with autograd — same values, one backward pass per
    example and class. Returns float64 (batch,).
    """
    import torch
    from torch.func import functional_call, grad, vmap

    was_training = model.training
    model.eval()
    try:
        inputs = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
        n = next(iter(inputs.values())).shape[0]
        params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
        buffers = {k: v.detach() for k, v in model.named_buffers()}
        with torch.no_grad():
            logits = model(**inputs).logits
        probs = torch.softmax(logits.float(), dim=-1)
        n_classes = probs.shape[1]

        def loss_one(p: dict[str, torch.Tensor], one: dict[str, torch.Tensor], label: torch.Tensor):
            single = {k: v.unsqueeze(0) for k, v in one.items()}
            out = functional_call(model, (p, buffers), args=(), kwargs=single).logits
            return torch.nn.functional.cross_entropy(out.float(), label.unsqueeze(0))

        def norms_vmap(label: int) -> torch.Tensor:
            labels = torch.full((n,), label, dtype=torch.long, device=probs.device)
            grads = vmap(grad(loss_one), in_dims=(None, 0, 0), chunk_size=chunk_size)(
                params, inputs, labels
            )
            parts = [g.reshape(n, -1).double().pow(2).sum(dim=1) for g in grads.values()]
            return torch.stack(parts).sum(dim=0).sqrt()

        tensors = [p for p in model.parameters() if p.requires_grad]

        def norms_loop(label: int) -> torch.Tensor:
            out = torch.empty(n, dtype=torch.float64)
            target = torch.tensor([label], device=probs.device)
            for i in range(n):
                single = {k: v[i : i + 1] for k, v in inputs.items()}
                out_logits = model(**single).logits.float()
                loss = torch.nn.functional.cross_entropy(out_logits, target)
                grads = torch.autograd.grad(loss, tensors, allow_unused=True)
                parts = [g.double().pow(2).sum() for g in grads if g is not None]
                out[i] = torch.stack(parts).sum().sqrt()
            return out

        expected = torch.zeros(n, dtype=torch.float64)
        use_vmap = True
        for c in range(n_classes):
            norms: torch.Tensor | None = None
            if use_vmap:
                try:
                    norms = norms_vmap(c)
                except Exception:  # data-dependent control flow etc.: differentiate one by one
                    use_vmap = False
            if norms is None:
                norms = norms_loop(c)
            expected += probs[:, c].double().cpu() * norms.cpu()
        return expected.numpy()
    finally:
        model.train(was_training)


class ExpectedGradientLength(ScoreStrategy):
    """Ein-Dor et al. (2020) §3.3 "EGL" (Huang et al. 2016): largest expected gradient norm."""

    name: ClassVar[str] = "egl"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.PROBS, Need.EMBEDDINGS})

    def __init__(
        self,
        gradient: Literal["last_layer", "full_model"] = "last_layer",
        include_bias: bool = True,
    ) -> None:
        if gradient not in ("last_layer", "full_model"):
            raise ValueError(f"gradient must be 'last_layer' or 'full_model', got {gradient!r}")
        self.gradient = gradient
        self.include_bias = include_bias
        self.extra_needs: frozenset[str] = (
            frozenset({EGL_FULL_KEY}) if gradient == "full_model" else frozenset()
        )
        """Outputs beyond :class:`Need`: ``"egl_full"`` = :func:`per_example_grad_norms` over U."""

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        if self.gradient == "full_model":
            if EGL_FULL_KEY not in outputs.extras:
                raise KeyError(
                    "egl with gradient=full_model reads outputs.extras['egl_full']: the loop must "
                    "fill it with al_bert.strategies.egl.per_example_grad_norms (see extra_needs)"
                )
            return np.asarray(outputs.extras[EGL_FULL_KEY], dtype=np.float64)
        return last_layer_egl(
            outputs.require("probs"), outputs.require("embeddings"), self.include_bias
        )
