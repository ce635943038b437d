"""What the stopping criteria read, measured once per iteration on the stop set (al_bert.stopping).

The stop set is the test split's *texts* (their labels are never read here): a fixed set of examples no
model trains on, whose predictions every iteration already computes for its metrics, so these statistics
cost no extra inference. Each compares M_t's predictions with M_{t−1}'s (null at the first model):

- ``stop_kappa``: Cohen's κ between the two models' predicted classes (Bloodgood & Vijay-Shanker 2009;
  1.0 when the predictions are identical, as small-text's adaptation);
- ``stop_delta_f``: ΔF = 1 − 2a / (2a + b + c) with a the examples both call positive and b, c those only
  one does (Altschuler & Bloodgood 2019; binary tasks only, null when neither predicts a positive);
- ``stop_changed``: the fraction of changed predictions (Zhu, Wang & Hovy 2008);

and describe M_t alone:

- ``stop_entropy``: the mean entropy of the predicted distribution, normalised by log C (Zhu et al. 2008's
  overall uncertainty, as small-text's ``OverallUncertainty``);
- ``stop_least_confidence``: the mean of 1 − max_c p_c, the uncertainty our ``LowAverageUncertainty`` averages
  (baal's averages whatever scores its heuristic returns; docs/reproducibility.md).
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr
from sklearn.metrics import cohen_kappa_score

from al_bert.outputs import class_probs

STATISTICS = ("stop_kappa", "stop_delta_f", "stop_changed", "stop_entropy", "stop_least_confidence")


def stopping_statistics(probs: np.ndarray, previous: np.ndarray | None) -> dict[str, float | None]:
    """The stop-set statistics of M_t (``probs``) against M_{t−1} (``previous``; None: no earlier model)."""
    current = class_probs(probs)
    classes = current.shape[1]
    predicted = current.argmax(axis=1)
    out: dict[str, float | None] = {
        "stop_kappa": None,
        "stop_delta_f": None,
        "stop_changed": None,
        "stop_entropy": float(entr(current).sum(axis=1).mean() / np.log(classes)),
        "stop_least_confidence": float((1.0 - current.max(axis=1)).mean()),
    }
    if previous is None:
        return out
    before = class_probs(previous).argmax(axis=1)
    if before.shape != predicted.shape:
        raise ValueError(f"stop sets differ: {before.shape} vs {predicted.shape} predictions")
    out["stop_changed"] = float(np.mean(before != predicted))
    out["stop_kappa"] = (
        1.0
        if np.array_equal(before, predicted)
        else float(cohen_kappa_score(before, predicted, labels=np.arange(classes)))
    )
    if classes == 2:
        both = int(np.sum((before == 1) & (predicted == 1)))
        one = int(np.sum(before != predicted))
        out["stop_delta_f"] = 1.0 - 2 * both / (2 * both + one) if both + one else None
    return out
