"""Class-balancing weightings (Fairstein et al., §4, §5.3) and how weights enter random and
score-based selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.outputs import Need, PoolOutputs
from al_bert.strategies.base import ScoreStrategy, sample_weighted
from al_bert.strategies.random import RandomStrategy
from al_bert.weighting import InvProp, PosProb, Uniform
from al_bert.weighting.base import Weighting
from al_bert.weighting.invprop import assign_bins, invprop_weights
from tests.generic_checks import CONF, WEIGHTING_CHECKS, check_id, configured, pool_outputs

# Every option of conf/weighting/: a new weighting is tested by adding its YAML, no edit here.
CONFIGURED = configured("weighting")


def from_config(name: str) -> Weighting:
    weighting = instantiate(OmegaConf.load(CONF / "weighting" / f"{name}.yaml"), _convert_="all")
    assert isinstance(weighting, Weighting)
    return weighting


def test_the_papers_weightings_are_configured() -> None:
    assert set(CONFIGURED) >= {"uniform", "posprob", "invprop"}  # Fairstein et al., §5.3


@pytest.mark.parametrize("name", CONFIGURED)
def test_a_weighting_is_named_as_its_config(name: str) -> None:
    assert from_config(name).name == name


@pytest.mark.parametrize("check", WEIGHTING_CHECKS, ids=check_id)
@pytest.mark.parametrize("name", CONFIGURED)
def test_generic_checks(name: str, check: Any) -> None:
    """One finite weight ≥ 0 per pool row, deterministic; only the requested outputs read
    (tests/generic_checks.py)."""
    check(from_config(name), pool_outputs())


def outputs_with(probs: np.ndarray) -> PoolOutputs:
    return PoolOutputs(pool_positions=np.arange(len(probs)), probs=np.asarray(probs))


def test_needs_and_names() -> None:
    assert Uniform.request.needs == frozenset()
    assert PosProb.request.needs == frozenset({Need.PROBS}) and PosProb.name == "posprob"
    assert InvProp.request.needs == frozenset({Need.PROBS}) and InvProp.name == "invprop"
    assert InvProp().bins == 10


def test_posprob_is_the_positive_probability() -> None:
    probs = np.array([0.0, 0.25, 0.5, 1.0, 1.0 + 1e-7])
    np.testing.assert_allclose(PosProb()(outputs_with(probs)), [0.0, 0.25, 0.5, 1.0, 1.0])


def test_bin_edges_last_bin_closed_and_ties_open_the_next_bin() -> None:
    probs = np.array([0.0, 0.0999, 0.1, 0.5, 0.8999, 0.9, 0.95, 1.0])
    np.testing.assert_array_equal(assign_bins(probs, 10), [0, 0, 1, 5, 8, 9, 9, 9])
    # float32 scores are compared in float64: float32(0.7) < 0.7 lies in bin 6.
    assert assign_bins(np.array([np.float32(0.7)]), 10)[0] == 6
    np.testing.assert_array_equal(assign_bins(np.array([0.5, 1.0]), 2), [1, 1])


def test_invprop_is_one_over_bin_count_and_sums_to_one() -> None:
    probs = np.array([0.01, 0.02, 0.03, 0.04, 0.55, 0.95])  # bins 0 (×4), 5, 9; others empty
    w = InvProp(bins=10)(outputs_with(probs))
    np.testing.assert_allclose(w, np.array([1 / 4] * 4 + [1.0, 1.0]) / 3)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w > 0)  # InvProp never excludes an example


def test_invprop_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        InvProp(bins=0)
    with pytest.raises(ValueError):
        InvProp()(outputs_with(np.array([0.1, np.nan])))
    with pytest.raises(KeyError):
        InvProp()(PoolOutputs(pool_positions=np.arange(3)))


def test_invprop_sample_has_a_uniform_score_histogram() -> None:
    """On constructed scores piled up near 0, an InvProp-weighted sample's M(x) is ~uniform (§4)."""
    rng = np.random.default_rng(0)
    bins, per_bin = 10, np.array([30000, 8000, 3000, 1500, 800, 700, 600, 700, 900, 2000])
    probs = np.concatenate(
        [rng.uniform(i / bins, (i + 1) / bins, size=c) for i, c in enumerate(per_bin)]
    )
    k = 1000
    counts = np.zeros(bins)
    unweighted = np.zeros(bins)
    for seed in range(5):
        draw = np.random.default_rng(seed)
        chosen = sample_weighted(invprop_weights(probs, bins), k, draw)
        counts += np.bincount(assign_bins(probs[chosen], bins), minlength=bins)
        plain = sample_weighted(np.ones_like(probs), k, draw)
        unweighted += np.bincount(assign_bins(probs[plain], bins), minlength=bins)
    expected = 5 * k / bins
    assert np.all(np.abs(counts - expected) < 0.15 * expected), counts
    # ... whereas the unweighted sample follows the skewed pool.
    assert unweighted[0] > 5 * expected


def test_invprop_random_finds_many_more_positives_on_a_1_to_50_pool() -> None:
    """Calibrated model (y ~ Bernoulli(M(x))), ~1:50 pool: InvProp random ≥ 5× uniform positives."""
    found = {"uniform": 0, "invprop": 0}
    strategy = RandomStrategy()
    for seed in range(20):
        rng = np.random.default_rng(seed)
        probs = rng.beta(0.2, 10.0, size=5100)  # mean 0.2 / 10.2 ≈ 1/51
        labels = rng.random(probs.size) < probs
        outputs = outputs_with(probs)
        for name, weighting in (("uniform", Uniform()), ("invprop", InvProp(bins=10))):
            chosen = strategy.select(outputs, weighting(outputs), 50, rng)
            assert len(np.unique(chosen)) == 50
            found[name] += int(labels[chosen].sum())
    assert found["uniform"] > 0
    assert found["invprop"] >= 5 * found["uniform"], found


class _Margin(ScoreStrategy):
    """Closest to 0.5 first: a stand-in score-based strategy."""

    name = "margin"
    needs = frozenset({Need.PROBS})

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        return 1.0 - 2.0 * np.abs(outputs.require("probs") - 0.5)


def test_zero_weight_is_never_selected_by_random_or_score_based() -> None:
    probs = np.linspace(0.0, 1.0, 101)
    outputs = outputs_with(probs)
    weights = PosProb()(outputs)  # zero exactly at M(x) = 0
    weights[40:61] = 0.0  # the most uncertain rows, which the score ranks first
    zero = set(np.flatnonzero(weights == 0).tolist())
    for seed in range(20):
        rng = np.random.default_rng(seed)
        assert not zero & set(RandomStrategy().select(outputs, weights, 79, rng).tolist())
        assert not zero & set(_Margin().select(outputs, weights, 79, rng).tolist())
    with pytest.raises(ValueError, match="positive weight"):
        RandomStrategy().select(outputs, weights, 80, np.random.default_rng(0))


def test_score_based_ranks_weight_times_score() -> None:
    probs = np.array([0.5, 0.45, 0.1, 0.9])
    weights = np.array([0.1, 1.0, 1.0, 1.0])
    chosen = _Margin().select(outputs_with(probs), weights, 1, np.random.default_rng(0))
    assert chosen.tolist() == [1]  # 0.9 · 1 beats 1.0 · 0.1
