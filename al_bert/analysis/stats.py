"""Significance tests and summaries used by the papers' tables.

- Paper 1 (Ein-Dor et al. 2020, §4, Table 3): two-sided Wilcoxon signed-rank test on the paired results
  (S_dik, R_dik) of a strategy S and Random R over every dataset d of a scenario, iteration i ≥ 1 and
  seed k; Bonferroni correction for the number of strategies (or strategy pairs) compared.
- Paper 2 (Fairstein et al., §5.1 footnote 7, Tables 2–6, 12): "relative" (paired) t-test of the
  elements whose mean is reported; a mean is bold when its p-value is < 0.05 against every compared
  column (and it is the better one).
- Learning-curve bands: a two-sided Student-t confidence interval of the mean over seeds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05


def _pairs(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The paired samples as float64 arrays, without pairs whose difference is not finite."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    keep = np.isfinite(a - b)
    return a[keep], b[keep]


def wilcoxon_p(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the paired samples ``x`` and ``y`` (scipy).

    Pairs with a non-finite difference are dropped. When every difference is 0 there is no evidence of
    a difference and the p-value is 1 (scipy would raise or return nan); with no pair at all it is nan.
    """
    a, b = _pairs(x, y)
    d = a - b
    if d.size == 0:
        return float("nan")
    if np.all(d == 0):
        return 1.0
    result = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def paired_ttest_p(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Two-sided paired t-test p-value (``scipy.stats.ttest_rel``) of ``x`` against ``y``.

    Non-finite pairs are dropped; identical samples give 1; fewer than two pairs give nan.
    """
    a, b = _pairs(x, y)
    if a.size < 2:
        return float("nan")
    if np.all(a == b):
        return 1.0
    with warnings.catch_warnings():
        # Nearly constant differences (e.g. a fixed gain on every pair) warn about precision loss;
        # the p-value is still correct (≈ 0).
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_rel(a, b).pvalue)


def bonferroni(p: float | np.ndarray, comparisons: int) -> float | np.ndarray:
    """Bonferroni-corrected p-value(s): p × number of comparisons, capped at 1 (nan stays nan)."""
    if comparisons < 1:
        raise ValueError("the number of comparisons must be at least 1")
    corrected = np.minimum(np.asarray(p, dtype=np.float64) * comparisons, 1.0)
    return float(corrected) if np.ndim(corrected) == 0 else corrected


def paired_values(
    frame: pd.DataFrame,
    column: str,
    a: object,
    b: object,
    keys: Sequence[str],
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Metric values of ``column == a`` and ``column == b`` matched on ``keys`` (inner join).

    Duplicate keys on one side are averaged first, so each pairing element appears once.
    """
    keys = list(keys)
    left = frame[frame[column] == a].groupby(keys, dropna=False)[metric].mean()
    right = frame[frame[column] == b].groupby(keys, dropna=False)[metric].mean()
    joined = pd.concat([left.rename("a"), right.rename("b")], axis=1, join="inner")
    return joined["a"].to_numpy(np.float64), joined["b"].to_numpy(np.float64)


def mean_confidence_interval(
    values: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean and the two-sided Student-t confidence interval of the mean, (mean, low, high).

    With one value the interval has zero width; with none everything is nan.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if v.size == 1:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, mean - half, mean + half


def significantly_best(
    means: Mapping[str, float],
    pvalues: Mapping[tuple[str, str], float],
    alpha: float = ALPHA,
    higher_is_better: bool = True,
) -> set[str]:
    """Columns to print bold: better than every other compared column with p < ``alpha`` against each.

    ``pvalues`` holds one p-value per unordered pair, under either order of the two names.
    """
    best: set[str] = set()
    names = [n for n in means if np.isfinite(means[n])]
    for name in names:
        wins = True
        for other in names:
            if other == name:
                continue
            p = pvalues.get((name, other), pvalues.get((other, name), float("nan")))
            better = means[name] > means[other] if higher_is_better else means[name] < means[other]
            if not (better and np.isfinite(p) and p < alpha):
                wins = False
                break
        if wins and len(names) > 1:
            best.add(name)
    return best
