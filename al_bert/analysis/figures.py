"""The papers' figures with matplotlib (Agg backend: no display needed).

Every figure has a title, labelled axes and a legend. Learning curves show, per strategy, the mean over
seeds and a band: the two-sided 95% Student-t confidence interval of that mean
(:func:`al_bert.analysis.stats.mean_confidence_interval`).

Paper 1 = Ein-Dor et al. 2020: Figures 1 and 3 (accuracy in the balanced scenario, F1 in the imbalanced
ones, vs train size), 4 (precision), 5 (recall), and 2 (diversity and representativeness). Paper 2 =
Fairstein et al.: the positives each weighting finds per iteration (:func:`positives_figure`, Tables 2–4).

The sweep comparison (:mod:`al_bert.analysis.compare`) adds learning curves per configuration against
the train size (:func:`config_curves`) and against the cumulative compute seconds spent so far
(:func:`compute_curves`): what a strategy buys per second of training, inference and selection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from al_bert.analysis.stats import mean_confidence_interval
from al_bert.analysis.tables import BASELINE, AnalysisError

# Metrics in [0, 1]: their confidence bands are clipped to that range (few seeds give wide bands).
BOUNDED = frozenset(
    {"accuracy", "f1", "precision", "recall", "balanced_accuracy", "roc_auc", "positives_ratio"}
)
METRIC_LABELS = {
    "accuracy": "Accuracy",
    "f1": "F1 (positive class)",
    "precision": "Precision (positive class)",
    "recall": "Recall (positive class)",
    "balanced_accuracy": "Balanced accuracy",
    "roc_auc": "ROC-AUC",
    "positives_ratio": "Positives ratio of the selected examples",
    "diversity": "Diversity D(B)",
    "representativeness": "Representativeness",
}


def strategy_colors(strategies: Sequence[str]) -> dict[str, str]:
    """A stable colour per strategy (Random always black, as the papers' baseline)."""
    palette = plt.get_cmap("tab10")
    others = sorted(s for s in set(strategies) if s != BASELINE)
    colors = {s: matplotlib.colors.to_hex(palette(i % 10)) for i, s in enumerate(others)}
    colors[BASELINE] = "#000000"
    return colors


def curve_points(
    runs: pd.DataFrame, metric: str, level: float = 0.95, x: str = "train_size"
) -> pd.DataFrame:
    """Per iteration: mean train size (and mean ``x``), and the mean and band of ``metric`` over seeds."""
    out = []
    for iteration, group in runs.groupby("iteration"):
        values = pd.to_numeric(group[metric], errors="coerce").to_numpy(np.float64)
        mean, low, high = mean_confidence_interval(values, level)
        out.append(
            {
                "iteration": iteration,
                "x": float(pd.to_numeric(group[x], errors="coerce").mean()),
                "train_size": float(group["train_size"].mean()),
                "mean": mean,
                "low": low,
                "high": high,
                "seeds": int(group["seed"].nunique()),
            }
        )
    return pd.DataFrame(out)


def metric_bounds(column: str) -> tuple[float | None, float | None]:
    """Where a band of ``column`` is clipped: [0, 1] for bounded metrics, nowhere otherwise."""
    return (0.0, 1.0) if column in BOUNDED else (None, None)


def plot_mean_band(
    ax: Any,
    x: pd.Series,
    points: pd.DataFrame,
    color: str | None,
    label: str,
    dashed: bool = False,
    bounds: tuple[float | None, float | None] = (None, None),
) -> None:
    """One curve: the mean over seeds of :func:`curve_points`, its t-interval band clipped to
    ``bounds``, and ``label (n=seeds)`` in the legend."""
    ax.plot(
        x,
        points["mean"],
        marker="o",
        markersize=3,
        color=color,
        linestyle="--" if dashed else "-",
        label=f"{label} (n={int(points['seeds'].max())})",
    )
    low, high = points["low"].clip(*bounds), points["high"].clip(*bounds)
    ax.fill_between(x, low, high, color=color, alpha=0.15, linewidth=0)


def learning_curves(
    frame: pd.DataFrame,
    metric: str | Callable[[str], str],
    title: str,
    strategies: Sequence[str] | None = None,
    level: float = 0.95,
) -> Figure:
    """Paper 1 Figures 1, 3, 4, 5: one panel per (scenario, dataset), one curve per strategy.

    ``metric`` is a column name, or a function of the scenario (Figure 1: :func:`paper1_metric`).
    """
    rows = frame[frame["weighting"] == "uniform"]
    if strategies is not None:
        rows = rows[rows["strategy"].isin(strategies)]
    if rows.empty:
        raise AnalysisError(f"no finished runs to plot for {title!r}")
    scenarios = sorted(set(rows["scenario"]))
    variants = sorted(set(rows["variant"]))
    colors = strategy_colors(list(rows["strategy"]))
    fig, axes = plt.subplots(
        len(scenarios),
        len(variants),
        figsize=(4.6 * len(variants) + 0.4, 3.6 * len(scenarios) + 0.8),
        squeeze=False,
    )
    for i, scenario in enumerate(scenarios):
        column = metric(scenario) if callable(metric) else metric
        for j, variant in enumerate(variants):
            ax = axes[i][j]
            panel = rows[(rows["scenario"] == scenario) & (rows["variant"] == variant)]
            if panel.empty:
                ax.set_axis_off()
                continue
            order = sorted(set(panel["strategy"]), key=lambda s: (s != BASELINE, s))
            for strategy in order:
                points = curve_points(panel[panel["strategy"] == strategy], column, level)
                plot_mean_band(
                    ax,
                    points["train_size"],
                    points,
                    colors[strategy],
                    strategy,
                    dashed=strategy == BASELINE,
                    bounds=metric_bounds(column),
                )
            ax.set_title(f"{variant} — {scenario}", fontsize=10)
            ax.set_xlabel("Train size |L| (labelled examples)")
            ax.set_ylabel(METRIC_LABELS.get(column, column))
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7, loc="best", title="strategy (seeds)", title_fontsize=7)
    fig.suptitle(
        f"{title}\nmean over seeds, band: {int(level * 100)}% t-interval of the mean (clipped to [0, 1])"
    )
    fig.tight_layout()
    return fig


def batch_properties(frame: pd.DataFrame, iteration: int = 1, level: float = 0.95) -> Figure:
    """Paper 1 Figure 2: diversity (left) and representativeness (right) per strategy and scenario.

    Bars are means over datasets and seeds of the batch selected at ``iteration`` (1: every strategy
    selects from the same M0 and U); whiskers are the 95% t-interval of the mean.
    """
    rows = frame[(frame["iteration"] == iteration) & (frame["weighting"] == "uniform")]
    if rows.empty:
        raise AnalysisError("no finished runs with an iteration-1 batch for Figure 2")
    scenarios = sorted(set(rows["scenario"]))
    strategies = sorted(set(rows["strategy"]), key=lambda s: (s != BASELINE, s))
    colors = strategy_colors(strategies)
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 3.2 * len(scenarios) * 2), 4.4))
    width = 0.8 / max(1, len(strategies))
    for ax, column in zip(axes, ("diversity", "representativeness")):
        for k, strategy in enumerate(strategies):
            means, errs = [], []
            for scenario in scenarios:
                cell = rows[(rows["scenario"] == scenario) & (rows["strategy"] == strategy)]
                values = pd.to_numeric(cell[column], errors="coerce").to_numpy(np.float64)
                mean, _, high = mean_confidence_interval(values[np.isfinite(values)], level)
                means.append(mean)
                errs.append(0.0 if not np.isfinite(mean) else high - mean)
            x = np.arange(len(scenarios)) + (k - (len(strategies) - 1) / 2) * width
            ax.bar(
                x,
                means,
                width,
                yerr=errs,
                capsize=3,
                color=colors[strategy],
                label=strategy,
                alpha=0.85,
            )
        ax.set_xticks(np.arange(len(scenarios)))
        ax.set_xticklabels(scenarios)
        ax.set_xlabel("Scenario")
        ax.set_ylabel(METRIC_LABELS[column])
        ax.set_title(METRIC_LABELS[column])
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, title="strategy", title_fontsize=8)
    datasets = ", ".join(sorted(set(rows["variant"])))
    fig.suptitle(
        f"Paper 1 Figure 2: batch diversity and representativeness (iteration {iteration})\n"
        f"{datasets}; mean over datasets and seeds, whiskers: {int(level * 100)}% t-interval"
    )
    fig.tight_layout()
    return fig


def overlap_heatmap(data: pd.DataFrame) -> Figure:
    """Mean batch overlap per strategy pair (paper 1 §5), one heatmap per scenario."""
    scenarios = sorted(set(data["scenario"]))
    fig, axes = plt.subplots(
        1, len(scenarios), figsize=(4.8 * len(scenarios) + 1, 4.4), squeeze=False
    )
    image = None
    for ax, scenario in zip(axes[0], scenarios):
        group = data[data["scenario"] == scenario]
        names = sorted(set(group["strategy_a"]) | set(group["strategy_b"]))
        matrix = np.full((len(names), len(names)), np.nan)
        for r in group.to_dict("records"):
            a, b = names.index(str(r["strategy_a"])), names.index(str(r["strategy_b"]))
            matrix[a, b] = matrix[b, a] = 100 * float(r["mean_overlap"])
        image = ax.imshow(matrix, vmin=0, vmax=100, cmap="viridis")
        for a in range(len(names)):
            for b in range(len(names)):
                if np.isfinite(matrix[a, b]):
                    ax.text(b, a, f"{matrix[a, b]:.0f}", ha="center", va="center", color="w")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names)
        ax.set_xlabel("Strategy B")
        ax.set_ylabel("Strategy A")
        ax.set_title(scenario)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), label="Mean overlap |A ∩ B| / |A| (%)")
    fig.suptitle("Paper 1 §5: batch overlap between strategies at iteration 1")
    return fig


COMPUTE_COLUMNS = ("train_seconds", "infer_seconds", "select_seconds")
COMPUTE_X = "compute_seconds"


def with_cumulative_compute(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus ``compute_seconds``: per run, the training + pool inference + selection seconds
    of this iteration and every earlier one (a phase a record does not time counts as 0)."""
    out = frame.sort_values(["run_key", "iteration"]).copy()
    spent = pd.Series(0.0, index=out.index)
    for column in COMPUTE_COLUMNS:
        if column in out:
            spent += pd.to_numeric(out[column], errors="coerce").fillna(0.0)
    out[COMPUTE_X] = spent.groupby(out["run_key"]).cumsum()
    return out


def config_curves(
    frame: pd.DataFrame,
    metric: str,
    title: str,
    panels: Sequence[str] = (),
    x: str = "train_size",
    baseline: str = BASELINE,
    level: float = 0.95,
) -> Figure:
    """One panel per value of the ``panels`` columns, one curve per (strategy, weighting): mean of
    ``metric`` over seeds against the mean ``x`` at each iteration, with the 95% t-interval band."""
    if frame.empty:
        raise AnalysisError(f"no finished runs to plot for {title!r}")
    rows = frame.copy()
    rows["_config"] = [f"{s}/{w}" for s, w in zip(rows["strategy"], rows["weighting"])]
    with_weighting = rows["weighting"].nunique() > 1
    panels = [c for c in panels if c in rows]
    keys = (
        [tuple(str(v) for v in r) for r in rows[panels].itertuples(index=False)]
        if panels
        else [()] * len(rows)
    )
    rows["_panel"] = [" — ".join(k) for k in keys]
    names = sorted(set(rows["_panel"]))
    configs = sorted(set(rows["_config"]), key=lambda c: (c.partition("/")[0] != baseline, c))
    palette = plt.get_cmap("tab10")
    others = [c for c in configs if c.partition("/")[0] != baseline]
    colors = {c: matplotlib.colors.to_hex(palette(i % 10)) for i, c in enumerate(others)}
    colors.update({c: "#000000" for c in configs if c not in colors})
    columns = min(3, len(names))
    fig, axes = plt.subplots(
        -(-len(names) // columns),
        columns,
        figsize=(5.2 * columns + 0.4, 3.9 * -(-len(names) // columns) + 0.8),
        squeeze=False,
    )
    flat = list(axes.ravel())
    for ax, name in zip(flat, names):
        panel = rows[rows["_panel"] == name]
        for config in [c for c in configs if c in set(panel["_config"])]:
            points = curve_points(panel[panel["_config"] == config], metric, level, x=x)
            points = points[np.isfinite(points["mean"])]
            if points.empty:
                continue
            label = config if with_weighting else config.partition("/")[0]
            plot_mean_band(
                ax,
                points["x"],
                points,
                colors[config],
                label,
                dashed=config.partition("/")[0] == baseline,
                bounds=metric_bounds(metric),
            )
        ax.set_title(name or metric, fontsize=10)
        ax.set_xlabel(
            "Cumulative compute seconds (train + inference + selection)"
            if x == COMPUTE_X
            else "Train size |L| (labelled examples)"
        )
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best", title="strategy (seeds)", title_fontsize=7)
    for ax in flat[len(names) :]:
        ax.set_axis_off()
    fig.suptitle(f"{title}\nmean over seeds, band: {int(level * 100)}% t-interval of the mean")
    fig.tight_layout()
    return fig


def compute_curves(
    frame: pd.DataFrame,
    metric: str,
    title: str,
    panels: Sequence[str] = (),
    baseline: str = BASELINE,
    level: float = 0.95,
) -> Figure:
    """:func:`config_curves` against cumulative compute seconds (:func:`with_cumulative_compute`):
    a strategy that wins per label may lose per second of compute."""
    return config_curves(
        with_cumulative_compute(frame), metric, title, panels, COMPUTE_X, baseline, level
    )


def positives_figure(frame: pd.DataFrame) -> Figure | None:
    """Paper 2: positives found by the strategy (cumulative, seed excluded) per iteration, one curve
    per weighting; a row per imbalance ratio, a column per strategy run with more than one weighting."""
    rows = frame[(frame["scenario"] == "warm_start") & (frame["iteration"] >= 1)]
    weightings = rows.groupby("strategy")["weighting"].nunique()
    rows = rows[rows["strategy"].isin(weightings[weightings > 1].index)]
    if rows.empty:
        return None
    ratios = sorted(set(rows["imbalance_ratio"]), reverse=True)
    strategies = sorted(set(rows["strategy"]))
    fig, axes = plt.subplots(
        len(ratios),
        len(strategies),
        figsize=(3.6 * len(strategies) + 0.4, 3.1 * len(ratios) + 0.5),
        squeeze=False,
    )
    colors = {"uniform": "tab:gray", "invprop": "tab:red", "posprob": "tab:blue"}
    for row, ratio in enumerate(ratios):
        for col, strategy in enumerate(strategies):
            ax = axes[row][col]
            panel = rows[(rows["imbalance_ratio"] == ratio) & (rows["strategy"] == strategy)]
            ax.set_title(f"{strategy}, 1:{int(float(ratio))}", fontsize=10)
            ax.set_xlabel("AL iteration (50 labels each)")
            ax.set_ylabel("positives found (cumulative)")
            ax.grid(True, alpha=0.3)
            for weighting in sorted(set(panel["weighting"])):
                runs = panel[panel["weighting"] == weighting]
                points = curve_points(runs, "positives_selected")
                plot_mean_band(
                    ax,
                    points["iteration"],
                    points,
                    colors.get(str(weighting)),
                    str(weighting),
                    bounds=(0.0, None),
                )
            if panel.empty:
                ax.text(0.5, 0.5, "not run yet", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.legend(fontsize=7)
    fig.suptitle("Paper 2: positives selected per iteration (seed excluded), mean and 95% band")
    fig.tight_layout()
    return fig


def save(fig: Figure, path: Path) -> Path:
    """Write a PNG (150 dpi) and close the figure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path
