"""ALPS surprisal embeddings from a pretrained masked-LM head (Yuan, Lin & Boyd-Graber 2020, §3).

For each pool sequence ``x``, ALPS evaluates the pretrained MLM head on a random 15% subsample of
the sequence's tokens and records, per sampled token, the cross-entropy of the true token
("surprisal"); the resulting vector ``s_x`` is L2-normalised and clustered (see
:mod:`al_bert.strategies.alps`).

Exactly what :func:`surprisal_embeddings` computes (also in ``docs/reproducibility.md``):

* **Which tokens.** Every attended (``attention_mask == 1``), non-special token is sampled
  independently with probability ``mask_prob`` (Bernoulli, as in BERT pretraining and Yuan et al.'s
  code, so the count per sequence varies and a short sequence may get none: its embedding is then
  the zero vector). The draws come from ``numpy.random.default_rng(seed)`` over the whole
  ``(n, L)`` matrix at once, so the sample of row ``i`` depends only on ``seed`` and the matrix,
  not on ``batch_size`` or the device. Special tokens are those in ``special_token_ids`` (pass
  ``tokenizer.all_special_ids``); when it is ``None`` the first and the last attended position
  ([CLS] … [SEP] of a single-segment BERT input) are treated as special.
* **Masking.** Yuan et al. (§3) pass the *unmasked* input through the MLM head and only subsample
  the positions where the loss is read (their released code draws the 15% sample for the labels but
  feeds the original ids); that is the default (``mask_token_id=None``). With ``mask_token_id``
  set, the sampled positions are replaced by that id before the forward pass (BERT-pretraining-style
  masking, 100% replacement), an option for Fairstein et al.'s wording ("some tokens are masked and
  predicted").
* **Loss.** Natural-log cross-entropy ``−log softmax(logits)[true token]`` in float32, eval mode
  (no dropout), no gradients.
* **Layout.** ``layout="position"`` (Yuan et al.): ``s_x ∈ R^L`` indexed by token position, the
  loss at each sampled position and 0 elsewhere, ``L = input_ids.shape[1]`` (padding columns are 0
  and do not change distances). ``layout="vocab"``: ``s_x ∈ R^V`` indexed by vocabulary id, the
  loss at the true token's id, summing the losses when the same id is sampled twice in a sequence;
  returned as a ``scipy.sparse.csr_matrix`` because at most ~15% of ≤ 512 entries per row are
  non-zero (a dense n = 7,000 × V = 30,522 float32 matrix would take 850 MB).
* **Normalisation.** Each row is divided by its L2 norm; an all-zero row stays zero.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from typing import Literal, overload

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel

from al_bert.errors import MissingMaskedLMHeadError
from al_bert.model.backbones import (
    PACKAGED_MINILM,
    TINY_RANDOM_BERT,
    BackboneConfig,
    load_tokenizer,
    packaged_minilm_path,
    resolve_path,
)

NO_MLM_HEAD_MESSAGE = (
    "strategy=alps needs a backbone with a pretrained masked-LM head; the packaged MiniLM has "
    "none — use model=bert_base (needs internet) or model.name_or_path=<a BERT MLM checkpoint>"
)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report while we inspect the loading info ourselves."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)


def _tiny_random_mlm() -> PreTrainedModel:
    """A randomly initialised 2-layer BertForMaskedLM with MiniLM's vocabulary (tests only)."""
    from transformers import BertConfig, BertForMaskedLM

    vocab = load_tokenizer(BackboneConfig(name_or_path=TINY_RANDOM_BERT)).vocab_size
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BertForMaskedLM(config)


def load_masked_lm(name_or_path: str) -> PreTrainedModel:
    """Load a pretrained masked LM for ALPS, refusing checkpoints whose MLM head would be random.

    ``name_or_path`` takes the values of ``model.name_or_path``. ``tiny-random-bert`` returns a
    seeded random BertForMaskedLM (mechanics tests only). Loading ``AutoModelForMaskedLM`` from a
    checkpoint without head weights (e.g. the packaged sentence-transformers MiniLM) silently
    initialises the head at random; we detect that from the missing keys outside the base model
    and raise :class:`MissingMaskedLMHeadError`.
    """
    from transformers import AutoModelForMaskedLM

    if name_or_path == TINY_RANDOM_BERT:
        return _tiny_random_mlm()
    path = resolve_path(name_or_path)
    is_packaged = name_or_path == PACKAGED_MINILM or _same_path(path, _packaged_path_or_none())
    try:
        with _quiet_transformers():
            model, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True)
    except (OSError, ValueError) as error:
        raise RuntimeError(
            f"could not load a masked-LM for '{name_or_path}': {error}. {NO_MLM_HEAD_MESSAGE}"
        ) from error
    prefix = f"{model.base_model_prefix}."
    head_missing = [key for key in info.get("missing_keys", []) if not key.startswith(prefix)]
    if head_missing:
        where = "the packaged MiniLM" if is_packaged else f"'{name_or_path}'"
        raise MissingMaskedLMHeadError(
            f"{NO_MLM_HEAD_MESSAGE}. ({where} lacks the masked-LM head weights "
            f"{sorted(head_missing)[:4]}…; loading it would initialise the head at random.)"
        )
    model.eval()
    return model


def _packaged_path_or_none() -> str | None:
    try:
        return packaged_minilm_path()
    except RuntimeError:  # pragma: no cover - the package is a dependency
        return None


def _same_path(a: str, b: str | None) -> bool:
    if b is None:
        return False
    import os

    return os.path.realpath(a) == os.path.realpath(b)


def sample_positions(
    input_ids: np.ndarray,
    attention_mask: np.ndarray,
    *,
    mask_prob: float,
    seed: int,
    special_token_ids: Collection[int] | None,
) -> np.ndarray:
    """Boolean (n, L) matrix of the positions whose surprisal is read (see the module docstring)."""
    attended = attention_mask.astype(bool)
    selectable = attended.copy()
    if special_token_ids is None:
        lengths = attended.sum(axis=1)
        rows = np.flatnonzero(lengths > 0)
        first = attended[rows].argmax(axis=1)
        last = attended.shape[1] - 1 - attended[rows, ::-1].argmax(axis=1)
        selectable[rows, first] = False
        selectable[rows, last] = False
    else:
        special = np.asarray(sorted({int(t) for t in special_token_ids}), dtype=input_ids.dtype)
        selectable &= ~np.isin(input_ids, special)
    draws = np.random.default_rng(seed).random(input_ids.shape)
    return selectable & (draws < mask_prob)


def _sampled_logits(
    model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor, where: torch.Tensor
) -> torch.Tensor:
    """MLM logits at the positions ``where`` only, shape (where.sum(), V).

    BERT-style models run the encoder and apply the head (``model.cls``) to the sampled positions
    only, avoiding a (batch, L, V) logits tensor; other architectures fall back to the full forward
    pass.
    """
    encoder = getattr(model, "bert", None)
    head = getattr(model, "cls", None)
    if encoder is not None and head is not None:
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return head(hidden[where])
    return model(input_ids=ids, attention_mask=mask).logits[where]


@overload
def surprisal_embeddings(
    mlm_model: PreTrainedModel,
    input_ids: np.ndarray | torch.Tensor,
    attention_mask: np.ndarray | torch.Tensor,
    *,
    mask_prob: float = ...,
    seed: int = ...,
    batch_size: int = ...,
    special_token_ids: Collection[int] | None = ...,
    mask_token_id: int | None = ...,
    layout: Literal["position"] = ...,
) -> np.ndarray: ...


@overload
def surprisal_embeddings(
    mlm_model: PreTrainedModel,
    input_ids: np.ndarray | torch.Tensor,
    attention_mask: np.ndarray | torch.Tensor,
    *,
    mask_prob: float = ...,
    seed: int = ...,
    batch_size: int = ...,
    special_token_ids: Collection[int] | None = ...,
    mask_token_id: int | None = ...,
    layout: Literal["vocab"],
) -> sp.csr_matrix: ...


def surprisal_embeddings(
    mlm_model: PreTrainedModel,
    input_ids: np.ndarray | torch.Tensor,
    attention_mask: np.ndarray | torch.Tensor,
    *,
    mask_prob: float = 0.15,
    seed: int = 0,
    batch_size: int = 32,
    special_token_ids: Collection[int] | None = None,
    mask_token_id: int | None = None,
    layout: Literal["position", "vocab"] = "position",
) -> np.ndarray | sp.csr_matrix:
    """ALPS surprisal embeddings ``s_x`` of every row of ``input_ids`` (Yuan et al. 2020, §3).

    Args:
        mlm_model: a pretrained masked LM (:func:`load_masked_lm`); evaluated on its current device.
        input_ids, attention_mask: padded token ids and mask, shape (n, L).
        mask_prob: probability that a (non-special, attended) token is sampled; 0.15 in the paper.
        seed: seed of the token sample (fixed per pool so the embeddings can be cached).
        batch_size: sequences per forward pass (sorted by length to avoid computing on padding).
        special_token_ids: ids never sampled (``tokenizer.all_special_ids``); see the module
            docstring.
        mask_token_id: replace sampled tokens by this id before the forward pass (default: unmasked
            input, as Yuan et al.).
        layout: ``"position"`` (Yuan et al.; dense (n, L) float32) or ``"vocab"`` (CSR (n, V)
            float32).

    Returns:
        L2-normalised surprisal embeddings, one row per sequence.
    """
    if not 0.0 < mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if layout not in ("position", "vocab"):
        raise ValueError(f"layout must be 'position' or 'vocab', got {layout!r}")
    ids_np = np.asarray(
        input_ids.cpu().numpy() if isinstance(input_ids, torch.Tensor) else input_ids,
        dtype=np.int64,
    )
    mask_np = np.asarray(
        attention_mask.cpu().numpy()
        if isinstance(attention_mask, torch.Tensor)
        else attention_mask,
        dtype=np.int64,
    )
    if ids_np.ndim != 2 or ids_np.shape != mask_np.shape:
        raise ValueError(
            f"input_ids and attention_mask must both be (n, L), got {ids_np.shape}, {mask_np.shape}"
        )
    n, width = ids_np.shape
    vocab = int(mlm_model.config.vocab_size)
    sampled = sample_positions(
        ids_np, mask_np, mask_prob=mask_prob, seed=seed, special_token_ids=special_token_ids
    )

    device = next(mlm_model.parameters()).device
    lengths = mask_np.sum(axis=1)
    # Column after the last attended position (padding may be on the left or the right).
    ends = np.where(lengths > 0, width - mask_np[:, ::-1].argmax(axis=1), 0)
    order = np.argsort(ends, kind="stable")

    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    loss_out: list[np.ndarray] = []
    was_training = mlm_model.training
    mlm_model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                rows = order[start : start + batch_size]
                if not sampled[rows].any():
                    continue
                cut = int(ends[rows].max())
                ids = torch.from_numpy(ids_np[rows, :cut]).to(device)
                att = torch.from_numpy(mask_np[rows, :cut]).to(device)
                where = torch.from_numpy(sampled[rows, :cut]).to(device)
                targets = ids[where]
                if mask_token_id is not None:
                    ids = ids.masked_fill(where, int(mask_token_id))
                logits = _sampled_logits(mlm_model, ids, att, where)
                loss = F.cross_entropy(logits.float(), targets, reduction="none")
                local_rows, local_cols = np.nonzero(sampled[rows, :cut])
                rows_out.append(rows[local_rows])
                cols_out.append(
                    local_cols if layout == "position" else targets.cpu().numpy().astype(np.int64)
                )
                loss_out.append(loss.cpu().numpy().astype(np.float32))
    finally:
        mlm_model.train(was_training)

    row_idx = np.concatenate(rows_out) if rows_out else np.zeros(0, dtype=np.int64)
    col_idx = np.concatenate(cols_out) if cols_out else np.zeros(0, dtype=np.int64)
    values = np.concatenate(loss_out) if loss_out else np.zeros(0, dtype=np.float32)

    if layout == "position":
        dense = np.zeros((n, width), dtype=np.float32)
        dense[row_idx, col_idx] = values
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)

    # coo → csr sums duplicate (row, vocab id) entries.
    matrix = sp.csr_matrix((values, (row_idx, col_idx)), shape=(n, vocab), dtype=np.float32)
    matrix.sum_duplicates()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).reshape(-1))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ matrix, dtype=np.float32)
