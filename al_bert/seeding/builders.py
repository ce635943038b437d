"""InitialSet builders: the initial labelled set L0 of each scenario (paper 1 §3.2; paper 2 §5.4, §5.9).

A builder sees the train split (the pool) only, never dev or test. Gold labels reach L0 through the
:class:`~al_bert.oracle.Oracle` (they spend budget); weak negatives are added with label 0 without asking
it (paper 1: "weakly labeled as negative examples, without the need for additional annotation budget").

Multi-class tasks (beyond the papers; docs/reproducibility.md): "positive" means the task's target class
(``dataset.positive_class``); a random example of another class has no single weak label, so the imbalanced
scenario's "others" are labelled by the oracle (they spend budget), warm start draws ``per_class`` of every
class, and the keyword-query scenario (a query finds positives) is binary only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from al_bert.data.queries import query_matches
from al_bert.data.task import Task
from al_bert.errors import ConfigError, SeedError
from al_bert.oracle import Oracle
from al_bert.validation import whole_number


@dataclass
class InitialSet:
    """L0: train-split rows, the labels training uses, and which rows were annotated (spent budget)."""

    rows: np.ndarray
    labels: np.ndarray
    annotated: np.ndarray

    def __post_init__(self) -> None:
        self.rows = np.asarray(self.rows, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.annotated = np.asarray(self.annotated, dtype=bool)
        if np.unique(self.rows).size != self.rows.size:
            raise AssertionError("a seed row occurs twice")


class SeedBuilder(ABC):
    """Build L0 for a task (the ``seed_builder`` config group)."""

    name = "seed"
    scenario: ClassVar[str] = ""
    """The scenario whose L0 this builder makes; a run with another scenario is rejected."""

    @abstractmethod
    def build(self, task: Task, oracle: Oracle, rng: np.random.Generator) -> InitialSet: ...

    @staticmethod
    def _draw(
        rows: np.ndarray, size: int, rng: np.random.Generator, what: str, task: Task
    ) -> np.ndarray:
        if rows.size < size:
            raise SeedError(
                f"cannot build the seed for task '{task.name}': it needs {size} {what} but the pool has "
                f"{rows.size}; lower the seed size or pick another scenario"
            )
        return np.sort(rng.choice(rows, size=size, replace=False))

    def _add_weak_negatives(
        self,
        task: Task,
        oracle: Oracle,
        annotated: np.ndarray,
        count: int,
        rng: np.random.Generator,
    ) -> InitialSet:
        labels = oracle.label(annotated)
        rest = np.setdiff1d(np.arange(len(task.train)), annotated)
        weak = (
            self._draw(rest, count, rng, "examples left for weak negatives", task)
            if count
            else rest[:0]
        )
        if task.multiclass:  # no weak label for "another class": the oracle labels the others
            rows = np.concatenate([annotated, weak])
            return InitialSet(rows, oracle.label(rows), np.ones(rows.size, bool))
        return InitialSet(
            rows=np.concatenate([annotated, weak]),
            labels=np.concatenate([labels, np.zeros(weak.size, dtype=np.int64)]),
            annotated=np.concatenate([np.ones(annotated.size, bool), np.zeros(weak.size, bool)]),
        )


def query_scenario_is_binary(what: str) -> str:
    """The one line that refuses the keyword-query scenario on a multi-class task (``what`` names it)."""
    return (
        f"scenario=imbalanced_practical is binary (a keyword query finds positives) and {what} is "
        "multi-class; use scenario=imbalanced, balanced, warm_start or cold_start"
    )


def require_both_classes(seed: InitialSet, task: Task, scenario: str) -> None:
    """A classifier cannot be trained on one class: stop with what to change."""
    classes = np.unique(seed.labels)
    if seed.rows.size and classes.size < 2:
        only = (
            f"class {task.class_name(int(classes[0]))!r}"
            if task.multiclass
            else ("positive" if classes[0] == 1 else "negative")
        )
        raise SeedError(
            f"the seed of scenario '{scenario}' on task '{task.name}' has only {only} examples "
            f"({seed.rows.size} rows); a classifier needs both classes — use scenario=imbalanced or "
            f"scenario=warm_start, or a larger seed"
        )


class RandomSeed(SeedBuilder):
    """Balanced scenario: ``size`` random pool examples, annotated."""

    name = "random"
    scenario = "balanced"

    def __init__(self, size: int = 100) -> None:
        self.size = whole_number("seed_builder.size", size, low=1)

    def build(self, task: Task, oracle: Oracle, rng: np.random.Generator) -> InitialSet:
        rows = self._draw(np.arange(len(task.train)), self.size, rng, "examples", task)
        return InitialSet(rows, oracle.label(rows), np.ones(rows.size, bool))


class PositivesSeed(SeedBuilder):
    """Imbalanced scenario: ``positives`` random positives (annotated) + ``weak_negatives`` random others.

    Simulates a high-precision heuristic that yields an unbiased sample of the positive class. On a
    multi-class task: the target class's examples, and the others labelled by the oracle.
    """

    name = "positives"
    scenario = "imbalanced"

    def __init__(self, positives: int = 100, weak_negatives: int = 100) -> None:
        self.positives = whole_number("seed_builder.positives", positives, low=1)
        self.weak_negatives = whole_number("seed_builder.weak_negatives", weak_negatives, low=0)

    def build(self, task: Task, oracle: Oracle, rng: np.random.Generator) -> InitialSet:
        candidates = np.flatnonzero(task.train["label"].to_numpy() == task.target_label)
        what = (
            f"examples of class {task.positive_class!r}" if task.multiclass else "positive examples"
        )
        rows = self._draw(candidates, self.positives, rng, what, task)
        return self._add_weak_negatives(task, oracle, rows, self.weak_negatives, rng)


class QuerySeed(SeedBuilder):
    """Imbalanced-practical scenario: ``size`` random matches of the task's keyword query, annotated,
    + ``weak_negatives`` random others (paper 1 §3.2, Table 5)."""

    name = "query"
    scenario = "imbalanced_practical"

    def __init__(self, size: int = 100, weak_negatives: int = 100) -> None:
        self.size = whole_number("seed_builder.size", size, low=1)
        self.weak_negatives = whole_number("seed_builder.weak_negatives", weak_negatives, low=0)

    def build(self, task: Task, oracle: Oracle, rng: np.random.Generator) -> InitialSet:
        if task.multiclass:
            raise SeedError(
                query_scenario_is_binary(f"task '{task.name}' ({task.num_classes} classes)")
            )
        if task.query is None:
            raise SeedError(
                f"scenario imbalanced_practical needs a keyword query, and task '{task.name}' has none; "
                f"set dataset.query or use scenario=imbalanced"
            )
        matches = np.flatnonzero(query_matches(task.query, task.train["text"].astype(str).tolist()))
        if matches.size == 0:
            raise SeedError(
                f"the keyword query of task '{task.name}' matches no pool example; "
                f"change dataset.query"
            )
        rows = self._draw(matches, self.size, rng, "keyword-query matches", task)
        return self._add_weak_negatives(task, oracle, rows, self.weak_negatives, rng)


class WarmStartSeed(SeedBuilder):
    """Paper 2 §5.9: ``per_class`` random examples of each class, annotated (default 5 + 5; C × 5 on a
    multi-class task)."""

    name = "warm_start"
    scenario = "warm_start"

    def __init__(self, per_class: int = 5) -> None:
        self.per_class = whole_number("seed_builder.per_class", per_class, low=1)

    def build(self, task: Task, oracle: Oracle, rng: np.random.Generator) -> InitialSet:
        labels = task.train["label"].to_numpy()
        if task.multiclass:
            drawn = [
                self._draw(
                    np.flatnonzero(labels == c), self.per_class, rng,
                    f"examples of class {task.class_name(c)!r}", task,
                )
                for c in range(task.num_classes)
            ]  # fmt: skip
            rows = np.sort(np.concatenate(drawn))
            return InitialSet(rows, oracle.label(rows), np.ones(rows.size, bool))
        pos = self._draw(
            np.flatnonzero(labels == 1), self.per_class, rng, "positive examples", task
        )
        neg = self._draw(
            np.flatnonzero(labels == 0), self.per_class, rng, "negative examples", task
        )
        rows = np.sort(np.concatenate([pos, neg]))
        return InitialSet(rows, oracle.label(rows), np.ones(rows.size, bool))


class ColdStartSeed(SeedBuilder):
    """Paper 2 §5.9 cold start: L0 is empty; the first batch is drawn uniformly at random."""

    name = "cold_start"
    scenario = "cold_start"

    def build(self, task: Task, oracle: Oracle, rng: np.random.Generator) -> InitialSet:
        empty = np.zeros(0, dtype=np.int64)
        return InitialSet(empty, empty, np.zeros(0, bool))


def check_scenario(builder: SeedBuilder, scenario: str) -> None:
    """The scenario owns its builder: ``scenario=balanced seed_builder=positives`` would run one scenario
    and record another, so it is rejected before any work."""
    if builder.scenario and scenario and builder.scenario != scenario:
        raise ConfigError(
            f"seed_builder={builder.name} builds the initial set of scenario {builder.scenario}, but "
            f"scenario={scenario}: drop the seed_builder override (each scenario selects its own) or "
            f"use scenario={builder.scenario}"
        )
