"""Discriminative Active Learning (Gissin & Shalev-Shwartz 2019), as in Ein-Dor et al. (2020) §3.3
("we follow the exact method used in Gissin and Shalev-Shwartz") and, weighted, Fairstein et al.
(2023) §4.1 / Algorithm 2.

A binary classifier learns to tell the labelled set L (class 0) from the unlabelled pool U (class 1)
on the fine-tuned model's pooled [CLS] vectors (the "learned representation" of the paper); the
pool examples it is most confident are unlabelled are the least represented by L. The batch of k is
chosen in ``sub_batches`` rounds: train a fresh classifier, take the top ⌈k / rounds⌉-ish examples of
``w(x) · P(unlabelled | x)`` (sizes as equal as possible, ``np.array_split``), move them to the
labelled side, retrain, … Parameters (defaults follow the authors' released code for vector inputs):

* ``hidden_sizes=(256, 256, 256)`` — MLP with ReLU layers, Glorot-uniform weights, zero biases, and
  a 2-way softmax output;
* ``lr=1e-3`` — Adam (β = (0.9, 0.999), ε = 1e-7), mini-batches of ``batch_size=32`` reshuffled
  each epoch;
* ``class_balanced=True`` — class c's examples weighted ``N / N_c`` in the cross-entropy (summed
  over the mini-batch, divided by its size);
* stopping — after each epoch, training accuracy (unweighted, whole training set) ≥
  ``stop_accuracy=0.98`` ends training, else at most ``max_epochs=1000`` epochs;
* ``unlabelled_ratio=10`` — each round trains on all of L plus a uniform random subsample of at most
  10·|L| unlabelled examples (``None``: all of U). Scoring covers the whole remaining pool (the
  released code scored only that subsample, which makes the choice partly random);
* ``sub_batches=10`` — number of rounds (at most k).

The discriminator ignores the weights while training (it models where L and U lie); weights enter
only the ranking, and rows of weight 0 are never chosen. All randomness (subsamples, initialisation,
batch order, tie-breaking) is drawn from ``rng``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

from al_bert.model.outputs import Need, PoolOutputs
from al_bert.strategies.base import Strategy, check_selectable, top_k_weighted


class DiscriminativeActiveLearning(Strategy):
    """Gissin & Shalev-Shwartz (2019) DAL: labelled-vs-unlabelled MLP, selection in sub-batches."""

    name: ClassVar[str] = "dal"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS})

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (256, 256, 256),
        lr: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 1000,
        stop_accuracy: float = 0.98,
        class_balanced: bool = True,
        sub_batches: int = 10,
        unlabelled_ratio: float | None = 10.0,
    ) -> None:
        if sub_batches < 1 or batch_size < 1 or max_epochs < 1 or lr <= 0:
            raise ValueError("sub_batches, batch_size, max_epochs ≥ 1 and lr > 0 are required")
        if unlabelled_ratio is not None and unlabelled_ratio <= 0:
            raise ValueError("unlabelled_ratio must be positive or None")
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.stop_accuracy = stop_accuracy
        self.class_balanced = class_balanced
        self.sub_batches = sub_batches
        self.unlabelled_ratio = unlabelled_ratio

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
        n = x.shape[0]
        counts = torch.bincount(y, minlength=2).float()
        class_w = n / counts if self.class_balanced else torch.ones(2)
        params = _glorot_mlp([x.shape[1], *self.hidden_sizes, 2], gen)
        opt = torch.optim.Adam(params, lr=self.lr, betas=(0.9, 0.999), eps=1e-7)
        with torch.enable_grad(), torch_threads(1):
            for _ in range(self.max_epochs):
                order = torch.randperm(n, generator=gen)
                for start in range(0, n, self.batch_size):
                    rows = order[start : start + self.batch_size]
                    yb = y[rows]
                    loss = torch.nn.functional.cross_entropy(
                        _forward(params, x[rows]), yb, reduction="none"
                    )
                    opt.zero_grad()
                    (loss * class_w[yb]).mean().backward()
                    opt.step()
                with torch.no_grad():
                    acc = (_forward(params, x).argmax(dim=1) == y).float().mean().item()
                if acc >= self.stop_accuracy:
                    break
        with torch.no_grad():
            logits = _forward(params, torch.as_tensor(np.ascontiguousarray(score_x)))
            # float64 softmax: confident scores stay distinct instead of saturating at 1.0
            return torch.softmax(logits.double(), dim=1)[:, 1].numpy()


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run tiny-model training on ``n`` intra-op threads (restored afterwards).

    The discriminator's and the perceptrons' mini-batches are far too small to gain from threading;
    on a shared CPU extra threads only add synchronisation cost. Results do not depend on it.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _glorot_mlp(sizes: Sequence[int], gen: Any) -> list[Any]:
    import torch

    params: list[Any] = []
    for fan_in, fan_out in pairwise(sizes):
        limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
        weight = (torch.rand(fan_in, fan_out, generator=gen) * 2.0 - 1.0) * limit
        params += [weight.requires_grad_(), torch.zeros(fan_out, requires_grad=True)]
    return params


def _forward(params: list[Any], x: Any) -> Any:
    import torch

    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = torch.relu(h)
    return h
