"""docs/architecture.md's recipes, followed once: a strategy and a weighting added as one module + one YAML
each, with no other edit, compose, pass the generic checks every configured one passes, and run through
the app.

The module goes into the package (``al_bert/strategies/``, ``al_bert/weighting/``) through a temporary
folder added to the package's ``__path__``; the YAML into a temporary copy of ``conf/``. The import
contracts' side (the loop may not import the new module) is in tests/test_architecture.py.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from al_bert.app import run_experiment
from al_bert.config_groups import instantiate_group
from al_bert.strategies.base import Strategy
from al_bert.weighting.base import Weighting
from tests.generic_checks import (
    CONF,
    EXAMPLE_STRATEGY,
    EXAMPLE_WEIGHTING,
    STRATEGY_CHECKS,
    WEIGHTING_CHECKS,
    Example,
    configured,
    pool_outputs,
)

# One AL iteration on a small TREC pool with the tiny BERT, one epoch (tests/test_e2e.py's settings, smaller).
SMALL = [
    "scenario=imbalanced",
    "seed_builder.positives=30",
    "seed_builder.weak_negatives=30",
    "limit.train=300",
    "limit.eval=100",
    "al.iterations=1",
    "al.batch_size=20",
    "logger=none",
    "model=tiny",
    "trainer=fast",
    "trainer.max_epochs=1",
]


def add(example: Example, root: Path, conf: Path) -> None:
    """Follow the recipe: ``al_bert/<package>/<module>.py`` and ``conf/<group>/<module>.yaml``."""
    folder = root / "al_bert" / example.package
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{example.module}.py").write_text(example.source)
    (conf / example.group / f"{example.module}.yaml").write_text(example.config)


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of ``conf/`` and the packages, each with the example strategy and weighting added."""
    copy = tmp_path / "conf"
    shutil.copytree(CONF, copy)
    examples = (EXAMPLE_STRATEGY, EXAMPLE_WEIGHTING)
    for example in examples:
        add(example, tmp_path / "src", copy)
        package = importlib.import_module(f"al_bert.{example.package}")
        extra = str(tmp_path / "src" / "al_bert" / example.package)
        monkeypatch.setattr(package, "__path__", [*package.__path__, extra])
    importlib.invalidate_caches()
    yield copy
    for example in examples:  # the package as it was: no example module imported
        sys.modules.pop(f"al_bert.{example.package}.{example.module}", None)
        vars(importlib.import_module(f"al_bert.{example.package}")).pop(example.module, None)


def composed(conf: Path, overrides: Sequence[str], root: Path) -> DictConfig:
    """As tests/conftest.py's ``compose_config``, from the copy ``conf``."""
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose(
            config_name="config",
            overrides=[f"paths.output_root={root}", "print_table=false", *overrides],
        )


def test_a_new_strategy_is_one_module_and_one_yaml(conf: Path, tmp_path: Path) -> None:
    name = EXAMPLE_STRATEGY.module
    assert name in configured("strategy", conf)  # what tests/test_strategies.py parametrizes over
    strategy = instantiate_group(
        composed(conf, [f"strategy={name}"], tmp_path).strategy, "strategy"
    )
    assert isinstance(strategy, Strategy) and strategy.name == name
    for check in STRATEGY_CHECKS:
        check(strategy, pool_outputs())


def test_a_new_weighting_is_one_module_and_one_yaml(conf: Path, tmp_path: Path) -> None:
    name = EXAMPLE_WEIGHTING.module
    assert name in configured("weighting", conf)  # what tests/test_weighting.py parametrizes over
    overrides = [f"weighting={name}", "weighting.exponent=0.5"]
    weighting = instantiate_group(composed(conf, overrides, tmp_path).weighting, "weighting")
    assert isinstance(weighting, Weighting) and weighting.name == name
    assert weighting.exponent == 0.5  # type: ignore[attr-defined]
    for check in WEIGHTING_CHECKS:
        check(weighting, pool_outputs())


def test_the_new_strategy_and_weighting_run_an_iteration(conf: Path, tmp_path: Path) -> None:
    strategy, weighting = EXAMPLE_STRATEGY.module, EXAMPLE_WEIGHTING.module
    cfg = composed(conf, [*SMALL, f"strategy={strategy}", f"weighting={weighting}"], tmp_path)
    records = run_experiment(cfg)
    assert [r["iteration"] for r in records] == [0, 1]
    assert (records[-1]["strategy"], records[-1]["weighting"]) == (strategy, weighting)
    selected = records[-1]["selected_ids"]
    assert len(selected) == len(set(selected)) == 20
