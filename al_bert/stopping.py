"""Stopping criteria: when could a labelling campaign have stopped, and what would that have cost?

A criterion never stops a research run. It reads the per-iteration records (their stop-set statistics,
:mod:`al_bert.metrics.stopping`, and their metrics) and answers :meth:`StoppingCriterion.fires_at`: the
first iteration at which it would have said "stop", or None. Each record lists the criteria that had
fired by its iteration (``stopped_by``); the sweep comparison evaluates them again from the records with
the sweep's ``stopping`` config (:func:`al_bert.analysis.stopping.stopping_table`), so changing a
threshold needs no new run. ``stopping`` is therefore not part of a run's key.

Defaults are the libraries' own (small-text 2.0.0.dev3 / v1.3.3+, baal 2.1.0) where they have one; where
they have none (``MaxIterations``, ``LabellingBudget``, ``LowAverageUncertainty``) the value is ours and
docs/reproducibility.md says so.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from al_bert.validation import finite_number, text, whole_number


def _series(records: Sequence[dict[str, Any]], key: str) -> list[float | None]:
    """``key`` of every record in iteration order (None where a record lacks it)."""
    values = []
    for record in records:
        value = record.get(key)
        values.append(None if value is None or not np.isfinite(value) else float(value))
    return values


class StoppingCriterion(ABC):
    """Reads records of iterations 0…t and says whether the campaign would have stopped at t."""

    name: ClassVar[str] = "criterion"

    @abstractmethod
    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        """Whether the check made after the last of ``records`` (iterations 0…t, in order) says stop."""

    def fires_at(self, records: Sequence[dict[str, Any]]) -> int | None:
        """The first iteration whose check says stop (the check runs after every iteration's model)."""
        ordered = sorted(records, key=lambda r: int(r["iteration"]))
        for end in range(1, len(ordered) + 1):
            if self.stops(ordered[:end]):
                return int(ordered[end - 1]["iteration"])
        return None


class KappaAverage(StoppingCriterion):
    """Stabilising predictions (Bloodgood & Vijay-Shanker 2009; small-text ``KappaAverage``): stop when
    the mean Cohen's κ between consecutive models' stop-set predictions over the last ``window_size``
    iterations is ≥ ``kappa``."""

    name = "kappa_average"

    def __init__(self, window_size: int = 3, kappa: float = 0.99) -> None:
        self.window_size = whole_number("stopping.kappa_average.window_size", window_size, low=1)
        self.kappa = finite_number("stopping.kappa_average.kappa", kappa, low=-1, high=1)

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        kappas = _series(records, "stop_kappa")[-self.window_size :]
        if len(kappas) < self.window_size or any(k is None for k in kappas):
            return False
        return float(np.mean([k for k in kappas if k is not None])) >= self.kappa


class DeltaFScore(StoppingCriterion):
    """Predicted change of F (Altschuler & Bloodgood 2019; small-text ``DeltaFScore``, binary only):
    stop when ΔF between consecutive models' stop-set predictions was < ``threshold`` in each of the last
    ``window_size`` iterations. A multi-class task never fires it."""

    name = "delta_f_score"

    def __init__(self, window_size: int = 3, threshold: float = 0.05) -> None:
        self.window_size = whole_number("stopping.delta_f_score.window_size", window_size, low=1)
        self.threshold = finite_number("stopping.delta_f_score.threshold", threshold, low=0)

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        deltas = _series(records, "stop_delta_f")[-self.window_size :]
        if len(deltas) < self.window_size or any(d is None for d in deltas):
            return False
        return all(d is not None and d < self.threshold for d in deltas)


class ClassificationChange(StoppingCriterion):
    """Classification change (Zhu, Wang & Hovy 2008; small-text ``ClassificationChange``): stop when at
    most a ``threshold`` fraction of the stop-set predictions changed since the last model (0: none)."""

    name = "classification_change"

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = finite_number(
            "stopping.classification_change.threshold", threshold, low=0, high=1
        )

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        changed = _series(records, "stop_changed")[-1]
        return changed is not None and changed <= self.threshold


class OverallUncertainty(StoppingCriterion):
    """Overall uncertainty (Zhu, Wang & Hovy 2008; small-text ``OverallUncertainty``): stop when the mean
    entropy of the stop-set predictions, normalised by log C, is < ``threshold``."""

    name = "overall_uncertainty"

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = finite_number(
            "stopping.overall_uncertainty.threshold", threshold, low=0, high=1, open_high=True
        )

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        value = _series(records, "stop_entropy")[-1]
        return value is not None and value < self.threshold


class MaxIterations(StoppingCriterion):
    """A fixed number of AL iterations (small-text ``MaxIterations``, which has no default; ours: 3)."""

    name = "max_iterations"

    def __init__(self, max_iterations: int = 3) -> None:
        self.max_iterations = whole_number(
            "stopping.max_iterations.max_iterations", max_iterations, low=1
        )

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        return int(records[-1]["iteration"]) >= self.max_iterations


class LabellingBudget(StoppingCriterion):
    """A labelling budget (baal ``LabellingBudgetStoppingCriterion``: examples labelled since the start,
    the seed excluded; baal has no default; ours: 100)."""

    name = "labelling_budget"

    def __init__(self, labelling_budget: int = 100) -> None:
        self.labelling_budget = whole_number(
            "stopping.labelling_budget.labelling_budget", labelling_budget, low=1
        )

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        first = min(records, key=lambda r: int(r["iteration"]))
        return int(records[-1]["annotated"]) - int(first["annotated"]) >= self.labelling_budget


class LowAverageUncertainty(StoppingCriterion):
    """Low average uncertainty (baal ``LowAverageUncertaintyStoppingCriterion``, which has no default):
    stop when the mean least-confidence uncertainty 1 − max_c p_c of the stop set is < ``threshold``
    (ours: 0.05)."""

    name = "low_average_uncertainty"

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = finite_number(
            "stopping.low_average_uncertainty.threshold", threshold, low=0, high=1
        )

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        value = _series(records, "stop_least_confidence")[-1]
        return value is not None and value < self.threshold


class EarlyStopping(StoppingCriterion):
    """A metric that has levelled off (baal ``EarlyStoppingCriterion``: the last ``patience`` + 1 values,
    or all of them while there are no more, lie within ``epsilon`` of the latest, ``np.isclose``'s relative
    1e-5 included; baal's defaults). The metric is the evaluation metric, as baal's loop passes: it reads
    test labels, which a practitioner would replace by a labelled validation set. ``metric="auto"``: F1
    on a binary task, macro-F1 on a multi-class one."""

    name = "early_stopping"

    def __init__(self, metric: str = "auto", patience: int = 10, epsilon: float = 1e-4) -> None:
        self.metric = text("stopping.early_stopping.metric", metric)
        self.patience = whole_number("stopping.early_stopping.patience", patience, low=1)
        self.epsilon = finite_number("stopping.early_stopping.epsilon", epsilon, low=0)

    def stops(self, records: Sequence[dict[str, Any]]) -> bool:
        # Iterations without a model (a cold start's iteration 0) have no metric, as baal appends none.
        metric = self.metric
        if metric == "auto":
            metric = "macro_f1" if any("macro_f1" in r for r in records) else "f1"
        values = [v for v in _series(records, metric) if v is not None]
        if len(values) < self.patience:
            return False
        history = np.asarray(values, dtype=np.float64)
        near = np.isclose(history, history[-1], atol=self.epsilon)
        return bool(near[-(self.patience + 1) :].all())


def stopped_by(
    criteria: Sequence[StoppingCriterion], records: Sequence[dict[str, Any]]
) -> list[str]:
    """The names of the criteria that had fired by the last of ``records``."""
    return [c.name for c in criteria if c.fires_at(records) is not None]
