"""Uncertainty heuristics on class-probability arrays, for any number of classes C ≥ 2.

Arrays follow baal's layout: ``[n, C]`` for one prediction per pool row, ``[n, C, T]`` for T stochastic
(MC-dropout) passes (:func:`al_bert.outputs.class_probs` and :func:`~al_bert.outputs.mc_class_probs` bring
:class:`~al_bert.outputs.PoolOutputs` into that layout). Entropies are in nats; the strategies rank by
them, so the base does not matter.
"""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy


def entropy(p: np.ndarray, axis: int = 1) -> np.ndarray:
    """Shannon entropy −Σ_c p_c log p_c along ``axis`` (0 log 0 = 0)."""
    return -xlogy(p, p).sum(axis=axis)


def margin(p: np.ndarray) -> np.ndarray:
    """``p_(1) − p_(2)``, the gap between the two most probable classes of each row of ``[n, C]``."""
    top2 = np.sort(p, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def bald(mc: np.ndarray) -> np.ndarray:
    """Mutual information between the label and the weights (Houlsby et al. 2011; Gal et al. 2017):
    ``H[(1/T) Σ_t p_t] − (1/T) Σ_t H[p_t]`` for each row of ``[n, C, T]``; ≥ 0 up to rounding."""
    predictive = entropy(mc.mean(axis=2), axis=1)
    expected = entropy(mc, axis=1).mean(axis=1)
    return np.maximum(predictive - expected, 0.0)
