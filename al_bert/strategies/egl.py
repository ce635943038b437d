"""Expected Gradient Length (Settles, Craven & Ray 2008; Huang et al. 2016), as in Ein-Dor et al.
(2020) §3.3: select the examples whose training gradient is expected to be largest, the expectation
taken over the label distribution the trained model predicts:

    EGL(x) = Σ_c p(c | x) · ‖∇_θ ℓ(x, c)‖,     ℓ = cross-entropy.

``gradient="full_model"`` (default) takes θ = every trainable parameter, as paper 1 did (its Table 2:
EGL costs 13× least confidence, i.e. it back-propagates through the network). A strategy never runs the
model: it declares :attr:`Need.EXPECTED_GRAD_NORMS` and the model side computes
EGL(x) = 2·p₀·p₁·‖∇_θ(z₁ − z₀)‖ in one forward + backward pass per batch (C > 2 classes: one pass per
class, Σ_c p_c ‖∇_θ ℓ(x, c)‖; :mod:`al_bert.model.gradients`).

``gradient="last_layer"`` restricts θ to the classification layer ``z = W h + b`` on the pooled vector
``h``, where the gradient has a closed form: ∇_W ℓ(x, c) = (p − e_c) hᵀ and ∇_b ℓ(x, c) = p − e_c, hence

    ‖∇ ℓ(x, c)‖ = ‖p − e_c‖ · sqrt(‖h‖² + 1)      (drop the "+ 1" with ``include_bias=False``).

For two classes with p = P(y = 1 | x) this is EGL(x) = 2√2 · p(1 − p) · sqrt(‖h‖² + 1): free given the
shared pool pass, but it ranks almost like least confidence whenever ‖h‖ varies little.
Weighted: top-k of ``w · EGL`` (Fairstein et al., Algorithm 2).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs, class_probs
from al_bert.strategies.base import ScoreStrategy
from al_bert.validation import choice, flag


def last_layer_egl(
    probs: np.ndarray, embeddings: np.ndarray, include_bias: bool = True
) -> np.ndarray:
    """Closed-form EGL of the classification layer (shape (n,), float64).

    ``probs`` is P(y = 1 | x) (n,) or the C class probabilities (n, C); ``embeddings`` the pooled vectors
    h (n, d) entering the layer.
    """
    probs2 = class_probs(np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0))  # (n, C)
    h = np.asarray(embeddings, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] != probs2.shape[0]:
        raise ValueError(f"embeddings must be ({probs2.shape[0]}, d), got {h.shape}")
    scale = np.sqrt(np.einsum("ij,ij->i", h, h) + (1.0 if include_bias else 0.0))
    expected = np.zeros(probs2.shape[0])
    for c in range(probs2.shape[1]):
        residual = probs2.copy()
        residual[:, c] -= 1.0  # p − e_c
        expected += probs2[:, c] * np.linalg.norm(residual, axis=1)
    return np.asarray(expected * scale)


class ExpectedGradientLength(ScoreStrategy):
    """Ein-Dor et al. (2020) §3.3 "EGL" (Huang et al. 2016): largest expected gradient norm."""

    name: ClassVar[str] = "egl"

    def __init__(
        self,
        gradient: Literal["full_model", "last_layer"] = "full_model",
        include_bias: bool = True,
    ) -> None:
        self.gradient: Literal["full_model", "last_layer"] = choice(
            "strategy.gradient", gradient, ("full_model", "last_layer")
        )
        self.include_bias = flag("strategy.include_bias", include_bias)
        self.request = InferenceRequest(
            frozenset({Need.EXPECTED_GRAD_NORMS})
            if gradient == "full_model"
            else frozenset({Need.PROBS, Need.EMBEDDINGS})
        )

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        if self.gradient == "full_model":
            return np.asarray(outputs.require("expected_grad_norms"), dtype=np.float64)
        return last_layer_egl(
            outputs.require("probs"), outputs.require("embeddings"), self.include_bias
        )
