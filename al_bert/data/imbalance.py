"""Binary-imbalanced variants (Fairstein et al., §5.1): sub-sample the positives of a split.

Given ``N`` negatives and ``P`` positives, keep ``k = round(N / (r - 1))`` positives (so that the
positive fraction is ``k / (k + N) ≈ 1/r``, within half an example), drawn uniformly without
replacement with ``numpy.random.default_rng(seed)``; the kept rows stay in their original order.
``r = 1`` means "no sub-sampling". If fewer than ``k`` positives exist (only possible for r near 2
with a minority positive class) all positives are kept and the *negatives* are sub-sampled to
``P * (r - 1)`` instead, so the fraction is still 1/r.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from al_bert.errors import DataError
from al_bert.validation import finite_number, whole_number

__all__ = ["PAPER2_RATIOS", "check_sampling", "subsample_to_ratio"]

# Imbalance ratios r (positive fraction 1/r) studied in Fairstein et al. (Tables 4 and 6).
PAPER2_RATIOS = (2, 10, 20, 50, 100, 200, 1000)


def check_sampling(seed: object, imbalance_ratio: object) -> None:
    """``dataset.seed`` (whole ≥ 0) and ``dataset.imbalance_ratio`` (null or finite r ≥ 1: r = 1 keeps the
    split as it is) are valid; dataset builders call it before they read any file."""
    whole_number("dataset.seed", seed, low=0)
    finite_number("dataset.imbalance_ratio", imbalance_ratio, low=1, nullable=True)


def subsample_to_ratio(
    split: pd.DataFrame, ratio: float, seed: int, positive_label: int = 1
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Return ``split`` with its positive fraction brought to ``1/ratio`` and a summary dict.

    The positives are the rows of label ``positive_label``, every other row a negative: on a multi-class
    task the target class is sub-sampled and the other classes keep their labels (al-bert's multi-class
    imbalanced scenario; docs/reproducibility.md)."""
    r = float(ratio)
    if not np.isfinite(r) or r < 1:
        raise DataError(
            f"imbalance_ratio must be a number >= 1 (positive fraction 1/r), got {ratio}"
        )
    labels = split["label"].to_numpy()
    pos = np.flatnonzero(labels == positive_label)
    neg = np.flatnonzero(labels != positive_label)
    info: dict[str, object] = {
        "imbalance_ratio": r,
        "positives_before": int(pos.size),
        "negatives_before": int(neg.size),
    }
    if r == 1 or pos.size == 0:
        keep = np.arange(len(split))
    else:
        rng = np.random.default_rng(seed)
        k = int(round(neg.size / (r - 1)))
        if k <= pos.size:
            kept_pos = rng.choice(pos, size=k, replace=False)
            keep = np.sort(np.concatenate([kept_pos, neg]))
        else:
            m = min(neg.size, int(round(pos.size * (r - 1))))
            kept_neg = rng.choice(neg, size=m, replace=False)
            keep = np.sort(np.concatenate([pos, kept_neg]))
            info["subsampled"] = "negatives"
    out = split.iloc[keep].reset_index(drop=True)
    n_pos = int((out["label"].to_numpy() == positive_label).sum())
    info.update(
        positives_after=n_pos,
        negatives_after=len(out) - n_pos,
        positive_fraction=n_pos / len(out) if len(out) else 0.0,
    )
    info.setdefault("subsampled", "positives" if r != 1 else "none")
    return out, info
