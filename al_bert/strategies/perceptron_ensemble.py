"""Perceptron Ensemble (Ein-Dor et al. 2020, §3.3): uncertainty of the averaged prediction of 10
perceptrons trained on L's [CLS] vectors of the fine-tuned model.

The paper gives no training details; we follow the authors' released implementation (IBM
"low-resource text classification framework", ``perceptron_ensemble.py``), re-written in torch:

* each member is a single linear layer d → C (2 for the papers' tasks) with softmax output (a
  perceptron with a calibrated, logistic output), Glorot-uniform weights and zero bias, with dropout
  of rate ``input_dropout`` = 0.9 on its *inputs* during training only;
* trained with class-balanced cross-entropy (class c weighted ``|L| / |L_c|``; weights summed over
  the mini-batch and divided by its size, as Keras does), Adam (β = (0.9, 0.999), ε = 1e-7),
  mini-batches of 50 in a fresh random order each epoch;
* **deviation:** lr = 1e-3 for 50 epochs instead of the released lr = 1e-4 for 10 epochs. With the
  released schedule a member takes 20 Adam steps of 1e-4 for |L| = 100 and barely leaves its random
  initialisation (the ensemble's mean is ≈ 0.5 even on its own training points), which does not
  "solve the original task" as §3.3 describes; ``lr=1e-4, epochs=10`` restores it;
* members differ by their random initialisation, input-dropout masks and batch order (and, with
  ``bootstrap=True``, by a bootstrap resample of L — off by default, as in the released code).

Score: entropy (bits) of the ensemble's mean positive probability ``p̄(x) = (1/M) Σ_m p_m(x)`` —
the mean of the members' softmax outputs, not of their hard votes (for C > 2: the entropy of the mean
class-probability vector). Weighted: top-k of ``w · H(p̄)``
(Fairstein et al., Algorithm 2). All randomness comes from one torch generator seeded from ``rng``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import numpy as np

from al_bert.outputs import InferenceRequest, Need, PoolOutputs
from al_bert.strategies.base import ScoreStrategy
from al_bert.strategies.least_confidence import binary_entropy
from al_bert.strategies.uncertainty import entropy
from al_bert.validation import finite_number, flag, whole_number


class PerceptronEnsemble(ScoreStrategy):
    """Ein-Dor et al. (2020) §3.3 "PE": max entropy of an ensemble of perceptrons on [CLS] vectors."""

    name: ClassVar[str] = "perceptron_ensemble"
    request: InferenceRequest = InferenceRequest(
        frozenset({Need.EMBEDDINGS, Need.LABELLED_EMBEDDINGS})
    )

    def __init__(
        self,
        n_members: int = 10,
        epochs: int = 50,
        batch_size: int = 50,
        lr: float = 1e-3,
        input_dropout: float = 0.9,
        class_balanced: bool = True,
        bootstrap: bool = False,
    ) -> None:
        self.n_members = whole_number("strategy.n_members", n_members, low=1)
        self.epochs = whole_number("strategy.epochs", epochs, low=0)
        self.batch_size = whole_number("strategy.batch_size", batch_size, low=1)
        self.lr = finite_number("strategy.lr", lr, low=0, open_low=True)
        self.input_dropout = finite_number(
            "strategy.input_dropout", input_dropout, low=0, high=1, open_high=True
        )
        self.class_balanced = flag("strategy.class_balanced", class_balanced)
        self.bootstrap = flag("strategy.bootstrap", bootstrap)

    def member_probs(
        self,
        train_x: np.ndarray,
        train_y: np.ndarray,
        infer_x: np.ndarray,
        rng: np.random.Generator,
        num_classes: int = 2,
    ) -> np.ndarray:
        """Train the ensemble on (train_x, train_y ∈ {0 … C − 1}); each member's class probabilities,
        (M, n, C)."""
        import torch

        gen = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
        x = torch.as_tensor(np.asarray(train_x, dtype=np.float32))
        y = torch.as_tensor(np.asarray(train_y).astype(np.int64))
        n, d = x.shape
        m = self.n_members
        if n == 0:
            raise ValueError("the perceptron ensemble needs at least one labelled example")
        c = int(num_classes)
        counts = torch.bincount(y, minlength=c).double()
        # |L| / |L_c| for the classes L holds; a class absent from L has no example to weigh (with one
        # class in L its weight is |L| / |L| = 1: nothing is balanced)
        class_w = (
            torch.where(counts > 0, n / counts.clamp(min=1), 0.0).float()
            if self.class_balanced
            else torch.ones(c)
        )
        limit = float(np.sqrt(6.0 / (d + c)))
        weight = ((torch.rand(m, d, c, generator=gen) * 2.0 - 1.0) * limit).requires_grad_()
        bias = torch.zeros(m, 1, c, requires_grad=True)
        opt = torch.optim.Adam([weight, bias], lr=self.lr, betas=(0.9, 0.999), eps=1e-7)
        members_rows = (
            torch.randint(0, n, (m, n), generator=gen)
            if self.bootstrap
            else torch.arange(n).expand(m, n)
        )
        keep = 1.0 - self.input_dropout
        with torch.enable_grad(), torch_threads(1):
            for _ in range(self.epochs):
                order = torch.argsort(torch.rand(m, n, generator=gen), dim=1)
                epoch_rows = torch.gather(members_rows, 1, order)
                for start in range(0, n, self.batch_size):
                    rows = epoch_rows[:, start : start + self.batch_size]  # (M, B)
                    xb = x[rows]  # (M, B, d)
                    if self.input_dropout > 0:
                        mask = torch.rand(xb.shape, generator=gen) < keep
                        xb = xb * mask / keep
                    logits = torch.einsum("mbd,mdc->mbc", xb, weight) + bias
                    yb = y[rows]
                    loss = torch.nn.functional.cross_entropy(
                        logits.reshape(-1, c), yb.reshape(-1), reduction="none"
                    )
                    per_member = (loss * class_w[yb.reshape(-1)]).reshape(m, -1).mean(dim=1)
                    opt.zero_grad()
                    per_member.sum().backward()
                    opt.step()
        with torch.no_grad():
            xi = torch.as_tensor(np.asarray(infer_x, dtype=np.float32))
            logits = torch.einsum("nd,mdc->mnc", xi, weight) + bias
            return torch.softmax(logits, dim=2).double().numpy()

    def score(self, outputs: PoolOutputs, rng: np.random.Generator) -> np.ndarray:
        train_x = outputs.require("labelled_embeddings")
        train_y = outputs.require("labelled_labels")
        probs = self.member_probs(
            train_x, train_y, outputs.require("embeddings"), rng, outputs.num_classes
        )
        if outputs.num_classes == 2:
            return binary_entropy(probs[:, :, 1].mean(axis=0))
        return entropy(probs.mean(axis=0)) / np.log(2.0)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run tiny-model training on ``n`` intra-op threads (restored afterwards).

    The perceptrons' mini-batches are far too small to gain from threading;
    on a shared CPU extra threads only add synchronisation cost. Results do not depend on it.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
