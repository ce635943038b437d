"""Every config under conf/ composes, and every component config instantiates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.model.training import TrainingConfig
from al_bert.strategies.base import Strategy
from al_bert.weighting.base import Weighting

CONF = Path(__file__).resolve().parents[1] / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_default_config_composes():
    cfg = composed([])
    assert cfg.scenario.name == "imbalanced_practical"
    assert cfg.al.iterations == 5 and cfg.al.batch_size == 50
    assert cfg.model.name_or_path == "packaged:minilm"


@pytest.mark.parametrize("name", options("experiment"))
def test_every_experiment_loads(name):
    cfg = composed([f"+experiment={name}"])
    OmegaConf.resolve(cfg)
    assert cfg.dataset.name and cfg.scenario.name
    assert cfg.experiment_name == name


@pytest.mark.parametrize("name", options("strategy"))
def test_every_strategy_instantiates(name):
    strategy = instantiate(composed([f"strategy={name}"]).strategy)
    assert isinstance(strategy, Strategy)


@pytest.mark.parametrize("name", options("weighting"))
def test_every_weighting_instantiates(name):
    assert isinstance(instantiate(composed([f"weighting={name}"]).weighting), Weighting)


@pytest.mark.parametrize("name", options("trainer"))
def test_every_trainer_instantiates(name):
    training = instantiate(composed([f"trainer={name}"]).trainer)
    assert isinstance(training, TrainingConfig) and training.name == name


@pytest.mark.parametrize("name", options("scenario"))
def test_every_scenario_picks_a_seed_builder(name):
    cfg = composed([f"scenario={name}"])
    assert cfg.scenario.name == name
    assert instantiate(cfg.seed_builder) is not None


@pytest.mark.parametrize("name", options("dataset"))
def test_every_dataset_config_composes(name):
    cfg = composed([f"dataset={name}"])
    assert cfg.dataset._target_ and cfg.dataset.name


def test_paper_trainers_match_the_papers():
    ein_dor = instantiate(composed(["trainer=ein_dor"]).trainer)
    assert (ein_dor.max_epochs, ein_dor.lr, ein_dor.batch_size, ein_dor.max_length) == (
        5,
        5e-5,
        50,
        100,
    )
    assert ein_dor.select_best_on_dev
    fairstein = instantiate(composed(["trainer=fairstein"]).trainer)
    assert (fairstein.max_epochs, fairstein.max_length, fairstein.select_best_on_dev) == (
        2,
        128,
        False,
    )
    assert fairstein.oversample_positives_to == 0.25


def test_config_typo_fails_with_the_key():
    with pytest.raises(Exception, match="lrr"):
        composed(["trainer.lrr=0.1"])
    with pytest.raises(Exception, match=r"trainer\.precision"):
        instantiate(composed(["trainer.precision=fp8"]).trainer)


def test_multirun_flag_is_accepted_between_overrides():
    from al_bert.__main__ import hoist_multirun_flag

    argv = ["al_bert", "+experiment=trec_imb", "strategy=badge", "-m", "seed=0,1"]
    assert hoist_multirun_flag(argv) == [
        "al_bert",
        "--multirun",
        "+experiment=trec_imb",
        "strategy=badge",
        "seed=0,1",
    ]
    assert hoist_multirun_flag(["al_bert", "seed=1"]) == ["al_bert", "seed=1"]
