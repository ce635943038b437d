"""When could each configuration of a sweep have stopped: the stopping criteria (al_bert.stopping)
evaluated on the sweep's records, per configuration and criterion, with intervals over seeds.

For each run a criterion either fires at some iteration t (the first check that says stop) or never does
(the campaign runs to its last iteration). Against the run's last iteration T that gives the labels it
would have saved (annotated at T − annotated at t) and the metric given up (metric at T − metric at t;
negative when stopping earlier would have scored higher). Runs that never fire count as saving nothing
and giving up nothing; the iteration is averaged over the runs that fired. Seeds are the unit: the mean
and a percentile-bootstrap interval over seeds (:func:`al_bert.analysis.stats.bootstrap_ci`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from al_bert.analysis.compare import CONFIG, cell_text, interval_text, varying_columns
from al_bert.analysis.stats import bootstrap_ci
from al_bert.analysis.tables import Table, markdown_table
from al_bert.stopping import StoppingCriterion


def run_outcomes(
    frame: pd.DataFrame, criteria: Sequence[StoppingCriterion], metric: str
) -> pd.DataFrame:
    """One row per (run, criterion): where it fired, the labels saved and the metric given up."""
    rows: list[dict[str, Any]] = []
    for run_key, run in frame.groupby("run_key", sort=False):
        records = [
            {str(k): v for k, v in r.items()}
            for r in run.sort_values("iteration").to_dict("records")
        ]
        last = records[-1]
        for criterion in criteria:
            fired = criterion.fires_at(records)
            at = (
                next(r for r in records if int(r["iteration"]) == fired)
                if fired is not None
                else last
            )
            rows.append(
                {
                    "run_key": run_key,
                    **{k: last.get(k) for k in ("seed", *CONFIG)},
                    "criterion": criterion.name,
                    "fired": fired is not None,
                    "iteration": float(fired) if fired is not None else float("nan"),
                    "labels_saved": float(last["annotated"]) - float(at["annotated"]),
                    "metric_given_up": _value(last, metric) - _value(at, metric),
                }
            )
    return pd.DataFrame(rows)


def stopping_table(
    frame: pd.DataFrame,
    criteria: Sequence[StoppingCriterion],
    metric: str,
    name: str = "stopping",
) -> Table:
    """Per configuration and criterion: runs fired, mean iteration, labels saved and ``metric`` given up
    against the last iteration (means over seeds with 95 % bootstrap intervals)."""
    runs = frame.sort_values("iteration").groupby("run_key", sort=False).tail(1)
    groups = [*varying_columns(runs), *CONFIG]
    outcomes = run_outcomes(frame, criteria, metric).merge(
        runs[["run_key", *[c for c in groups if c not in CONFIG]]], on="run_key"
    )
    rows: list[dict[str, Any]] = []
    for keys, block in outcomes.groupby(groups, sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for criterion, part in block.groupby("criterion", sort=False):
            per_seed = part.groupby("seed")[["iteration", "labels_saved", "metric_given_up"]].mean()
            fired_seeds = per_seed["iteration"].dropna()
            rows.append(
                {
                    **dict(zip(groups, keys)),
                    "criterion": criterion,
                    "seeds": int(len(per_seed)),
                    "seeds_fired": int(len(fired_seeds)),
                    **_summary("iteration", fired_seeds),
                    **_summary("labels_saved", per_seed["labels_saved"]),
                    **_summary("metric_given_up", per_seed["metric_given_up"]),
                }
            )
    data = pd.DataFrame(rows)
    header = [*groups, "criterion", "fired", "iteration", "labels saved", f"{metric} given up"]
    body = [
        [
            *[cell_text(r[g]) for g in groups],
            str(r["criterion"]),
            f"{r['seeds_fired']}/{r['seeds']}",
            interval_text(r["iteration"], r["iteration_low"], r["iteration_high"], digits=1),
            interval_text(
                r["labels_saved"], r["labels_saved_low"], r["labels_saved_high"], digits=0
            ),
            interval_text(
                r["metric_given_up"], r["metric_given_up_low"], r["metric_given_up_high"], sign=True
            ),
        ]
        for r in rows
    ]
    notes = [
        "A criterion is checked after every iteration's model; it never stopped these runs. "
        f"Labels saved and {metric} given up are against each run's last iteration (a run whose "
        "criterion never fired saves 0 and gives up 0); the iteration is the mean over the seeds "
        "where it fired. Means over seeds, [95% bootstrap interval]. Criteria: al_bert/stopping.py.",
    ]
    title = f"When each configuration could have stopped ({len(criteria)} criteria, {metric})"
    return Table(name, title, data, markdown_table(header, body), notes)


def _value(record: dict[str, Any], key: str) -> float:
    value = record.get(key)
    return float("nan") if value is None else float(value)


def _summary(name: str, values: pd.Series) -> dict[str, float]:
    mean, low, high = bootstrap_ci(values.to_numpy(dtype=float))
    return {name: mean, f"{name}_low": low, f"{name}_high": high}
