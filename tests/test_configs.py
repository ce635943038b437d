"""Every config under conf/ composes, and every component config instantiates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.grid import block_runs
from al_bert.model.backbones import BackboneConfig
from al_bert.model.training import TrainingConfig
from al_bert.strategies.base import Strategy
from al_bert.weighting.base import Weighting
from tests.conftest import compose_config

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def composed(overrides: list[str]):
    return compose_config(overrides)


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
    from al_bert.model.module import ALClassifier

    trainer = instantiate(composed(["trainer=ein_dor"]).trainer)
    backbone = BackboneConfig(name_or_path="tiny-random-bert", head_lr=1e-2)
    module = ALClassifier(backbone, trainer.optim(backbone), total_steps=100)
    optimizer = module.configure_optimizers()["optimizer"]
    assert optimizer.defaults["eps"] == 1e-6 and optimizer.defaults["fused"]
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
    """Two machines (mirror, caches, output folder elsewhere) get one run key and one iteration-0 key,
    so `make run` (which exports the mirror) and `python -m al_bert` resume each other's runs."""
    from al_bert.tracking.runkey import ITERATION0_KEYS, run_key, sub_key

    here = composed(
        ["paths.data.mirror=/data/a", "paths.data.cache_dir=/tmp/x", "paths.data.download=false"]
    )
    there = composed(
        [
            "paths.data.mirror=/mnt/b",
            "paths.data.base_url=http://127.0.0.1:9/",
            "paths.cache_dir=/scratch/c",
            "paths.output_root=/elsewhere",
        ]
    )
    assert "mirror" not in here.dataset and "cache_dir" not in here.dataset
    assert run_key(here) == run_key(there)
    assert sub_key(here, ITERATION0_KEYS) == sub_key(there, ITERATION0_KEYS)
    assert run_key(composed(["dataset.positive_class=HUM"])) != run_key(here)


def test_fused_adamw_enters_the_key_only_when_it_differs_from_earlier_runs():
    """Runs made before ``trainer.fused_adamw`` existed used the per-tensor loop: ``false`` keeps their
    keys, the fused default (rounded differently) gets keys of its own, M0 cache included."""
    from al_bert.tracking.runkey import ITERATION0_KEYS, identity, run_key, sub_key

    fused, loop = composed([]), composed(["trainer.fused_adamw=false"])
    earlier = identity(loop)  # what a run.json written before the setting holds
    assert fused.trainer.fused_adamw is True and "fused_adamw" not in earlier["trainer"]
    assert run_key(earlier) == run_key(loop) != run_key(fused)
    assert sub_key(loop, ITERATION0_KEYS) != sub_key(fused, ITERATION0_KEYS)
    assert instantiate(fused.trainer).optim(BackboneConfig()).fused


def test_committed_reproduction_runs_keep_their_keys():
    """Every committed reproduction run is a run of the grid as composed today (same key), and the
    config in its run.json (older ones name the data mirror inside the dataset node) maps to the same
    key: a fresh clone resumes from them instead of training them again."""
    import importlib.util
    import json

    from al_bert.tracking.runkey import run_key

    spec = importlib.util.spec_from_file_location("run_sweep", REPO / "sweeps" / "run_sweep.py")
    assert spec and spec.loader
    run_sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_sweep)
    blocks = run_sweep.load_blocks("reproduce", "cpu", None)
    grid = {d.name for b in blocks for d in run_sweep.run_dirs(block_runs(b))}
    committed = sorted((REPO / "reproduction" / "runs").glob("*/run.json"))
    assert committed, "the committed reproduction runs are missing"
    for path in committed:
        assert path.parent.name in grid, path
        assert run_key(json.loads(path.read_text())["config"]) == path.parent.name, path


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


def test_console_script_composes_from_any_directory(tmp_path):
    import shutil
    import subprocess

    script = shutil.which("al-bert")
    assert script, "the al-bert console script is not installed (pip install -e .)"
    shown = subprocess.run(
        [script, "--cfg", "job", "strategy=badge"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "al_bert.strategies.badge.BadgeStrategy" in shown.stdout


@pytest.mark.parametrize(
    "args, named",
    [
        (["strategy=nonexistent"], "strategy=nonexistent: no such option"),
        (["strategy=least_confidenc"], "did you mean least_confidence?"),
        (["trainer.lrr=0.1"], "trainer.lrr: no such key in trainer (did you mean lr?)"),
        (["+experiment=nonexistent"], "experiment=nonexistent"),
        (["seed=0,1"], "add -m"),
        (["trainer.lr"], "cannot parse the override 'trainer.lr'"),
        (["--multirun", "strategy=random,nonexistent"], "strategy=nonexistent"),
        (["--multirun", "strategy=core_set,dal", "strategy.backend=torch"], "strategy.backend"),
    ],
)
def test_composition_errors_are_one_line_naming_the_key(args, named):
    from al_bert.__main__ import check_overrides
    from al_bert.errors import ConfigError

    with pytest.raises(ConfigError) as error:
        check_overrides(args)
    assert named in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--multirun", "strategy=random,badge", "seed=range(0,3)"],
        ["+launcher=joblib", "hydra.launcher.n_jobs=2", "+experiment=trec_imb"],
        ["--cfg", "job", "strategy=nonexistent"],  # options besides -m: left to Hydra
        ["--help"],
    ],
)
def test_command_lines_that_compose_pass_the_check(args):
    from al_bert.__main__ import check_overrides

    check_overrides(args)


def test_validators_name_the_key_value_and_what_is_allowed():
    from al_bert.errors import ConfigError
    from al_bert.validation import choice, finite_number, flag, whole_number

    cases = [
        (
            lambda: whole_number("trainer.max_epochs", 2.5, low=1),
            "=2.5: must be a whole number ≥ 1",
        ),
        (lambda: whole_number("seed", 2**32, low=0, high=2**32 - 1), "in [0, 4294967295]"),
        (lambda: finite_number("model.dropout", 1.0, low=0, high=1, open_high=True), "in [0, 1)"),
        (lambda: finite_number("trainer.lr", float("nan"), low=0, open_low=True), "=nan: must"),
        (lambda: flag("strategy.bootstrap", 1), "strategy.bootstrap=1: must be true or false"),
        (lambda: choice("trainer.accelerator", ["auto"], ("auto", "cpu")), "one of auto, cpu"),
    ]
    for call, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            call()
    assert whole_number("limit.train", None, low=1, nullable=True) is None
    assert finite_number("trainer.lr", 1, low=0, open_low=True) == 1.0


def test_cli_composition_error_exits_2_with_one_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "al_bert",
            f"paths.output_root={tmp_path}",
            "trainer.nonexistent_key=1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("al-bert: trainer.nonexistent_key: no such key")
    assert not (tmp_path / "runs").exists()
