"""The answer at the end of a sweep: every configuration it varied, against a baseline, over seeds.

:func:`compare` turns the tidy records of :func:`al_bert.analysis.aggregate.load_results` into one row
per configuration: strategy × weighting, plus every other identifying column that takes more than one
value among the runs (dataset, scenario, imbalance ratio, model, …). Seeds are the replicates. Each row
has the final-iteration metric and the normalised area under its learning curve (mean and bootstrap
interval over seeds), and, against the baseline configuration of the same group (Random by default,
paired on the seed), the paired difference, the probability of beating the baseline, a Holm-corrected
paired t-test, the seeds such a difference needs, and how many labels the baseline needs to match it.
:func:`compare_table` renders it; ``python -m al_bert.analysis compare`` and the Hydra callback
(:mod:`al_bert.analysis.callback`) print and write it. Definitions: docs/comparing-strategies.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from al_bert.analysis.aggregate import RUN_FILE, load_results
from al_bert.analysis.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    SEEDS_CAP,
    bootstrap_ci,
    holm,
    paired_bootstrap_ci,
    paired_ttest_p,
    seeds_needed,
    wilson_interval,
)
from al_bert.analysis.tables import BASELINE, AnalysisError, Table, format_p, markdown_table

# Columns that identify what a run compares, besides strategy and weighting, in display order. One
# is part of the configuration only when it takes more than one value among the runs and is not
# determined by the columns before it (experiment usually is determined by the dataset and scenario).
IDENTIFYING = (
    "dataset",
    "positive_class",
    "scenario",
    "imbalance_ratio",
    "model",
    "trainer",
    "experiment",
    "batch_size",
    "iterations",
    "limit_train",
    "limit_eval",
    "split",
    "seed_builder",
    "bins",
)
CONFIG = ("strategy", "weighting")
COMPUTE = ("train_seconds", "infer_seconds", "select_seconds")
AUTO = "auto"
MISSING = "–"
Values = Sequence[float] | np.ndarray | pd.Series


def default_metric(frame: pd.DataFrame) -> str:
    """``metric="auto"``: paper 1's choice, accuracy when every run is balanced, else positive-class F1;
    macro-F1 where the runs are multi-class (their records have no positive-class F1)."""
    if "macro_f1" in frame and ("f1" not in frame or frame["f1"].isna().all()):
        return "macro_f1"
    scenarios = set(frame["scenario"]) if "scenario" in frame else set()
    return "accuracy" if scenarios == {"balanced"} else "f1"


def cell_text(value: Any) -> str:
    """A cell value as text: integral floats without decimals, missing values as an en dash."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _series(frame: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column, or all-nan when the records do not carry it (older runs)."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, dtype=np.float64)
    return pd.to_numeric(frame[column], errors="coerce")


def _texts(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as :func:`cell_text` (grouping keys that treat None, nan and 50 vs 50.0 alike)."""
    return frame.apply(lambda column: column.map(cell_text))


def _key(values: Iterable[Any]) -> str:
    return " | ".join(cell_text(v) for v in values)


def varying_columns(runs: pd.DataFrame, candidates: Sequence[str] = IDENTIFYING) -> list[str]:
    """The ``candidates`` that split the runs further than the columns kept before them.

    A column with one value says nothing; one that is a function of earlier kept columns (the
    experiment name of a dataset × scenario sweep) repeats them.
    """
    kept: list[str] = []
    groups = 1
    for column in candidates:
        if column not in runs or runs[column].map(cell_text).nunique() < 2:
            continue
        count = len(_texts(runs[[*kept, column]]).drop_duplicates())
        if count > groups:
            kept.append(column)
            groups = count
    return kept


def area_under_curve(train_size: Values, values: Values) -> float:
    """Trapezoid area under ``values`` against ``train_size``, divided by the train-size range.

    The result is on the metric's scale (a flat curve at 0.8 gives 0.8). Points with a missing value
    are left out; one point (or no range) gives that value; none gives nan.
    """
    x = np.asarray(train_size, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size == 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    width = float(x[-1] - x[0])
    if x.size < 2 or width <= 0:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / width)


def labels_to_reach(train_size: Values, values: Values, target: float) -> float:
    """Labels a learning curve needs to first reach ``target``, by linear interpolation.

    The curve is taken in train-size order. Returns the first train size if the curve starts at or
    above the target, ``inf`` if it never reaches it, and nan for a missing target or an empty curve.
    """
    x = np.asarray(train_size, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size == 0 or not math.isfinite(target):
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    hits = np.flatnonzero(y >= target)
    if hits.size == 0:
        return math.inf
    i = int(hits[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (target - y0) * (x1 - x0) / (y1 - y0))


def run_summaries(frame: pd.DataFrame, metric: str, identifying: Sequence[str]) -> pd.DataFrame:
    """One row per run: identifying columns, seed, final and area-under-curve metric, final positives
    selected and train size, and compute seconds summed over its iterations (nan when not recorded)."""
    rows = []
    for run_key, run in frame.sort_values("iteration").groupby("run_key", sort=True):
        first = run.iloc[0]
        values = _series(run, metric)
        row: dict[str, Any] = {c: first[c] if c in run else None for c in (*identifying, *CONFIG)}
        row.update(
            run_key=run_key,
            seed=first.get("seed"),
            final=float(values.iloc[-1]),
            auc=area_under_curve(_series(run, "train_size"), values),
            final_train_size=float(_series(run, "train_size").iloc[-1]),
            positives_selected=float(_series(run, "positives_selected").iloc[-1]),
        )
        for column in COMPUTE:
            row[column] = float(_series(run, column).sum(min_count=1))
        rows.append(row)
    return pd.DataFrame(rows)


def mean_curve(records: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per iteration, the mean train size and the mean metric over the given runs' records."""
    data = pd.DataFrame(
        {
            "iteration": records["iteration"],
            "x": _series(records, "train_size"),
            "y": _series(records, metric),
        }
    )
    curve = data.groupby("iteration").mean().sort_index()
    return curve["x"].to_numpy(np.float64), curve["y"].to_numpy(np.float64)


def _parse_baseline(baseline: str) -> tuple[str, str | None]:
    """``"random"`` or ``"random/uniform"`` (strategy, optionally a weighting)."""
    strategy, _, weighting = baseline.partition("/")
    return strategy, (weighting or None)


def _choose_baseline(configs: Iterable[str], weighting: str, baseline: str) -> str | None:
    """The baseline configuration a row of weighting ``weighting`` is compared with.

    ``baseline="random/uniform"`` pins both; ``"random"`` takes Random with the row's own weighting
    when it ran, else with uniform weighting, else the only Random configuration there is.
    """
    strategy, pinned = _parse_baseline(baseline)
    candidates = sorted({c for c in configs if c.partition("/")[0] == strategy})
    for wanted in [pinned] if pinned is not None else [weighting, "uniform"]:
        if f"{strategy}/{wanted}" in candidates:
            return f"{strategy}/{wanted}"
    return candidates[0] if len(candidates) == 1 and pinned is None else None


def _per_seed(runs: pd.DataFrame, column: str) -> pd.Series:
    """A run-level column averaged per seed (two runs of one configuration and seed count once)."""
    return runs.groupby("seed")[column].mean()


def compare(
    frame: pd.DataFrame,
    metric: str = AUTO,
    baseline: str = BASELINE,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """One row per configuration of the runs in ``frame`` (records of :func:`load_results`).

    ``metric``: a record column (higher is better), or ``"auto"`` (:func:`default_metric`).
    ``baseline``: a strategy (``"random"``) or ``"strategy/weighting"``; rows are compared with the
    baseline configuration of their group (same values of the other identifying columns), paired on
    the seed. Bootstrap intervals use ``resamples`` resamples from ``numpy.random.default_rng(seed)``,
    so the table is deterministic. ``result.attrs`` holds ``metric``, ``baseline``, ``group_columns``
    and ``notes``. Column meanings: docs/comparing-strategies.md.
    """
    if frame.empty:
        raise AnalysisError("no finished runs to compare")
    metric = default_metric(frame) if metric == AUTO else metric
    if metric not in frame:
        raise AnalysisError(f"the runs have no column {metric!r} to compare")
    frame = frame.copy()
    for column in CONFIG:
        if column not in frame:
            frame[column] = None
    first = frame.sort_values("iteration").groupby("run_key", sort=True).head(1)
    others = varying_columns(first)
    runs = run_summaries(frame, metric, others)
    key_columns = [*others, *CONFIG]
    runs["_group"] = [_key(r) for r in runs[others].itertuples(index=False)]
    runs["_config"] = [
        f"{cell_text(s)}/{cell_text(w)}" for s, w in zip(runs["strategy"], runs["weighting"])
    ]
    notes: list[str] = []
    if (runs.groupby(["_group", "_config", "seed"]).size() > 1).any():
        notes.append(
            "Some configuration ran more than one run per seed (settings outside the compared "
            "columns differ): their values were averaged per seed."
        )
    values = {c: set(first[c].map(cell_text)) for c in IDENTIFYING if c in first}
    common = [f"{c} {min(v)}" for c, v in values.items() if len(v) == 1 and v != {MISSING}]
    if common:
        notes.append("Common to every run: " + ", ".join(common) + ".")
    if runs["final"].isna().any():
        notes.append(f"{int(runs['final'].isna().sum())} run(s) have no final {metric}: left out.")

    rows: list[dict[str, Any]] = []
    for _, group_runs in runs.groupby("_group", sort=True):
        configs = set(group_runs["_config"])
        for name, config_runs in group_runs.groupby("_config", sort=True):
            config = str(name)
            head = config_runs.iloc[0]
            finals = _per_seed(config_runs, "final").to_numpy(np.float64)
            areas = _per_seed(config_runs, "auc").to_numpy(np.float64)
            final_mean, final_low, final_high = bootstrap_ci(finals, level, resamples, seed)
            auc_mean, auc_low, auc_high = bootstrap_ci(areas, level, resamples, seed)
            row: dict[str, Any] = {c: head[c] for c in key_columns}
            row.update(
                metric=metric,
                seeds=int(config_runs["seed"].nunique()),
                runs=len(config_runs),
                final_mean=final_mean,
                final_low=final_low,
                final_high=final_high,
                auc_mean=auc_mean,
                auc_low=auc_low,
                auc_high=auc_high,
                final_train_size=float(config_runs["final_train_size"].mean()),
                positives_selected=float(config_runs["positives_selected"].mean()),
            )
            for column in COMPUTE:
                row[column] = float(config_runs[column].mean())
            chosen = _choose_baseline(configs, cell_text(head["weighting"]), baseline)
            row.update(
                _versus_baseline(
                    frame, group_runs, config, chosen, metric, row, level, resamples, seed
                )
            )
            if chosen is None:
                where = ", ".join(f"{c}={cell_text(head[c])}" for c in others) or "these runs"
                notes.append(f"No {baseline} baseline for {config} ({where}).")
            rows.append(row)
    result = pd.DataFrame(rows)
    compared = ~result["is_baseline"] & result["p_ttest"].notna()
    result["p_holm"] = np.nan
    if compared.any():
        result.loc[compared, "p_holm"] = holm(result.loc[compared, "p_ttest"].to_numpy())
    order = result.assign(
        _group=[_key(r) for r in result[others].itertuples(index=False)],
        _rank=-result["final_mean"].fillna(-np.inf),
    ).sort_values(["_group", "_rank"], kind="stable")
    result = result.loc[order.index].reset_index(drop=True)
    result.attrs.update(
        metric=metric,
        baseline=baseline,
        group_columns=others,
        notes=list(dict.fromkeys(notes)),
        level=level,
        resamples=resamples,
        runs=int(runs["run_key"].nunique()),
    )
    return result


def _versus_baseline(
    frame: pd.DataFrame,
    group_runs: pd.DataFrame,
    config: str,
    chosen: str | None,
    metric: str,
    row: dict[str, Any],
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """The baseline columns of one row: paired statistics on the seeds both configurations ran."""
    nan = float("nan")
    out: dict[str, Any] = {
        "baseline": chosen,
        "is_baseline": chosen == config,
        "pairs": 0,
        "diff_mean": nan,
        "diff_low": nan,
        "diff_high": nan,
        "p_beat": nan,
        "p_beat_low": nan,
        "p_beat_high": nan,
        "p_ttest": nan,
        "effect_size": nan,
        "seeds_needed": nan,
        "baseline_labels": nan,
        "label_ratio": nan,
        "baseline_labels_from": nan,
        "baseline_labels_to": nan,
    }
    if chosen is None:
        return out
    base_runs = group_runs[group_runs["_config"] == chosen]
    records = frame[frame["run_key"].isin(base_runs["run_key"])]
    x, y = mean_curve(records, metric)
    reached = x[np.isfinite(x) & np.isfinite(y)]
    if reached.size:
        out["baseline_labels_from"], out["baseline_labels_to"] = reached.min(), reached.max()
    if chosen == config:
        return out
    labels = labels_to_reach(x, y, row["final_mean"])
    out["baseline_labels"] = labels
    if math.isfinite(labels) and row["final_train_size"] > 0:
        out["label_ratio"] = labels / row["final_train_size"]
    mine = _per_seed(group_runs[group_runs["_config"] == config], "final")
    theirs = _per_seed(base_runs, "final")
    paired = pd.concat([mine.rename("a"), theirs.rename("b")], axis=1, join="inner").dropna()
    a, b = paired["a"].to_numpy(np.float64), paired["b"].to_numpy(np.float64)
    n = int(a.size)
    out["pairs"] = n
    if n == 0:
        return out
    out["diff_mean"], out["diff_low"], out["diff_high"] = paired_bootstrap_ci(
        a, b, level, resamples, seed
    )
    wins = float(np.sum(a > b) + 0.5 * np.sum(a == b))
    out["p_beat"] = wins / n
    out["p_beat_low"], out["p_beat_high"] = wilson_interval(wins, n, level)
    out["p_ttest"] = paired_ttest_p(a, b)
    differences = a - b
    if n >= 2:
        sd = float(differences.std(ddof=1))
        mean = float(differences.mean())
        out["effect_size"] = (
            mean / sd if sd > 0 else (math.copysign(math.inf, mean) if mean else 0.0)
        )
    out["seeds_needed"] = seeds_needed(differences)
    return out


# ------------------------------------------------------------------------------------------ output


def interval_text(mean: float, low: float, high: float, digits: int = 3, sign: bool = False) -> str:
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    if not math.isfinite(mean):
        return MISSING
    text = fmt.format(mean)
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{fmt.format(low)}, {fmt.format(high)}]"
    return text


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return MISSING
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _seeds_cell(row: dict[Any, Any]) -> str:
    value = row["seeds_needed"]
    if row["is_baseline"] or not isinstance(value, float) or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if row["diff_mean"] == 0 else f">{SEEDS_CAP}"
    return str(int(value))


def _labels_cell(row: dict[Any, Any], curve_start: float, curve_end: float) -> str:
    value = row["baseline_labels"]
    if not isinstance(value, float) or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return f">{cell_text(curve_end)}"
    if value <= curve_start:
        return f"≤{cell_text(curve_start)}"
    ratio = row["label_ratio"]
    return f"{value:.0f} ({ratio:.2f}×)" if math.isfinite(ratio) else f"{value:.0f}"


def display_rows(result: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and text cells of the compact table (markdown, console and W&B show the same)."""
    metric = result.attrs.get("metric", "metric")
    base = result.attrs.get("baseline", BASELINE).partition("/")[0]
    others = list(result.attrs.get("group_columns", []))
    header = [
        *others,
        "strategy",
        "weighting",
        "seeds",
        f"{metric} final [95% CI]",
        "AUC [95% CI]",
        f"Δ vs {base} [95% CI]",
        f"P(> {base}) [95% CI]",
        "p (Holm)",
        "seeds needed",
        f"labels {base} needs",
        "positives",
        "seconds train / infer / select",
    ]
    rows = []
    for row in result.to_dict("records"):
        strategy = cell_text(row["strategy"]) + (" (baseline)" if row["is_baseline"] else "")
        start, end = row["baseline_labels_from"], row["baseline_labels_to"]
        rows.append(
            [
                *[cell_text(row[c]) for c in others],
                strategy,
                cell_text(row["weighting"]),
                str(row["seeds"]),
                interval_text(row["final_mean"], row["final_low"], row["final_high"]),
                interval_text(row["auc_mean"], row["auc_low"], row["auc_high"]),
                interval_text(row["diff_mean"], row["diff_low"], row["diff_high"], sign=True),
                interval_text(row["p_beat"], row["p_beat_low"], row["p_beat_high"], digits=2),
                format_p(row["p_holm"]),
                _seeds_cell(row),
                _labels_cell(row, start, end),
                cell_text(round(row["positives_selected"], 1)),
                " / ".join(_seconds(row[c]) for c in COMPUTE),
            ]
        )
    return header, rows


def explain(result: pd.DataFrame) -> list[str]:
    """The notes under the table: what each column is, and what was left out."""
    metric = result.attrs.get("metric", "metric")
    base = result.attrs.get("baseline", BASELINE)
    level = int(round(100 * float(result.attrs.get("level", 0.95))))
    resamples = int(result.attrs.get("resamples", BOOTSTRAP_RESAMPLES))
    compared = int((~result["is_baseline"] & result["p_ttest"].notna()).sum())
    positives = (
        "examples of the pool's rarest class (multi-class: `rarest_class` in the records)"
        if metric == "macro_f1"
        else "positives"
    )
    return [
        f"Metric: {metric} after the last AL iteration, mean over seeds; [{level}% CI]: percentile "
        f"bootstrap over seeds ({resamples:,} resamples, numpy rng seed {BOOTSTRAP_SEED}; none with "
        "one seed).",
        f"AUC: trapezoid area under the {metric}-vs-train-size curve divided by its train-size range "
        "(on the metric's scale), mean and bootstrap CI over seeds.",
        f"Δ: mean paired difference to the {base} baseline of the same group on the seeds both ran, "
        "paired bootstrap CI. P(>): share of those seeds where this row's final value is higher (ties "
        f"count half), {level}% Wilson score interval.",
        f"p (Holm): two-sided paired t-test against the baseline, Holm-corrected over the {compared} "
        "comparisons of this table.",
        "Seeds needed: paired seeds for a two-sided paired t-test at α = 0.05 to reach 80% power at the "
        "observed effect size (mean / sd of the differences), exact noncentral t; ∞: no difference; "
        f">{SEEDS_CAP}: beyond the cap.",
        f"Labels {base.partition('/')[0]} needs: train size at which the baseline's mean curve first "
        "reaches this row's final mean (linear interpolation), and its ratio to this row's final "
        "train size (>1: fewer labels than the baseline); >N: never within N labels; ≤N: at its "
        "first point.",
        f"Positives: {positives} among the examples AL selected up to the last iteration, mean over "
        "runs. Seconds: training / pool inference / selection, summed over iterations, mean per run.",
        *result.attrs.get("notes", []),
    ]


def compare_table(
    frame: pd.DataFrame,
    metric: str = AUTO,
    baseline: str = BASELINE,
    name: str = "compare",
    extra_notes: Sequence[str] = (),
) -> Table:
    """:func:`compare` as a :class:`Table` (``<name>.md`` with the compact table and notes, CSV)."""
    result = compare(frame, metric=metric, baseline=baseline)
    header, rows = display_rows(result)
    title = (
        f"Comparison of {len(result)} configurations over {result.attrs['runs']} runs: "
        f"{result.attrs['metric']} vs {baseline}"
    )
    return Table(
        name, title, result, markdown_table(header, rows), [*explain(result), *extra_notes]
    )


def write_figures(
    frame: pd.DataFrame, table: Table, out: Path, baseline: str = BASELINE
) -> dict[str, Path]:
    """``compare_curves.png`` (the metric against train size) and ``compare_compute.png`` (against
    cumulative compute seconds) for the runs of a :func:`compare_table`, one panel per group."""
    from al_bert.analysis import figures

    metric = str(table.data["metric"].iloc[0])
    panels = list(table.data.attrs.get("group_columns", []))
    strategy = baseline.partition("/")[0]
    title = f"{metric} per configuration"
    curves = figures.config_curves(frame, metric, title, panels, baseline=strategy)
    spent = figures.compute_curves(frame, metric, f"{title}, per compute second", panels, strategy)
    return {
        "compare_curves": figures.save(curves, out / "compare_curves.png"),
        "compare_compute": figures.save(spent, out / "compare_compute.png"),
    }


# ------------------------------------------------------------------------------------------ loading


def load_runs(run_dirs: Iterable[str | Path]) -> tuple[pd.DataFrame, list[str]]:
    """Records of the finished runs among ``run_dirs``, and one note per run left out (and why).

    Unlike :func:`load_results` each run is read on its own, so a missing, unfinished or corrupt run
    is reported and skipped instead of stopping the whole comparison.
    """
    frames, notes = [], []
    for raw in dict.fromkeys(Path(p) for p in run_dirs):
        run_dir = raw.parent if raw.name == "results.jsonl" else raw
        if not run_dir.is_dir():
            notes.append(f"{run_dir}: missing")
            continue
        status, reason = "unknown", ""
        try:
            info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
            status, reason = str(info.get("status", "unknown")), str(info.get("reason") or "")
        except (OSError, ValueError) as error:
            notes.append(f"{run_dir.name}: no readable {RUN_FILE} ({type(error).__name__})")
            continue
        if status != "finished":
            why = f": {' '.join(reason.split())[:160]}" if reason else ""
            notes.append(f"{run_dir.name}: status {status}{why}")
            continue
        try:
            loaded = load_results([run_dir])
        except Exception as error:  # a corrupt results file must not stop the others
            notes.append(f"{run_dir.name}: unreadable results ({error})")
            continue
        if loaded.empty:
            notes.append(f"{run_dir.name}: no iteration records")
            continue
        frames.append(loaded)
    if not frames:
        return pd.DataFrame(), notes
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.drop_duplicates(subset=["run_key", "iteration"], keep="last")
    return frame.sort_values(["run_key", "iteration"]).reset_index(drop=True), notes


__all__ = [
    "area_under_curve",
    "cell_text",
    "compare",
    "compare_table",
    "display_rows",
    "labels_to_reach",
    "load_runs",
    "varying_columns",
    "write_figures",
]
