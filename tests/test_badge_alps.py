"""BADGE (Ash et al. 2020) and ALPS (Yuan et al. 2020) with class-balancing weights
(Fairstein et al., Algorithm 3), and the ALPS surprisal embeddings."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from transformers import BertConfig, BertForMaskedLM

from al_bert.model.surprisal import (
    MissingMaskedLMHeadError,
    load_masked_lm,
    surprisal_embeddings,
)
from al_bert.outputs import Need, PoolOutputs
from al_bert.strategies.alps import AlpsStrategy
from al_bert.strategies.badge import BadgeStrategy, badge_embedding, gradient_embedding

# ----------------------------------------------------------------------------------------- BADGE


def pool(n: int = 300, d: int = 8, seed: int = 0) -> PoolOutputs:
    rng = np.random.default_rng(seed)
    return PoolOutputs(
        pool_positions=np.arange(n),
        probs=rng.uniform(0.0, 1.0, size=n).astype(np.float32),
        embeddings=rng.normal(size=(n, d)).astype(np.float32),
    )


def test_badge_declares_its_needs() -> None:
    assert BadgeStrategy.name == "badge"
    assert BadgeStrategy.request.needs == frozenset({Need.PROBS, Need.EMBEDDINGS})


def test_gradient_embedding_is_the_last_layer_cross_entropy_gradient() -> None:
    """Closed form (p − onehot(ŷ)) ⊗ h equals autograd's gradient of CE(W h, ŷ) wrt W."""
    out = pool(n=20, d=5)
    h = torch.tensor(out.embeddings, dtype=torch.float64)
    classifier = np.random.default_rng(1).normal(
        size=(2, 5)
    )  # any layer: the gradient does not use W
    weight = torch.tensor(classifier, dtype=torch.float64, requires_grad=True)
    # Logits whose softmax is exactly [1 − P, P]: a bias that reproduces the given probabilities.
    probs = torch.tensor(out.probs, dtype=torch.float64)
    bias = torch.log(torch.stack([1 - probs, probs], dim=1)) - (h @ weight.T).detach()
    logits = h @ weight.T + bias
    y_hat = (probs > 0.5).long()
    grads = []
    for i in range(len(out)):
        (g,) = torch.autograd.grad(
            torch.nn.functional.cross_entropy(logits[i : i + 1], y_hat[i : i + 1]),
            weight,
            retain_graph=True,
        )
        grads.append(g.reshape(-1).numpy())
    np.testing.assert_allclose(
        gradient_embedding(out.require("probs"), out.require("embeddings")), grads, atol=1e-6
    )


def test_factored_embedding_preserves_gradient_distances() -> None:
    out = pool(n=50, d=6)
    g = gradient_embedding(out.require("probs"), out.require("embeddings")).astype(np.float64)
    u = badge_embedding(out.require("probs"), out.require("embeddings")).astype(np.float64)
    dg = ((g[:, None] - g[None]) ** 2).sum(-1)
    du = ((u[:, None] - u[None]) ** 2).sum(-1)
    np.testing.assert_allclose(dg, 2 * du, rtol=1e-5, atol=1e-6)


def reference_badge(
    probs: np.ndarray,
    h: np.ndarray,
    weights: np.ndarray,
    k: int,
    rng: np.random.Generator,
    first: str,
) -> list[int]:
    """Textbook weighted k-means++ (D²·w, one draw per step) on the full 2d gradient embedding."""
    n = len(probs)
    g = np.zeros((n, 2 * h.shape[1]))
    for i in range(n):
        p = np.array([1 - float(probs[i]), float(probs[i])])
        y = int(np.argmax(p))
        residual = p - np.eye(2)[y]
        g[i] = np.outer(residual, h[i].astype(np.float64)).reshape(-1)
    if first == "max_norm":
        chosen = [int(np.argmax(weights * np.linalg.norm(g, axis=1)))]
    else:
        chosen = [int(rng.choice(n, p=weights / weights.sum()))]
    d2 = ((g - g[chosen[0]]) ** 2).sum(axis=1)
    while len(chosen) < k:
        mass = d2 * weights
        nxt = int(rng.choice(n, p=mass / mass.sum()))
        assert nxt not in chosen
        chosen.append(nxt)
        d2 = np.minimum(d2, ((g - g[nxt]) ** 2).sum(axis=1))
    return sorted(chosen)


@pytest.mark.parametrize("first", ["max_norm", "sample"])
@pytest.mark.parametrize("weighted", [False, True])
def test_badge_seeding_matches_a_reference_d2_sampler(
    first: Literal["max_norm", "sample"], weighted: bool
) -> None:
    out = pool(n=300, d=8, seed=3)
    weights = np.ones(len(out))
    if weighted:
        weights = np.random.default_rng(7).uniform(0.0, 2.0, size=len(out))
        weights[::5] = 0.0
    for seed in range(3):
        got = BadgeStrategy(first=first).select(out, weights, 12, np.random.default_rng(seed))
        rows = np.flatnonzero(weights > 0)
        expected = reference_badge(
            out.require("probs")[rows],
            out.require("embeddings")[rows],
            weights[rows],
            12,
            np.random.default_rng(seed),
            first,
        )
        assert got.tolist() == rows[expected].tolist()


def test_badge_never_selects_zero_weight() -> None:
    out = pool(n=200, d=4)
    weights = np.ones(len(out))
    # Zero the rows BADGE would like most: the most uncertain and largest-norm ones.
    norms = np.abs(badge_embedding(out.require("probs"), out.require("embeddings"))).sum(axis=1)
    zero = np.argsort(-norms)[:100]
    weights[zero] = 0.0
    for seed in range(10):
        chosen = BadgeStrategy().select(out, weights, 60, np.random.default_rng(seed))
        assert len(set(chosen.tolist())) == 60
        assert not set(zero.tolist()) & set(chosen.tolist())
    with pytest.raises(ValueError, match="positive weight"):
        BadgeStrategy().select(out, weights, 101, np.random.default_rng(0))


def test_badge_prefers_uncertain_examples() -> None:
    """Confident predictions have near-zero gradients (one tight cluster at 0); BADGE skips them."""
    n = 400
    rng = np.random.default_rng(0)
    probs = np.where(np.arange(n) < 380, 0.001, rng.uniform(0.3, 0.7, size=n))
    out = PoolOutputs(pool_positions=np.arange(n), probs=probs, embeddings=rng.normal(size=(n, 8)))
    chosen = BadgeStrategy().select(out, np.ones(n), 10, np.random.default_rng(1))
    assert np.sum(chosen >= 380) >= 8


# ------------------------------------------------------------------------------------------ ALPS


@pytest.fixture(scope="module")
def tiny_mlm() -> BertForMaskedLM:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return BertForMaskedLM(config).eval()


CLS, SEP, PAD, MASK = 1, 2, 0, 3
SPECIAL = (PAD, CLS, SEP, MASK)


def hand_made_batch(n: int = 12, width: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """[CLS] w … w [SEP] [PAD] …, with varied lengths (hand-made ids, no tokenizer)."""
    rng = np.random.default_rng(seed)
    ids = np.full((n, width), PAD, dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    for i in range(n):
        length = int(rng.integers(4, width + 1))
        ids[i, 0], ids[i, length - 1] = CLS, SEP
        ids[i, 1 : length - 1] = rng.integers(10, 100, size=length - 2)
        mask[i, :length] = 1
    return ids, mask


def manual_surprisal(
    model: BertForMaskedLM, ids: np.ndarray, mask: np.ndarray, sampled: np.ndarray
) -> np.ndarray:
    """Per-sequence, unbatched: CE of the true token at sampled positions, L2-normalised."""
    out = np.zeros(ids.shape)
    with torch.no_grad():
        for i in range(ids.shape[0]):
            n_tok = int(mask[i].sum())
            logits = model(input_ids=torch.tensor(ids[i : i + 1, :n_tok])).logits[0]
            ce = torch.nn.functional.cross_entropy(
                logits, torch.tensor(ids[i, :n_tok]), reduction="none"
            ).numpy()
            out[i, :n_tok] = np.where(sampled[i, :n_tok], ce, 0.0)
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
    return out


def test_surprisal_embeddings_follow_yuan_et_al(tiny_mlm: BertForMaskedLM) -> None:
    ids, mask = hand_made_batch()
    emb = surprisal_embeddings(tiny_mlm, ids, mask, seed=5, batch_size=5, special_token_ids=SPECIAL)
    assert emb.shape == ids.shape and emb.dtype == np.float32
    nonzero = emb > 0
    # Only attended, non-special positions carry a loss; rows are unit (or zero) vectors.
    assert not np.any(nonzero & np.isin(ids, SPECIAL))
    assert not np.any(nonzero & (mask == 0))
    norms = np.linalg.norm(emb, axis=1)
    assert np.all(np.isclose(norms, 1.0, atol=1e-5) | (norms == 0))
    # About 15% of the eligible tokens are sampled.
    eligible = (mask == 1) & ~np.isin(ids, SPECIAL)
    assert 0.03 < nonzero.sum() / eligible.sum() < 0.35
    # Same values as an unbatched, unpadded computation on the same sampled positions.
    np.testing.assert_allclose(emb, manual_surprisal(tiny_mlm, ids, mask, nonzero), atol=1e-5)
    # Fixed seed: independent of batch size; another seed samples other positions.
    again = surprisal_embeddings(
        tiny_mlm, ids, mask, seed=5, batch_size=64, special_token_ids=SPECIAL
    )
    np.testing.assert_allclose(emb, again, atol=1e-6)
    other = surprisal_embeddings(
        tiny_mlm, ids, mask, seed=6, batch_size=5, special_token_ids=SPECIAL
    )
    assert not np.array_equal(other > 0, nonzero)


def test_surprisal_default_specials_are_first_and_last_token(tiny_mlm: BertForMaskedLM) -> None:
    ids, mask = hand_made_batch()
    emb = surprisal_embeddings(tiny_mlm, ids, mask, mask_prob=1.0, seed=0)
    lengths = mask.sum(axis=1)
    for i, length in enumerate(lengths):
        assert emb[i, 0] == 0 and emb[i, length - 1] == 0
        assert np.all(emb[i, 1 : length - 1] > 0)
        assert np.all(emb[i, length:] == 0)


def test_surprisal_with_mask_token_replaces_the_sampled_inputs(tiny_mlm: BertForMaskedLM) -> None:
    ids, mask = hand_made_batch(n=4)
    plain = surprisal_embeddings(
        tiny_mlm, ids, mask, seed=1, special_token_ids=SPECIAL, mask_prob=0.5
    )
    masked = surprisal_embeddings(
        tiny_mlm, ids, mask, seed=1, special_token_ids=SPECIAL, mask_prob=0.5, mask_token_id=MASK
    )
    assert np.array_equal(plain > 0, masked > 0)
    corrupted = np.where(plain > 0, MASK, ids)
    with torch.no_grad():
        row = 0
        n_tok = int(mask[row].sum())
        logits = tiny_mlm(input_ids=torch.tensor(corrupted[row : row + 1, :n_tok])).logits[0]
        ce = torch.nn.functional.cross_entropy(
            logits, torch.tensor(ids[row, :n_tok]), reduction="none"
        ).numpy()
    expected = np.where(plain[row, :n_tok] > 0, ce, 0.0)
    np.testing.assert_allclose(masked[row, :n_tok], expected / np.linalg.norm(expected), atol=1e-5)


def test_surprisal_vocab_layout_sums_duplicate_tokens(tiny_mlm: BertForMaskedLM) -> None:
    ids = np.array([[CLS, 40, 41, 40, 40, 42, SEP], [CLS, 50, 51, SEP, PAD, PAD, PAD]])
    mask = (ids != PAD).astype(np.int64)
    by_position = surprisal_embeddings(
        tiny_mlm, ids, mask, mask_prob=1.0, seed=0, special_token_ids=SPECIAL
    )
    by_vocab = surprisal_embeddings(
        tiny_mlm, ids, mask, mask_prob=1.0, seed=0, special_token_ids=SPECIAL, layout="vocab"
    )
    assert sp.issparse(by_vocab) and by_vocab.shape == (2, 100)
    dense = by_vocab.toarray()
    raw = by_position[0]  # same losses up to the row's normalisation
    summed = np.array([raw[[1, 3, 4]].sum(), raw[2], raw[5]])
    np.testing.assert_allclose(dense[0, [40, 41, 42]], summed / np.linalg.norm(summed), atol=1e-5)
    assert np.count_nonzero(dense[0]) == 3 and np.count_nonzero(dense[1]) == 2
    np.testing.assert_allclose(np.linalg.norm(dense, axis=1), 1.0, atol=1e-5)


def alps_pool(surprisal: object, n: int) -> PoolOutputs:
    return PoolOutputs(pool_positions=np.arange(n), surprisal=surprisal)  # type: ignore[arg-type]


def test_alps_picks_one_example_per_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(6)[:3] * 10
    points = np.concatenate([c + rng.normal(scale=0.1, size=(40, 6)) for c in centres])
    chosen = AlpsStrategy().select(alps_pool(points, 120), np.ones(120), 3, rng)
    assert sorted((chosen // 40).tolist()) == [0, 1, 2]
    assert AlpsStrategy.request.needs == frozenset({Need.SURPRISAL}) and AlpsStrategy.name == "alps"


def test_alps_on_tiny_mlm_surprisal_never_selects_zero_weight(tiny_mlm: BertForMaskedLM) -> None:
    ids, mask = hand_made_batch(n=40, seed=2)
    emb = surprisal_embeddings(tiny_mlm, ids, mask, seed=0, special_token_ids=SPECIAL)
    weights = np.ones(40)
    weights[:15] = 0.0
    for seed in range(5):
        chosen = AlpsStrategy().select(alps_pool(emb, 40), weights, 10, np.random.default_rng(seed))
        assert len(set(chosen.tolist())) == 10
        assert np.all(chosen >= 15)


def test_alps_sparse_vocab_layout_equals_its_dense_form(tiny_mlm: BertForMaskedLM) -> None:
    ids, mask = hand_made_batch(n=30, seed=4)
    emb = surprisal_embeddings(
        tiny_mlm, ids, mask, seed=0, special_token_ids=SPECIAL, layout="vocab"
    )
    weights = np.random.default_rng(0).uniform(0.0, 1.0, size=30)
    weights[::4] = 0.0
    sparse_pick = AlpsStrategy().select(alps_pool(emb, 30), weights, 6, np.random.default_rng(9))
    dense_pick = AlpsStrategy().select(
        alps_pool(emb.toarray(), 30), weights, 6, np.random.default_rng(9)
    )
    assert sparse_pick.tolist() == dense_pick.tolist()
    assert np.all(weights[sparse_pick] > 0)


def test_alps_without_surprisal_asks_for_the_declaration() -> None:
    with pytest.raises(KeyError, match="needs"):
        AlpsStrategy().select(
            PoolOutputs(pool_positions=np.arange(3)), np.ones(3), 1, np.random.default_rng(0)
        )


def test_packaged_minilm_has_no_masked_lm_head() -> None:
    with pytest.raises(MissingMaskedLMHeadError, match="model=bert_base"):
        load_masked_lm("packaged:minilm")


def test_alps_pool_surprisal_follows_the_run_seed(tmp_path) -> None:
    """Two runs with different seeds draw different token samples; the same seed gets the same
    embeddings, from the per-(pool, seed) cache or recomputed."""
    from al_bert.model.backbones import BackboneConfig
    from al_bert.model.encoder_learner import EncoderLearner
    from al_bert.model.training import TrainingConfig
    from tests.conftest import synthetic_task

    task = synthetic_task(60, 10)
    backbone = BackboneConfig(name_or_path="tiny-random-bert")
    training = TrainingConfig(max_length=32)

    def surprisal(seed: int, cache: bool = True) -> np.ndarray:
        learner = EncoderLearner(
            task, backbone, training, seed=seed, cache_dir=tmp_path if cache else None
        )
        return learner.surprisal()

    seed0, seed1 = surprisal(0), surprisal(1)
    assert seed0.shape == seed1.shape and np.any(seed0 > 0)
    assert not np.array_equal(seed0 > 0, seed1 > 0)  # other tokens sampled
    assert len(list((tmp_path / "surprisal").glob("*.npy"))) == 2
    np.testing.assert_array_equal(surprisal(0), seed0)  # from the cache
    np.testing.assert_allclose(surprisal(0, cache=False), seed0, atol=1e-6)


def test_weighted_kmeans_keeps_the_best_of_several_starts() -> None:
    from al_bert.index import weighted_kmeans

    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [5, 5]], dtype=np.float64)
    points = np.concatenate([c + rng.normal(0, 0.3, (40, 2)) for c in centres]).astype(np.float32)

    def inertia(n_init: int, seed: int) -> float:
        c, a = weighted_kmeans(
            points, 5, np.random.default_rng(seed), n_init=n_init, backend="torch"
        )
        return float(((points - c[a]) ** 2).sum())

    singles = [inertia(1, s) for s in range(10)]
    best = inertia(10, 0)
    # Its first start is the single run of the same rng: keeping the best can only improve on it.
    assert best <= singles[0] + 1e-6
    assert best <= float(np.median(singles)) + 1e-6
