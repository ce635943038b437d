"""The active-learning loop (paper 2, Algorithm 1; paper 1 §3.2) — the only one in the project.

seed L0 → fit M0 from the pretrained weights → for t = 1..T: one pool inference with M_{t−1} → weights →
the strategy selects k rows of U → the oracle reveals their labels → fit M_t from the pretrained weights
on L_t → evaluate on test → append the iteration's record.

The loop drives a :class:`~al_bert.learner.Learner` (fit / infer / predict_test / release) and knows no
model, no concrete strategy and no file format beyond the results store.

Resume: after each finished iteration the labelled set is saved atomically; every random choice of
iteration t draws from a generator derived from (seed, t), so a resumed run makes the same choices as
an uninterrupted one, and the models are refit deterministically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from al_bert.data.task import Task
from al_bert.errors import BudgetError
from al_bert.learner import Learner
from al_bert.metrics.classification import classification_metrics
from al_bert.metrics.stopping import stopping_statistics
from al_bert.oracle import Oracle
from al_bert.outputs import InferenceRequest, PoolOutputs
from al_bert.seeding.builders import InitialSet, SeedBuilder, require_both_classes
from al_bert.stopping import StoppingCriterion, stopped_by
from al_bert.strategies.base import Strategy, sample_weighted
from al_bert.tracking.store import ResultsStore
from al_bert.validation import whole_number
from al_bert.weighting.base import Weighting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ALConfig:
    """The ``al`` config node."""

    iterations: int = 5
    batch_size: int = 50

    def __post_init__(self) -> None:
        whole_number("al.iterations", self.iterations, low=0)
        whole_number("al.batch_size", self.batch_size, low=1)


class Tracker(Protocol):
    """Receives every finished iteration's record (W&B, the console)."""

    def log_iteration(self, record: dict[str, Any]) -> None: ...


class Progress(Protocol):
    """Told when an iteration enters a phase (``train``, ``infer``, ``select``, ``evaluate``)."""

    def phase(self, iteration: int, name: str) -> None: ...


class BatchAnalysis(Protocol):
    """Per-iteration statistics of a selected batch, from the same pool inference the strategy used."""

    request: InferenceRequest

    def __call__(self, outputs: PoolOutputs, selected: np.ndarray) -> dict[str, float]: ...


def derived_rng(seed: int, iteration: int, purpose: int) -> np.random.Generator:
    """The generator for one purpose of one iteration (0: seed set, 1: selection)."""
    return np.random.default_rng([int(seed), int(iteration), int(purpose)])


@dataclass
class LabelledSet:
    """L: rows, training labels, which were annotated (spent budget), and when each row joined."""

    rows: np.ndarray
    labels: np.ndarray
    annotated: np.ndarray
    joined: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def from_initial(cls, seed: InitialSet) -> LabelledSet:
        return cls(seed.rows, seed.labels, seed.annotated, np.zeros(seed.rows.size, dtype=np.int64))

    def add(self, rows: np.ndarray, labels: np.ndarray, iteration: int) -> None:
        self.rows = np.concatenate([self.rows, rows])
        self.labels = np.concatenate([self.labels, labels])
        self.annotated = np.concatenate([self.annotated, np.ones(rows.size, bool)])
        self.joined = np.concatenate([self.joined, np.full(rows.size, iteration, dtype=np.int64)])

    def upto(self, iteration: int) -> LabelledSet:
        keep = self.joined <= iteration
        return LabelledSet(
            self.rows[keep], self.labels[keep], self.annotated[keep], self.joined[keep]
        )

    def to_state(self) -> dict[str, list[int]]:
        return {
            "rows": self.rows.tolist(),
            "labels": self.labels.tolist(),
            "annotated": self.annotated.astype(int).tolist(),
            "joined": self.joined.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, list[int]]) -> LabelledSet:
        return cls(
            np.asarray(state["rows"], dtype=np.int64),
            np.asarray(state["labels"], dtype=np.int64),
            np.asarray(state["annotated"], dtype=bool),
            np.asarray(state["joined"], dtype=np.int64),
        )


def initial_set(
    task: Task, seed_builder: SeedBuilder, oracle: Oracle, seed: int, scenario: str
) -> InitialSet:
    """L0 of a run: the seed builder's draw from the generator of (seed, iteration 0)."""
    initial = seed_builder.build(task, oracle, derived_rng(seed, 0, 0))
    require_both_classes(initial, task, scenario)
    return initial


def replay_labelled(
    initial: InitialSet, records: Sequence[dict[str, Any]], ids: np.ndarray, oracle: Oracle
) -> LabelledSet:
    """L after the recorded iterations, from the records alone (``results.jsonl``, the source of
    truth): L0 and every recorded batch (``selected_ids``, the train split's ``id``) labelled again."""
    labelled = LabelledSet.from_initial(initial)
    position = {str(row_id): i for i, row_id in enumerate(ids)}
    for record in records:
        if int(record["iteration"]) == 0:
            continue
        rows = np.asarray([position[str(i)] for i in record["selected_ids"]], dtype=np.int64)
        labelled.add(rows, oracle.label(rows), int(record["iteration"]))
    return labelled


class ActiveLearningLoop:
    """Runs one AL experiment and appends one record per iteration to the results store."""

    def __init__(
        self,
        *,
        task: Task,
        learner: Learner,
        strategy: Strategy,
        weighting: Weighting,
        seed_builder: SeedBuilder,
        al: ALConfig,
        seed: int,
        store: ResultsStore,
        trackers: Sequence[Tracker] = (),
        analyses: Sequence[BatchAnalysis] = (),
        progress: Progress | None = None,
        run_info: dict[str, Any] | None = None,
        scenario: str = "",
        stopping: Sequence[StoppingCriterion] = (),
    ) -> None:
        self.task, self.learner = task, learner
        self.strategy, self.weighting, self.seed_builder = strategy, weighting, seed_builder
        self.al, self.seed, self.store = al, seed, store
        self.trackers, self.analyses = list(trackers), list(analyses)
        self.progress = progress
        self.run_info = dict(run_info or {})
        self.scenario = scenario
        self.stopping = list(stopping)
        self.oracle = Oracle(task.train["label"].to_numpy())
        # The class the positives_* columns count: the positive class (binary, the papers), the pool's
        # rarest class on a multi-class task (its share of the selection is the imbalance question).
        # A class the pool does not hold (a small limit.train) can never be selected: it is not counted.
        counts = np.bincount(task.train["label"].to_numpy(), minlength=task.num_classes)
        held = np.where(counts > 0, counts, np.iinfo(np.int64).max)
        self.positive_label = int(np.argmin(held)) if task.multiclass else 1
        self.test_labels = task.test["label"].to_numpy()
        self.ids = task.train["id"].astype(str).to_numpy()

    # ------------------------------------------------------------------ checks
    def check_budget(self, seed_size: int) -> None:
        pool = len(self.task.train) - seed_size
        wanted = self.al.iterations * self.al.batch_size
        if wanted > pool:
            raise BudgetError(
                f"impossible budget: al.iterations × al.batch_size = {self.al.iterations} × "
                f"{self.al.batch_size} = {wanted} > {pool} unlabelled pool examples of task "
                f"'{self.task.name}'; lower al.iterations or al.batch_size"
            )

    @property
    def request(self) -> InferenceRequest:
        """One pool inference for the strategy, the weighting and every batch analysis."""
        request = self.strategy.request | self.weighting.request
        for analysis in self.analyses:
            request = request | analysis.request
        return request

    # ------------------------------------------------------------------ the loop
    def run(self) -> list[dict[str, Any]]:
        try:
            return self._run()
        finally:
            self.learner.release()

    def _run(self) -> list[dict[str, Any]]:
        records = self.store.records()
        state = self.store.load_state()
        if records:
            start = int(records[-1]["iteration"]) + 1
            if state is None:
                labelled = self._rebuild_labelled(records)
            else:
                labelled = LabelledSet.from_state(state["labelled"]).upto(start - 1)
            log.info("resuming %s at iteration %d", self.store.run_dir, start)
        else:
            labelled = LabelledSet.from_initial(self._initial_set())
            start = 0
        self.check_budget(int(labelled.upto(0).rows.size))
        has_model = False
        # M_{t-1}'s stop-set (test texts) predictions, for the stopping statistics of iteration t.
        previous_probs: np.ndarray | None = None
        if 0 < start <= self.al.iterations:
            has_model = self._fit(labelled, start - 1)[0]
            if has_model:
                previous_probs = self.learner.predict_test()
        for iteration in range(start, self.al.iterations + 1):
            timings: dict[str, float] = {}
            selected = np.zeros(0, dtype=np.int64)
            batch_stats: dict[str, float] = {}
            if iteration > 0:
                selected, batch_stats = self._select(has_model, labelled, iteration, timings)
                labelled.add(selected, self.oracle.label(selected), iteration)
            has_model, timings["train_seconds"] = self._fit(labelled, iteration)
            started = time.perf_counter()
            metrics: dict[str, Any] = {}
            if has_model:
                self._phase(iteration, "evaluate")
                test_probs = self.learner.predict_test()
                metrics = {
                    **classification_metrics(test_probs, self.test_labels),
                    **stopping_statistics(test_probs, previous_probs),
                }
                previous_probs = test_probs
            timings["eval_seconds"] = time.perf_counter() - started
            record = self._record(iteration, labelled, selected, metrics, timings, batch_stats)
            if self.stopping:
                record["stopped_by"] = stopped_by(self.stopping, [*records, record])
            # State first: a kill between the two writes redoes this iteration identically.
            self.store.save_state({"iteration": iteration, "labelled": labelled.to_state()})
            self.store.append(record)
            for tracker in self.trackers:
                tracker.log_iteration(record)
            records.append(record)
        return records

    def _phase(self, iteration: int, name: str) -> None:
        if self.progress is not None:
            self.progress.phase(iteration, name)

    def _initial_set(self) -> InitialSet:
        return initial_set(self.task, self.seed_builder, self.oracle, self.seed, self.scenario)

    def _rebuild_labelled(self, records: list[dict[str, Any]]) -> LabelledSet:
        log.warning(
            "%s has results but no readable state.json: rebuilding L from the results",
            self.store.run_dir,
        )
        return replay_labelled(self._initial_set(), records, self.ids, self.oracle)

    def _fit(self, labelled: LabelledSet, iteration: int) -> tuple[bool, float]:
        """Fit M_iteration on L (nothing to fit on an empty L: cold start); (has a model, seconds)."""
        if labelled.rows.size == 0:
            self.learner.release()
            return False, 0.0
        self._phase(iteration, "train")
        started = time.perf_counter()
        self.learner.fit(labelled.rows, labelled.labels, iteration)
        return True, time.perf_counter() - started

    def _select(
        self,
        has_model: bool,
        labelled: LabelledSet,
        iteration: int,
        timings: dict[str, float],
    ) -> tuple[np.ndarray, dict[str, float]]:
        pool = np.setdiff1d(np.arange(len(self.task.train)), labelled.rows)
        rng = derived_rng(self.seed, iteration, 1)
        if not has_model:
            # Cold start (paper 2 §5.9): no model yet, so the first batch is uniform random.
            timings["infer_seconds"] = 0.0
            started = time.perf_counter()
            chosen = sample_weighted(np.ones(pool.size), self.al.batch_size, rng)
            timings["select_seconds"] = time.perf_counter() - started
            return pool[chosen], {}
        self._phase(iteration, "infer")
        started = time.perf_counter()
        outputs = self.learner.infer(self.request, pool, labelled.rows, labelled.labels, iteration)
        timings["infer_seconds"] = time.perf_counter() - started
        self._phase(iteration, "select")
        started = time.perf_counter()
        weights = self.weighting(outputs)
        chosen = np.asarray(
            self.strategy.select(outputs, weights, self.al.batch_size, rng), dtype=np.int64
        )
        timings["select_seconds"] = time.perf_counter() - started
        if chosen.size != self.al.batch_size or np.unique(chosen).size != chosen.size:
            raise AssertionError(
                f"strategy {self.strategy.name} returned {chosen.size} rows, some repeated"
            )
        stats: dict[str, float] = {}
        for analysis in self.analyses:
            stats.update(analysis(outputs, chosen))
        return pool[chosen], stats

    def _record(
        self,
        iteration: int,
        labelled: LabelledSet,
        selected: np.ndarray,
        metrics: dict[str, Any],
        timings: dict[str, float],
        batch_stats: dict[str, float],
    ) -> dict[str, Any]:
        is_positive = labelled.labels == self.positive_label
        annotated_positives = is_positive[labelled.annotated]
        selected_positives = is_positive[labelled.joined >= 1]
        record: dict[str, Any] = dict(self.run_info)
        record.update(
            iteration=iteration,
            train_size=int(labelled.rows.size),
            annotated=int(labelled.annotated.sum()),
            # Every annotated positive, seed included.
            positives_labelled=int(annotated_positives.sum()),
            # Paper 2 §5.2: positives among the examples the strategy selected (iterations 1..t),
            # never the seed or warm start; undefined (null) before anything is selected.
            positives_selected=int(selected_positives.sum()),
            positives_ratio=float(selected_positives.mean()) if selected_positives.size else None,
            batch_positives=int(is_positive[labelled.joined == iteration].sum())
            if iteration
            else 0,
            selected_ids=self.ids[selected].tolist(),
        )
        if self.task.multiclass:
            record["rarest_class"] = self.task.class_name(self.positive_label)
        record.update(metrics)
        record.update(timings)
        record.update(batch_stats)
        return record
