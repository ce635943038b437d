"""The per-iteration test metrics against scikit-learn: binary (the papers' columns, unchanged) and C > 2
classes (macro-F1, balanced accuracy, macro one-vs-rest AUC, per-class recall)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from al_bert.metrics.classification import METRIC_NAMES, classification_metrics


def test_binary_metrics_keep_the_papers_columns():
    rng = np.random.default_rng(0)
    p, y = rng.uniform(size=300), rng.integers(0, 2, 300)
    m = classification_metrics(p, y)
    assert tuple(m) == METRIC_NAMES
    pred = (p >= 0.5).astype(int)
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-6)


def test_multiclass_metrics_equal_scikit_learn():
    rng = np.random.default_rng(1)
    p, y = rng.dirichlet(np.ones(6), size=400), rng.integers(0, 6, 400)
    m = classification_metrics(p, y)
    pred = p.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr"), abs=1e-6)
    per_class = recall_score(y, pred, average=None)
    assert [m[f"recall_{c}"] for c in range(6)] == pytest.approx(list(per_class))
    assert "f1" not in m  # no positive class: macro-F1 is the headline


def test_a_class_absent_from_the_test_labels_leaves_the_averages_defined():
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    y = np.array([0, 1, 1, 0])  # class 2 never occurs
    m = classification_metrics(p, y)
    assert np.isnan(m["recall_2"]) and m["balanced_accuracy"] == 1.0 and m["roc_auc"] == 1.0
