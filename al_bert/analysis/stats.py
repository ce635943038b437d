"""Significance tests and summaries used by the papers' tables.

- Paper 1 (Ein-Dor et al. 2020, §4, Table 3): two-sided Wilcoxon signed-rank test on the paired results
  (S_dik, R_dik) of a strategy S and Random R over every dataset d of a scenario, iteration i ≥ 1 and
  seed k; Bonferroni correction for the number of strategies (or strategy pairs) compared.
- Paper 2 (Fairstein et al., §5.1 footnote 7, Tables 2–6, 12): "relative" (paired) t-test of the
  elements whose mean is reported; a mean is bold when its p-value is < 0.05 against every compared
  column (and it is the better one).
- Learning-curve bands: a two-sided Student-t confidence interval of the mean over seeds.
- The sweep comparison (:mod:`al_bert.analysis.compare`): percentile-bootstrap intervals of a mean and
  of a paired mean difference, the Wilson score interval of a win probability, Holm's step-down
  correction, and the number of paired seeds a two-sided paired t-test needs (noncentral t power).
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


BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
SEEDS_CAP = 1000


def _constant(values: np.ndarray, mean: float) -> bool:
    """All values equal, up to float rounding relative to their mean."""
    return bool(np.ptp(values) <= 1e-12 * abs(mean))


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """Mean and its percentile-bootstrap confidence interval, (mean, low, high).

    Efron & Tibshirani (1993, ch. 13): ``resamples`` resamples of the values with replacement, the
    interval between the (1 − level)/2 and (1 + level)/2 quantiles of their means. The generator is
    ``numpy.random.default_rng(seed)``, so equal inputs give equal intervals. Non-finite values are
    dropped; with fewer than two values the interval is nan (one value says nothing about spread).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if v.size < 2:
        return mean, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    # A constant sample (up to float rounding, e.g. 0.3 − 0.2 vs 0.2 − 0.1) has a zero-width interval.
    if _constant(v, mean):
        return mean, mean, mean
    return mean, float(low), float(high)


def paired_bootstrap_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """Mean paired difference ``a − b`` and its paired percentile-bootstrap interval, (mean, low, high).

    The pairs are resampled together (a resample of the differences), which keeps what the two samples
    share (the seed's data split and start model). Non-finite pairs are dropped; a constant difference
    gives a zero-width interval; fewer than two pairs give a nan interval. See :func:`bootstrap_ci`.
    """
    x, y = _pairs(a, b)
    return bootstrap_ci(x - y, level=level, resamples=resamples, seed=seed)


def wilson_interval(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) of a proportion ``successes / n``, (low, high).

    ``successes`` may be fractional (ties counted as half a win). Unlike the normal (Wald) interval it
    stays inside [0, 1] and is not degenerate at 0 or 1: 3 wins out of 3 give [0.44, 1]. nan for n = 0.
    """
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values, in the order given.

    With the m finite p-values sorted, p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted p₍ᵢ₎ is
    max over j ≤ i of min(1, (m − j + 1) · p₍ⱼ₎): uniformly more powerful than :func:`bonferroni` and
    it controls the same family-wise error rate. nan entries stay nan and do not count in m.
    """
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def paired_t_power(effect_size: float, n: int | np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Power of a two-sided one-sample (paired) t-test with ``n`` pairs at standardised effect d.

    Under the alternative the statistic follows a noncentral t with n − 1 degrees of freedom and
    noncentrality d·√n (Cohen 1988, §2.5), so the power is
    P(T > t₁₋α/₂) + P(T < −t₁₋α/₂) computed exactly with ``scipy.stats.nct``.
    """
    n = np.asarray(n, dtype=np.float64)
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(effect_size) * np.sqrt(n)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        power = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    # Far in the tail scipy may return nan; the power there is 1.
    return np.where(np.isfinite(power), np.clip(power, 0.0, 1.0), 1.0)


def seeds_needed(
    differences: Sequence[float] | np.ndarray,
    alpha: float = ALPHA,
    power: float = 0.8,
    cap: int = SEEDS_CAP,
) -> float:
    """Paired seeds a difference of the observed size needs to be significant, at the given power.

    The effect size is d = mean / sd (sample sd, ddof 1) of the paired ``differences``; the answer is
    the smallest n ≥ 2 whose two-sided paired t-test at level ``alpha`` has power ≥ ``power``
    (:func:`paired_t_power`, exact noncentral t, not a normal approximation). A constant nonzero
    difference (sd 0) needs the minimum, 2; a zero mean difference, or one that needs more than
    ``cap`` seeds, gives ``inf``; fewer than two finite differences give nan (no sd).
    """
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if mean == 0:
        return math.inf
    if _constant(d, mean):
        return 2.0
    effect = mean / sd
    start = 2
    while start <= cap:
        n = np.arange(start, min(cap, start + 255) + 1)
        reached = np.flatnonzero(paired_t_power(effect, n, alpha) >= power)
        if reached.size:
            return float(n[reached[0]])
        start = int(n[-1]) + 1
    return math.inf
