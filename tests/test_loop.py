"""The AL loop's bookkeeping with a stand-in model: seeds, budget, oracle, records, resume."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from al_bert.errors import BudgetError
from al_bert.loop import ActiveLearningLoop, ALConfig
from al_bert.oracle import Oracle
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.seeding import (
    ColdStartSeed,
    PositivesSeed,
    QuerySeed,
    RandomSeed,
    SeedError,
    WarmStartSeed,
)
from al_bert.seeding.builders import InitialSet, require_both_classes
from al_bert.strategies.base import ScoreStrategy
from al_bert.strategies.random import RandomStrategy
from al_bert.tracking.store import ResultsStore
from al_bert.weighting.base import Uniform
from tests.conftest import synthetic_task


class FakeLearner:
    """A :class:`~al_bert.learner.Learner` without a model: records fits, fake probabilities."""

    def __init__(self, n_test: int) -> None:
        self.n_test = n_test
        self.fits: list[tuple[int, int]] = []
        self.iteration = -1
        self.released = 0

    def fit(self, rows, labels, iteration):
        self.fits.append((iteration, int(rows.size)))
        self.iteration = iteration

    def infer(self, request, pool, labelled, labels, iteration):
        probs = np.linspace(0, 1, pool.size, dtype=np.float32)
        return PoolOutputs(pool_positions=pool, probs=probs)

    def predict_test(self):
        return np.full(self.n_test, 0.5 + 0.01 * self.iteration, dtype=np.float32)

    def release(self):
        self.released += 1


class ProbsOnlyStrategy(ScoreStrategy):
    """Records what it was given, scores by the fake probability."""

    name = "probe"
    request = InferenceRequest(frozenset({Need.PROBS}))
    seen: ClassVar[list[PoolOutputs]] = []

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        self.seen.append(outputs)
        return outputs.require("probs")


class FixedRowsStrategy(ScoreStrategy):
    """Prefers the given train-split rows (in order of appearance in the pool)."""

    name = "fixed"
    request = InferenceRequest(frozenset({Need.PROBS}))

    def __init__(self, preferred: np.ndarray) -> None:
        self.preferred = set(int(r) for r in preferred)

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        return np.array([1.0 if int(r) in self.preferred else 0.0 for r in outputs.pool_positions])


def make_loop(task, tmp_path: Path, strategy=None, seed_builder=None, iterations=3, k=10):
    learner = FakeLearner(len(task.test))
    loop = ActiveLearningLoop(
        task=task,
        learner=learner,
        strategy=strategy or RandomStrategy(),
        weighting=Uniform(),
        seed_builder=seed_builder or RandomSeed(size=20),
        al=ALConfig(iterations=iterations, batch_size=k),
        seed=3,
        store=ResultsStore(tmp_path / "run"),
        scenario="test",
    )
    return loop, learner.fits


def test_loop_grows_labelled_set_and_never_reselects(task, tmp_path):
    loop, fits = make_loop(task, tmp_path)
    records = loop.run()
    assert [r["iteration"] for r in records] == [0, 1, 2, 3]
    assert [r["train_size"] for r in records] == [20, 30, 40, 50]
    selected = [i for r in records for i in r["selected_ids"]]
    assert len(selected) == len(set(selected)) == 30
    # every fit is from scratch on the whole current L (the loop never passes a previous model)
    assert fits == [(0, 20), (1, 30), (2, 40), (3, 50)]
    assert loop.oracle.revealed == 50
    # test metrics come from the learner's test probabilities (0.53 > 0.5: every row predicted positive)
    assert records[-1]["accuracy"] == pytest.approx(task.test["label"].mean())


def test_positives_ratio_counts_only_selected_examples(task, tmp_path):
    """Paper 2 §5.2: the fraction of minority examples *found by the algorithm*: the seed's known
    positives never count, so a run that selects no positive has ratio 0."""
    negatives = np.flatnonzero(task.train["label"].to_numpy() == 0)
    loop, _ = make_loop(
        task,
        tmp_path,
        seed_builder=PositivesSeed(positives=10, weak_negatives=15),
        strategy=FixedRowsStrategy(negatives),
    )
    records = loop.run()
    first = records[0]
    assert first["train_size"] == 25 and first["annotated"] == 10
    assert first["positives_labelled"] == 10 and first["positives_selected"] == 0
    assert first["positives_ratio"] is None  # nothing selected yet
    for record in records[1:]:
        assert record["batch_positives"] == 0 and record["positives_ratio"] == 0.0
        assert record["positives_labelled"] == 10  # the seed's positives, never counted as found


def test_positives_ratio_is_cumulative_over_the_selected_batches(task, tmp_path):
    labels = task.train["label"].to_numpy()
    loop, _ = make_loop(task, tmp_path, seed_builder=WarmStartSeed(per_class=5))
    records = loop.run()
    state = loop.store.load_state()["labelled"]
    picked = [r for r, t in zip(state["rows"], state["joined"]) if t >= 1]
    assert len(picked) == 30
    last = records[-1]
    assert 0 < last["positives_selected"] == int(labels[picked].sum())
    assert last["positives_ratio"] == pytest.approx(labels[picked].mean())
    assert sum(r["batch_positives"] for r in records) == last["positives_selected"]
    assert last["positives_labelled"] == 5 + last["positives_selected"]


def test_strategy_sees_no_pool_labels(task, tmp_path):
    ProbsOnlyStrategy.seen = []
    loop, _ = make_loop(task, tmp_path, strategy=ProbsOnlyStrategy())
    loop.run()
    outputs = ProbsOnlyStrategy.seen[0]
    assert outputs.labelled_labels is None
    assert not hasattr(outputs, "labels")
    # highest fake probability = last pool rows are selected
    assert len(ProbsOnlyStrategy.seen) == 3


def test_impossible_budget_fails_before_training(task, tmp_path):
    loop, fits = make_loop(task, tmp_path, iterations=10, k=50)
    with pytest.raises(BudgetError, match="10 × 50 = 500 > 280"):
        loop.run()
    assert fits == []


def test_resume_continues_from_last_finished_iteration(task, tmp_path):
    full, _ = make_loop(task, tmp_path / "a")
    expected = full.run()
    partial, _ = make_loop(task, tmp_path / "b", iterations=3)
    partial.al = ALConfig(iterations=1, batch_size=10)
    partial.run()
    resumed, fits = make_loop(task, tmp_path / "b")
    got = resumed.run()
    assert [r["iteration"] for r in got] == [0, 1, 2, 3]
    assert [r["selected_ids"] for r in got] == [r["selected_ids"] for r in expected]
    assert fits[0] == (1, 30)  # M1 refit to select batch 2, nothing before it
    lines = (tmp_path / "b" / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    store = ResultsStore(tmp_path)
    store.append({"iteration": 0})
    with open(store.results_path, "a") as handle:
        handle.write('{"iteration": 1, "trunc')
    assert [r["iteration"] for r in store.records()] == [0]
    store.append({"iteration": 1})
    assert [r["iteration"] for r in store.records()] == [0, 1]
    with pytest.raises(AssertionError, match="already"):
        store.append({"iteration": 1})


def test_seed_builders(task):
    rng = np.random.default_rng(0)
    labels = task.train["label"].to_numpy()
    seed = PositivesSeed(positives=10, weak_negatives=20).build(task, Oracle(labels), rng)
    assert seed.labels[:10].tolist() == [1] * 10 and seed.labels[10:].tolist() == [0] * 20
    assert seed.annotated.sum() == 10
    warm = WarmStartSeed(per_class=5).build(task, Oracle(labels), rng)
    assert sorted(warm.labels.tolist()) == [0] * 5 + [1] * 5
    query = QuerySeed(size=10, weak_negatives=5).build(task, Oracle(labels), rng)
    assert all("great" in t for t in task.train["text"].iloc[query.rows[:10]])
    assert ColdStartSeed().build(task, Oracle(labels), rng).rows.size == 0


def test_seed_errors_say_what_to_change(task):
    rng = np.random.default_rng(0)
    labels = task.train["label"].to_numpy()
    with pytest.raises(SeedError, match="needs 500 positive examples"):
        PositivesSeed(positives=500).build(task, Oracle(labels), rng)
    no_match = synthetic_task()
    object.__setattr__(no_match, "query", type(task.query)(kind="substring", terms=("zzz",)))
    with pytest.raises(SeedError, match="matches no pool example"):
        QuerySeed().build(no_match, Oracle(labels), rng)
    single = InitialSet(np.arange(5), np.zeros(5, dtype=int), np.ones(5, bool))
    with pytest.raises(SeedError, match="only negative examples"):
        require_both_classes(single, task, "balanced")


def test_cold_start_first_batch_is_random_then_model_based(task, tmp_path):
    loop, fits = make_loop(task, tmp_path, seed_builder=ColdStartSeed())
    records = loop.run()
    assert records[0]["train_size"] == 0 and "accuracy" not in records[0]
    assert fits[0] == (1, 10)
