"""Query strategies of paper 1 (Ein-Dor et al. 2020, §3.3): answers known by construction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import Strategy
from al_bert.strategies.core_set import CoreSet
from al_bert.strategies.dal import DiscriminativeActiveLearning
from al_bert.strategies.egl import ExpectedGradientLength, last_layer_egl
from al_bert.strategies.least_confidence import LeastConfidence, binary_entropy
from al_bert.strategies.mc_dropout import MCDropout
from al_bert.strategies.perceptron_ensemble import PerceptronEnsemble
from tests.generic_checks import (
    CONF,
    STRATEGY_CHECKS,
    check_id,
    configured,
    pool_outputs,
    separable,
)

# Every option of conf/strategy/: a new strategy is tested by adding its YAML, no edit here.
CONFIGURED = configured("strategy")
# The strategies the papers compare (Ein-Dor et al. 2020 §3.3, BADGE, ALPS): the product has them.
PAPERS = {
    "random",
    "least_confidence",
    "mc_dropout",
    "perceptron_ensemble",
    "egl",
    "core_set",
    "dal",
    "badge",
    "alps",
}
# Settings that only make a strategy quick on the 300-row test pool (the algorithm is unchanged).
QUICK_SETTINGS: dict[str, dict[str, Any]] = {
    "dal": {"hidden_sizes": [32, 32], "lr": 1e-3, "batch_size": 64},
    "alps": {"n_init": 2, "n_iter": 50},
}
# Options of a strategy that select differently (tested as strategies of their own).
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("mc_dropout", {"acquisition": "bald"}),
    ("egl", {"gradient": "last_layer"}),
    ("badge", {"first": "sample"}),
]


def from_config(name: str, **options: Any) -> Strategy:
    """The strategy ``conf/strategy/<name>.yaml`` builds (with ``options`` overriding it)."""
    node = OmegaConf.merge(
        OmegaConf.load(CONF / "strategy" / f"{name}.yaml"), QUICK_SETTINGS.get(name, {}), options
    )
    strategy = instantiate(node, _convert_="all")
    assert isinstance(strategy, Strategy)
    return strategy


@pytest.fixture(scope="module")
def outputs() -> PoolOutputs:
    """A pool with every output any strategy asks for."""
    return pool_outputs()


CONFIGS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in CONFIGURED] + VARIANTS
ALL: list[Strategy] = [from_config(name, **options) for name, options in CONFIGS]
IDS = [name + "".join(f"-{v}" for v in options.values()) for name, options in CONFIGS]


def test_the_papers_strategies_are_configured() -> None:
    assert set(CONFIGURED) >= PAPERS


@pytest.mark.parametrize("name", CONFIGURED)
def test_a_strategy_is_named_as_its_config(name: str) -> None:
    """Results, tables and ``strategy=<name>`` overrides use one name: the YAML's."""
    strategy = instantiate(OmegaConf.load(CONF / "strategy" / f"{name}.yaml"))
    assert isinstance(strategy, Strategy)
    assert strategy.name == name


@pytest.mark.parametrize("check", STRATEGY_CHECKS, ids=check_id)
@pytest.mark.parametrize("strategy", ALL, ids=IDS)
def test_generic_checks(strategy: Strategy, check: Any, outputs: PoolOutputs) -> None:
    """k distinct valid rows, deterministic; zero weights never selected; constant weights = the
    unweighted selection; only the requested outputs read (tests/generic_checks.py)."""
    check(strategy, outputs)


@pytest.mark.parametrize(
    "strategy", [LeastConfidence(), MCDropout(), ExpectedGradientLength(), PerceptronEnsemble()]
)
def test_score_strategies_uniform_weights_are_plain_top_k(
    strategy: LeastConfidence, outputs: PoolOutputs
) -> None:
    scores = strategy.score(outputs, np.random.default_rng(4))
    expected = np.sort(np.argsort(-scores, kind="stable")[:15])
    rows = strategy.select(outputs, np.ones(len(outputs)), 15, np.random.default_rng(4))
    np.testing.assert_array_equal(rows, expected)


def _pool(n: int, **kw: Any) -> PoolOutputs:
    return PoolOutputs(pool_positions=np.arange(n), **kw)


def test_least_confidence_picks_p_one_half() -> None:
    out = _pool(5, probs=np.array([0.1, 0.98, 0.5, 0.35, 0.0]))
    rng = np.random.default_rng(0)
    assert LeastConfidence().select(out, np.ones(5), 1, rng).tolist() == [2]
    assert LeastConfidence().select(out, np.ones(5), 2, rng).tolist() == [2, 3]
    assert binary_entropy(np.array([0.5]))[0] == pytest.approx(1.0)
    # Weighted: top-k of w·H — a strong weight overrides a small uncertainty gap.
    w = np.array([1.0, 1.0, 1.0, 3.0, 1.0])
    assert LeastConfidence().select(out, w, 1, rng).tolist() == [3]


def test_mc_dropout_entropy_and_bald() -> None:
    mc = np.array([[0.5, 0.0, 0.999, 0.6], [0.5, 1.0, 0.998, 0.4]])  # (T = 2, n = 4)
    out = _pool(4, mc_probs=mc)
    entropy = MCDropout().score(out, np.random.default_rng(0))
    assert entropy[0] == pytest.approx(1.0) and entropy[1] == pytest.approx(1.0)
    assert entropy[2] < 0.1
    bald = MCDropout(acquisition="bald").score(out, np.random.default_rng(0))
    # Row 1: passes disagree completely → mutual information 1 bit; row 0: agree at 0.5 → 0.
    assert bald[1] == pytest.approx(1.0) and bald[0] == pytest.approx(0.0, abs=1e-12)
    assert (
        MCDropout(acquisition="bald").select(out, np.ones(4), 1, np.random.default_rng(0))[0] == 1
    )
    assert MCDropout().mc_passes == 10


def test_egl_is_zero_at_certain_predictions_and_matches_autograd() -> None:
    import torch

    rng = np.random.default_rng(0)
    h = rng.normal(size=(6, 8))
    probs = np.array([0.0, 1.0, 0.5, 0.2, 0.9, 0.999999])
    egl = last_layer_egl(probs, h)
    assert egl[0] == 0.0 and egl[1] == 0.0 and egl[5] < 1e-4
    assert egl[2] == pytest.approx(2 * np.sqrt(2) * 0.25 * np.sqrt(h[2] @ h[2] + 1))
    out = _pool(6, probs=probs, embeddings=h.astype(np.float32))
    assert set(ExpectedGradientLength("last_layer").select(out, np.ones(6), 2, rng).tolist()) == {
        2,
        3,
    }

    # Closed form == autograd through a real linear layer: Σ_c p_c ‖∇_{W,b} CE(x, c)‖.
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 2).double()
    x = torch.as_tensor(h)
    p = torch.softmax(layer(x), dim=1).detach()
    reference = []
    for i in range(6):
        total = 0.0
        for c in range(2):
            layer.zero_grad()
            torch.nn.functional.cross_entropy(layer(x[i : i + 1]), torch.tensor([c])).backward()
            sq = sum(float((q.grad**2).sum()) for q in layer.parameters() if q.grad is not None)
            total += float(p[i, c]) * np.sqrt(sq)
        reference.append(total)
    np.testing.assert_allclose(last_layer_egl(p[:, 1].numpy(), h), reference, rtol=1e-10)
    no_bias = last_layer_egl(probs, h, include_bias=False)
    assert no_bias[2] == pytest.approx(2 * np.sqrt(2) * 0.25 * np.linalg.norm(h[2]))


def test_egl_full_model_reads_the_model_side_gradient_lengths() -> None:
    strategy = ExpectedGradientLength()
    assert strategy.gradient == "full_model"
    assert strategy.request.needs == frozenset({Need.EXPECTED_GRAD_NORMS})
    lengths = np.array([0.1, 0.7, 0.3])
    out = _pool(3, expected_grad_norms=lengths)
    assert strategy.select(out, np.ones(3), 1, np.random.default_rng(0))[0] == 1
    with pytest.raises(KeyError, match="expected_grad_norms"):
        strategy.score(_pool(3), np.random.default_rng(0))
    assert ExpectedGradientLength("last_layer").request.needs == frozenset(
        {Need.PROBS, Need.EMBEDDINGS}
    )


def test_perceptron_ensemble_is_confident_on_its_training_points() -> None:
    rng = np.random.default_rng(0)
    x, y = separable(80, 64, rng)
    middle = rng.normal(0.0, 0.3, size=(40, 64)).astype(np.float32)  # between the classes
    pe = PerceptronEnsemble()
    probs = pe.member_probs(x, y, np.concatenate([x, middle]), np.random.default_rng(1))
    assert probs.shape == (10, 120, 2)
    mean = probs[:, :, 1].mean(axis=0)
    assert np.all((mean[:80] > 0.5) == (y == 1))
    assert binary_entropy(mean[:80]).max() < 0.5
    assert binary_entropy(mean[80:]).mean() > 0.8
    out = _pool(
        120, embeddings=np.concatenate([x, middle]), labelled_embeddings=x, labelled_labels=y
    )
    rows = pe.select(out, np.ones(120), 10, np.random.default_rng(2))
    assert np.all(rows >= 80)  # the uncertain ones are the points between the classes


def test_dal_prefers_pool_points_far_from_labelled() -> None:
    rng = np.random.default_rng(0)
    labelled = rng.normal(0.0, 1.0, size=(40, 8)).astype(np.float32)
    # "near": jittered copies of L (fully represented); "far": a region L does not cover.
    near = labelled[rng.integers(0, 40, size=200)] + rng.normal(0.0, 0.05, size=(200, 8))
    far = rng.normal(6.0, 1.0, size=(100, 8))
    pool = np.concatenate([near, far]).astype(np.float32)
    out = _pool(300, embeddings=pool, labelled_embeddings=labelled)
    dal = DiscriminativeActiveLearning(
        hidden_sizes=(32, 32), lr=1e-3, batch_size=64, max_epochs=20, sub_batches=10
    )
    rows = dal.select(out, np.ones(300), 10, np.random.default_rng(1))
    assert np.all(rows >= 200)
    # Weighted: the far points get weight 0 → chosen among the near ones instead.
    w = np.r_[np.ones(200), np.zeros(100)]
    rows_w = dal.select(out, w, 10, np.random.default_rng(1))
    assert np.all(rows_w < 200)


def test_dal_sub_batches_move_selected_points_to_labelled() -> None:
    # Two uncovered clusters, A farther than B. One round takes the top-8 of P(unlabelled): all
    # from A. In 4 rounds the first picks join L, A's P(unlabelled) drops, and B gets picked.
    rng = np.random.default_rng(0)
    labelled = rng.normal(0.0, 0.5, size=(30, 4)).astype(np.float32)
    near = rng.normal(0.0, 0.5, size=(100, 4))
    far_a = rng.normal([16, 0, 0, 0], 0.3, size=(30, 4))
    far_b = rng.normal([0, 8, 0, 0], 0.3, size=(30, 4))
    pool = np.concatenate([near, far_a, far_b]).astype(np.float32)
    out = _pool(160, embeddings=pool, labelled_embeddings=labelled)

    def dal(rounds: int) -> np.ndarray:
        strategy = DiscriminativeActiveLearning(
            hidden_sizes=(32, 32), lr=1e-3, batch_size=64, max_epochs=20, sub_batches=rounds
        )
        return strategy.select(out, np.ones(160), 8, np.random.default_rng(0))

    one_round = dal(1)
    assert np.all((one_round >= 100) & (one_round < 130))
    four_rounds = dal(4)
    assert np.all(four_rounds >= 100) and np.any(four_rounds >= 130)


def test_core_set_picks_the_farthest_point() -> None:
    labelled = np.zeros((1, 3), dtype=np.float32)
    pool = np.array([[1, 0, 0], [0, 5, 0], [0, 0, 2], [-3, 0, 0]], dtype=np.float32)
    out = _pool(4, embeddings=pool, labelled_embeddings=labelled)
    assert CoreSet().select(out, np.ones(4), 1, np.random.default_rng(0)).tolist() == [1]
    assert CoreSet().select(out, np.ones(4), 2, np.random.default_rng(0)).tolist() == [1, 3]
    w = np.array([1.0, 0.5, 1.0, 1.0])  # 0.5·5 = 2.5 < 1·3
    assert CoreSet().select(out, w, 1, np.random.default_rng(0)).tolist() == [3]


def test_core_set_without_labelled_set() -> None:
    pool = np.array([[0, 0], [1, 0], [0, 1], [9, 9]], dtype=np.float32)
    out = _pool(4, embeddings=pool)
    assert CoreSet().select(out, np.ones(4), 1, np.random.default_rng(0)).tolist() == [3]


def test_needs() -> None:
    assert LeastConfidence.request.needs == {Need.PROBS}
    assert MCDropout().request == InferenceRequest(frozenset({Need.MC_PROBS}), mc_passes=10)
    assert ExpectedGradientLength().request.needs == {Need.EXPECTED_GRAD_NORMS}
    assert ExpectedGradientLength("last_layer").request.needs == {Need.PROBS, Need.EMBEDDINGS}
    for cls in (PerceptronEnsemble, CoreSet, DiscriminativeActiveLearning):
        assert {Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS} <= cls.request.needs
