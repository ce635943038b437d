"""Per-iteration classification metrics on the test split.

Binary tasks (probabilities ``(n,)`` of the positive class, threshold 0.5): accuracy, F1, precision and
recall as in paper 1 (Figures 1, 3–5); balanced accuracy and ROC-AUC as in paper 2 (§5.1), from
torchmetrics' binary functional API. Tasks of C > 2 classes (probabilities ``(n, C)``, the arg-max
predicted): accuracy, macro-F1, balanced accuracy (mean recall over the classes present, as
scikit-learn's), macro one-vs-rest ROC-AUC over the classes present, and each class's recall
(``recall_<c>``).
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_f1_score,
    binary_precision,
    binary_recall,
    binary_specificity,
    multiclass_accuracy,
    multiclass_f1_score,
    multiclass_recall,
)

METRIC_NAMES = ("accuracy", "f1", "precision", "recall", "balanced_accuracy", "roc_auc")


def classification_metrics(
    probs: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, threshold: float = 0.5
) -> dict[str, float]:
    """Binary metrics of positive-class probabilities against 0/1 labels, or the multi-class metrics of
    ``(n, C)`` probabilities against labels 0…C−1 (:func:`multiclass_metrics`).

    ROC-AUC is NaN when the labels hold a single class (it is undefined there).
    """
    if np.ndim(probs) == 2:
        return multiclass_metrics(probs, labels)
    p = torch.tensor(np.asarray(probs, dtype=np.float32))  # a copy: inputs may be read-only views
    y = torch.tensor(np.asarray(labels, dtype=np.int64))
    recall = float(binary_recall(p, y, threshold=threshold))
    specificity = float(binary_specificity(p, y, threshold=threshold))
    single_class = bool(y.min() == y.max())
    return {
        "accuracy": float(binary_accuracy(p, y, threshold=threshold)),
        "f1": float(binary_f1_score(p, y, threshold=threshold)),
        "precision": float(binary_precision(p, y, threshold=threshold)),
        "recall": recall,
        "balanced_accuracy": (recall + specificity) / 2.0,
        "roc_auc": float("nan") if single_class else float(binary_auroc(p, y)),
    }


def multiclass_metrics(
    probs: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor
) -> dict[str, float]:
    """Accuracy, macro-F1, balanced accuracy, macro one-vs-rest ROC-AUC and per-class recall of ``(n, C)``
    class probabilities against labels 0…C−1. Classes absent from ``labels`` enter neither the
    balanced accuracy nor the AUC (their recall is NaN); macro-F1 averages over all C classes."""
    p = torch.tensor(np.asarray(probs, dtype=np.float32))
    y = torch.tensor(np.asarray(labels, dtype=np.int64))
    classes = int(p.shape[1])
    recalls = multiclass_recall(p, y, num_classes=classes, average="none").numpy().astype(float)
    present = np.isin(np.arange(classes), y.numpy())
    recalls[~present] = np.nan
    aucs = [
        float(binary_auroc(p[:, c], (y == c).long()))
        for c in range(classes)
        if present[c] and not bool((y == c).all())
    ]
    return {
        "accuracy": float(multiclass_accuracy(p, y, num_classes=classes, average="micro")),
        "macro_f1": float(multiclass_f1_score(p, y, num_classes=classes, average="macro")),
        "balanced_accuracy": float(np.nanmean(recalls)) if present.any() else float("nan"),
        "roc_auc": float(np.mean(aucs)) if aucs else float("nan"),
        **{f"recall_{c}": float(recalls[c]) for c in range(classes)},
    }
