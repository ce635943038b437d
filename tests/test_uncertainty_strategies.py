"""Entropy, margin, BALD and BatchBALD against reference computations a person can check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from al_bert.outputs import PoolOutputs, class_probs, mc_class_probs
from al_bert.strategies.bald import BALD
from al_bert.strategies.batchbald import BatchBALD, _joint_entropies
from al_bert.strategies.entropy import Entropy
from al_bert.strategies.least_confidence import LeastConfidence
from al_bert.strategies.margin import Margin
from al_bert.strategies.uncertainty import bald

LN2 = np.log(2.0)


def pool(n: int, **fields: np.ndarray) -> PoolOutputs:
    return PoolOutputs(pool_positions=np.arange(n), **fields)


def test_entropy_and_margin_on_fixed_three_class_probabilities():
    p = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0], [0.8, 0.1, 0.1], [1.0, 0.0, 0.0]])
    outputs = pool(4, probs=p)
    rng = np.random.default_rng(0)
    expected_entropy = [np.log(3), LN2, -(0.8 * np.log(0.8) + 0.2 * np.log(0.1)), 0.0]
    np.testing.assert_allclose(Entropy().score(outputs, rng), expected_entropy)
    np.testing.assert_allclose(Margin().score(outputs, rng), [1.0, 1.0, 0.3, 0.0])
    assert Entropy().select(outputs, np.ones(4), 1, rng).tolist() == [0]
    # margin ties rows 0 and 1 (both classes on top equally likely); the third class does not count
    assert set(Margin().select(outputs, np.ones(4), 2, rng).tolist()) == {0, 1}


def test_binary_entropy_and_margin_rank_as_least_confidence():
    rng = np.random.default_rng(1)
    outputs = pool(200, probs=rng.uniform(size=200))
    lc = LeastConfidence().select(outputs, np.ones(200), 20, np.random.default_rng(2))
    for strategy in (Entropy(), Margin()):
        assert (
            strategy.select(outputs, np.ones(200), 20, np.random.default_rng(2)).tolist()
            == lc.tolist()
        )


def test_bald_on_a_hand_checkable_mc_tensor():
    # [n=3, C=2, T=2]: row 0 flips between certain answers (disagreement: ln 2), row 1 is uncertain in
    # every pass (no disagreement: 0), row 2 is confident in every pass (0).
    mc = np.array(
        [
            [[1.0, 0.0], [0.0, 1.0]],
            [[0.5, 0.5], [0.5, 0.5]],
            [[0.9, 0.9], [0.1, 0.1]],
        ]
    )
    np.testing.assert_allclose(bald(mc), [LN2, 0.0, 0.0], atol=1e-12)
    # the binary layout (T, n) of positive-class probabilities is the same tensor
    positive = mc[:, 1, :].T
    np.testing.assert_allclose(mc_class_probs(positive), mc)
    outputs = pool(3, mc_probs=positive)
    assert BALD(mc_passes=2).select(outputs, np.ones(3), 1, np.random.default_rng(0)).tolist() == [
        0
    ]
    np.testing.assert_allclose(class_probs(np.array([0.25])), [[0.75, 0.25]])


def _mc_pool(n: int, classes: int, passes: int, seed: int) -> np.ndarray:
    """(T, n, C) MC-dropout probabilities with per-example disagreement between passes."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (1, n, classes)) + rng.normal(0, 2, (passes, n, classes))
    e = np.exp(logits - logits.max(axis=2, keepdims=True))
    return e / e.sum(axis=2, keepdims=True)


@pytest.mark.parametrize("classes", [2, 4])
def test_batchbald_with_batch_one_is_bald(classes):
    mc = _mc_pool(60, classes, 8, seed=classes)
    outputs = pool(60, mc_probs=mc)
    bald_pick = BALD(mc_passes=8).select(outputs, np.ones(60), 1, np.random.default_rng(0))
    batch_pick = BatchBALD(mc_passes=8).select(outputs, np.ones(60), 1, np.random.default_rng(0))
    assert batch_pick.tolist() == bald_pick.tolist() == [int(np.argmax(bald(mc_class_probs(mc))))]


def test_batchbald_does_not_take_a_duplicate_that_bald_takes():
    # rows 0 and 1 are the same maximally disagreeing example; row 2 disagrees a little less, on its own
    flip = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # [T=4, C]
    other = np.array([[0.95, 0.05], [0.95, 0.05], [0.05, 0.95], [0.05, 0.95]])
    calm = np.full((4, 2), 0.5)
    mc = np.stack([flip, flip, other, calm, calm], axis=1)  # [T, n=5, C]
    outputs = pool(5, mc_probs=mc)
    bald_rows = BALD(mc_passes=4).select(outputs, np.ones(5), 2, np.random.default_rng(0))
    batch_rows = BatchBALD(mc_passes=4).select(outputs, np.ones(5), 2, np.random.default_rng(0))
    assert bald_rows.tolist() == [0, 1]  # both copies: each alone is the most informative
    assert batch_rows.tolist() in ([0, 2], [1, 2])  # the copy adds nothing once one is labelled


def test_batchbald_weights_zero_rows_out_and_scale_the_gain():
    mc = _mc_pool(40, 3, 6, seed=3)
    outputs = pool(40, mc_probs=mc)
    unweighted = BatchBALD(mc_passes=6).select(outputs, np.ones(40), 5, np.random.default_rng(0))
    weights = np.ones(40)
    weights[unweighted[0]] = 0.0
    weighted = BatchBALD(mc_passes=6).select(outputs, weights, 5, np.random.default_rng(0))
    assert unweighted[0] not in weighted.tolist()


def test_sampled_joint_entropy_estimates_the_exact_one():
    mc = mc_class_probs(_mc_pool(30, 3, 10, seed=5))  # [n, C, T]
    per_pass = np.ascontiguousarray(np.transpose(mc, (2, 0, 1)))  # [T, n, C]
    joint = np.ones((10, 1))
    for row in (0, 1, 2, 3):  # the exact joint of a 4-example batch: 81 configurations
        joint = (joint[:, :, None] * per_pass[:, row, None, :]).reshape(10, -1)
    exact = _joint_entropies(joint, per_pass, sampled=False)
    strategy = BatchBALD(mc_passes=10, samples=40_000)
    drawn = strategy._sample_configurations(joint, np.random.default_rng(0))
    estimate = _joint_entropies(drawn, per_pass, sampled=True)
    np.testing.assert_allclose(estimate, exact, rtol=0.02)


def test_batchbald_switches_to_sampling_and_still_selects_distinct_informative_rows():
    mc = _mc_pool(80, 2, 10, seed=7)
    outputs = pool(80, mc_probs=mc)
    exact = BatchBALD(mc_passes=10).select(outputs, np.ones(80), 6, np.random.default_rng(0))
    sampled = BatchBALD(mc_passes=10, max_configurations=8, samples=5000).select(
        outputs, np.ones(80), 6, np.random.default_rng(0)
    )
    assert len(set(sampled.tolist())) == 6
    # the first steps are exact in both (2, 4, 8 configurations), so they agree
    assert len(set(exact.tolist()) & set(sampled.tolist())) >= 3
