"""BatchBALD (Kirsch, van Amersfoort & Gal 2019): the batch whose labels *jointly* carry the most
information about the weights, chosen greedily (their Algorithm 1; the greedy batch is within 1 − 1/e of
the best, the objective being submodular).

With MC-dropout passes ``p_t(y | x)``, t = 1…T (the ``[n, C, T]`` the learner already computed, no extra
pool pass), step n adds the pool example maximising

    Δ(x) = H(y_1, …, y_{n−1}, y_x) − H(y_1, …, y_{n−1}) − (1/T) Σ_t H(y_x | ω_t),

the joint entropy from ``p(y_1:n) = (1/T) Σ_t Π_i p_t(y_i | x_i)``. It is computed exactly while the joint
has at most ``max_configurations`` label configurations (C^n), then estimated from ``samples``
configurations of the batch drawn from the joint (ancestrally, one label per added example), with
``H ≈ −(1/M) Σ_m Σ_y p(ŷ_m, y) / p(ŷ_m) · log p(ŷ_m, y)`` (their §3.3). With one example it is BALD.

Weighted (our extension of Fairstein et al.'s Algorithm 2 to a greedy batch): each step takes the example
maximising ``w(x) · Δ(x)``; rows of weight 0 are never selected. Ties go to a random order drawn from ``rng``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import xlogy

from al_bert.outputs import InferenceRequest, Need, PoolOutputs, mc_class_probs
from al_bert.strategies.base import Strategy, check_selectable
from al_bert.strategies.uncertainty import entropy
from al_bert.validation import whole_number

CHUNK_FLOATS = 1 << 22  # candidates are scored in chunks of at most this many joint probabilities


class BatchBALD(Strategy):
    """Greedy BatchBALD on the MC-dropout passes, exact joint entropy while it is small, sampled after."""

    name: ClassVar[str] = "batchbald"

    def __init__(
        self, mc_passes: int = 10, max_configurations: int = 4096, samples: int = 1000
    ) -> None:
        self.mc_passes = whole_number("strategy.mc_passes", mc_passes, low=2)
        self.max_configurations = whole_number(
            "strategy.max_configurations", max_configurations, low=2
        )
        self.samples = whole_number("strategy.samples", samples, low=1)
        self.request = InferenceRequest(frozenset({Need.MC_PROBS}), mc_passes=self.mc_passes)

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        weights = check_selectable(weights, k)
        mc = mc_class_probs(outputs.require("mc_probs"))  # [n, C, T]
        n, classes, passes = mc.shape
        if n != len(outputs):
            raise ValueError(f"MC probabilities cover {n} rows, the pool {len(outputs)}")
        per_pass = np.ascontiguousarray(np.transpose(mc, (2, 0, 1)))  # [T, n, C]
        conditional = entropy(mc, axis=1).mean(axis=1)  # (1/T) Σ_t H(y | ω_t), (n,)
        joint = np.ones((passes, 1))  # P_t(configuration) of the batch so far: [T, K]
        sampled = False
        batch_entropy = 0.0
        order = rng.permutation(n)  # tie-break order
        available = weights > 0
        chosen: list[int] = []
        for _ in range(k):
            if not sampled and joint.shape[1] * classes > self.max_configurations:
                joint, sampled = _normalised(self._sample_configurations(joint, rng)), True
            joint_entropy = _joint_entropies(joint, per_pass, sampled)
            # Sampled columns are kept at mean 1 over the passes (no underflow over a long batch): the
            # estimate is then H(y_x | batch) itself, H(batch) having cancelled out (see _normalised).
            gain = (
                joint_entropy - conditional
                if sampled
                else joint_entropy - batch_entropy - conditional
            )
            gain = np.maximum(gain, 0.0)
            score = np.where(available, weights * gain, -np.inf)
            best = int(order[np.argmax(score[order])])
            chosen.append(best)
            available[best] = False
            batch_entropy = float(joint_entropy[best])
            added = per_pass[:, best, :]  # [T, C]
            if (
                sampled
            ):  # draw the new example's label of every sampled configuration from the joint
                given = joint.T @ added  # [M, C] ∝ p(ŷ_m, y)
                given /= given.sum(axis=1, keepdims=True)
                labels = (rng.random((given.shape[0], 1)) > given.cumsum(axis=1)).sum(axis=1)
                labels = np.minimum(labels, classes - 1)
                joint = _normalised(joint * added[:, labels])
            else:
                joint = (joint[:, :, None] * added[:, None, :]).reshape(passes, -1)
        return np.sort(np.asarray(chosen, dtype=np.int64))

    def _sample_configurations(self, joint: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``samples`` configurations of the batch drawn from the exact joint ``(1/T) Σ_t P_t``."""
        probability = joint.mean(axis=0)
        picked = rng.choice(probability.size, size=self.samples, p=probability / probability.sum())
        return joint[:, picked]


def _normalised(joint: np.ndarray) -> np.ndarray:
    """Sampled configurations' per-pass probabilities scaled to mean 1 over the passes.

    Scaling column m by 1/p(ŷ_m) leaves each ratio p(ŷ_m, y)/p(ŷ_m) of the estimator unchanged and shifts
    −(1/M) Σ_m Σ_y (p(ŷ_m, y)/p(ŷ_m)) log p(ŷ_m, y) by exactly (1/M) Σ_m log p(ŷ_m), the estimate of −H(batch):
    on scaled columns :func:`_joint_entropies` estimates H(batch, y_x) − H(batch) = H(y_x | batch)."""
    return joint / joint.mean(axis=0, keepdims=True)


def _joint_entropies(joint: np.ndarray, per_pass: np.ndarray, sampled: bool) -> np.ndarray:
    """H(y_batch, y_x) for every pool row x: exact over the K configurations of ``joint`` [T, K], or the
    importance-sampled estimate when its columns are configurations drawn from the joint."""
    passes, configurations = joint.shape
    _, n, classes = per_pass.shape
    out = np.empty(n)
    chunk = max(1, CHUNK_FLOATS // (configurations * classes))
    batch_probability = joint.mean(axis=0)  # p(ŷ_m) [K]
    for start in range(0, n, chunk):
        block = per_pass[:, start : start + chunk, :].reshape(passes, -1)  # [T, b·C]
        together = (joint.T @ block / passes).reshape(configurations, -1, classes)  # [K, b, C]
        terms = xlogy(together, together)
        if sampled:
            terms = terms / batch_probability[:, None, None] / configurations
        out[start : start + chunk] = -terms.sum(axis=(0, 2))
    return out
