"""The papers' claims 1 and 3 tested on finished runs: our numbers beside the papers', and a verdict.

Claim 1 (paper 1 = Ein-Dor et al. 2020, Table 3 and §4): AL beats Random in the imbalanced(-practical)
scenarios; Wilcoxon over (dataset, iteration ≥ 1, seed) pairs, Bonferroni over the strategies. Claim 3
(paper 2 = Fairstein et al., Tables 2–4): InvProp finds about twice the positives of Uniform at 1:50 and
is no worse on balanced accuracy and AUC; paired t-test over seeds at the final iteration. Claim 2 (batch
diversity and representativeness) is :mod:`al_bert.analysis.batch_claims`.

Verdicts: *reproduced* when our test agrees with the claim at p < 0.05; *not reproduced* when it
significantly contradicts it; *inconclusive at this scale* otherwise (or with fewer than 3 seeds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from al_bert.analysis.aggregate import final_iteration
from al_bert.analysis.scale import runs_seconds
from al_bert.analysis.stats import (
    ALPHA,
    bonferroni,
    mean_confidence_interval,
    paired_ttest_p,
    wilcoxon_p,
)
from al_bert.analysis.tables import BASELINE, format_p, markdown_table, paper1_metric

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = (
    "reproduced",
    "not reproduced",
    "inconclusive at this scale",
)
MIN_SEEDS = 3
CONSISTENT = "consistent"

# Paper 1 Table 3: Bonferroni-corrected Wilcoxon p of each strategy vs Random ("—": p ≥ 0.05).
PAPER1_TABLE3: dict[str, dict[str, str]] = {
    "balanced": {
        "core_set": "10⁻²",
        "mc_dropout": "< 10⁻³",
        "egl": "—",
        "least_confidence": "< 10⁻⁵",
        "dal": "< 10⁻²",
        "perceptron_ensemble": "—",
    },
    "imbalanced": {
        "core_set": "< 10⁻⁵",
        "mc_dropout": "< 10⁻⁸",
        "egl": "< 10⁻⁴",
        "least_confidence": "< 10⁻⁹",
        "dal": "< 10⁻⁵",
        "perceptron_ensemble": "< 10⁻²",
    },
    "imbalanced_practical": {
        "core_set": "< 10⁻⁸",
        "mc_dropout": "< 10⁻⁸",
        "egl": "< 10⁻⁸",
        "least_confidence": "< 10⁻⁷",
        "dal": "< 10⁻⁶",
        "perceptron_ensemble": "< 10⁻⁶",
    },
}
# Paper 2 Table 3 (r = 50, per algorithm, averaged over datasets): (InvProp, Uniform).
PAPER2_TABLE3: dict[str, dict[str, tuple[float, float]]] = {
    "random": {
        "balanced_accuracy": (0.7248, 0.6763),
        "roc_auc": (0.8986, 0.8681),
        "positives_ratio": (0.2442, 0.0196),
    },
    "badge": {
        "balanced_accuracy": (0.7203, 0.7181),
        "roc_auc": (0.8914, 0.8901),
        "positives_ratio": (0.2730, 0.1646),
    },
    "dal": {
        "balanced_accuracy": (0.7036, 0.6692),
        "roc_auc": (0.8948, 0.8560),
        "positives_ratio": (0.2823, 0.0142),
    },
}
# Paper 2 Table 4 (per imbalance ratio, averaged over algorithms and datasets): (InvProp, Uniform).
PAPER2_TABLE4: dict[int, dict[str, tuple[float, float]]] = {
    10: {
        "balanced_accuracy": (0.8253, 0.8149),
        "roc_auc": (0.9348, 0.9306),
        "positives_ratio": (0.3259, 0.1436),
    },
    50: {
        "balanced_accuracy": (0.7122, 0.6881),
        "roc_auc": (0.8890, 0.8692),
        "positives_ratio": (0.2091, 0.0564),
    },
}
METRIC_NAMES = {
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "AUC",
    "positives_ratio": "positives ratio",
}


def _ci(values: Sequence[float] | np.ndarray) -> str:
    mean, low, high = mean_confidence_interval(values)
    return "n/a" if not np.isfinite(mean) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, infinite when only the denominator is 0 (no positives found)."""
    if denominator == 0:
        return float("inf") if numerator > 0 else float("nan")
    return float(numerator / denominator)


def _as_int(value: Any) -> int:
    return int(float(value))


def _verdict(p: float, agrees: bool, seeds: int) -> str:
    if seeds < MIN_SEEDS or not np.isfinite(p) or p >= ALPHA:
        return INCONCLUSIVE
    return REPRODUCED if agrees else NOT_REPRODUCED


# Paired observations: one per (model, task variant, iteration, seed); duplicates (e.g. a run repeated
# under another experiment name) are averaged so that each pairing element appears once.
PAIR_KEYS = ["model", "variant", "iteration", "seed"]


def _paired_series(rows: pd.DataFrame, strategy: str, metric: str) -> pd.Series:
    """``metric`` of ``strategy``'s rows indexed by :data:`PAIR_KEYS`, duplicates averaged."""
    return rows[rows["strategy"] == strategy].groupby(PAIR_KEYS, dropna=False)[metric].mean()


# ------------------------------------------------------------------ claim 1: AL beats Random (paper 1)
def claim_al_beats_random(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Per paper-1 scenario and strategy: Wilcoxon vs Random as in Table 3, and the seed-level effect."""
    rows = frame[(frame["weighting"] == "uniform") & (frame["iteration"] >= 1)]
    rows = rows[rows["scenario"].isin(list(PAPER1_TABLE3))]
    out: list[dict[str, Any]] = []
    for scenario, group in rows.groupby("scenario"):
        metric = paper1_metric(str(scenario))
        strategies = sorted(set(group["strategy"]) - {BASELINE})
        if BASELINE not in set(group["strategy"]):
            continue
        base = _paired_series(group, BASELINE, metric)
        for strategy in strategies:
            mine = _paired_series(group, strategy, metric)
            joined = pd.concat([mine.rename("s"), base.rename("r")], axis=1, join="inner")
            p = bonferroni(
                wilcoxon_p(joined["s"].to_numpy(), joined["r"].to_numpy()), len(strategies)
            )
            per_seed = (joined["s"] - joined["r"]).groupby(level="seed").mean()
            mean_diff = float((joined["s"] - joined["r"]).mean()) if len(joined) else float("nan")
            out.append(
                {
                    "scenario": scenario,
                    "strategy": strategy,
                    "metric": metric,
                    "paper_p": PAPER1_TABLE3[str(scenario)].get(strategy, "not in paper 1"),
                    "pairs": len(joined),
                    "seeds": int(per_seed.size),
                    "mean_difference": mean_diff,
                    "difference_ci": _ci(per_seed.to_numpy()),
                    "p_bonferroni": float(p),
                    "verdict": _verdict(float(p), mean_diff > 0, int(per_seed.size)),
                }
            )
    data = pd.DataFrame(out)
    if data.empty:
        return data, "_No finished paper-1 runs with Random and another strategy yet._\n"
    cells = [
        [
            r["scenario"],
            r["strategy"],
            r["paper_p"],
            f"{r['mean_difference']:+.3f}",
            r["difference_ci"],
            f"{format_p(r['p_bonferroni'])} ({r['pairs']} pairs)",
            r["verdict"],
        ]
        for r in data.to_dict("records")
    ]
    table = markdown_table(
        [
            "scenario",
            "strategy",
            "paper 1 p (Table 3)",
            "ours: mean Δ vs Random",
            "Δ per seed: mean [95% CI]",
            "ours: p (Wilcoxon, Bonferroni)",
            "verdict",
        ],
        cells,
    )
    return data, table


# ---------------------------------------------------------------- claim 3: InvProp vs Uniform (paper 2)
def claim_invprop(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Tables 2–4: final balanced accuracy, AUC and positives ratio, InvProp vs Uniform, paired t."""
    final = final_iteration(frame[frame["scenario"] == "warm_start"])
    if final.empty:
        return pd.DataFrame(), "_No finished paper-2 runs yet._\n"
    out = []
    for (variant, ratio, strategy), group in final.groupby(
        ["variant", "imbalance_ratio", "strategy"]
    ):
        by = group.set_index(["weighting", "seed"])
        if not {"invprop", "uniform"} <= set(group["weighting"]):
            continue
        for metric in METRIC_NAMES:
            inv = by.loc["invprop"][metric]
            uni = by.loc["uniform"][metric]
            joined = pd.concat([inv.rename("i"), uni.rename("u")], axis=1, join="inner")
            p = paired_ttest_p(joined["i"].to_numpy(), joined["u"].to_numpy())
            diff = float((joined["i"] - joined["u"]).mean())
            paper = PAPER2_TABLE3.get(str(strategy), {}).get(metric) if ratio == 50 else None
            table4 = PAPER2_TABLE4.get(_as_int(ratio), {}).get(metric)
            if metric == "positives_ratio":
                claim = "InvProp finds about twice the positives of Uniform"
                agrees = diff > 0
            else:
                claim = f"InvProp is no worse than Uniform on {METRIC_NAMES[metric]}"
                agrees = diff >= 0
            verdict = _verdict(p, agrees, len(joined))
            if metric != "positives_ratio" and verdict == INCONCLUSIVE and len(joined) >= MIN_SEEDS:
                # "No worse" cannot be shown by a non-significant test; say so, with the CI of Δ.
                _, low, high = mean_confidence_interval((joined["i"] - joined["u"]).to_numpy())
                verdict = f"{CONSISTENT}: no significant difference, Δ [{low:+.3f}, {high:+.3f}]"
            out.append(
                {
                    "variant": variant,
                    "ratio": _as_int(ratio),
                    "strategy": strategy,
                    "metric": metric,
                    "claim": claim,
                    "paper_table3": paper,
                    "paper_table4": table4,
                    "invprop": _ci(joined["i"].to_numpy()),
                    "uniform": _ci(joined["u"].to_numpy()),
                    "posprob": _ci(np.asarray(by.loc["posprob"][metric], dtype=np.float64))
                    if "posprob" in set(group["weighting"])
                    else "n/a",
                    "mean_difference": diff,
                    "invprop_over_uniform": _ratio(joined["i"].mean(), joined["u"].mean()),
                    "seeds": len(joined),
                    "p_paired_t": p,
                    "verdict": verdict,
                }
            )
    data = pd.DataFrame(out)
    if data.empty:
        return data, "_No paper-2 runs with both InvProp and Uniform yet._\n"

    def paper_text(pair: Any) -> str:
        return "—" if pair is None else f"{pair[0]:.3f} vs {pair[1]:.3f}"

    def times_text(row: Mapping[Any, Any]) -> str:
        """How many times Uniform's positives InvProp finds: the paper's (Table 3, else 4) / ours."""
        if row["metric"] != "positives_ratio":
            return ""
        pair = row["paper_table3"] or row["paper_table4"]
        paper = "—" if pair is None else f"{_ratio(pair[0], pair[1]):.1f}×"
        return f"{paper} / {row['invprop_over_uniform']:.1f}×"

    cells = [
        [
            f"1:{r['ratio']}",
            r["strategy"],
            METRIC_NAMES[r["metric"]],
            paper_text(r["paper_table3"]),
            paper_text(r["paper_table4"]),
            r["invprop"],
            r["uniform"],
            r["posprob"],
            times_text(r),
            f"{format_p(r['p_paired_t'])} (n={r['seeds']})",
            r["verdict"],
        ]
        for r in data.sort_values(
            ["ratio", "strategy", "metric"], ascending=[False, True, True]
        ).to_dict("records")
    ]
    table = markdown_table(
        [
            "ratio",
            "strategy",
            "metric",
            "paper 2 Table 3 (InvProp vs Uniform)",
            "paper 2 Table 4",
            "ours InvProp [95% CI]",
            "ours Uniform",
            "ours PosProb",
            "InvProp ÷ Uniform, paper / ours",
            "paired t p",
            "verdict",
        ],
        cells,
    )
    return data, table + "\n" + _threshold_note(final)


def _threshold_note(final: pd.DataFrame) -> str:
    """Why balanced accuracy can sit near 0.5 while AUC does not: recall against specificity."""
    if not {"recall", "balanced_accuracy", "roc_auc"} <= set(final.columns):
        return ""
    recall = final["recall"].astype(float)
    specificity = 2 * final["balanced_accuracy"].astype(float) - recall
    auc = final["roc_auc"].astype(float)
    labelled = (
        f" {int(final['positives_labelled'].min())}–{int(final['positives_labelled'].max())} "
        f"positives among {int(final['train_size'].max())} labels;"
        if {"positives_labelled", "train_size"} <= set(final.columns)
        else ""
    )
    return (
        f"\nAt the final iteration of these runs ({len(final)}):{labelled} recall of the positive "
        f"class {recall.mean():.3f} on average ({recall.min():.3f}–{recall.max():.3f}) against "
        f"specificity {specificity.mean():.3f}. Balanced accuracy = (recall + specificity) / 2, so a "
        "model that predicts few positives at the 0.5 threshold stays near 0.5 however well it ranks: "
        f"its AUC is {auc.min():.3f}–{auc.max():.3f}. Paper 2's balanced accuracies at 1:50 "
        "(0.63–0.72) imply a recall of at least 2 × 0.63 − 1 = 0.26 even at specificity 1: its "
        "BERT-base on the full pools predicts positives far more often than our MiniLM, so our "
        "balanced accuracies are compared InvProp vs Uniform within our runs, not with the paper's.\n"
    )


def paper2_every_strategy(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Paper 2's SST-2 setup with every strategy, Uniform weighting: final balanced accuracy, AUC and
    positives ratio, and the median seconds per run (which strategies ran, and what they cost)."""
    final = final_iteration(frame[frame["scenario"] == "warm_start"])
    final = final[final["weighting"] == "uniform"]
    if final.empty:
        return pd.DataFrame(), "_No paper-2 runs yet._\n"
    out = []
    for (variant, ratio, strategy), group in final.groupby(
        ["variant", "imbalance_ratio", "strategy"]
    ):
        row: dict[str, Any] = {
            "variant": variant,
            "ratio": _as_int(ratio),
            "strategy": strategy,
            "seeds": len(group),
            "seconds": runs_seconds(frame[frame["run_key"].isin(group["run_key"])]),
        }
        for metric in METRIC_NAMES:
            row[metric] = float(group[metric].mean())
        out.append(row)
    data = pd.DataFrame(out).sort_values(["ratio", "strategy"], ascending=[False, True])
    cells = [
        [
            f"{r['variant']} 1:{r['ratio']}",
            r["strategy"],
            str(r["seeds"]),
            *[f"{r[m]:.3f}" for m in METRIC_NAMES],
            f"{r['seconds']:.0f}",
        ]
        for r in data.to_dict("records")
    ]
    table = markdown_table(
        ["task", "strategy", "seeds", *METRIC_NAMES.values(), "median s / run"], cells
    )
    return data, table
