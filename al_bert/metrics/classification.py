"""Per-iteration classification metrics on the test split (positive class, threshold 0.5).

Accuracy, F1, precision and recall as in paper 1 (Figures 1, 3–5); balanced accuracy and ROC-AUC as in
paper 2 (§5.1). All from torchmetrics' binary functional API.
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
)

METRIC_NAMES = ("accuracy", "f1", "precision", "recall", "balanced_accuracy", "roc_auc")


def classification_metrics(
    probs: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, threshold: float = 0.5
) -> dict[str, float]:
    """Binary metrics of positive-class probabilities against 0/1 labels.

    ROC-AUC is NaN when the labels hold a single class (it is undefined there).
    """
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
