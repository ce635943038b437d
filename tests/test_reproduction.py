"""The reproduction report (docs/reproduction.md) on a fixture of result files with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from al_bert.analysis.aggregate import load_results
from al_bert.analysis.batch_claims import (
    batch_claim_checks,
    claim_batch_properties,
    rank_claim,
    released_diversity_note,
)
from al_bert.analysis.claims import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    claim_al_beats_random,
    claim_invprop,
    paper2_every_strategy,
)
from al_bert.analysis.reproduction import main, setup_text
from al_bert.analysis.scale import (
    REPO,
    block_text,
    gpu_hours_note,
    grid_run_hours,
    grid_runs,
    scale_section,
)
from al_bert.grid import blocks_size
from tests.test_analysis import write_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reproduction")
    # Paper 1: LC always beats Random by ~0.1 F1, DAL always loses ~0.05, Core-Set only differs
    # by noise; DAL's batches are the most diverse and representative.
    gains = {"random": 0.0, "least_confidence": 0.1, "dal": -0.05, "core_set": 0.0}
    # DAL's batches are far more diverse than all; LC's a little more than Core-Set's; Core-Set
    # and Random differ only by noise.
    diversity = {"random": 1.0, "least_confidence": 1.2, "dal": 2.0, "core_set": 1.0}
    for seed in range(3):
        for strategy, gain in gains.items():
            rng = np.random.default_rng([seed, len(strategy)])
            metrics = []
            for it in range(6):
                noise = float(rng.normal(0, 0.01)) if strategy == "core_set" else 0.001 * seed
                metrics.append(
                    {
                        "f1": 0.5 + 0.05 * it + (gain * it > 0) * gain + (gain < 0) * gain + noise,
                        "roc_auc": 0.9,
                        "train_seconds": 10.0,
                        "diversity": None if it == 0 else diversity[strategy] + noise,
                        "representativeness": None
                        if it == 0
                        else 3.0
                        if strategy == "dal"
                        else 1.0 + 0.1 * (strategy == "least_confidence"),
                    }
                )
            info = {
                "dataset": "trec",
                "scenario": "imbalanced_practical",
                "strategy": strategy,
                "weighting": "uniform",
                "seed": seed,
                "imbalance_ratio": None,
                "bins": None,
            }
            write_run(root, info, metrics)
    # Paper 2: InvProp finds twice the positives; balanced accuracy equal up to noise.
    for seed in range(3):
        for weighting, found in {"uniform": 0.1, "invprop": 0.2, "posprob": 0.15}.items():
            metrics = [
                {
                    "balanced_accuracy": 0.65 + 0.01 * ((seed + len(weighting)) % 3 - 1),
                    "roc_auc": 0.85,
                    "recall": 0.1,
                    "positives_ratio": float("nan") if it == 0 else found + 0.01 * seed,
                    "positives_selected": int(round(found * 50 * it)),
                }
                for it in range(6)
            ]
            info = {
                "dataset": "sst2",
                "scenario": "warm_start",
                "strategy": "random",
                "weighting": weighting,
                "seed": seed,
                "imbalance_ratio": 50,
                "bins": None,
            }
            write_run(root, info, metrics)
    return root


def test_claim_al_beats_random_verdicts(runs: Path) -> None:
    data, markdown = claim_al_beats_random(load_results([runs]))
    verdicts = dict(zip(data["strategy"], data["verdict"]))
    assert verdicts == {
        "least_confidence": REPRODUCED,
        "dal": NOT_REPRODUCED,
        "core_set": INCONCLUSIVE,
    }
    lc = data[data["strategy"] == "least_confidence"].iloc[0]
    assert lc["pairs"] == 15 and lc["seeds"] == 3
    assert lc["mean_difference"] == pytest.approx(0.1, abs=1e-9)
    assert lc["paper_p"] == "< 10⁻⁷"
    assert lc["p_bonferroni"] < 0.05
    assert "least_confidence" in markdown and "< 10⁻⁷" in markdown


def test_claim_batch_properties_ranks_strategies(runs: Path) -> None:
    frame = load_results([runs])
    data, markdown = claim_batch_properties(frame)
    dal = data[(data["strategy"] == "dal") & (data["property"] == "diversity")]
    # The fixture's batches do not change over iterations: iteration 1 and 1–5 agree.
    assert set(dal["window"]) == {"iteration 1", "iterations 1–5"}
    assert list(dal["mean"]) == pytest.approx([2.0 + 0.001] * 2)  # + mean seed offset
    assert set(dal["seeds"]) == {3}
    checks = batch_claim_checks(frame).set_index(["window", "claim"])
    average = checks.loc["iterations 1–5"]
    assert average.loc["DAL has the most diverse batches", "verdict"] == REPRODUCED
    assert average.loc["DAL has the most representative batches", "verdict"] == REPRODUCED
    assert (
        "DAL has the most diverse batches — iteration 1: yes; significantly higher in 0 of 3 pairs"
        f" → **{INCONCLUSIVE}**; iterations 1–5: yes; significantly higher in 3 of 3 pairs"
        f" → **{REPRODUCED}** (3 seeds)" in markdown
    )
    # Core-Set is significantly below LC: contradicted, whatever its rank against Random.
    assert (
        "iterations 1–5: no; significantly higher in 2 of 4 pairs;"
        f" significantly lower: core_set < least_confidence → **{NOT_REPRODUCED}**" in markdown
    )
    # 3 seeds give 3 pairs at iteration 1: the exact Wilcoxon p is at least 2 / 2³.
    assert "cannot fall below 0.250" in markdown
    assert set(checks.loc["iteration 1", "verdict"]) == {INCONCLUSIVE}
    assert "diversity, 2nd nearest" not in markdown  # the fixture's records do not have it


def _rank_rows(levels: dict[str, float], seed: int = 0) -> pd.DataFrame:
    """Batch-property rows ``x`` = level + N(0, 0.05) for 3 seeds × iterations 1–5."""
    rng = np.random.default_rng(seed)
    rows = [
        {
            "model": "m",
            "variant": "v",
            "strategy": strategy,
            "iteration": iteration,
            "seed": s,
            "x": level + float(rng.normal(0, 0.05)),
        }
        for s in range(3)
        for iteration in range(1, 6)
        for strategy, level in levels.items()
    ]
    return pd.DataFrame(rows)


def _means(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby(["strategy", "seed"])["x"].mean().groupby(level="strategy").mean()


def test_rank_claims_need_significance_not_rank() -> None:
    """An ordering that noise could swap is inconclusive; a median claim counts significant pairs."""
    frame = _rank_rows({"a": 1.0, "b": 1.0, "c": 1.0, "d": 2.0, "e": 2.0})
    means = _means(frame)
    holds, verdict, evidence = rank_claim(frame, means, "x", {"d"}, "top")
    assert verdict == INCONCLUSIVE  # d ties with e up to noise
    assert evidence.startswith("significantly higher in 3 of 4 pairs")
    holds, verdict, evidence = rank_claim(frame, means, "x", {"a"}, "below_median")
    # of 5, only d and e are significantly above a: ⌈5/2⌉ = 3 are needed
    assert verdict == INCONCLUSIVE and evidence.startswith("2 of 4 others significantly above it")
    holds, verdict, _ = rank_claim(frame, means, "x", {"d"}, "below_median")
    assert verdict == NOT_REPRODUCED and not holds  # 3 of 4 significantly below d: ⌊5/2⌋ = 2 needed


def test_rank_claims_edge_cases() -> None:
    """A lone strategy has nothing to be below; a run repeated under another name is averaged."""
    alone = _rank_rows({"core_set": 1.0})
    _, verdict, evidence = rank_claim(alone, _means(alone), "x", {"core_set"}, "below_median")
    assert verdict == INCONCLUSIVE and evidence == "no other strategy to compare with"
    frame = _rank_rows({"a": 1.0, "b": 2.0})
    repeated = pd.concat([frame, frame[frame["strategy"] == "b"].assign(x=lambda f: f["x"] + 0.01)])
    _, verdict, evidence = rank_claim(repeated, _means(repeated), "x", {"b"}, "top")
    assert verdict == REPRODUCED and evidence == "significantly higher in 1 of 1 pairs"


def test_claim_invprop_doubles_positives(runs: Path) -> None:
    data, markdown = claim_invprop(load_results([runs]))
    by_metric = data.set_index("metric")
    positives = by_metric.loc["positives_ratio"]
    assert positives["mean_difference"] == pytest.approx(0.1)
    assert positives["verdict"] == REPRODUCED
    assert positives["paper_table3"] == (0.2442, 0.0196)
    assert by_metric.loc["balanced_accuracy"]["verdict"].startswith(
        "consistent: no significant difference, Δ ["
    )
    assert "0.244 vs 0.020" in markdown
    # "about twice": the fixture's InvProp finds (0.2 + 0.01 s) / (0.1 + 0.01 s) = 0.21 / 0.11 as many.
    assert positives["invprop_over_uniform"] == pytest.approx(0.21 / 0.11)
    assert "12.5× / 1.9×" in markdown
    # Why balanced accuracy sits near 0.5: recall vs specificity = 2 · balanced accuracy − recall.
    assert "recall of the positive class 0.100 on average" in markdown
    assert f"specificity {2 * 0.65 - 0.1:.3f}" in markdown


def test_paper2_every_strategy_lists_uniform_runs(runs: Path) -> None:
    data, markdown = paper2_every_strategy(load_results([runs]))
    assert list(data["strategy"]) == ["random"]
    row = data.iloc[0]
    assert row["seeds"] == 3 and row["ratio"] == 50
    # Uniform's positives ratio in the fixture is 0.1 + 0.01 * seed: mean 0.11.
    assert row["positives_ratio"] == pytest.approx(0.11)
    assert "| sst2:pos 1:50 | random | 3 | 0.650 | 0.850 | 0.110 |" in markdown


def test_grid_run_hours_counts_each_run_at_its_measured_median(runs: Path, tmp_path: Path) -> None:
    # Fixture runs take 67.5 s (paper 1: 6 × 10 s train + infer/select) or 7.5 s (paper 2).
    sweep = tmp_path / "grid.yaml"
    sweep.write_text(
        "cpu:\n"
        "  - fixed: [+experiment=synthetic]\n"
        "    grid: {seed: [0, 1], strategy: [dal, mc_dropout]}\n"
        "  - fixed: [+experiment=other]\n"
        "    grid: {seed: [0], strategy: [least_confidence]}\n"
    )
    hours, unmeasured = grid_run_hours(load_results([runs]), sweep)
    # dal: its own median (2 × 67.5); mc_dropout: never run, the overall median (2 × 67.5);
    # least_confidence on another experiment: its median elsewhere (67.5).
    assert hours * 3600 == pytest.approx(5 * 67.5)
    assert unmeasured == 3


def test_grid_run_hours_takes_training_from_the_whole_experiment(tmp_path: Path) -> None:
    """Training does not depend on the strategy: a run slowed by another job barely moves it."""
    runs = [
        ("a0", "a", 100.0, 5.0),
        ("a1", "a", 100.0, 5.0),
        ("b0", "b", 300.0, 50.0),  # trained while another job shared the cores
    ]
    frame = pd.DataFrame(
        [
            {
                "run_key": key,
                "experiment": "e",
                "strategy": strategy,
                "train_seconds": train,
                "eval_seconds": 2.0,
                "infer_seconds": infer,
                "select_seconds": 0.0,
            }
            for key, strategy, train, infer in runs
        ]
    )
    sweep = tmp_path / "grid.yaml"
    sweep.write_text("cpu:\n  - fixed: [+experiment=e]\n    grid: {seed: [0, 1], strategy: [b]}\n")
    hours, unmeasured = grid_run_hours(frame, sweep)
    assert hours * 3600 == pytest.approx(2 * (102.0 + 50.0)) and unmeasured == 0


def test_report_says_which_runs_record_the_released_diversity(runs: Path) -> None:
    frame = load_results([runs])
    assert "none of the runs here has yet" in released_diversity_note(frame)
    first_run = frame["run_key"] == frame["run_key"].iloc[0]
    frame["diversity_second_nearest"] = np.where(first_run, 0.5, np.nan)
    assert "1 of the runs here have it" in released_diversity_note(frame)


def test_scale_section_keeps_imbalance_ratios_apart(runs: Path) -> None:
    frame = load_results([runs])
    paper2 = frame[frame["scenario"] == "warm_start"].copy()
    paper2["imbalance_ratio"] = 10
    paper2["run_key"] = paper2["run_key"] + "-r10"
    text = scale_section(pd.concat([frame, paper2], ignore_index=True))
    rows = [line for line in text.splitlines() if "| warm_start | random | uniform |" in line]
    assert len(rows) == 2
    assert {row.split(" | ")[1] for row in rows} == {"sst2 1:10", "sst2 1:50"}
    assert all("| 0, 1, 2 |" in row for row in rows)


def test_report_is_written_the_same_twice(runs: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        out.mkdir()
        assert main(["--runs", str(runs), "--out", str(out)]) == 0
    text = (first / "reproduction.md").read_text()
    assert text == (second / "reproduction.md").read_text()
    for claim in ("Claim 1", "Claim 2", "Claim 3", "## Scale", "## Full scale"):
        assert claim in text
    assert "_iteration 1_" in text and "_iterations 1–5_" in text
    assert "greedy k-center minimises the *largest* distance" in text
    for image in ("paper1-learning-curves.png", "paper2-positives.png"):
        assert f"](reproduction/{image})" in text
        assert (first / "reproduction" / image).read_bytes() == (
            second / "reproduction" / image
        ).read_bytes()


def test_setup_text_is_read_from_the_runs(runs: Path) -> None:
    text = setup_text(load_results([runs]), [runs / "runs"])
    assert "the packaged MiniLM-L6 (22M parameters)" in text and "3 seeds" in text
    assert "1 paper-1 task (trec:pos) and 1 paper-2 task (sst2:pos)" in text
    assert "the device is not recorded (see Environment)" in text  # no run.json has environments
    assert "ALPS is not among these runs" in text


def test_grid_runs_are_counted_by_al_bert_grid() -> None:
    sweep = REPO / "sweeps" / "reproduce.yaml"
    cpu = yaml.safe_load(sweep.read_text(encoding="utf-8"))["cpu"]
    assert grid_runs(sweep, "cpu") == blocks_size(cpu) == 113  # the committed runs' grid
    assert block_text({"fixed": ["+experiment=e"], "grid": {"seed": [0, 1], "x": [1, 2, 3]}}) == (
        "`e`: 2 `seed` × 3 `x` = 6"
    )


def _gpu_results(root: Path, summary: dict | None, sweep: dict | None = None) -> Path:
    root.mkdir()
    if summary is not None:
        (root / "summary.json").write_text(json.dumps(summary))
    if sweep is not None:
        (root / "sweep_gpu.json").write_text(json.dumps(sweep))
    return root


def test_gpu_note_says_what_benchmarks_gpu_holds(tmp_path: Path) -> None:
    """The GPU sentence is read from `make gpu-check`'s files, never written by hand."""
    assert gpu_hours_note(_gpu_results(tmp_path / "none", None)).startswith(
        "No GPU measurement is committed"
    )
    dry = _gpu_results(tmp_path / "dry", {"dry_run": True, "steps": []})
    assert gpu_hours_note(dry).startswith("Only a dry run of the GPU check is committed")
    steps = [{"step": "cuda", "status": "ok"}, {"step": "bench-sweep", "status": "timeout"}]
    summary = {"dry_run": False, "torch": "2.11.0+cu130", "steps": steps}
    bare = gpu_hours_note(_gpu_results(tmp_path / "bare", summary))
    assert "a GPU whose name it does not record" in bare and "cuda ok, bench-sweep timeout" in bare
    assert "GPU seconds per run are not measured" in bare
    sweep = {
        "machine": {"cuda": "NVIDIA H100 80GB HBM3"},
        "config": {"overrides": ["dataset=sst2", "al.iterations=2"]},
        "sweep": {"strategies": 4, "shared_wall_seconds": 360.0},
    }
    note = gpu_hours_note(_gpu_results(tmp_path / "full", summary, sweep), paper_runs=100)
    assert "ran on NVIDIA H100 80GB HBM3 (torch 2.11.0+cu130" in note
    assert "90 s per run (dataset=sst2, al.iterations=2): 100 runs" in note
    assert "are 2.5 GPU-hours" in note  # 100 × 90 s
