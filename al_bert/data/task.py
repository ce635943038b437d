"""A text-classification task (binary, or C > 2 classes): the plain-column splits every experiment starts from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

SPLIT_COLUMNS = ("id", "text", "label")


def label_codes(
    names: Sequence[str] | np.ndarray | pd.Series, positive: str, classes: Sequence[str]
) -> np.ndarray:
    """The ``label`` column for class names: binary (no ``classes``) 1 for ``positive`` and 0 for every other
    class; multi-class the index in ``classes``."""
    names = np.asarray(names, dtype=object)
    if not classes:
        return (names == positive).astype(np.int64)
    index = {name: i for i, name in enumerate(classes)}
    return np.asarray([index[name] for name in names], dtype=np.int64)


def target_label_of(positive: str, classes: Sequence[str]) -> int:
    """The label of ``positive``: 1 on a binary task, its index in ``classes`` on a multi-class one."""
    return list(classes).index(positive) if classes else 1


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
    """Train / dev / test splits with columns ``id`` (unique str), ``text`` (str), ``label`` (int).

    Binary tasks (``classes`` empty, both papers): label 1 is ``positive_class``, 0 every other class.
    Multi-class tasks: label ``c`` is ``classes[c]``, and ``positive_class`` is the *target* class, the one
    ``dataset.imbalance_ratio`` sub-samples and the imbalanced scenario's seed is drawn from.

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
    classes: tuple[str, ...] = ()
    """The class names of a multi-class task, in label order; empty for a binary task."""

    @property
    def multiclass(self) -> bool:
        return bool(self.classes)

    @property
    def num_classes(self) -> int:
        """C, the number of outputs of the classifier (2 for a binary task)."""
        return len(self.classes) if self.classes else 2

    @property
    def target_label(self) -> int:
        """The label of ``positive_class``: 1 on a binary task, its index in ``classes`` otherwise."""
        return target_label_of(self.positive_class, self.classes)

    def class_name(self, label: int) -> str:
        """A readable name of label ``label``."""
        if self.classes:
            return self.classes[label]
        return self.positive_class if label == 1 else f"not {self.positive_class}"

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
