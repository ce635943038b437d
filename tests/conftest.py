"""Shared fixtures: the offline mirror, small synthetic tasks, isolated output folders."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from al_bert.data.task import KeywordQuery, Task

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
MIRROR = Path(
    os.environ.get("AL_BERT_DATA_MIRROR") or REPO.parent / "shared" / "datasets"
).resolve()
os.environ.setdefault("AL_BERT_DATA_MIRROR", str(MIRROR))
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` (the benchmark and check scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def compose_config(
    overrides: Sequence[str] = (), *, root: Path | None = None, hydra: bool = False
) -> DictConfig:
    """The one way every test composes the app's config (``conf/config.yaml`` + ``overrides``).

    ``root``: results and caches go there (``paths.output_root``), the table is not printed;
    ``hydra``: keep the ``hydra`` node (callbacks, sweep settings)."""
    isolate = [f"paths.output_root={root}", "print_table=false"] if root is not None else []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            config_name="config", overrides=[*isolate, *overrides], return_hydra_config=hydra
        )


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
