"""Results analysis: statistics on hand-made data, then tables and figures from synthetic runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from al_bert.analysis import tables
from al_bert.analysis.aggregate import final_iteration, load_results
from al_bert.analysis.cli import main as analysis_main
from al_bert.analysis.figures import batch_properties, learning_curves, save
from al_bert.analysis.stats import (
    bonferroni,
    mean_confidence_interval,
    paired_ttest_p,
    paired_values,
    significantly_best,
    wilcoxon_p,
)
from al_bert.metrics.batch import batch_overlap, diversity, representativeness
from tests.run_files import write_run_files

# ------------------------------------------------------------------------------------ statistics


def test_diversity_of_the_whole_pool_is_infinite_and_a_hand_example():
    pool = np.array([[0.0], [1.0], [3.0]])
    assert diversity(pool, pool) == math.inf  # B = U: every distance is 0 (Eq. 1)
    # B = {0}: distances 0, 1, 3 -> mean 4/3 -> D = 3/4
    assert diversity(pool, pool[[0]]) == pytest.approx(0.75)
    # paper 1's released code: the second-nearest batch member. B = {0, 3}: 3, 2, 3 -> D = 3/8
    assert diversity(pool, pool[[0, 2]], neighbour=2) == pytest.approx(3 / 8)
    assert math.isnan(diversity(pool, pool[[0]], neighbour=2))  # one member has no second


def test_representativeness_hand_example():
    pool = np.array([[0.0], [1.0], [3.0], [10.0]])
    # K = 1: nearest other point of 0 is 1 (distance 1); of 3 is 1 (distance 2) -> mean 1.5
    assert representativeness(pool, np.array([0, 2]), k=1) == pytest.approx(1 / 1.5)


def test_batch_overlap_hand_example():
    assert batch_overlap(["a", "b", "c", "d"], ["c", "d", "e", "f"]) == pytest.approx(0.5)
    assert batch_overlap(["a"], ["a"]) == 1.0


def test_wilcoxon_identical_pairs_give_one_and_empty_gives_nan():
    x = [0.5, 0.6, 0.7, 0.8]
    assert wilcoxon_p(x, x) == 1.0
    assert math.isnan(wilcoxon_p([], []))
    assert math.isnan(wilcoxon_p([float("nan")], [0.1]))


def test_wilcoxon_known_answer_and_scipy():
    # Five positive differences with distinct ranks: exact two-sided p = 2 / 2**5 = 0.0625.
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = x - np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert wilcoxon_p(x, y) == pytest.approx(0.0625)
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    assert wilcoxon_p(a, b) == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue)


def test_bonferroni_multiplies_and_caps_at_one():
    assert bonferroni(0.01, 3) == pytest.approx(0.03)
    assert bonferroni(0.5, 3) == 1.0
    assert bonferroni(1.0, 1) == 1.0
    np.testing.assert_allclose(bonferroni(np.array([0.001, 0.2, 0.4]), 4), [0.004, 0.8, 1.0])
    with pytest.raises(ValueError):
        bonferroni(0.1, 0)


def test_paired_ttest_equals_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(0.7, 0.05, 20)
    b = a - rng.normal(0.01, 0.02, 20)
    assert paired_ttest_p(a, b) == pytest.approx(scipy_stats.ttest_rel(a, b).pvalue)
    assert paired_ttest_p(a, a) == 1.0
    assert math.isnan(paired_ttest_p([0.1], [0.2]))


def test_confidence_interval_known_answer():
    mean, low, high = mean_confidence_interval([1.0, 2.0, 3.0])
    half = scipy_stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)  # sd = 1
    assert (mean, low, high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert mean_confidence_interval([0.4]) == (0.4, 0.4, 0.4)


def test_significantly_best_needs_every_comparison():
    means = {"invprop": 0.8, "uniform": 0.7, "posprob": 0.75}
    p = {("invprop", "uniform"): 0.01, ("invprop", "posprob"): 0.01, ("uniform", "posprob"): 0.5}
    assert significantly_best(means, p) == {"invprop"}
    p[("invprop", "posprob")] = 0.2
    assert significantly_best(means, p) == set()


def test_paired_values_matches_on_keys():
    frame = pd.DataFrame(
        {
            "w": ["a", "a", "b", "b", "b"],
            "seed": [0, 1, 1, 0, 2],
            "m": [1.0, 2.0, 20.0, 10.0, 99.0],
        }
    )
    x, y = paired_values(frame, "w", "a", "b", ["seed"], "m")
    np.testing.assert_array_equal(x, [1.0, 2.0])
    np.testing.assert_array_equal(y, [10.0, 20.0])


# ------------------------------------------------------------------------ synthetic run folders


def write_run(root: Path, info: dict[str, Any], metrics: list[dict[str, Any]], status="finished"):
    """A synthetic run; runs that differ only in strategy / weighting started from the same M0."""
    iteration0_key = "-".join(
        str(info.get(k)) for k in ("dataset", "scenario", "seed", "imbalance_ratio")
    )
    config = {"dataset": {"positive_class": "pos"}, "al": {"batch_size": 50, "iterations": 3}}
    common = {"experiment": "synthetic", "iteration0_key": iteration0_key}
    return write_run_files(root, info, metrics, config=config, common=common, status=status)


@pytest.fixture(scope="module")
def paper1_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("paper1")
    boost = {"random": 0.0, "least_confidence": 0.05, "core_set": 0.03}
    pool = [f"x{i}" for i in range(200)]
    for dataset in ("trec", "isear"):
        for scenario in ("imbalanced", "balanced"):
            for seed in range(3):
                rng = np.random.default_rng(seed)
                shared = list(rng.choice(pool, 50, replace=False))
                for strategy, gain in boost.items():
                    metrics = []
                    for it in range(4):
                        value = 0.5 + 0.05 * it + gain * it + 0.01 * seed
                        selected = [] if it == 0 else shared[: 25 + 10 * (strategy == "core_set")]
                        selected = selected + [
                            f"{strategy}{it}_{j}" for j in range(50 - len(selected))
                        ]
                        metrics.append(
                            {
                                "accuracy": value,
                                "f1": value - 0.1,
                                "precision": value - 0.05,
                                "recall": value - 0.15,
                                "selected_ids": selected if it else [],
                                "diversity": None if it == 0 else 1.0 + gain * 10,
                                "representativeness": None if it == 0 else 2.0 - gain * 10,
                            }
                        )
                    info = {
                        "dataset": dataset,
                        "scenario": scenario,
                        "strategy": strategy,
                        "weighting": "uniform",
                        "seed": seed,
                        "imbalance_ratio": None,
                        "bins": None,
                    }
                    write_run(root, info, metrics)
    # An unfinished run is ignored by default.
    write_run(
        root,
        {**info, "seed": 99},
        [{"accuracy": 0.0, "f1": 0.0, "precision": 0.0, "recall": 0.0}],
        status="running",
    )
    return root


@pytest.fixture(scope="module")
def paper2_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("paper2")
    gains = {"uniform": 0.0, "posprob": 0.01, "invprop": 0.03}
    for ratio in (10, 50):
        for strategy in ("random", "dal"):
            for weighting, gain in gains.items():
                bins_list = [2, 10, 20] if weighting == "invprop" else [None]
                for bins in bins_list:
                    for seed in range(4):
                        noise = 0.002 * ((seed * 7 + ratio) % 5)
                        base = 0.6 + gain - 0.001 * ratio + noise + 0.005 * (bins == 20)
                        metrics = [
                            {
                                "balanced_accuracy": base + 0.02 * it,
                                "roc_auc": base + 0.2 + 0.01 * it,
                                "positives_ratio": 0.1 + gain * 3 + 0.01 * it + noise,
                            }
                            for it in range(3)
                        ]
                        info = {
                            "dataset": "sst2",
                            "scenario": "warm_start",
                            "strategy": strategy,
                            "weighting": weighting,
                            "seed": seed,
                            "imbalance_ratio": ratio,
                            "bins": bins,
                        }
                        write_run(root, info, metrics)
    return root


def test_load_results_keeps_finished_runs(paper1_runs):
    frame = load_results([paper1_runs])
    assert set(frame["status"]) == {"finished"}
    assert frame["run_key"].nunique() == 2 * 2 * 3 * 3
    assert len(frame) == 36 * 4
    assert set(frame["variant"]) == {"trec:pos", "isear:pos"}
    everything = load_results([paper1_runs], statuses=None)
    assert everything["run_key"].nunique() == 37
    one = next((paper1_runs / "runs").iterdir())
    assert load_results([one / "results.jsonl", one])["run_key"].nunique() == 1
    assert set(final_iteration(frame)["iteration"]) == {3}


def test_paper1_tables(paper1_runs, tmp_path):
    frame = load_results([paper1_runs])
    main, pairs = tables.ein_dor_significance(frame)
    imb = main.data[main.data["scenario"] == "imbalanced"].set_index("strategy")
    # Every (dataset, iteration, seed) pair favours LC: 2 × 3 × 3 = 18 pairs, all positive.
    assert imb.loc["least_confidence", "pairs"] == 18
    sub = frame[(frame["scenario"] == "imbalanced") & (frame["iteration"] >= 1)]
    wide = sub.pivot_table(index=["variant", "iteration", "seed"], columns="strategy", values="f1")
    raw = scipy_stats.wilcoxon(wide["least_confidence"], wide["random"]).pvalue
    assert imb.loc["least_confidence", "p_value"] == pytest.approx(raw)
    assert imb.loc["least_confidence", "p_bonferroni"] == pytest.approx(min(1.0, 2 * raw))
    assert imb.loc["least_confidence", "comparisons"] == 2
    assert "**" in main.markdown
    assert set(pairs.data["comparisons"]) == {1}
    runtime = tables.ein_dor_runtime(frame)
    assert runtime.data.set_index("strategy").loc["random", "selection_seconds"] == 1.5
    overlap = tables.ein_dor_overlap(frame).data.set_index(["scenario", "strategy_a", "strategy_b"])
    # Random and LC share 25 of 50 ids, core-set shares 35 with the shared list: 25 with each.
    key = ("imbalanced", "least_confidence", "random")
    assert overlap.loc[key, "mean_overlap"] == pytest.approx(0.5)
    assert overlap.loc[("balanced", "core_set", "least_confidence"), "mean_overlap"] == 0.5
    assert overlap.loc[key, "runs"] == 6
    props = tables.batch_property_table(frame).data.set_index(["scenario", "strategy"])
    assert props.loc[("balanced", "least_confidence"), "diversity"] == pytest.approx(1.5)
    written = main.write(tmp_path)
    assert written[0].read_text().startswith("# Paper 1 Table 3")
    assert pd.read_csv(written[1])["p_bonferroni"].between(0, 1).all()


def test_paper1_figures(paper1_runs, tmp_path):
    frame = load_results([paper1_runs])
    fig = learning_curves(frame[frame["variant"] == "trec:pos"], tables.paper1_metric, "curves")
    assert len(fig.axes) == 2  # one panel per (scenario, dataset)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    assert fig._suptitle is not None
    path = save(fig, tmp_path / "curves.png")
    assert path.stat().st_size > 10_000
    fig2 = batch_properties(frame)
    assert all(a.get_legend() is not None and a.get_ylabel() for a in fig2.axes)
    save(fig2, tmp_path / "fig2.png")


def test_paper2_tables(paper2_runs):
    frame = load_results([paper2_runs])
    frame = frame[(frame["bins"].isna()) | (frame["bins"] == 10)]
    table4 = tables.weighting_comparison(
        frame,
        name="t4",
        title="t4",
        by="imbalance_ratio",
        weightings=("invprop", "uniform"),
        ratios=(10, 50),
    )
    data = table4.data.set_index(["imbalance_ratio", "metric", "weighting"])
    final = final_iteration(frame)
    expected = final[(final["imbalance_ratio"] == 10) & (final["weighting"] == "invprop")][
        "balanced_accuracy"
    ].mean()
    assert data.loc[(10, "balanced_accuracy", "invprop"), "mean"] == pytest.approx(expected)
    # InvProp is better by 0.03 in every (strategy, seed) pair with the same noise: constant
    # difference -> t-test p = 0 -> bold.
    assert data.loc[(10, "balanced_accuracy", "invprop"), "bold"]
    assert not data.loc[(10, "balanced_accuracy", "uniform"), "bold"]
    assert "**" in table4.markdown
    table6 = tables.weighting_comparison(
        frame,
        name="t6",
        title="t6",
        by="imbalance_ratio",
        weightings=("invprop", "posprob", "uniform"),
    )
    assert set(table6.data["weighting"]) == {"invprop", "posprob", "uniform"}
    table2 = tables.weighting_comparison(
        frame,
        name="t2",
        title="t2",
        by="dataset",
        weightings=("invprop", "uniform"),
        ratios=(50,),
        best_algorithm=True,
    )
    assert (table2.data["elements"] == 4).all()  # one algorithm × 4 seeds per weighting
    with pytest.raises(tables.AnalysisError):
        tables.weighting_comparison(
            frame, name="x", title="x", by="dataset", weightings=("invprop",), ratios=(7,)
        )


def test_paper2_bins(paper2_runs):
    t11, t12 = tables.fairstein_bins(load_results([paper2_runs]))
    assert set(t11.data["bins"]) == {2, 10, 20}
    row = t12.data.set_index(["strategy", "metric", "bins"]).loc[("random", "roc_auc", 20)]
    assert row["p_vs_10"] == pytest.approx(0.0, abs=1e-9)  # constant +0.005 difference
    row2 = t12.data.set_index(["strategy", "metric", "bins"]).loc[("random", "roc_auc", 2)]
    assert row2["p_vs_10"] == 1.0  # identical results


def test_cli_writes_markdown_csv_and_png(paper1_runs, paper2_runs, tmp_path):
    out = tmp_path / "tables"
    trec = [str(d) for d in (paper1_runs / "runs").glob("trec-imbalanced-*")]
    assert analysis_main(["figure-ein-dor-1", "--runs", *trec, "--out", str(out)]) == 0
    for name in ("figure-ein-dor-1", "figure-ein-dor-4", "figure-ein-dor-5"):
        assert (out / f"{name}.png").stat().st_size > 10_000
        assert (out / f"{name}.md").exists() and (out / f"{name}.csv").exists()
    assert analysis_main(["table-fairstein-4", "--runs", str(paper2_runs), "--out", str(out)]) == 0
    assert "InvProp" in (out / "table-fairstein-4.md").read_text()
    # A target the runs cannot make fails with a message, not a traceback.
    assert analysis_main(["table-fairstein-6", "--runs", str(paper2_runs), "--out", str(out)]) == 1
