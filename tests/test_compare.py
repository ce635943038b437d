"""The sweep comparison: statistics with known answers, compare() on synthetic runs, the CLI and the
Hydra callback on a fake sweep directory (no training)."""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from scipy import stats as scipy_stats

from al_bert.analysis.aggregate import load_results
from al_bert.analysis.callback import CompareOnMultirunEnd, sweep_runs
from al_bert.analysis.cli import main as analysis_main
from al_bert.analysis.compare import (
    area_under_curve,
    compare,
    compare_table,
    labels_to_reach,
    load_runs,
    varying_columns,
)
from al_bert.analysis.figures import with_cumulative_compute
from al_bert.analysis.stats import (
    bonferroni,
    bootstrap_ci,
    holm,
    paired_bootstrap_ci,
    paired_t_power,
    seeds_needed,
    wilson_interval,
)
from al_bert.tracking.runkey import run_key
from tests.conftest import compose_config
from tests.run_files import write_run_files

CONF = Path(__file__).resolve().parents[1] / "conf"
Z = scipy_stats.norm.ppf(0.975)

# ------------------------------------------------------------------------------------ statistics


def test_paired_bootstrap_of_a_constant_difference_has_zero_width():
    a = np.array([0.71, 0.64, 0.80, 0.77])
    mean, low, high = paired_bootstrap_ci(a + 0.05, a)
    assert (
        mean == pytest.approx(0.05) and low == pytest.approx(0.05) and high == pytest.approx(0.05)
    )
    assert high - low == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(paired_bootstrap_ci([0.5], [0.4])[1])  # one pair: no interval


def test_bootstrap_is_deterministic_and_covers_the_mean():
    values = np.array([0.1, 0.4, 0.35, 0.8, 0.5])
    first, second = bootstrap_ci(values), bootstrap_ci(values)
    assert first == second
    mean, low, high = first
    assert mean == pytest.approx(values.mean()) and low < mean < high
    assert values.min() <= low and high <= values.max()


def test_holm_hand_example():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.2, float("nan"), 0.01])  # nan stays nan and is not counted: m = 2
    assert math.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.2, 0.02])
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])  # 0.6·2 capped at 1, then the max
    p = np.array([0.001, 0.02, 0.04, 0.3])
    assert np.all(holm(p) <= bonferroni(p, len(p)))  # never more conservative than Bonferroni


def test_wilson_interval_known_answers():
    low, high = wilson_interval(3, 3)
    assert low == pytest.approx(3 / (3 + Z**2)) and high == 1.0
    low, high = wilson_interval(5, 10)
    assert (low + high) / 2 == pytest.approx(0.5)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_seeds_needed_matches_the_noncentral_t_and_g_power():
    # d = mean/sd = 1 (differences 1 ± 1/√2·…): G*Power's paired t-test, two-sided, α .05, power .8
    # gives 10 pairs for d = 1 and 34 for d = 0.5.
    for effect, expected in ((1.0, 10), (0.5, 34)):
        differences = effect + np.array([1.0, -1.0]) / math.sqrt(2)  # sd exactly 1
        assert seeds_needed(differences) == expected
        df = expected - 1
        crit = scipy_stats.t.ppf(0.975, df)
        power = scipy_stats.nct.sf(crit, df, effect * math.sqrt(expected))
        power += scipy_stats.nct.cdf(-crit, df, effect * math.sqrt(expected))
        assert power >= 0.8 and paired_t_power(effect, expected) == pytest.approx(power)
        assert paired_t_power(effect, expected - 1) < 0.8
    assert seeds_needed(-(1 + np.array([1.0, -1.0]) / math.sqrt(2))) == 10  # sign does not matter


def test_seeds_needed_edge_cases_and_monotone():
    assert seeds_needed([0.03, 0.03, 0.03]) == 2  # constant nonzero difference: the minimum
    assert seeds_needed([0.1, -0.1]) == math.inf  # no difference
    assert math.isnan(seeds_needed([0.2]))  # one difference: no sd
    assert seeds_needed([0.001, -0.0009, 0.0012, -0.0011]) == math.inf  # beyond the cap
    needed = [seeds_needed(d + np.array([1.0, -1.0]) / math.sqrt(2)) for d in (0.3, 0.6, 1, 2, 4)]
    assert needed == sorted(needed, reverse=True) and needed[-1] >= 2


def test_area_and_labels_on_known_curves():
    assert area_under_curve([100, 200, 300], [0.5, 0.6, 0.7]) == pytest.approx(0.6)
    assert area_under_curve([100, 300], [0.8, 0.8]) == pytest.approx(0.8)
    assert area_under_curve([100], [0.4]) == 0.4
    # A linear baseline curve 0.5 → 0.7 over 100 → 300 labels reaches 0.65 at 250.
    x, y = [100, 150, 200, 250, 300], [0.5, 0.55, 0.6, 0.65, 0.7]
    assert labels_to_reach(x, y, 0.65) == pytest.approx(250)
    assert labels_to_reach(x, y, 0.625) == pytest.approx(225)
    assert labels_to_reach(x, y, 0.9) == math.inf
    assert labels_to_reach(x, y, 0.3) == 100
    assert math.isnan(labels_to_reach(x, y, float("nan")))


# ------------------------------------------------------------------------------ synthetic runs


def write_run(
    root: Path,
    info: dict[str, Any],
    curve: list[float],
    status: str = "finished",
    extra: dict[str, Any] | None = None,
) -> Path:
    """A TREC-like run whose F1 follows ``curve``; a run that did not finish says why."""
    common = {
        "experiment": f"exp_{info.get('dataset', 'trec')}",
        "dataset": "trec",
        "scenario": "imbalanced_practical",
        "weighting": "uniform",
        "imbalance_ratio": None,
        "accuracy": 0.9,
        "train_seconds": 2.0,
    }
    per_iteration = [
        {"f1": value, "positives_selected": 10 * iteration, **(extra or {})}
        for iteration, value in enumerate(curve)
    ]
    config = {"dataset": {"positive_class": "LOC"}, "al": {"batch_size": 50, "iterations": 4}}
    reason = None if status == "finished" else "NaN loss"
    return write_run_files(
        root, info, per_iteration, config=config, common=common, status=status, reason=reason
    )


def linear(start: float, step: float, points: int = 5) -> list[float]:
    return [start + step * i for i in range(points)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """Random rises linearly 0.50 → 0.70 over 100 → 300 labels; LC = Random + 0.05 on every seed;
    core-set ends at 0.65 on every seed; two datasets."""
    root = tmp_path_factory.mktemp("sweep")
    for dataset, shift in (("trec", 0.0), ("isear", -0.1)):
        for seed in range(4):
            noise = 0.01 * ((seed * 3) % 4)
            base = [v + shift + noise for v in linear(0.5, 0.05)]
            info = {"dataset": dataset, "seed": seed}
            write_run(root, {**info, "strategy": "random"}, base)
            write_run(root, {**info, "strategy": "least_confidence"}, [v + 0.05 for v in base])
            core = [0.5 + shift, 0.55 + shift, 0.6 + shift, 0.62 + shift, 0.65 + shift]
            write_run(root, {**info, "strategy": "core_set"}, core)
    return root


def test_compare_known_answers(sweep):
    frame = load_results([sweep])
    result = compare(frame, metric="f1")
    assert result.attrs["group_columns"] == ["dataset"]  # experiment follows the dataset
    assert len(result) == 6 and set(result["seeds"]) == {4}
    rows = result.set_index(["dataset", "strategy"])
    lc = rows.loc[("trec", "least_confidence")]
    assert lc["baseline"] == "random/uniform" and not lc["is_baseline"]
    assert lc["pairs"] == 4 and lc["p_beat"] == 1.0
    assert lc["p_beat_low"] == pytest.approx(4 / (4 + Z**2))
    assert lc["diff_mean"] == pytest.approx(0.05)
    assert lc["diff_high"] - lc["diff_low"] == pytest.approx(0.0, abs=1e-12)
    assert lc["seeds_needed"] == 2
    base = rows.loc[("trec", "random")]
    assert base["is_baseline"] and math.isnan(base["p_beat"])
    finals = [0.70 + 0.01 * ((s * 3) % 4) for s in range(4)]
    assert base["final_mean"] == pytest.approx(np.mean(finals))
    assert base["auc_mean"] == pytest.approx(np.mean(finals) - 0.1)  # linear: the midpoint
    assert base["final_low"] < base["final_mean"] < base["final_high"]
    # Label efficiency: core-set ends at 0.65; Random's mean curve (0.515 + 0.05·i over 100 + 50·i)
    # reaches 0.65 at 100 + 50 · (0.65 − 0.515) / 0.05 = 235 labels, 235/300 of core-set's budget.
    core = rows.loc[("trec", "core_set")]
    assert core["baseline_labels"] == pytest.approx(235)
    assert core["label_ratio"] == pytest.approx(235 / 300)
    assert core["p_beat"] == pytest.approx(0.0)
    assert math.isinf(lc["baseline_labels"])  # Random never reaches LC's final value
    assert lc["positives_selected"] == 40
    assert lc["train_seconds"] == 10 and lc["infer_seconds"] == 4 and lc["select_seconds"] == 2
    # Holm over the four comparisons; the p-values are the paired t-tests.
    compared = result[~result["is_baseline"]]
    np.testing.assert_allclose(compared["p_holm"], holm(compared["p_ttest"].to_numpy()))
    # Rows of a dataset are paired only within that dataset.
    assert rows.loc[("isear", "least_confidence"), "diff_mean"] == pytest.approx(0.05)
    assert compare(frame, metric="f1").equals(result)  # bootstrap with a fixed seed


def test_compare_table_text(sweep):
    table = compare_table(load_results([sweep]), metric="f1")
    md = table.markdown
    assert "random (baseline)" in md and "Δ vs random" in md
    assert "235 (0.78×)" in md and ">300" in md
    assert "+0.050 [+0.050, +0.050]" in md
    assert any("Holm" in note for note in table.notes)


def test_varying_columns_and_robustness(tmp_path):
    runs = pd.DataFrame(
        {
            "dataset": ["a", "a", "b", "b"],
            "experiment": ["x", "x", "y", "y"],
            "model": ["m", "m", "m", "m"],
            "imbalance_ratio": [None, float("nan"), 50.0, 50],
        }
    )
    assert varying_columns(runs) == ["dataset"]
    # Old records without positives, compute times or the weighting column still compare.
    for seed in range(2):
        for strategy, gain in (("random", 0.0), ("dal", 0.1)):
            run_dir = write_run(
                tmp_path, {"seed": seed, "strategy": strategy}, linear(0.3 + gain, 0.1)
            )
            lines = [
                json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()
            ]
            for record in lines:
                for column in (
                    "positives_selected",
                    "infer_seconds",
                    "select_seconds",
                    "weighting",
                ):
                    record.pop(column)
            (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = compare(load_results([tmp_path]))
    assert result.attrs["metric"] == "f1"
    dal = result.set_index("strategy").loc["dal"]
    assert dal["diff_mean"] == pytest.approx(0.1) and math.isnan(dal["positives_selected"])
    assert dal["train_seconds"] == 10 and math.isnan(dal["infer_seconds"])


def test_cumulative_compute():
    frame = pd.DataFrame(
        {
            "run_key": ["a", "a", "a"],
            "iteration": [0, 1, 2],
            "train_seconds": [1.0, 2.0, 3.0],
            "infer_seconds": [None, 1.0, 1.0],
            "select_seconds": [None, 0.5, 0.5],
        }
    )
    assert with_cumulative_compute(frame)["compute_seconds"].tolist() == [1.0, 4.5, 9.0]


# ------------------------------------------------------------------------------- CLI and callback


def test_cli_writes_compare_md_csv_and_figures(sweep, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["compare", "--runs", str(sweep), "--out", str(out), "--metric", "f1", "--figures"]
    assert analysis_main([*argv, "--where", "dataset=trec"]) == 0
    printed = capsys.readouterr().out
    assert "least_confidence" in printed and "random (baseline)" in printed
    md = (out / "compare.md").read_text()
    assert md.startswith("# Comparison of 3 configurations over 12 runs: f1 vs random")
    assert "Common to every run: dataset trec" in md
    data = pd.read_csv(out / "compare.csv")
    assert set(data["strategy"]) == {"random", "least_confidence", "core_set"}
    for name in ("compare_curves.png", "compare_compute.png"):
        assert (out / name).stat().st_size > 10_000


def fake_sweep(root: Path, runs: list[Path], extra_jobs: int = 0) -> Path:
    """A Hydra sweep directory: job folders 0, 1, … holding results_dir.txt, plus empty jobs."""
    sweep_dir = root / "multirun" / "2025-01-01" / "12-00-00"
    for number, run_dir in enumerate(runs):
        job = sweep_dir / str(number)
        job.mkdir(parents=True)
        (job / "results_dir.txt").write_text(f"{run_dir.resolve()}\n")
    for number in range(len(runs), len(runs) + extra_jobs):
        (sweep_dir / str(number) / ".hydra").mkdir(parents=True)
    return sweep_dir


def sweep_config(sweep_dir: Path, logger: str = "al_bert.tracking.wandb_logger.NullTracker"):
    return OmegaConf.create(
        {
            "hydra": {"sweep": {"dir": str(sweep_dir)}},
            "logger": {"_target_": logger, "mode": "offline", "dir": str(sweep_dir)},
        }
    )


def test_callback_prints_and_writes_the_comparison(tmp_path, capsys):
    good = [
        write_run(tmp_path, {"seed": s, "strategy": name}, linear(0.5 + gain, 0.05))
        for s in range(2)
        for name, gain in (("random", 0.0), ("badge", 0.04))
    ]
    failed = write_run(tmp_path, {"seed": 9, "strategy": "egl"}, [0.1], status="failed")
    sweep_dir = fake_sweep(tmp_path, [*good, failed, tmp_path / "gone"], extra_jobs=1)
    CompareOnMultirunEnd().on_multirun_end(config=sweep_config(sweep_dir), config_name="config")
    printed = capsys.readouterr()
    assert "badge" in printed.out and "random (baseline)" in printed.out
    assert "status failed: NaN loss" in printed.out and "gone: missing" in printed.out
    assert "job 6: no run found" in printed.out
    md = (sweep_dir / "compare.md").read_text()
    assert "| badge | uniform | 2 |" in md and (sweep_dir / "compare.csv").is_file()
    assert not printed.err


def test_callback_with_fewer_than_two_runs_prints_one_line(tmp_path, capsys):
    one = write_run(tmp_path, {"seed": 0, "strategy": "random"}, linear(0.5, 0.05))
    callback = CompareOnMultirunEnd()
    callback.on_multirun_end(config=sweep_config(fake_sweep(tmp_path, [one])))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "nothing to compare" in lines[0]
    callback.on_multirun_end(config=sweep_config(tmp_path / "no-such-sweep"))
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
    # A broken config never raises out of the callback.
    callback.on_multirun_end(config=OmegaConf.create({"hydra": {}}))


def test_callback_finds_a_skipped_run_from_the_job_config(tmp_path):
    """A job whose run had already finished writes no results_dir.txt: its saved config leads to it."""
    cfg = OmegaConf.create({"paths": {"output_root": str(tmp_path / "outputs")}, "seed": 3})
    key = run_key(cfg)
    run_dir = tmp_path / "outputs" / "runs" / key
    run_dir.mkdir(parents=True)
    sweep_dir = fake_sweep(tmp_path, [], extra_jobs=1)
    OmegaConf.save(cfg, sweep_dir / "0" / ".hydra" / "config.yaml")
    runs, notes = sweep_runs(sweep_dir)
    assert runs == [run_dir] and notes == []
    frame, skipped = load_runs(runs)
    assert frame.empty and "no readable run.json" in skipped[0]


def test_callback_logs_once_to_wandb_and_survives_its_errors(tmp_path, monkeypatch, capsys):
    runs = [
        write_run(tmp_path, {"seed": s, "strategy": name}, linear(0.5 + gain, 0.05))
        for s in range(2)
        for name, gain in (("random", 0.0), ("dal", 0.02))
    ]
    sweep_dir = fake_sweep(tmp_path, runs)
    calls: list[tuple[str, Any]] = []

    class FakeRun:
        dir = str(tmp_path / "wandb")

        def log(self, data: dict[str, Any]) -> None:
            calls.append(("log", data))

        def finish(self) -> None:
            calls.append(("finish", None))

    fake = types.SimpleNamespace(
        init=lambda **kw: calls.append(("init", kw)) or FakeRun(),
        Table=lambda columns, data: ("table", columns, data),
        Image=lambda path: ("image", path),
        Settings=lambda **kw: kw,
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    config = sweep_config(sweep_dir, logger="al_bert.tracking.wandb_logger.WandbTracker")
    CompareOnMultirunEnd().on_multirun_end(config=config)
    assert [c[0] for c in calls] == ["init", "log", "finish"]
    assert calls[0][1]["job_type"] == "compare" and calls[0][1]["mode"] == "offline"
    (_, columns, rows) = calls[1][1]["compare"]
    assert "strategy" in columns and {r[0] for r in rows} == {"dal", "random (baseline)"}

    def broken(**_: Any) -> None:
        raise RuntimeError("no network")

    monkeypatch.setattr(fake, "init", broken)
    CompareOnMultirunEnd().on_multirun_end(config=config)
    assert "not logged to W&B (RuntimeError: no network)" in capsys.readouterr().err
    calls.clear()
    CompareOnMultirunEnd().on_multirun_end(config=sweep_config(sweep_dir))  # logger=none
    assert calls == []


def test_config_registers_the_callback():
    from hydra.utils import instantiate

    cfg = compose_config(hydra=True)
    callback = instantiate(cfg.hydra.callbacks.compare)
    assert isinstance(callback, CompareOnMultirunEnd)
