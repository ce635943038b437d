"""Multi-class tasks end to end (beyond both papers): trec6 / isear7 and ``dataset=custom multiclass=true``,
their scenarios, every strategy and weighting on C classes, the metrics and the console."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from al_bert.app import run_experiment
from al_bert.console import iteration_line
from al_bert.data.catalog import build_task
from al_bert.data.custom import build_custom_task
from al_bert.data.fetch import FetchSettings
from al_bert.errors import DataError, RunFailure, SeedError
from al_bert.loop import ActiveLearningLoop, ALConfig
from al_bert.model.backbones import BackboneConfig
from al_bert.model.encoder_learner import EncoderLearner
from al_bert.model.training import TrainingConfig
from al_bert.oracle import Oracle
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.seeding import PositivesSeed, QuerySeed, RandomSeed, WarmStartSeed
from al_bert.strategies.badge import BadgeStrategy, gradient_embedding
from al_bert.strategies.least_confidence import LeastConfidence
from al_bert.strategies.mc_dropout import MCDropout
from al_bert.strategies.perceptron_ensemble import PerceptronEnsemble
from al_bert.weighting.invprop import InvProp
from al_bert.weighting.posprob import PosProb
from tests.conftest import MIRROR, compose_config
from tests.generic_checks import configured

FETCH = FetchSettings(mirror=MIRROR, download=False)
TREC = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


@pytest.fixture(scope="module")
def trec6():
    return build_task("trec6", fetch=FETCH)


# ------------------------------------------------------------------------------------------ data


def test_trec6_and_isear7_keep_every_class_on_the_papers_splits(trec6) -> None:
    assert trec6.classes == TREC and trec6.num_classes == 6 and trec6.target_label == 4
    sizes = {k: len(v) for k, v in trec6.splits().items()}
    assert sizes == {"train": 4674, "dev": 778, "test": 500}  # paper 1 Table 4, row 6
    binary = build_task("trec", fetch=FETCH)
    # the same rows as the binary task; its positives are exactly class LOC
    assert trec6.train["id"].tolist() == binary.train["id"].tolist()
    np.testing.assert_array_equal(trec6.train["label"] == 4, binary.train["label"] == 1)
    assert binary.classes == () and binary.num_classes == 2
    assert np.bincount(trec6.train["label"]).tolist() == [80, 1014, 1067, 1034, 717, 762]
    isear7 = build_task("isear7", fetch=FETCH)
    assert isear7.num_classes == 7 and isear7.classes[isear7.target_label] == "fear"
    assert {k: len(v) for k, v in isear7.splits().items()} == {
        "train": 5366, "dev": 766, "test": 1534,
    }  # fmt: skip


def test_imbalance_ratio_sub_samples_the_target_class_only(trec6) -> None:
    task = build_task("trec6", imbalance_ratio=20, positive_class="location", fetch=FETCH)
    counts = np.bincount(task.train["label"], minlength=6)
    full = np.bincount(trec6.train["label"], minlength=6)
    assert counts[4] == round((full.sum() - full[4]) / 19)  # a fraction 1/20 of the pool
    np.testing.assert_array_equal(np.delete(counts, 4), np.delete(full, 4))
    assert len(task.test) == 500 and task.info["imbalance"]["subsampled"] == "positives"


def test_custom_file_with_a_multi_class_label_column(tmp_path: Path) -> None:
    n = 300
    frame = pd.DataFrame(
        {"text": [f"text {i}" for i in range(n)], "label": [(0, 1, 2, 10)[i % 4] for i in range(n)]}
    )
    frame.to_csv(tmp_path / "d.csv", index=False)
    task = build_custom_task(
        str(tmp_path / "d.csv"), positive_class=10, multiclass=True, imbalance_ratio=10
    )
    assert task.classes == ("0", "1", "2", "10")  # numeric order, not "10" < "2"
    assert task.target_label == 3
    counts = np.bincount(task.train["label"], minlength=4)
    assert counts[3] == round(counts[:3].sum() / 9)
    frame.assign(label=frame["label"] % 2).to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(DataError, match="multiclass=false"):
        build_custom_task(str(tmp_path / "two.csv"), positive_class=1, multiclass=True)
    binary = build_custom_task(str(tmp_path / "d.csv"), positive_class=10)
    assert binary.classes == () and set(binary.train["label"]) == {0, 1}
    # digits that are not whole numbers to int() ("²", "--1") order alphabetically, never crash
    frame.assign(label=[("²", "--1", "3")[i % 3] for i in range(n)]).to_csv(tmp_path / "odd.csv")
    odd = build_custom_task(str(tmp_path / "odd.csv"), positive_class="3", multiclass=True)
    assert odd.classes == ("--1", "3", "²")


# ------------------------------------------------------------------------------------ scenarios


def test_scenarios_on_a_multi_class_pool(trec6) -> None:
    oracle = Oracle(trec6.train["label"].to_numpy())
    rng = np.random.default_rng(0)
    seed = PositivesSeed(positives=50, weak_negatives=60).build(trec6, oracle, rng)
    labels = trec6.train["label"].to_numpy()
    assert (labels[seed.rows[:50]] == 4).all() and seed.annotated.all()  # others: oracle-labelled
    np.testing.assert_array_equal(seed.labels, labels[seed.rows])
    warm = WarmStartSeed(per_class=5).build(trec6, oracle, rng)
    assert np.bincount(warm.labels).tolist() == [5] * 6
    balanced = RandomSeed(size=100).build(trec6, oracle, rng)
    np.testing.assert_array_equal(balanced.labels, labels[balanced.rows])
    with pytest.raises(SeedError, match="binary") as error:
        QuerySeed().build(trec6, oracle, rng)
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------------- strategies, weightings


def _probs(n: int, c: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(0.0, 2.0, size=(n, c))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_least_confidence_and_mc_dropout_on_c_classes() -> None:
    p = _probs(50, 5)
    out = PoolOutputs(pool_positions=np.arange(50), probs=p, num_classes=5)
    np.testing.assert_allclose(LeastConfidence().score(out, np.random.default_rng(0)), 1 - p.max(1))
    mc = np.stack([_probs(50, 5, s) for s in range(4)])  # (T, n, C)
    out = PoolOutputs(pool_positions=np.arange(50), mc_probs=mc, num_classes=5)
    mean = mc.mean(axis=0)
    predictive = -(mean * np.log2(mean)).sum(axis=1)
    np.testing.assert_allclose(MCDropout(4).score(out, np.random.default_rng(0)), predictive)
    expected = -(mc * np.log2(mc)).sum(axis=2).mean(axis=0)
    np.testing.assert_allclose(
        MCDropout(4, "bald").score(out, np.random.default_rng(0)), predictive - expected, atol=1e-12
    )


def test_badge_multi_class_embedding_is_the_cross_entropy_gradient_of_the_last_layer() -> None:
    rng = np.random.default_rng(0)
    p, h = _probs(6, 4), rng.normal(size=(6, 3))
    g = gradient_embedding(p, h)
    assert g.shape == (6, 12)
    for i in range(6):
        z = torch.tensor(np.log(p[i]), requires_grad=True)
        w = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
        logits = z.detach() + w @ torch.tensor(h[i])
        target = torch.tensor([int(p[i].argmax())])
        torch.nn.functional.cross_entropy(logits[None], target).backward()
        np.testing.assert_allclose(g[i], w.grad.numpy().reshape(-1), atol=1e-6)
    out = PoolOutputs(pool_positions=np.arange(6), probs=p, embeddings=h, num_classes=4)
    assert len(set(BadgeStrategy().select(out, np.ones(6), 3, rng).tolist())) == 3


def test_perceptron_ensemble_learns_three_classes() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0.0, 1.0, size=(3, 64))
    y = np.arange(90) % 3
    x = (centres[y] + rng.normal(0.0, 0.3, size=(90, 64))).astype(np.float32)
    probs = PerceptronEnsemble().member_probs(x, y, x, np.random.default_rng(1), 3)
    assert probs.shape == (10, 90, 3)
    assert (probs.mean(axis=0).argmax(axis=1) == y).mean() > 0.95


def test_weightings_on_c_classes() -> None:
    p = _probs(400, 5, seed=3)
    out = PoolOutputs(pool_positions=np.arange(400), probs=p, num_classes=5)
    w = InvProp(bins=4)(out)
    predicted = p.argmax(axis=1)
    cells = predicted * 4 + np.clip((p.max(axis=1) * 4).astype(int), 0, 3)
    mass = [w[cells == c].sum() for c in np.unique(cells)]
    np.testing.assert_allclose(mass, 1.0 / len(mass))  # every (class, confidence) cell equally
    assert w.sum() == pytest.approx(1.0)
    rarest = int(np.argmin(p.sum(axis=0)))
    np.testing.assert_array_equal(PosProb()(out), p[:, rarest])
    binary = PoolOutputs(pool_positions=np.arange(400), probs=p[:, 1])
    np.testing.assert_array_equal(PosProb()(binary), p[:, 1])  # binary: the paper's M(x)


# --------------------------------------------------------------------------- model and loop


def test_the_learner_infers_c_class_probabilities(trec6) -> None:
    task = trec6.subsample(120, 40, seed=0)
    learner = EncoderLearner(
        task,
        BackboneConfig(name_or_path="tiny-random-bert", pooling="mean"),
        TrainingConfig(max_epochs=1, batch_size=16, max_length=32, select_best_on_dev=True),
        seed=0,
    )
    labels = task.train["label"].to_numpy()
    learner.fit(np.arange(60), labels[:60], 0)
    request = InferenceRequest(frozenset({Need.PROBS, Need.MC_PROBS}), mc_passes=3)
    out = learner.infer(request, np.arange(60, 120), np.arange(60), labels[:60], 1)
    assert out.num_classes == 6 and out.probs.shape == (60, 6) and out.mc_probs.shape == (3, 60, 6)
    np.testing.assert_allclose(out.probs.sum(axis=1), 1.0, atol=1e-5)
    assert learner.predict_test().shape == (40, 6)


def test_the_rarest_class_is_one_the_pool_holds(trec6) -> None:
    no_abbr = trec6.train[trec6.train["label"] != 0].reset_index(drop=True)
    parts = dict(learner=None, strategy=None, weighting=None, seed_builder=None, store=None)
    loop = ActiveLearningLoop(task=replace(trec6, train=no_abbr), al=ALConfig(), seed=0, **parts)
    assert trec6.class_name(loop.positive_label) == "LOC"  # 717 rows; ABBR has none left
    assert ActiveLearningLoop(task=trec6, al=ALConfig(), seed=0, **parts).positive_label == 0


MULTI = [
    "dataset=trec6",
    "scenario=imbalanced",
    "seed_builder.positives=20",
    "seed_builder.weak_negatives=30",
    "limit.train=300",
    "limit.eval=120",
    "al.iterations=1",
    "al.batch_size=10",
    "model=tiny",
    "trainer=fast",
    "logger=none",
]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for every run below: M0 is trained once and shared by all strategies."""
    return tmp_path_factory.mktemp("multiclass-cache")


@pytest.mark.parametrize("weighting", configured("weighting"))
@pytest.mark.parametrize("strategy", configured("strategy"))
def test_every_strategy_and_weighting_runs_an_iteration_on_trec6(
    tmp_path: Path, shared_cache: Path, strategy: str, weighting: str
) -> None:
    overrides = [*MULTI, f"strategy={strategy}", f"weighting={weighting}"]
    cfg = compose_config([*overrides, f"paths.cache_dir={shared_cache}"], root=tmp_path)
    records = run_experiment(cfg)
    last = records[-1]
    assert len(set(last["selected_ids"])) == 10
    assert {"macro_f1", "balanced_accuracy", "roc_auc", "recall_5"} <= set(last)
    assert "f1" not in last and "precision" not in last  # binary columns only on binary tasks
    assert last["rarest_class"] == "ABBR"  # the positives_* columns count the pool's rarest class
    assert 0 <= last["positives_selected"] <= 10
    line = iteration_line(last, 1)
    assert "macro-F1" in line and f"ABBR={last['positives_selected']}" in line


def test_keyword_query_scenario_says_it_is_binary(tmp_path: Path) -> None:
    overrides = [o for o in MULTI if not o.startswith(("scenario", "seed_builder"))]
    cfg = compose_config([*overrides, "scenario=imbalanced_practical"], root=tmp_path)
    with pytest.raises(RunFailure, match="scenario=imbalanced_practical is binary") as error:
        run_experiment(cfg)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "runs").exists()  # refused before any work
