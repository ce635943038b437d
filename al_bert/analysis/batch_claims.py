"""Claim 2: the diversity and representativeness of the selected batches (paper 1 §5, Figure 2).

Paper 1 §5 measures both at iteration 1, "after the initial BERT model is trained and each AL strategy
has selected 50 examples": every strategy selects from the same pool U with the same model M₀.
Diversity is its equation (1), D(B) = (mean over x ∈ U of min over b ∈ B of d(x, b))⁻¹ (Zhdanov
2019); representativeness is 1 / the batch's mean K-NN density, K = 10 (Zhu et al. 2008); both in
``al_bert/metrics/batch.py``. Paper 1 averages Figure 2 over datasets and seeds and reads it by eye;
here each dataset stands alone (the strategies ran on different datasets) and each ordering it states
is tested pair by pair with claim 1's test (:func:`rank_claim`), at iteration 1 and, beside it, over
iterations 1–5, where each strategy's models have diverged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from al_bert.analysis.claims import (
    INCONCLUSIVE,
    MIN_SEEDS,
    NOT_REPRODUCED,
    PAIR_KEYS,
    PAPER1_TABLE3,
    REPRODUCED,
)
from al_bert.analysis.stats import (
    ALPHA,
    bonferroni,
    mean_confidence_interval,
    paired_values,
    wilcoxon_p,
)
from al_bert.analysis.tables import markdown_table

SECOND_NEAREST = "diversity_second_nearest"
PROPERTY_NAMES = {
    "diversity": "diversity (eq. 1)",
    "representativeness": "representativeness",
    SECOND_NEAREST: "diversity, 2nd nearest (released code)",
}
Kind = Literal["top", "below_median"]
FIRST = "iteration 1"


def batch_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Paper 1's scenarios, Uniform weighting, the AL iterations (≥ 1) that selected a batch."""
    rows = frame[(frame["weighting"] == "uniform") & (frame["iteration"] >= 1)]
    return rows[rows["scenario"].isin(list(PAPER1_TABLE3))]


def windows(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Iteration 1 (paper 1 §5: one M₀ and one pool for every strategy) and every AL iteration."""
    last = int(rows["iteration"].max())
    return {FIRST: rows[rows["iteration"] == 1], f"iterations 1–{last}": rows}


def measured_properties(rows: pd.DataFrame) -> list[str]:
    """Diversity and representativeness, and the released code's diversity where records have it."""
    return [p for p in PROPERTY_NAMES if p in rows and rows[p].notna().any()]


def property_means(rows: pd.DataFrame, properties: Sequence[str]) -> pd.DataFrame:
    """Per (scenario, variant, strategy, property): the mean over seeds of each seed's mean, its 95%
    t-interval and the number of seeds."""
    out = []
    for (scenario, variant, strategy), group in rows.groupby(["scenario", "variant", "strategy"]):
        for prop in properties:
            per_seed = group.groupby("seed")[prop].mean().dropna().to_numpy()
            mean, low, high = mean_confidence_interval(per_seed)
            out.append(
                {
                    "scenario": scenario,
                    "variant": variant,
                    "strategy": strategy,
                    "property": prop,
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "seeds": per_seed.size,
                }
            )
    return pd.DataFrame(out)


def stated_orderings(scenario: str, strategies: set[str]) -> list[tuple[str, str, set[str], Kind]]:
    """Paper 1 §5's orderings that these strategies allow: (claim, property, members, kind)."""
    checks: list[tuple[str, str, set[str], Kind]] = []
    if "dal" in strategies:
        checks.append(("DAL has the most diverse batches", "diversity", {"dal"}, "top"))
        checks.append(
            ("DAL has the most representative batches", "representativeness", {"dal"}, "top")
        )
    if {"dal", "core_set"} <= strategies:
        checks.append(
            ("DAL and Core-Set are the two most diverse", "diversity", {"dal", "core_set"}, "top")
        )
    if "core_set" in strategies and scenario != "imbalanced_practical":
        checks.append(
            (
                "Core-Set's representativeness is below the median",
                "representativeness",
                {"core_set"},
                "below_median",
            )
        )
    return checks


def batch_claim_checks(frame: pd.DataFrame) -> pd.DataFrame:
    """Each ordering of :func:`stated_orderings` per (scenario, variant) and window: whether the means
    order as claimed, the verdict of :func:`rank_claim` and its evidence, and the seeds."""
    rows = batch_rows(frame)
    out: list[dict[str, object]] = []
    if rows.empty or "diversity" not in rows:
        return pd.DataFrame(out)
    for window, selected in windows(rows).items():
        means = property_means(selected, ["diversity", "representativeness"])
        for (scenario, variant), group in means.groupby(["scenario", "variant"]):
            pairs = selected[(selected["scenario"] == scenario) & (selected["variant"] == variant)]
            seeds = int(group["seeds"].min())
            by_property = {
                prop: group[group["property"] == prop].set_index("strategy")["mean"]
                for prop in ("diversity", "representativeness")
            }
            for claim, prop, members, kind in stated_orderings(
                str(scenario), set(group["strategy"])
            ):
                holds, verdict, evidence = rank_claim(pairs, by_property[prop], prop, members, kind)
                out.append(
                    {
                        "scenario": scenario,
                        "variant": variant,
                        "window": window,
                        "claim": claim,
                        "property": prop,
                        "holds": holds,
                        "verdict": INCONCLUSIVE if seeds < MIN_SEEDS else verdict,
                        "evidence": evidence,
                        "seeds": seeds,
                    }
                )
    return pd.DataFrame(out)


def claim_batch_properties(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Paper 1 Figure 2 per (scenario, variant): the means at iteration 1 and over iterations 1–5
    (``data``: one row per window, strategy and property), and each stated ordering's verdicts."""
    rows = batch_rows(frame)
    if rows.empty or "diversity" not in rows:
        return pd.DataFrame(), "_No finished paper-1 runs with batch analyses yet._\n"
    properties = measured_properties(rows)
    data = pd.concat(
        [
            property_means(selected, properties).assign(window=window)
            for window, selected in windows(rows).items()
        ],
        ignore_index=True,
    )
    checks = batch_claim_checks(frame)
    lines = [_iteration1_note(rows), ""]
    for (scenario, variant), group in data.groupby(["scenario", "variant"], sort=True):
        lines += [f"**{variant!s} — {scenario!s}**", ""]
        for window, table in group.groupby("window", sort=False):
            lines += [f"_{window}_", "", _means_table(table, properties), ""]
        mine = checks[(checks["scenario"] == scenario) & (checks["variant"] == variant)]
        for claim, verdicts in mine.groupby("claim", sort=False):
            seeds = int(verdicts["seeds"].min())
            found = "; ".join(
                f"{r['window']}: {'yes' if r['holds'] else 'no'}; {r['evidence']} → "
                f"**{r['verdict']}**"
                for r in verdicts.to_dict("records")
            )
            lines.append(f"- {claim} — {found} ({seeds} seed{'' if seeds == 1 else 's'})")
        if not mine.empty:
            lines.append("")
    return data, "\n".join(lines)


def _means_table(table: pd.DataFrame, properties: Sequence[str]) -> str:
    """One window's means: a row per strategy (most diverse first), mean [95% CI] and rank per
    property."""
    means = {p: table[table["property"] == p].set_index("strategy") for p in properties}
    order = means["diversity"]["mean"].sort_values(ascending=False, kind="stable").index
    header = ["strategy"]
    for prop in properties:
        header += [f"{PROPERTY_NAMES[prop]} [95% CI]", "rank"]
    cells = []
    for strategy in order:
        cells.append([str(strategy)])
        for prop in properties:
            r = means[prop].loc[strategy]
            rank = means[prop]["mean"].rank(ascending=False)[strategy]
            cells[-1] += (
                ["–", "–"]
                if not np.isfinite(r["mean"])
                else [f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]", f"{int(rank)}"]
            )
    return markdown_table(header, cells)


def _iteration1_note(rows: pd.DataFrame) -> str:
    """What iteration 1 can show here: whether the strategies shared M₀, and the smallest p its
    Wilcoxon tests can reach with one pair per seed."""
    first = rows[rows["iteration"] == 1]
    groups = ["scenario", "model", "variant", "seed"]
    shared = ""
    if "iteration0_key" in first:
        keys = first.groupby(groups)["iteration0_key"]
        one_m0 = (keys.nunique() == 1) & (keys.count() == keys.size())
        shared = (
            "At iteration 1 the strategies of a (task, seed) selected from one M₀ and pool (one "
            f"`iteration0_key`: the same seed set, training and pool) in {int(one_m0.sum())} of "
            f"{one_m0.size} (task, seed) groups. "
        )
    pairs = int(first.groupby([*groups[:3], "strategy"])["seed"].nunique().max())
    floor = wilcoxon_p(np.arange(1.0, pairs + 1), np.zeros(pairs))
    power = (
        "so no iteration-1 ordering can be significant with these seeds: its verdicts are "
        "inconclusive by construction, and the average over iterations (one pair per iteration and "
        "seed) is the test with power, on models that have diverged"
        if floor >= ALPHA
        else "before Bonferroni"
    )
    return (
        f"{shared}An iteration-1 comparison has at most {pairs} pairs (one per seed); the two-sided "
        f"Wilcoxon p of {pairs} pairs cannot fall below {floor:.3f}, {power}."
    )


def released_diversity_note(frame: pd.DataFrame) -> str:
    """Paper 1's released code measures diversity differently from its equation (1): say so, and
    whether these runs record that variant."""
    recorded = (
        int(frame.loc[frame[SECOND_NEAREST].notna(), "run_key"].nunique())
        if SECOND_NEAREST in frame
        else 0
    )
    return (
        "Paper 1's released code (`DiversityCalculator`) takes each pool example's distance to its "
        "*second*-nearest batch member, not the nearest of equation (1); runs record that variant as "
        f"`{SECOND_NEAREST}`, "
        + (
            f"{recorded} of the runs here have it (its columns below)."
            if recorded
            else "which none of the runs here has yet."
        )
    )


def _pairwise_signs(
    rows: pd.DataFrame, prop: str, strategy: str, others: Sequence[str], comparisons: int
) -> dict[str, int]:
    """``strategy`` against each of ``others`` on ``prop``: +1 significantly higher, −1 significantly
    lower, 0 neither (two-sided Wilcoxon over (iteration, seed) pairs as in claim 1, Bonferroni over
    the claim's ``comparisons``)."""
    signs: dict[str, int] = {}
    for other in others:
        mine, theirs = paired_values(rows, "strategy", strategy, other, PAIR_KEYS, prop)
        p = bonferroni(wilcoxon_p(mine, theirs), comparisons)
        differences = (mine - theirs)[np.isfinite(mine - theirs)]
        difference = float(differences.mean()) if differences.size else 0.0
        signs[other] = 0 if not np.isfinite(p) or p >= ALPHA else int(np.sign(difference))
    return signs


def rank_claim(
    rows: pd.DataFrame,
    means: pd.Series,
    prop: str,
    members: set[str],
    kind: Kind,
) -> tuple[bool, str, str]:
    """Paper 1 Figure 2's orderings, tested pair by pair: whether the means order as claimed, the
    verdict and its evidence in words.

    ``top``: every member above every other strategy. Reproduced when each such pair differs
    significantly in the claimed direction, not reproduced when one differs significantly against it.
    ``below_median`` (one member among n strategies): reproduced when at least ⌈n/2⌉ of the others
    are significantly above it, not reproduced when at least ⌊n/2⌋ are significantly below it.
    ``means`` (per strategy, as the table shows them) decide only whether the ordering holds in words.
    """
    others = sorted(set(means.index) - members)
    if kind == "top":
        holds = _strictly_top(means, members)
        comparisons = max(1, len(members) * len(others))
        signs = {
            (member, other): sign
            for member in sorted(members)
            for other, sign in _pairwise_signs(rows, prop, member, others, comparisons).items()
        }
        against = [f"{member} < {other}" for (member, other), sign in signs.items() if sign < 0]
        agreeing = sum(sign > 0 for sign in signs.values())
        evidence = f"significantly higher in {agreeing} of {len(signs)} pairs"
        if against:
            return holds, NOT_REPRODUCED, f"{evidence}; significantly lower: {', '.join(against)}"
        return holds, REPRODUCED if signs and agreeing == len(signs) else INCONCLUSIVE, evidence
    (member,) = members
    holds = bool(means[member] < means.median())
    if not others:
        return holds, INCONCLUSIVE, "no other strategy to compare with"
    versus = _pairwise_signs(rows, prop, member, others, max(1, len(others)))
    above = sum(sign < 0 for sign in versus.values())
    below = sum(sign > 0 for sign in versus.values())
    evidence = f"{above} of {len(others)} others significantly above it, {below} below"
    n = len(others) + 1
    if above >= -(-n // 2):
        return holds, REPRODUCED, evidence
    if below >= n // 2:
        return holds, NOT_REPRODUCED, evidence
    return holds, INCONCLUSIVE, evidence


def _strictly_top(values: pd.Series, names: set[str]) -> bool:
    """Whether ``names`` are the top ``len(names)`` values, strictly above every other one."""
    ranked = values.sort_values(ascending=False)
    if set(ranked.index[: len(names)]) != names:
        return False
    return len(ranked) == len(names) or bool(ranked.iloc[len(names) - 1] > ranked.iloc[len(names)])
