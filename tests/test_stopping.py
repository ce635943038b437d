"""Stopping criteria on constructed records whose answer is known, the stop-set statistics by hand, the
sweep's stopping table, and a resumed run that records the same statistics as an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.analysis.stopping import stopping_table
from al_bert.loop import ActiveLearningLoop, ALConfig
from al_bert.metrics.stopping import STATISTICS, stopping_statistics
from al_bert.seeding.builders import RandomSeed
from al_bert.stopping import (
    ClassificationChange,
    DeltaFScore,
    EarlyStopping,
    KappaAverage,
    LabellingBudget,
    LowAverageUncertainty,
    MaxIterations,
    OverallUncertainty,
    StoppingCriterion,
    stopped_by,
)
from al_bert.strategies.random import RandomStrategy
from al_bert.tracking.store import ResultsStore
from al_bert.weighting.base import Uniform
from tests.generic_checks import CONF
from tests.test_loop import FakeLearner


def records(**series: list) -> list[dict]:
    n = len(next(iter(series.values())))
    return [{"iteration": t, **{k: v[t] for k, v in series.items()}} for t in range(n)]


def test_stop_set_statistics_by_hand():
    before = np.array([0.1, 0.2, 0.9, 0.8])  # classes 0 0 1 1
    after = np.array([0.1, 0.7, 0.9, 0.5])  # classes 0 1 1 0 (0.5: argmax ties to class 0)
    stats = stopping_statistics(after, before)
    assert stats["stop_changed"] == 0.5
    # observed agreement 0.5; chance agreement 0.5·0.5 + 0.5·0.5 = 0.5: κ = 0
    assert stats["stop_kappa"] == pytest.approx(0.0)
    # a = 1 (row 2), b + c = 2: ΔF = 1 − 2/4
    assert stats["stop_delta_f"] == pytest.approx(0.5)
    lc = np.mean([0.1, 0.3, 0.1, 0.5])
    assert stats["stop_least_confidence"] == pytest.approx(lc)
    entropy = [-(p * np.log(p) + (1 - p) * np.log(1 - p)) / np.log(2) for p in after]
    assert stats["stop_entropy"] == pytest.approx(np.mean(entropy))
    first = stopping_statistics(after, None)
    assert first["stop_kappa"] is first["stop_changed"] is first["stop_delta_f"] is None
    same = stopping_statistics(after, after)
    assert same["stop_kappa"] == 1.0 and same["stop_changed"] == 0.0


def test_multiclass_statistics_have_no_delta_f():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]])
    stats = stopping_statistics(p, p[::-1])
    assert stats["stop_delta_f"] is None and stats["stop_changed"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("criterion", "series", "fires"),
    [
        (KappaAverage(), {"stop_kappa": [None, 0.5, 1.0, 1.0, 1.0, 0.98]}, 4),
        (KappaAverage(), {"stop_kappa": [None, 1.0, 1.0, 0.96, 1.0]}, None),
        (DeltaFScore(), {"stop_delta_f": [None, 0.1, 0.04, 0.01, 0.03]}, 4),
        (DeltaFScore(), {"stop_delta_f": [None, 0.01, 0.01, None, 0.01]}, None),
        (ClassificationChange(), {"stop_changed": [None, 0.1, 0.0]}, 2),
        (ClassificationChange(threshold=0.1), {"stop_changed": [None, 0.1, 0.0]}, 1),
        (OverallUncertainty(), {"stop_entropy": [0.3, 0.1, 0.04]}, 2),
        (MaxIterations(max_iterations=3), {"annotated": [10, 20, 30, 40, 50]}, 3),
        (LabellingBudget(labelling_budget=100), {"annotated": [10, 60, 110, 160]}, 2),
        (LowAverageUncertainty(), {"stop_least_confidence": [0.2, 0.04]}, 1),
        # baal's plateau test: the last patience + 1 values within ε of the latest
        (EarlyStopping(patience=3), {"f1": [0.5, 0.6, 0.7, 0.7, 0.7, 0.70005]}, 5),
        # from a fresh start, patience values suffice
        (EarlyStopping(patience=3), {"f1": [0.7, 0.7, 0.7]}, 2),
        (EarlyStopping(patience=3), {"f1": [0.9, 0.7, 0.5, 0.3]}, None),
        # metric "auto": macro-F1 on a multi-class task's records, F1 on a binary one's
        (EarlyStopping(patience=3), {"macro_f1": [0.5] * 4}, 2),
        (EarlyStopping(metric="f1", patience=3), {"macro_f1": [0.5] * 4}, None),
        (EarlyStopping(patience=3), {"f1": [0.5] * 4}, 2),
    ],
)
def test_each_criterion_fires_where_the_answer_is_known(criterion, series, fires):
    assert criterion.fires_at(records(**series)) == fires


def test_records_without_statistics_never_fire_the_statistics_criteria():
    legacy = records(annotated=[10, 60, 110], f1=[0.1, 0.2, 0.3])
    for criterion in (KappaAverage(), DeltaFScore(), ClassificationChange(), OverallUncertainty()):
        assert criterion.fires_at(legacy) is None
    assert stopped_by([LabellingBudget(), KappaAverage()], legacy) == ["labelling_budget"]


def test_the_default_config_builds_the_eight_criteria():
    criteria = [instantiate(n) for n in OmegaConf.load(CONF / "stopping" / "default.yaml").criteria]
    assert all(isinstance(c, StoppingCriterion) for c in criteria)
    assert {c.name for c in criteria} == {
        "kappa_average", "delta_f_score", "classification_change", "overall_uncertainty",
        "max_iterations", "labelling_budget", "low_average_uncertainty", "early_stopping",
    }  # fmt: skip


def test_stopping_table_per_configuration_with_intervals():
    rows = []
    for strategy, budget_hit in (("random", 2), ("least_confidence", 1)):
        for seed in (0, 1, 2):
            for t in range(4):
                rows.append(
                    {
                        "run_key": f"{strategy}-{seed}", "strategy": strategy, "weighting": "uniform",
                        "seed": seed, "iteration": t, "annotated": 20 + 50 * t,
                        "f1": 0.1 * t + 0.01 * seed, "dataset": "trec",
                        "stop_changed": None if t == 0 else (0.0 if t >= budget_hit else 0.2),
                    }
                )  # fmt: skip
    table = stopping_table(pd.DataFrame(rows), [ClassificationChange(), MaxIterations(5)], "f1")
    data = table.data.set_index(["strategy", "criterion"])
    random, lc = (
        data.loc[("random", "classification_change")],
        data.loc[("least_confidence", "classification_change")],
    )
    assert (random["seeds_fired"], random["iteration"], random["labels_saved"]) == (3, 2, 50)
    assert random["metric_given_up"] == pytest.approx(0.1)
    assert (lc["iteration"], lc["labels_saved"]) == (1, 100)
    assert lc["metric_given_up"] == pytest.approx(0.2)
    never = data.loc[("random", "max_iterations")]
    assert never["seeds_fired"] == 0 and never["labels_saved"] == 0 and np.isnan(never["iteration"])
    assert "3/3" in table.markdown and "0/3" in table.markdown


class VaryingLearner(FakeLearner):
    """Test predictions that change from model to model (so κ, ΔF and changes are informative)."""

    def predict_test(self):
        return ((np.arange(self.n_test) * (self.iteration + 2)) % 7 / 6.0).astype(np.float32)


def _loop(task, path, iterations):
    return ActiveLearningLoop(
        task=task, learner=VaryingLearner(len(task.test)), strategy=RandomStrategy(), weighting=Uniform(),
        seed_builder=RandomSeed(size=20), al=ALConfig(iterations=iterations, batch_size=10), seed=3,
        store=ResultsStore(path), scenario="test", stopping=[ClassificationChange(1.0), LabellingBudget(20)],
    )  # fmt: skip


def test_records_carry_the_statistics_and_a_resume_records_the_same(task, tmp_path):
    whole = _loop(task, tmp_path / "a", 3).run()
    assert all(set(STATISTICS) <= set(r) for r in whole)
    assert whole[0]["stop_kappa"] is None and whole[1]["stop_kappa"] is not None
    assert [r["stopped_by"] for r in whole] == [
        [], ["classification_change"], ["classification_change", "labelling_budget"],
        ["classification_change", "labelling_budget"],
    ]  # fmt: skip
    _loop(task, tmp_path / "b", 1).run()
    resumed = _loop(task, tmp_path / "b", 3).run()
    for key in STATISTICS:
        assert [r[key] for r in resumed] == [r[key] for r in whole], key
