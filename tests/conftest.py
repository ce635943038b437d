"""Shared fixtures: the offline mirror, small synthetic tasks, isolated output folders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from al_bert.data.task import KeywordQuery, Task

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(
    os.environ.get("AL_BERT_DATA_MIRROR") or REPO.parent / "shared" / "datasets"
).resolve()
os.environ.setdefault("AL_BERT_DATA_MIRROR", str(MIRROR))
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def mirror() -> Path:
    assert MIRROR.is_dir(), f"the dataset mirror is expected at {MIRROR} (../shared/datasets)"
    return MIRROR


def synthetic_task(n_train: int = 300, n_test: int = 80, prior: float = 0.3, seed: int = 0) -> Task:
    """Texts whose words reveal the label, so a tiny model can learn something."""
    rng = np.random.default_rng(seed)
    good, bad = ["great", "superb", "lovely", "fine"], ["awful", "dull", "poor", "bad"]

    def frame(n: int, prefix: str) -> pd.DataFrame:
        labels = (rng.random(n) < prior).astype(int)
        texts = [
            " ".join(rng.choice(good if y else bad, 3)) + f" film number {i}"
            for i, y in enumerate(labels)
        ]
        return pd.DataFrame(
            {"id": [f"{prefix}-{i}" for i in range(n)], "text": texts, "label": labels}
        )

    return Task(
        name="synthetic",
        positive_class="good",
        train=frame(n_train, "train"),
        test=frame(n_test, "test"),
        dev=frame(n_test, "dev"),
        query=KeywordQuery(kind="substring", terms=("great",)),
    )


@pytest.fixture
def task() -> Task:
    return synthetic_task()
