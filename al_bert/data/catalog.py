"""Build the :class:`~al_bert.data.task.Task` of every dataset of both papers, and the multi-class tasks.

Paper 1 (Ein-Dor et al. 2020, Tables 1/4): ``split=paper`` uses the exact IBM split ids
(``lrtc_ids/PROVENANCE.md``); repeated ids are kept as separate examples, as the framework's
extractor does, so split sizes equal Table 4. Paper 2 (Fairstein et al., §5.1): one class of the
source is positive, all others negative; ``imbalance_ratio`` sub-samples the *training* positives
to a fraction 1/r; dev/test are left alone. ``split=seeded`` replaces the original splits by the
seeded 70/10/20 split with caps 15K/3K/3K (paper 1 §3.1) for any dataset.

Beyond the papers, ``trec6`` and ``isear7`` keep every class of TREC (6 coarse classes) and ISEAR (7
emotions), with labels in the authors' class order (:data:`~al_bert.data.readers.CLASSES`) and the same paper-1
split ids as the binary ``trec`` / ``isear``; ``imbalance_ratio`` sub-samples the *target* class
(``positive_class``) of the training split to 1/r, the other classes untouched.

Entry point for Hydra configs (``conf/dataset/*.yaml``): :func:`build_task`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from al_bert.data.fetch import FetchSettings, resolve
from al_bert.data.imbalance import check_sampling, subsample_to_ratio
from al_bert.data.queries import make_query
from al_bert.data.readers import CLASSES, read_source
from al_bert.data.sources import SOURCES, lrtc_id_file
from al_bert.data.splits import seeded_split_indices
from al_bert.data.task import SPLIT_COLUMNS, KeywordQuery, Task, label_codes, target_label_of
from al_bert.errors import DataError
from al_bert.validation import text

__all__ = [
    "SPLIT_MODES",
    "TASKS",
    "TaskSpec",
    "build_task",
    "declares_multiclass",
    "resolve_positive_class",
    "task_names",
]

SPLIT_MODES = ("paper", "seeded")
PAPER1_IMB_RATIO = 10  # paper 1 §3.1: target class sub-sampled "towards a prior of 10%"


@dataclass(frozen=True)
class TaskSpec:
    """How a named task is made from a raw source."""

    name: str
    title: str
    source: str
    paper: int
    default_positive: str
    lrtc: str | None = None  # folder of lrtc_ids/ with the paper-1 split ids
    imbalanced: bool = False  # a paper-1 "-imb" variant: ids built for ``default_positive`` only
    dev_as_test: bool = False  # SST-2: GLUE's labelled dev set is the test set
    text_with_title: bool = False  # paper-2 AG News: text = title + " " + description
    aliases: Mapping[str, str] = field(default_factory=dict)
    multiclass: bool = False  # every class of the source is a label (0 = beyond both papers)


_TREC_ALIASES = {
    "abbreviation": "ABBR",
    "description": "DESC",
    "entity": "ENTY",
    "human": "HUM",
    "location": "LOC",
    "numeric": "NUM",
}
_SST2_ALIASES = {"1": "positive", "0": "negative"}
_COLA_ALIASES = {"0": "unacceptable", "1": "acceptable"}
_WIKI_ALIASES = {"general": "attack", "1": "attack", "0": "no_attack"}
_AG_ALIASES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}

TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        # ---- paper 1, Table 4 (rows 1-10)
        TaskSpec("subjectivity_imb", "Subjectivity-imb", "subjectivity", 1, "subjective",
                 lrtc="subjectivity_imbalanced_subjective", imbalanced=True),
        TaskSpec("polarity_imb", "Polarity-imb", "rt-polarity", 1, "positive",
                 lrtc="polarity_imbalanced_positive", imbalanced=True),
        TaskSpec("ag_news_imb", "AG's News-imb", "ag_news", 1, "World",
                 lrtc="ag_news_imbalanced_1", imbalanced=True, aliases=_AG_ALIASES),
        TaskSpec("wiki_attack", "Wiki attack", "wiki_attack", 1, "attack", lrtc="wiki_attack",
                 aliases=_WIKI_ALIASES),
        TaskSpec("isear", "ISEAR", "isear", 1, "fear", lrtc="isear"),
        TaskSpec("trec", "TREC", "trec", 1, "LOC", lrtc="trec", aliases=_TREC_ALIASES),
        TaskSpec("ag_news", "AG's News", "ag_news", 1, "World", lrtc="ag_news",
                 aliases=_AG_ALIASES),
        TaskSpec("cola", "CoLA", "cola", 1, "unacceptable", lrtc="cola", aliases=_COLA_ALIASES),
        TaskSpec("subjectivity", "Subjectivity", "subjectivity", 1, "subjective",
                 lrtc="subjectivity"),
        TaskSpec("polarity", "Polarity", "rt-polarity", 1, "positive", lrtc="polarity"),
        # ---- paper 2, §5.1 / Table 1
        TaskSpec("sst2", "SST-2", "sst2", 2, "positive", dev_as_test=True, aliases=_SST2_ALIASES),
        TaskSpec("ag_news_p2", "AG_news", "ag_news", 2, "World", text_with_title=True,
                 aliases=_AG_ALIASES),
        TaskSpec("dbpedia", "DBpedia-14", "dbpedia_14", 2, "Company"),
        TaskSpec("pubmed", "PubMed-20K-RCT", "pubmed_20k_rct", 2, "BACKGROUND"),
        # ---- beyond both papers: every class of the source (paper 0), paper-1 split ids
        TaskSpec("trec6", "TREC-6", "trec", 0, "LOC", lrtc="trec", aliases=_TREC_ALIASES,
                 multiclass=True),
        TaskSpec("isear7", "ISEAR-7", "isear", 0, "fear", lrtc="isear", multiclass=True),
    )
}  # fmt: skip


def task_names() -> list[str]:
    return list(TASKS)


def declares_multiclass(dataset: Mapping[str, Any]) -> bool:
    """Whether a ``dataset`` config builds a multi-class task, known before any file is read (a built-in
    multi-class task, or ``dataset=custom`` with ``multiclass: true``)."""
    spec = TASKS.get(str(dataset.get("name")))
    return dataset.get("multiclass") is True or bool(spec and spec.multiclass)


def get_task_spec(name: str) -> TaskSpec:
    """The spec of task ``name``; a misspelled name lists the valid ones."""
    if name not in TASKS:
        raise DataError(f"unknown dataset {name!r}; valid: {', '.join(TASKS)}, custom")
    return TASKS[name]


def resolve_positive_class(spec: TaskSpec, value: object) -> str:
    """Canonical class name for ``value`` (exact, alias, or case-insensitive match)."""
    classes = CLASSES[spec.source]
    if value is None:
        return spec.default_positive
    text = str(value).strip()
    if text in classes:
        return text
    lowered = text.lower()
    for alias, target in spec.aliases.items():
        if alias.lower() == lowered:
            return target
    for cls in classes:
        if cls.lower() == lowered:
            return cls
    raise DataError(f"unknown positive_class {text!r} for {spec.name}; valid: {', '.join(classes)}")


# --------------------------------------------------------------------------- split positions


# Home file of column 0 of each id file (lrtc_ids/PROVENANCE.md, "Home files and column 0").
_HOME_FILES: dict[str, dict[str, str]] = {
    "cola": {"train": "train.csv", "dev": "train.csv", "test": "test.csv"},
    "isear": {"train": "isear_data.csv", "dev": "isear_data.csv", "test": "isear_data.csv"},
    "ag_news": {"train": "train_orig.csv", "dev": "train_orig.csv", "test": "test_orig.csv"},
    "wiki_attack": {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"},
}
# Column 0 of an imbalanced variant's id file = row number in the balanced id file (same split).
_BALANCED_PARENT = {
    "ag_news_imbalanced_1": "ag_news",
    "polarity_imbalanced_positive": "polarity",
    "subjectivity_imbalanced_subjective": "subjectivity",
}
LRTC_ROWS = ("home", "redirected")


def _lrtc_refs(
    folder: str, split: str, rows: str, settings: FetchSettings
) -> list[tuple[str, int]]:
    """``(file, row)`` pairs of one IBM id file.

    ``rows="redirected"``: the ``(file, id)`` columns, exactly what the framework's extractor reads
    (duplicate texts redirected to one occurrence, repeats kept). ``rows="home"``: each row's own
    position (column 0) in its home file; the text is identical, the label is the row's own one.
    """
    ids = pd.read_csv(resolve(lrtc_id_file(folder, split), settings))
    if rows == "home" and folder in _BALANCED_PARENT:
        parent = _lrtc_refs(_BALANCED_PARENT[folder], split, rows, settings)
        return [parent[i] for i in ids.iloc[:, 0].tolist()]
    if rows == "home" and folder in _HOME_FILES:
        home = _HOME_FILES[folder][split]
        return [(home, r) for r in ids.iloc[:, 0].tolist()]
    return list(zip(ids["file"].tolist(), ids["id"].tolist()))


def _lrtc_positions(
    spec: TaskSpec, raw: pd.DataFrame, settings: FetchSettings, rows: str
) -> dict[str, Any]:
    """Rows of ``raw`` listed by the IBM id files, in file order (lrtc_ids/PROVENANCE.md)."""
    assert spec.lrtc is not None
    lookup = {(f, r): i for i, (f, r) in enumerate(zip(raw["lrtc_file"], raw["lrtc_row"].tolist()))}
    out: dict[str, Any] = {}
    if spec.source == "trec":
        # plain 1-based line numbers of train_5500.label; test = the whole TREC_10.label
        for split in ("train", "dev"):
            path = resolve(lrtc_id_file(spec.lrtc, split), settings)
            ids = [int(x) for x in path.read_text().split()]
            out[split] = np.array([lookup[("train_5500.label", i - 1)] for i in ids])
        out["test"] = np.flatnonzero(raw["lrtc_file"].to_numpy() == "TREC_10.label")
        return out
    for split in ("train", "dev", "test"):
        refs = _lrtc_refs(spec.lrtc, split, rows, settings)
        try:
            out[split] = np.array([lookup[ref] for ref in refs], dtype=np.int64)
        except KeyError as err:
            raise DataError(
                f"lrtc_ids/{spec.lrtc}/{split}_ids.csv refers to row {err.args[0]} that the raw "
                f"{spec.source} files do not have"
            ) from err
    return out


def _original_positions(spec: TaskSpec, raw: pd.DataFrame) -> dict[str, Any]:
    part = raw["part"].to_numpy()
    if spec.dev_as_test:
        return {"train": np.flatnonzero(part == "train"), "test": np.flatnonzero(part == "dev")}
    out = {"train": np.flatnonzero(part == "train"), "test": np.flatnonzero(part == "test")}
    dev = np.flatnonzero(part == "dev")
    if dev.size:
        out["dev"] = dev
    return out


def _make_splits(
    raw: pd.DataFrame,
    positions: Mapping[str, Any],
    positive: str,
    classes: Sequence[str],
    spec: TaskSpec,
) -> dict[str, pd.DataFrame]:
    """Materialise id/text/label frames; ids are ``<raw file>:<row>``, a repeat gets ``#k``."""
    text = raw["text"]
    if spec.text_with_title and "title" in raw:
        text = (raw["title"].astype(str) + " " + raw["text"].astype(str)).str.strip()
    seen: dict[str, int] = {}
    out = {}
    for split in ("train", "dev", "test"):
        if split not in positions:
            continue
        pos = np.asarray(positions[split], dtype=np.int64)
        ids = []
        for src, row in zip(raw["src"].to_numpy()[pos], raw["src_row"].to_numpy()[pos]):
            base = f"{src}:{row}"
            k = seen.get(base, 0) + 1
            seen[base] = k
            ids.append(base if k == 1 else f"{base}#{k}")
        out[split] = pd.DataFrame(
            {
                "id": ids,
                "text": text.to_numpy()[pos].astype(str),
                "label": label_codes(raw["cls"].to_numpy()[pos], positive, classes),
            },
            columns=list(SPLIT_COLUMNS),
        )
    return out


def build_task(
    name: str,
    positive_class: str | int | None = None,
    split: str = "paper",
    seed: int = 0,
    imbalance_ratio: float | None = None,
    query: Mapping[str, Any] | KeywordQuery | None = None,
    lrtc_rows: str = "home",
    fetch: FetchSettings | None = None,
) -> Task:
    """Build task ``name`` (a key of :data:`TASKS`; see ``conf/dataset/*.yaml``).

    ``positive_class``: source class name (default: the paper's); ``split``: ``paper`` (paper-1
    ids / original splits) or ``seeded`` (70/10/20, caps 15K/3K/3K, ``seed``);
    ``imbalance_ratio`` r: sub-sample training positives to a fraction 1/r (paper 2);
    ``query``: keyword query config (paper 1 §3.2); ``lrtc_rows``: ``home`` (each id row's own
    position, reproduces Table 4) or ``redirected`` (the extractor's rows); ``fetch``: where the raw
    files come from (the config's ``paths.data``; :mod:`al_bert.data.fetch`), never part of a run's identity.
    """
    spec = get_task_spec(text("dataset.name", name))
    positive = resolve_positive_class(spec, positive_class)
    check_sampling(seed, imbalance_ratio)
    if lrtc_rows not in LRTC_ROWS:
        raise DataError(f"unknown lrtc_rows {lrtc_rows!r}; valid: {', '.join(LRTC_ROWS)}")
    if split not in SPLIT_MODES:
        raise DataError(f"unknown split {split!r}; valid: {', '.join(SPLIT_MODES)}")
    if spec.imbalanced and split == "paper" and positive != spec.default_positive:
        raise DataError(
            f"the paper split ids of {name} were sub-sampled for class {spec.default_positive!r}; "
            f"use split=seeded (or the balanced task) for positive_class {positive!r}"
        )
    kq = make_query(query)
    settings = fetch or FetchSettings()
    raw = read_source(spec.source, settings)
    info: dict[str, object] = {
        "title": spec.title,
        "paper": spec.paper,
        "source": spec.source,
        "source_title": SOURCES[spec.source].title,
        "classes": list(CLASSES[spec.source]),
        "positive_class": positive,
        "split": split,
        "seed": int(seed),
    }
    if split == "paper":
        if spec.lrtc:
            positions = _lrtc_positions(spec, raw, settings, lrtc_rows)
            info["split_ids"] = f"lrtc_ids/{spec.lrtc} ({lrtc_rows} rows)"
        else:
            positions = _original_positions(spec, raw)
            info["split_ids"] = "original"
    else:
        pool = np.arange(len(raw))
        if spec.imbalanced:
            labels = pd.DataFrame({"label": (raw["cls"].to_numpy() == positive).astype(int)})
            sub, sub_info = subsample_to_ratio(labels.assign(pos=pool), PAPER1_IMB_RATIO, seed)
            pool = sub["pos"].to_numpy()
            info["pool_imbalance"] = sub_info
        parts = seeded_split_indices(len(pool), seed)
        positions = {k: pool[v] for k, v in parts.items()}
    classes = CLASSES[spec.source] if spec.multiclass else ()
    splits = _make_splits(raw, positions, positive, classes, spec)
    if imbalance_ratio is not None:
        splits["train"], info["imbalance"] = subsample_to_ratio(
            splits["train"], float(imbalance_ratio), seed, target_label_of(positive, classes)
        )
    info["imbalance_ratio"] = None if imbalance_ratio is None else float(imbalance_ratio)
    label = f"{spec.title} ({positive}"
    label += f", r={imbalance_ratio:g})" if imbalance_ratio is not None else ")"
    info["label"] = label
    return Task(
        name=name,
        positive_class=positive,
        train=splits["train"],
        dev=splits.get("dev"),
        test=splits["test"],
        query=kq,
        info=info,
        classes=tuple(classes),
    )
