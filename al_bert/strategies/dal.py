"""Discriminative Active Learning (Gissin & Shalev-Shwartz 2019), as in Ein-Dor et al. (2020) §3.3
and, weighted, Fairstein et al. (2023) §4.1 / Algorithm 2.

A binary classifier learns to tell the labelled set L (class 0) from the unlabelled pool U (class 1)
on the fine-tuned model's pooled [CLS] vectors (the "learned representation" of paper 1); the pool
examples it is most confident are unlabelled are the least represented by L. The batch of k is chosen
in ``sub_batches`` rounds: train a fresh classifier, take the top of ``w(x) · P(unlabelled | x)``
(sizes as equal as possible, ``np.array_split``), move them to the labelled side, retrain, …

Defaults are those of paper 1's released implementation (IBM low-resource-text-classification-framework,
``discriminative_representation_sampling.py``), which adapts Gissin & Shalev-Shwartz's code:

* ``hidden_sizes=None`` — three ReLU layers as wide as the embedding (384 for MiniLM, 768 for
  BERT-base), Glorot-uniform weights, zero biases, a 2-way softmax output;
* ``lr=1e-4`` — Adam (β = (0.9, 0.999), ε = 1e-7), mini-batches of ``batch_size=100`` reshuffled
  each epoch, at most ``max_epochs=10`` epochs;
* ``class_balanced=True`` — class c's examples weighted ``N / N_c`` in the cross-entropy (averaged
  over the mini-batch);
* stopping — the epoch's running training accuracy (Keras's ``accuracy`` log: each mini-batch scored
  before its update) above ``stop_accuracy=0.98`` ends training early;
* ``unlabelled_ratio=10`` — each round trains on L plus a uniform random subsample of at most
  10·|L| unlabelled examples (``None``: all of U);
* ``sub_batches=5`` — number of rounds (at most k).

Gissin & Shalev-Shwartz's own code for vector inputs differs: ``hidden_sizes=[256,256,256] lr=1e-3
batch_size=32 max_epochs=1000 sub_batches=10`` (overridable; it memorises L and is ~100× slower).
One deviation from both: we score the whole remaining pool, not only the training subsample (which
makes the choice partly random). The discriminator ignores the weights while training; weights enter
only the ranking, and rows of weight 0 are never chosen. All randomness (subsamples, initialisation,
batch order, tie-breaking) is drawn from ``rng``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

from al_bert.devices import bf16_supported
from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import Strategy, check_selectable, top_k_weighted
from al_bert.validation import finite_number, flag, whole_number, whole_numbers


class DiscriminativeActiveLearning(Strategy):
    """Gissin & Shalev-Shwartz (2019) DAL: labelled-vs-unlabelled MLP, selection in sub-batches."""

    name: ClassVar[str] = "dal"
    request: InferenceRequest = InferenceRequest(
        frozenset({Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS})
    )

    def __init__(
        self,
        hidden_sizes: Sequence[int] | None = None,
        lr: float = 1e-4,
        batch_size: int = 100,
        max_epochs: int = 10,
        stop_accuracy: float = 0.98,
        class_balanced: bool = True,
        sub_batches: int = 5,
        unlabelled_ratio: float | None = 10.0,
    ) -> None:
        sizes = whole_numbers("strategy.hidden_sizes", hidden_sizes, low=1, nullable=True)
        self.hidden_sizes = None if sizes is None else tuple(sizes)
        self.lr = finite_number("strategy.lr", lr, low=0, open_low=True)
        self.batch_size = whole_number("strategy.batch_size", batch_size, low=1)
        self.max_epochs = whole_number("strategy.max_epochs", max_epochs, low=1)
        # Training stops once the epoch's accuracy exceeds it: 1 never stops early; 0 would stop
        # after the first epoch whatever was learnt (that is max_epochs=1).
        self.stop_accuracy = finite_number(
            "strategy.stop_accuracy", stop_accuracy, low=0, high=1, open_low=True
        )
        self.class_balanced = flag("strategy.class_balanced", class_balanced)
        self.sub_batches = whole_number("strategy.sub_batches", sub_batches, low=1)
        self.unlabelled_ratio = finite_number(
            "strategy.unlabelled_ratio", unlabelled_ratio, low=0, open_low=True, nullable=True
        )

    def select(
        self, outputs: PoolOutputs, weights: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        weights = check_selectable(weights, k)
        pool = np.asarray(outputs.require("embeddings"), dtype=np.float32)
        labelled = outputs.labelled_embeddings
        if labelled is None or len(labelled) == 0:
            raise ValueError("DAL needs a non-empty labelled set (labelled_embeddings)")
        labelled = np.asarray(labelled, dtype=np.float32)
        n = pool.shape[0]
        taken = np.zeros(n, dtype=bool)
        for size in np.array_split(np.arange(k), min(self.sub_batches, k)):
            if size.size == 0:
                continue
            unl_rows = np.flatnonzero(~taken)
            lab_x = np.concatenate([labelled, pool[taken]], axis=0)
            train_unl = unl_rows
            if self.unlabelled_ratio is not None:
                cap = int(np.ceil(self.unlabelled_ratio * lab_x.shape[0]))
                if cap < unl_rows.size:
                    train_unl = np.sort(rng.choice(unl_rows, size=cap, replace=False))
            p_unl = self.discriminate(lab_x, pool[train_unl], pool[unl_rows], rng)
            local = top_k_weighted(p_unl, weights[unl_rows], size.size, rng)
            taken[unl_rows[local]] = True
        return np.flatnonzero(taken)

    def discriminate(
        self,
        labelled_x: np.ndarray,
        unlabelled_x: np.ndarray,
        score_x: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Train a fresh labelled(0)-vs-unlabelled(1) MLP; return P(unlabelled) for ``score_x``."""
        import torch

        gen = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
        x = torch.as_tensor(np.concatenate([labelled_x, unlabelled_x], axis=0))
        y = torch.cat(
            [
                torch.zeros(labelled_x.shape[0], dtype=torch.long),
                torch.ones(unlabelled_x.shape[0], dtype=torch.long),
            ]
        )
        n, width = x.shape
        counts = torch.bincount(y, minlength=2).float()
        class_w = n / counts if self.class_balanced else torch.ones(2)
        hidden = self.hidden_sizes if self.hidden_sizes is not None else (width,) * 3
        params = _glorot_mlp([width, *hidden, 2], gen)
        opt = _adam(params, self.lr)
        bf16 = bf16_supported(x.device)
        with torch.enable_grad():
            for _ in range(self.max_epochs):
                order = torch.randperm(n, generator=gen)
                correct = torch.zeros((), dtype=torch.long)
                for start in range(0, n, self.batch_size):
                    rows = order[start : start + self.batch_size]
                    yb = y[rows]
                    logits = _forward(params, x[rows], bf16)
                    correct += (logits.detach().argmax(dim=1) == yb).sum()
                    loss = torch.nn.functional.cross_entropy(logits, yb, reduction="none")
                    opt.zero_grad(set_to_none=True)
                    (loss * class_w[yb]).mean().backward()
                    opt.step()
                if int(correct) / n > self.stop_accuracy:
                    break
        with torch.no_grad():
            logits = _forward(params, torch.as_tensor(np.ascontiguousarray(score_x)), bf16)
            # float64 softmax: confident scores stay distinct instead of saturating at 1.0
            return torch.softmax(logits.double(), dim=1)[:, 1].numpy()


def _adam(params: list[Any], lr: float) -> Any:
    """Adam with Keras's ε; the fused kernel (one pass over all parameters) where torch has it."""
    import torch

    try:
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, fused=True)
    except (RuntimeError, TypeError):  # older torch: no fused CPU Adam
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)


def _glorot_mlp(sizes: Sequence[int], gen: Any) -> list[Any]:
    import torch

    params: list[Any] = []
    for fan_in, fan_out in pairwise(sizes):
        limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
        weight = (torch.rand(fan_in, fan_out, generator=gen) * 2.0 - 1.0) * limit
        params += [weight.requires_grad_(), torch.zeros(fan_out, requires_grad=True)]
    return params


def _forward(params: list[Any], x: Any, bf16: bool) -> Any:
    """MLP logits. With ``bf16`` the hidden layers run under bf16 autocast (~2× faster matmuls on CPUs
    with AVX512-BF16; fp32 weights, loss and Adam) and the output layer in fp32, the same way in
    training and scoring, so scores are neither coarsened to bf16 nor taken in a different precision
    than the one the discriminator was trained in."""
    import torch

    h = x
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(params) - 2, 2):
            h = torch.relu(h @ params[i] + params[i + 1])
    return h.float() @ params[-2] + params[-1]
