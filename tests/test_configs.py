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
    # Paper 1: BERT's TensorFlow defaults; paper 2: transformers' Trainer defaults.
    assert (ein_dor.weight_decay, ein_dor.warmup_ratio, ein_dor.adam_epsilon) == (0.01, 0.1, 1e-6)
    assert ein_dor.max_grad_norm == 1.0
    assert (fairstein.batch_size, fairstein.lr, fairstein.weight_decay) == (8, 5e-5, 0.0)
    assert (fairstein.warmup_ratio, fairstein.adam_epsilon, fairstein.max_grad_norm) == (
        0.0,
        1e-8,
        1.0,
    )


def test_ein_dor_optimiser_groups_decay_and_head_rate():
    from al_bert.model.backbones import BackboneConfig
    from al_bert.model.module import ALClassifier

    trainer = instantiate(composed(["trainer=ein_dor"]).trainer)
    backbone = BackboneConfig(name_or_path="tiny-random-bert", head_lr=1e-2)
    module = ALClassifier(backbone, trainer.optim(backbone), total_steps=100)
    optimizer = module.configure_optimizers()["optimizer"]
    assert optimizer.defaults["eps"] == 1e-6
    names = {id(p): n for n, p in module.named_parameters()}
    for group in optimizer.param_groups:
        group_names = [names[id(p)] for p in group["params"]]
        is_head = group_names[0].startswith("net.classifier.")
        assert all(n.startswith("net.classifier.") == is_head for n in group_names)
        assert group["initial_lr"] == (1e-2 if is_head else 5e-5)  # before warm-up scaling
        no_decay = [n.endswith(("bias", "LayerNorm.weight")) for n in group_names]
        assert all(no_decay) or not any(no_decay)
        assert group["weight_decay"] == (0.0 if all(no_decay) else 0.01)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(names)


def test_run_key_ignores_where_the_data_is_read_from():
    from al_bert.tracking.iteration0 import ITERATION0_KEYS
    from al_bert.tracking.runkey import run_key, sub_key

    here = composed(
        ["dataset.mirror=/data/a", "dataset.cache_dir=/tmp/x", "dataset.download=false"]
    )
    there = composed(["dataset.mirror=/mnt/b", "dataset.base_url=http://127.0.0.1:9/"])
    assert run_key(here) == run_key(there)
    assert sub_key(here, ITERATION0_KEYS) == sub_key(there, ITERATION0_KEYS)
    assert run_key(composed(["dataset.positive_class=HUM"])) != run_key(here)


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
