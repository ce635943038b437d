"""The shared iteration 0 (:class:`SharedIteration0`) with a fake learner: M0 is trained once per key,
every run sharing it sees identical outputs, and the lock holds across processes."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch

from al_bert.learner import CheckpointLearner
from al_bert.loop import ActiveLearningLoop, ALConfig
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.seeding import RandomSeed
from al_bert.strategies.core_set import CoreSet
from al_bert.strategies.least_confidence import LeastConfidence
from al_bert.tracking.iteration0 import Iteration0Cache, SharedIteration0
from al_bert.tracking.store import ResultsStore
from al_bert.weighting.base import Uniform
from tests.conftest import synthetic_task


class FakeLearner:
    """A deterministic stand-in: the "model" is one number derived from L; outputs derive from it."""

    def __init__(self, n_test: int = 80, fit_seconds: float = 0.0, log: Path | None = None) -> None:
        self.n_test, self.fit_seconds, self.log = n_test, fit_seconds, log
        self.weight: float | None = None
        self.fits: list[int] = []
        self.requests: list[InferenceRequest] = []
        self.test_predictions = 0

    def fit(self, rows: np.ndarray, labels: np.ndarray, iteration: int) -> None:
        time.sleep(self.fit_seconds)
        self.fits.append(iteration)
        if self.log is not None:
            with open(self.log, "a") as handle:
                handle.write(f"trained {iteration}\n")
        self.weight = float(np.sum(rows * (labels + 1)) % 97) / 97 + iteration

    def infer(self, request, pool, labelled, labels, iteration) -> PoolOutputs:
        self.requests.append(request)
        assert self.weight is not None
        out = PoolOutputs(pool_positions=np.asarray(pool))
        if Need.PROBS in request.needs or Need.EMBEDDINGS in request.needs:
            out.probs = ((np.asarray(pool) * self.weight) % 1.0).astype(np.float32)
        if Need.EMBEDDINGS in request.needs:
            out.embeddings = np.stack([np.asarray(pool) * self.weight, np.ones(len(pool))], 1)
        if Need.LABELLED_EMBEDDINGS in request.needs:
            out.labelled_embeddings = np.stack([labelled * self.weight, np.ones(len(labelled))], 1)
        return out

    def predict_test(self) -> np.ndarray:
        self.test_predictions += 1
        assert self.weight is not None
        return (np.arange(self.n_test) * self.weight % 1.0).astype(np.float32)

    def release(self) -> None:
        self.weight = None

    def state_dict(self) -> dict[str, torch.Tensor]:
        assert self.weight is not None
        return {"weight": torch.tensor(self.weight, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.weight = float(state["weight"])


def run_loop(strategy, inner: FakeLearner, cache_root: Path, out: Path) -> list[dict]:
    task = synthetic_task()
    learner = SharedIteration0(inner, Iteration0Cache(cache_root, "key"))
    loop = ActiveLearningLoop(
        task=task,
        learner=learner,
        strategy=strategy,
        weighting=Uniform(),
        seed_builder=RandomSeed(size=20),
        al=ALConfig(iterations=2, batch_size=10),
        seed=0,
        store=ResultsStore(out),
        scenario="balanced",
    )
    return loop.run()


def test_fake_learner_is_a_checkpoint_learner() -> None:
    assert isinstance(FakeLearner(), CheckpointLearner)


def test_m0_is_trained_once_across_two_strategies(tmp_path: Path) -> None:
    first, second = FakeLearner(), FakeLearner()
    a = run_loop(LeastConfidence(), first, tmp_path / "cache", tmp_path / "a")
    b = run_loop(CoreSet(), second, tmp_path / "cache", tmp_path / "b")
    assert first.fits == [0, 1, 2]
    assert second.fits == [1, 2]  # M0 came from the cache
    # identical test metrics of M0, computed once
    metrics = ("accuracy", "f1", "roc_auc")
    assert {k: a[0].get(k) for k in metrics} == {k: b[0].get(k) for k in metrics}
    assert first.test_predictions == 3 and second.test_predictions == 2
    # the second run asked the learner only for what the first did not store (embeddings)
    assert Need.PROBS not in second.requests[0].needs
    assert second.requests[0].needs == {Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS}


def test_shared_pool_outputs_are_identical_to_fresh_ones(tmp_path: Path) -> None:
    request = InferenceRequest(frozenset({Need.PROBS, Need.EMBEDDINGS}))
    rows, labels = np.arange(10), np.array([0, 1] * 5)
    pool, labelled = np.arange(10, 60), rows
    fresh = FakeLearner()
    fresh.fit(rows, labels, 0)
    expected = fresh.infer(request, pool, labelled, labels, 1)
    outputs = []
    for _ in range(2):
        shared = SharedIteration0(FakeLearner(), Iteration0Cache(tmp_path, "k"))
        shared.fit(rows, labels, 0)
        outputs.append(shared.infer(request, pool, labelled, labels, 1))
    for got in outputs:
        np.testing.assert_array_equal(got.probs, expected.probs)
        np.testing.assert_array_equal(got.embeddings, expected.embeddings)


def test_later_iterations_are_never_shared(tmp_path: Path) -> None:
    inner = FakeLearner()
    shared = SharedIteration0(inner, Iteration0Cache(tmp_path, "k"))
    for _ in range(2):
        shared.fit(np.arange(5), np.array([0, 1, 0, 1, 0]), 1)
    assert inner.fits == [1, 1]


def _fit_in_process(args: tuple[str, str]) -> float:
    root, log = args
    inner = FakeLearner(fit_seconds=1.0, log=Path(log))
    shared = SharedIteration0(inner, Iteration0Cache(root, "k"))
    shared.fit(np.arange(10), np.array([0, 1] * 5), 0)
    assert inner.weight is not None
    return inner.weight


def test_lock_is_held_across_processes(tmp_path: Path) -> None:
    """Two processes start M0 at once: one trains, the other waits for it and reads its weights."""
    log = tmp_path / "log.txt"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        weights = pool.map(_fit_in_process, [(str(tmp_path / "cache"), str(log))] * 2)
    assert log.read_text().splitlines() == ["trained 0"]
    assert weights[0] == weights[1]
