"""Pool inference: one pass of the fine-tuned model over a set of rows, into :class:`PoolOutputs`.

The learner calls :func:`pool_outputs` once per iteration with the union of what the strategy, the
weighting and the batch analyses requested; nothing downstream runs the encoder again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from al_bert.data.datamodule import ALDataModule
from al_bert.model.gradients import expected_gradient_lengths
from al_bert.model.module import ALClassifier
from al_bert.outputs import Need, PoolOutputs


@contextlib.contextmanager
def _autocast(device: torch.device, bf16: bool) -> Iterator[None]:
    if bf16:
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


@torch.inference_mode()
def predict_rows(
    module: ALClassifier,
    datamodule: ALDataModule,
    split: str,
    rows: np.ndarray | None = None,
    *,
    device: torch.device,
    bf16: bool,
    embeddings: bool = True,
    deterministic: bool = True,
    mc_passes: int = 0,
    mc_seed: int = 0,
    progress: str | None = None,
) -> dict[str, np.ndarray]:
    """Class probabilities (and pooled embeddings, MC-dropout samples) for ``rows`` of ``split``.

    ``probs`` is ``(n,)`` (the positive class) for a binary head, ``(n, C)`` otherwise; ``mc_probs`` is
    ``(T, n)`` or ``(T, n, C)``.

    Results are in the order of ``rows``. Batches are length-sorted; MC-dropout passes (dropout on in
    the whole model, Gal & Ghahramani 2016) reuse each padded batch. ``deterministic=False`` skips the
    dropout-free pass when only the MC samples are wanted.
    """
    encoded = datamodule.splits[split]
    rows = np.arange(len(encoded)) if rows is None else np.asarray(rows, dtype=np.int64)
    order, loader = datamodule.inference_batches(split, rows)
    module.to(device)
    classes = () if module.num_classes == 2 else (module.num_classes,)
    probs = np.empty((rows.size, *classes), dtype=np.float32)
    embeds: np.ndarray | None = None
    mc: np.ndarray | None = (
        np.empty((mc_passes, rows.size, *classes), dtype=np.float32) if mc_passes else None
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(mc_seed)
    start = 0
    for batch in tqdm(
        loader,
        desc=progress or f"infer {split}",
        disable=True if progress is None else None,  # None: only on a terminal, leave=False
    ):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        target = order[start : start + batch["input_ids"].shape[0]]
        start += batch["input_ids"].shape[0]
        if deterministic:
            module.eval()
            with _autocast(device, bf16):
                out = module.predict_step(batch, 0)
            probs[target] = out["probs"].cpu().numpy()
        if deterministic and embeddings:
            e = out["embeddings"].cpu().numpy()
            if embeds is None:
                embeds = np.empty((rows.size, e.shape[1]), dtype=np.float32)
            embeds[target] = e
        if mc is not None:
            module.train()
            for t in range(mc_passes):
                with _autocast(device, bf16):
                    mc[t, target] = module.predict_step(batch, 0)["probs"].cpu().numpy()
            module.eval()
    torch.random.set_rng_state(generator_state)
    result = {"probs": probs} if deterministic else {}
    if embeds is not None:
        result["embeddings"] = embeds
    if mc is not None:
        result["mc_probs"] = mc
    return result


def pool_outputs(
    module: ALClassifier,
    datamodule: ALDataModule,
    pool_rows: np.ndarray,
    labelled_rows: np.ndarray,
    labelled_labels: np.ndarray,
    needs: frozenset[Need],
    *,
    device: torch.device,
    bf16: bool,
    mc_passes: int = 0,
    mc_seed: int = 0,
) -> PoolOutputs:
    """Everything ``needs`` asks for over U (one pass), L's embeddings (a pass of their own) and, when
    asked, full-model expected gradient lengths (one forward + backward pass over U).

    U and L are inferred in separate batches: a pool row's outputs never depend on which other rows
    were asked for (bf16 numerics vary with a batch's padded width), so an iteration-0 cache filled
    by one strategy gives another strategy bit-identical pool outputs.
    """
    want_embeddings = bool(needs & {Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS})
    want_deterministic = want_embeddings or Need.PROBS in needs
    predicted = predict_rows(
        module,
        datamodule,
        "train",
        pool_rows,
        device=device,
        bf16=bf16,
        embeddings=want_embeddings,
        deterministic=want_deterministic,
        mc_passes=mc_passes if Need.MC_PROBS in needs else 0,
        mc_seed=mc_seed,
        progress="pool inference",
    )
    outputs = PoolOutputs(
        pool_positions=np.asarray(pool_rows),
        probs=predicted.get("probs"),
        embeddings=predicted.get("embeddings"),
        mc_probs=predicted.get("mc_probs"),
        num_classes=module.num_classes,
    )
    if Need.LABELLED_EMBEDDINGS in needs:
        outputs.labelled_positions = np.asarray(labelled_rows)
        outputs.labelled_embeddings = predict_rows(
            module, datamodule, "train", labelled_rows, device=device, bf16=bf16
        )["embeddings"]
        outputs.labelled_labels = np.asarray(labelled_labels)
    if Need.EXPECTED_GRAD_NORMS in needs:
        outputs.expected_grad_norms = expected_gradient_lengths(
            module, datamodule, pool_rows, device=device, bf16=bf16
        )
    return outputs
