"""A binary text-classification task: the plain-column splits every experiment starts from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

SPLIT_COLUMNS = ("id", "text", "label")


@dataclass(frozen=True)
class KeywordQuery:
    """A keyword query of Ein-Dor et al. §3.2 used to build an imbalanced-practical seed.

    ``kind`` is ``"substring"`` (any of ``terms`` occurs, case-sensitive as in the paper's queries),
    ``"word"`` (any of ``terms`` occurs as a whole word) or ``"regex"`` (``pattern`` is searched with
    :func:`re.search`).
    """

    kind: str
    terms: tuple[str, ...] = ()
    pattern: str = ""


@dataclass(frozen=True)
class Task:
    """Train / dev / test splits with columns ``id`` (unique str), ``text`` (str), ``label`` (0/1).

    ``train`` is the AL pool. ``dev`` is None where the protocol has no dev set. Row order is fixed
    and deterministic: the AL loop addresses pool examples by their position in ``train``.
    """

    name: str
    positive_class: str
    train: pd.DataFrame
    test: pd.DataFrame
    dev: pd.DataFrame | None = None
    query: KeywordQuery | None = None
    info: dict[str, object] = field(default_factory=dict)

    def subsample(self, max_train: int | None, max_eval: int | None, seed: int) -> Task:
        """A smaller copy for trials and tests: at most ``max_train`` pool rows and ``max_eval`` dev/test
        rows, drawn at random with ``seed``; row order is kept."""

        def cap(frame: pd.DataFrame | None, size: int | None) -> pd.DataFrame | None:
            if frame is None or size is None or len(frame) <= size:
                return frame
            keep = np.sort(np.random.default_rng(seed).choice(len(frame), size, replace=False))
            return frame.iloc[keep].reset_index(drop=True)

        train, test = cap(self.train, max_train), cap(self.test, max_eval)
        assert train is not None and test is not None
        return replace(self, train=train, test=test, dev=cap(self.dev, max_eval))

    def splits(self) -> dict[str, pd.DataFrame]:
        out = {"train": self.train, "test": self.test}
        if self.dev is not None:
            out["dev"] = self.dev
        return out
