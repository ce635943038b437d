"""The papers' tables, computed from the tidy results of :mod:`al_bert.analysis.aggregate`.

Each builder returns a :class:`Table`: a tidy numeric frame (written as CSV and logged to W&B) and a
markdown rendering laid out like the paper's table (bold marks significance as the paper does).

Paper 1 = Ein-Dor et al. 2020 (Tables 2, 3; the batch overlap of §5). Paper 2 = Fairstein et al.
(Tables 2–6, 11, 12).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from al_bert.analysis.aggregate import SHARED_START, final_iteration
from al_bert.analysis.stats import (
    ALPHA,
    bonferroni,
    paired_ttest_p,
    paired_values,
    significantly_best,
    wilcoxon_p,
)
from al_bert.metrics.batch import batch_overlap

BASELINE = "random"
# Paper 2's three metrics (§5.1), in the order of its tables.
FAIRSTEIN_METRICS: dict[str, str] = {
    "balanced_accuracy": "Balanced Accuracy",
    "roc_auc": "AUC",
    "positives_ratio": "Positives Ratio",
}
WEIGHTING_NAMES = {"invprop": "InvProp", "uniform": "Uniform", "posprob": "PosProb"}


class AnalysisError(ValueError):
    """The loaded runs cannot make the requested table (the message says what is missing)."""


@dataclass
class Table:
    """One generated table: ``data`` is tidy and numeric, ``markdown`` is the paper-like layout."""

    name: str
    title: str
    data: pd.DataFrame
    markdown: str
    notes: list[str] = field(default_factory=list)

    def write(self, out_dir: Path) -> list[Path]:
        """Write ``<name>.md`` (title, table, notes) and ``<name>.csv``; return both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        md = out_dir / f"{self.name}.md"
        csv = out_dir / f"{self.name}.csv"
        body = [f"# {self.title}", "", self.markdown.rstrip(), ""]
        body += [f"- {note}" for note in self.notes]
        md.write_text("\n".join(body).rstrip() + "\n", encoding="utf-8")
        self.data.to_csv(csv, index=False)
        return [md, csv]


def paper1_metric(scenario: str) -> str:
    """Paper 1 §4: accuracy in the balanced scenario, F1 (threshold 0.5) in the imbalanced ones."""
    return "accuracy" if scenario == "balanced" else "f1"


def format_p(p: float) -> str:
    """A p-value for a table cell: 3 decimals, scientific below 10⁻³, an en dash when undefined."""
    if p is None or not np.isfinite(p):
        return "–"
    if p == 0:
        return "0"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def format_value(value: float, digits: int = 4, bold: bool = False) -> str:
    text = "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"
    return f"**{text}**" if bold and text != "–" else text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table (first column left-aligned, the others right-aligned)."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _require(frame: pd.DataFrame, what: str) -> None:
    if frame.empty:
        raise AnalysisError(f"no finished runs for {what}: run its sweep first (see `make help`)")


def _label(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------------------------------
# Paper 1 (Ein-Dor et al. 2020)
# --------------------------------------------------------------------------------------------------


def ein_dor_runtime(frame: pd.DataFrame) -> Table:
    """Table 2: mean seconds per AL iteration spent on pool inference plus batch selection.

    Averaged over every selecting iteration (i ≥ 1) of every run of a strategy; iteration 0 selects
    nothing. The paper's numbers are for 7,000 unlabelled examples on its hardware.
    """
    rows = frame[(frame["iteration"] >= 1) & (frame["weighting"] == "uniform")].copy()
    _require(rows, "paper 1 Table 2")
    rows["selection_seconds"] = rows["infer_seconds"].fillna(0) + rows["select_seconds"].fillna(0)
    data = (
        rows.groupby("strategy")
        .agg(
            infer_seconds=("infer_seconds", "mean"),
            select_seconds=("select_seconds", "mean"),
            selection_seconds=("selection_seconds", "mean"),
            iterations=("selection_seconds", "size"),
            datasets=("variant", lambda s: ", ".join(sorted(set(s)))),
        )
        .reset_index()
    )
    data = _baseline_first(data, "strategy")
    header = ["", *data["strategy"].tolist()]
    md = markdown_table(
        header,
        [
            ["inference + selection (s)", *[f"{v:.2f}" for v in data["selection_seconds"]]],
            ["of which selection (s)", *[f"{v:.2f}" for v in data["select_seconds"]]],
            ["iterations averaged", *[str(int(v)) for v in data["iterations"]]],
        ],
    )
    return Table(
        "table-ein-dor-2",
        "Paper 1 Table 2: runtime (seconds) of one AL iteration's pool inference and batch selection",
        data,
        md,
        [
            f"Datasets: {', '.join(sorted(set(rows['variant'])))}; mean over iterations ≥ 1 and seeds.",
            "Iteration 1 may read M0's pool outputs from the shared cache (al_bert/tracking/iteration0.py): "
            "that inference is then timed only in the run that computed it.",
        ],
    )


def _baseline_first(data: pd.DataFrame, column: str) -> pd.DataFrame:
    order = sorted(data[column], key=lambda s: (s != BASELINE, str(s)))
    return data.set_index(column).loc[order].reset_index()


def _paired_tests(
    frame: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    keys: Sequence[str],
    metric_of: Callable[[str], str],
) -> pd.DataFrame:
    """Wilcoxon p-values per scenario for each (strategy a, strategy b), Bonferroni over the pairs."""
    out = []
    for scenario, group in frame.groupby("scenario"):
        metric = metric_of(str(scenario))
        present = set(group["strategy"])
        wanted = [(a, b) for a, b in pairs if a in present and b in present]
        for a, b in wanted:
            x, y = paired_values(group, "strategy", a, b, keys, metric)
            p = wilcoxon_p(x, y)
            out.append(
                {
                    "scenario": scenario,
                    "strategy": a,
                    "versus": b,
                    "metric": metric,
                    "pairs": int(x.size),
                    "mean_difference": float(np.mean(x - y)) if x.size else float("nan"),
                    "p_value": p,
                    "comparisons": len(wanted),
                    "p_bonferroni": bonferroni(p, len(wanted)) if np.isfinite(p) else p,
                }
            )
    return pd.DataFrame(out)


def ein_dor_significance(frame: pd.DataFrame) -> list[Table]:
    """Table 3: Wilcoxon p-value of each strategy against Random, per scenario, Bonferroni-corrected.

    Pairs are (S_dik, R_dik) over datasets d of the scenario, iterations i ≥ 1 and seeds k (§4); the
    metric is accuracy (balanced) or F1 (imbalanced scenarios). The second table compares every pair of
    non-random strategies, corrected for the number of pairs.
    """
    rows = frame[(frame["iteration"] >= 1) & (frame["weighting"] == "uniform")]
    _require(rows, "paper 1 Table 3")
    keys = ["variant", "iteration", "seed"]
    strategies = sorted(set(rows["strategy"]) - {BASELINE})
    if BASELINE not in set(rows["strategy"]) or not strategies:
        raise AnalysisError("paper 1 Table 3 needs Random and at least one other strategy")
    vs_random = _paired_tests(rows, [(s, BASELINE) for s in strategies], keys, paper1_metric)
    scenarios = sorted(set(vs_random["scenario"]))
    cells = []
    for strategy in strategies:
        line = [strategy]
        for scenario in scenarios:
            hit = vs_random[
                (vs_random["strategy"] == strategy) & (vs_random["scenario"] == scenario)
            ]
            if hit.empty:
                line.append("–")
                continue
            r = hit.iloc[0]
            text = f"{format_p(r['p_bonferroni'])} ({r['mean_difference']:+.3f})"
            significant = np.isfinite(r["p_bonferroni"]) and r["p_bonferroni"] < ALPHA
            line.append(f"**{text}**" if significant else text)
        cells.append(line)
    metrics = ", ".join(f"{s}: {paper1_metric(s)}" for s in scenarios)
    main = Table(
        "table-ein-dor-3",
        "Paper 1 Table 3: Wilcoxon p-values (Bonferroni-corrected) of each strategy vs Random",
        vs_random,
        markdown_table(["strategy", *scenarios], cells),
        [
            f"Metric per scenario: {metrics}. Cell: corrected p (mean difference strategy − Random).",
            "Pairs: (dataset, iteration ≥ 1, seed); two-sided signed-rank test; bold: p < 0.05.",
            f"Bonferroni factor: the number of strategies compared with Random in the scenario "
            f"({len(strategies)} at most).",
        ],
    )
    pairs = list(itertools.combinations(strategies, 2))
    pairwise = _paired_tests(rows, pairs, keys, paper1_metric) if pairs else pd.DataFrame()
    pair_cells = []
    for _, r in pairwise.iterrows():
        text = format_p(r["p_bonferroni"])
        significant = np.isfinite(r["p_bonferroni"]) and r["p_bonferroni"] < ALPHA
        pair_cells.append(
            [
                r["scenario"],
                f"{r['strategy']} vs {r['versus']}",
                str(r["pairs"]),
                f"{r['mean_difference']:+.4f}",
                f"**{text}**" if significant else text,
            ]
        )
    pair_table = Table(
        "table-ein-dor-3-pairs",
        "Paper 1 §4: Wilcoxon p-values (Bonferroni-corrected) for every pair of AL strategies",
        pairwise,
        markdown_table(["scenario", "pair", "pairs", "mean difference", "p"], pair_cells)
        if pair_cells
        else "_fewer than two non-random strategies: no pairs_",
        ["Bonferroni factor: the number of strategy pairs in the scenario; bold: p < 0.05."],
    )
    return [main, pair_table]


def overlap_records(frame: pd.DataFrame, iteration: int = 1) -> pd.DataFrame:
    """|A ∩ B| / k for every pair of strategies whose runs share M0 and U (paper 1 §5).

    Runs share the iteration-0 model and pool when every :data:`SHARED_START` column (the
    recorded iteration-0 key and the batch size) and the weighting are equal; only their
    strategy differs. Only ``iteration`` (default 1, the first
    selection) is comparable: later batches come from different models and pools.
    """
    rows = frame[frame["iteration"] == iteration]
    # scenario and dataset are fixed by the iteration-0 key; kept as columns for the summaries
    group_keys = [c for c in (*SHARED_START, "weighting", "scenario", "dataset") if c in rows]
    out = []
    for key, group in rows.groupby(group_keys, dropna=False):
        by_strategy = {r["strategy"]: r["selected_ids"] for _, r in group.iterrows()}
        info = dict(zip(group_keys, key if isinstance(key, tuple) else (key,)))
        for a, b in itertools.combinations(sorted(by_strategy), 2):
            ids_a, ids_b = by_strategy[a] or [], by_strategy[b] or []
            if not ids_a or not ids_b:
                continue
            out.append(
                {**info, "strategy_a": a, "strategy_b": b, "overlap": batch_overlap(ids_a, ids_b)}
            )
    return pd.DataFrame(out)


def ein_dor_overlap(frame: pd.DataFrame) -> Table:
    """Batch overlap between strategies at iteration 1 (paper 1 §5), mean over datasets and seeds."""
    pairs = overlap_records(frame)
    if pairs.empty:
        raise AnalysisError(
            "batch overlap needs runs of at least two strategies that share dataset, scenario, seed, "
            "model and trainer (run the figure-ein-dor-2 sweep)"
        )
    data = (
        pairs.groupby(["scenario", "strategy_a", "strategy_b"])
        .agg(
            mean_overlap=("overlap", "mean"),
            max_overlap=("overlap", "max"),
            runs=("overlap", "size"),
        )
        .reset_index()
    )
    sections = []
    for scenario, group in data.groupby("scenario"):
        names = sorted(set(group["strategy_a"]) | set(group["strategy_b"]))
        lookup = {
            (r["strategy_a"], r["strategy_b"]): r["mean_overlap"] for r in group.to_dict("records")
        }
        rows = []
        for a in names:
            line = [a]
            for b in names:
                value = lookup.get((a, b), lookup.get((b, a)))
                line.append("–" if a == b or value is None else f"{100 * value:.1f}%")
            rows.append(line)
        sections.append(f"### {scenario}\n\n" + markdown_table(["", *names], rows))
    return Table(
        "table-ein-dor-overlap",
        "Paper 1 §5: overlap between the batches selected by each pair of strategies (iteration 1)",
        data,
        "\n\n".join(sections),
        [
            "Overlap = |A ∩ B| / |A| of the first AL batches of two runs that share M0 and U "
            "(same dataset, scenario, seed, model, trainer, limits); mean over datasets and seeds.",
        ],
    )


def batch_property_table(frame: pd.DataFrame, iteration: int = 1) -> Table:
    """The numbers behind paper 1 Figure 2: mean diversity and representativeness per strategy."""
    rows = frame[(frame["iteration"] == iteration) & (frame["weighting"] == "uniform")].copy()
    _require(rows, "paper 1 Figure 2")
    for column in ("diversity", "representativeness"):
        values = pd.to_numeric(rows[column], errors="coerce")
        rows[column] = values.where(np.isfinite(values))
    data = (
        rows.groupby(["scenario", "strategy"])
        .agg(
            diversity=("diversity", "mean"),
            diversity_std=("diversity", "std"),
            representativeness=("representativeness", "mean"),
            representativeness_std=("representativeness", "std"),
            runs=("run_key", "nunique"),
        )
        .reset_index()
    )
    md_rows = [
        [
            str(r["scenario"]),
            str(r["strategy"]),
            format_value(r["diversity"]),
            format_value(r["representativeness"]),
            str(r["runs"]),
        ]
        for r in data.to_dict("records")
    ]
    return Table(
        "figure-ein-dor-2",
        "Paper 1 Figure 2: diversity and representativeness of the first AL batch",
        data,
        markdown_table(
            ["scenario", "strategy", "diversity", "representativeness", "runs"], md_rows
        ),
        [
            "Diversity D(B) = (mean over x ∈ U of min over b ∈ B of d(x, b))⁻¹ (Eq. 1); "
            "representativeness = 1 / mean K-NN density (K = 10), both in M0's [CLS] space.",
            f"Iteration {iteration}; mean over datasets and seeds.",
        ],
    )


# --------------------------------------------------------------------------------------------------
# Paper 2 (Fairstein et al.)
# --------------------------------------------------------------------------------------------------


def _ratio_filter(frame: pd.DataFrame, ratios: Sequence[float] | None) -> pd.DataFrame:
    out = frame[frame["imbalance_ratio"].notna()]
    if ratios is not None:
        out = out[out["imbalance_ratio"].astype(float).isin([float(r) for r in ratios])]
    return out


def _best_algorithm_elements(final: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (variant, weighting) keep the runs of the algorithm with the best mean ``metric`` (Table 2)."""
    means = final.groupby(["variant", "weighting", "strategy"])[metric].mean().reset_index()
    best = means.loc[means.groupby(["variant", "weighting"])[metric].idxmax()]
    keep = set(zip(best["variant"], best["weighting"], best["strategy"]))
    mask = [
        (v, w, s) in keep
        for v, w, s in zip(final["variant"], final["weighting"], final["strategy"])
    ]
    return final[mask]


def weighting_comparison(
    frame: pd.DataFrame,
    *,
    name: str,
    title: str,
    by: str,
    weightings: Sequence[str],
    ratios: Sequence[float] | None = None,
    best_algorithm: bool = False,
    metrics: dict[str, str] | None = None,
) -> Table:
    """Paper 2 Tables 2–6: mean final metric per row (``by``) and weighting, bold if significant.

    Elements are the runs' final-iteration results; each mean is over the elements of its row and
    weighting. Two weightings are compared by a paired t-test over the elements matched on (variant,
    strategy, imbalance ratio, seed) minus the row column (footnote 7); a mean is bold when it is the
    higher one and p < 0.05 against every other weighting of its row. With ``best_algorithm`` (Table
    2) each (variant, weighting) keeps only the strategy with the best mean of that metric.
    """
    metrics = metrics or FAIRSTEIN_METRICS
    final = _ratio_filter(final_iteration(frame), ratios)
    final = final[final["weighting"].isin(weightings)]
    _require(final, title)
    missing = [w for w in weightings if w not in set(final["weighting"])]
    if missing:
        raise AnalysisError(f"{name}: no finished runs with weighting {', '.join(missing)}")
    keys = [k for k in ("variant", "strategy", "imbalance_ratio", "seed") if k != by]
    if best_algorithm:
        keys = [k for k in keys if k != "strategy"]
    records = []
    row_values = sorted(set(final[by]), key=lambda v: (isinstance(v, str), v))
    md_rows = []
    for row in row_values:
        md_line = [_label(row)]
        for metric in metrics:
            elements = final[final[by] == row]
            if best_algorithm:
                elements = _best_algorithm_elements(elements, metric)
            means = {
                w: float(elements[elements["weighting"] == w][metric].mean()) for w in weightings
            }
            pvalues = {}
            for a, b in itertools.combinations(weightings, 2):
                x, y = paired_values(elements, "weighting", a, b, keys, metric)
                pvalues[(a, b)] = paired_ttest_p(x, y)
            bold = significantly_best(means, pvalues)
            for w in weightings:
                chosen = elements[elements["weighting"] == w]
                records.append(
                    {
                        by: row,
                        "metric": metric,
                        "weighting": w,
                        "mean": means[w],
                        "elements": int(len(chosen)),
                        "algorithms": ", ".join(sorted(set(chosen["strategy"]))),
                        "bold": w in bold,
                        **{
                            f"p_vs_{o}": pvalues.get((w, o), pvalues.get((o, w), math.nan))
                            for o in weightings
                            if o != w
                        },
                    }
                )
                md_line.append(format_value(means[w], bold=w in bold))
        md_rows.append(md_line)
    header = [by.replace("_", " ")]
    header += [
        f"{label} {WEIGHTING_NAMES.get(w, w)}" for label in metrics.values() for w in weightings
    ]
    ratios_used = ", ".join(_label(r) for r in sorted(set(final["imbalance_ratio"].astype(float))))
    notes = [
        f"Imbalance ratios: {ratios_used}; datasets: {', '.join(sorted(set(final['variant'])))}; "
        f"algorithms: {', '.join(sorted(set(final['strategy'])))}; "
        f"seeds: {final['seed'].nunique()}; values after the last AL iteration.",
        f"Bold: higher mean with paired t-test p < 0.05 against every other weighting; pairs matched "
        f"on ({', '.join(keys)}).",
    ]
    if best_algorithm:
        notes.append("Per variant and weighting, the algorithm with the best mean of each metric.")
    return Table(name, title, pd.DataFrame(records), markdown_table(header, md_rows), notes)


def fairstein_bins(
    frame: pd.DataFrame,
    ratios: Sequence[float] | None = None,
    bins: Sequence[int] = (2, 5, 10, 15, 20),
    reference: int = 10,
) -> list[Table]:
    """Paper 2 Tables 11 and 12: InvProp with m bins; p-value of each m against m = 10 (§5.8).

    Table 11: mean final balanced accuracy and AUC per algorithm and m. Table 12: paired t-test p(m)
    of m against ``reference`` over the elements (variant, imbalance ratio, seed) of each algorithm.
    """
    final = _ratio_filter(final_iteration(frame), ratios)
    final = final[(final["weighting"] == "invprop") & final["bins"].notna()].copy()
    _require(final, "paper 2 Table 11")
    final["bins"] = final["bins"].astype(int)
    present = [m for m in bins if m in set(final["bins"])]
    if reference not in present:
        raise AnalysisError(f"paper 2 Table 12 needs InvProp runs with weighting.bins={reference}")
    metrics = {"balanced_accuracy": "Balanced Accuracy", "roc_auc": "AUC"}
    keys = ["variant", "imbalance_ratio", "seed"]
    means_rows, p_rows, records = [], [], []
    for strategy in sorted(set(final["strategy"])):
        runs = final[final["strategy"] == strategy]
        mean_line, p_line = [strategy], [strategy]
        for metric in metrics:
            for m in present:
                value = float(runs[runs["bins"] == m][metric].mean())
                p = math.nan
                if m != reference:
                    x, y = paired_values(runs, "bins", m, reference, keys, metric)
                    p = paired_ttest_p(x, y)
                    p_line.append(format_p(p))
                mean_line.append(format_value(value))
                records.append(
                    {"strategy": strategy, "metric": metric, "bins": m, "mean": value, "p_vs_10": p}
                )
        means_rows.append(mean_line)
        p_rows.append(p_line)
    header11 = ["algorithm"] + [f"{label} m={m}" for label in metrics.values() for m in present]
    others = [m for m in present if m != reference]
    header12 = ["algorithm"] + [f"{label} p({m})" for label in metrics.values() for m in others]
    data = pd.DataFrame(records)
    ratios_used = ", ".join(_label(r) for r in sorted(set(final["imbalance_ratio"].astype(float))))
    note = (
        f"Datasets: {', '.join(sorted(set(final['variant'])))}; imbalance ratios: {ratios_used}; "
        f"seeds: {final['seed'].nunique()}; values after the last AL iteration."
    )
    return [
        Table(
            "table-fairstein-11",
            "Paper 2 Table 11: InvProp with m bins (balanced accuracy and AUC)",
            data,
            markdown_table(header11, means_rows),
            [note],
        ),
        Table(
            "table-fairstein-12",
            f"Paper 2 Table 12: paired t-test p-value of m bins against m = {reference}",
            data[data["bins"] != reference].reset_index(drop=True),
            markdown_table(header12, p_rows) if others else "_only m = 10 present_",
            [note, f"Pairs matched on ({', '.join(keys)}) within each algorithm."],
        ),
    ]
