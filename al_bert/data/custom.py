"""``dataset=custom``: a task from the user's own CSV / TSV / JSONL / Parquet file.

Binary (default): one class of ``label_column`` is positive, every other value negative. With
``multiclass=true`` every distinct value is a class (label order: numeric if every value is a whole
number, else alphabetical) and ``positive_class`` is the target class (sub-sampled by
``imbalance_ratio``, seeded by the imbalanced scenario). With ``test_path`` the
file at ``path`` is the pool (and ``dev_path``, if given, the dev set); otherwise the seeded
70/10/20 split with caps 15K/3K/3K of :mod:`al_bert.data.splits` is applied (paper 1 §3.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from al_bert.data.fetch import FetchSettings
from al_bert.data.imbalance import check_sampling, subsample_to_ratio
from al_bert.data.queries import make_query
from al_bert.data.splits import seeded_split_indices
from al_bert.data.task import SPLIT_COLUMNS, KeywordQuery, Task, label_codes, target_label_of
from al_bert.errors import ConfigError, DataError
from al_bert.validation import flag, show, text

__all__ = ["build_custom_task", "read_table"]

_READERS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class MissingDataFileError(DataError, FileNotFoundError):
    """A configured data file does not exist."""


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV / TSV / JSONL / JSON / Parquet file (format from the extension, ``.gz`` ok); an
    empty file, or one without data rows, fails naming the file."""
    try:
        frame = _read_table(path)
    except (pd.errors.EmptyDataError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{Path(path).expanduser()} cannot be read: {error}") from None
    if frame.empty:
        raise DataError(f"{Path(path).expanduser()} holds no data rows")
    return frame


def _read_table(path: str | Path) -> pd.DataFrame:
    p = Path(path).expanduser()
    if not p.is_file():
        raise MissingDataFileError(f"custom dataset file not found: {p}")
    suffixes = [s.lower() for s in p.suffixes]
    ext = (
        suffixes[-2]
        if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz")
        else (suffixes[-1] if suffixes else "")
    )
    kind = _READERS.get(ext)
    if kind is None:
        raise DataError(
            f"cannot tell the format of {p.name}; use one of: {', '.join(sorted(_READERS))}"
        )
    if kind == "csv":
        return pd.read_csv(p, keep_default_na=False, na_values=[""])
    if kind == "tsv":
        return pd.read_csv(p, sep="\t", keep_default_na=False, na_values=[""])
    if kind == "jsonl":
        return pd.read_json(p, lines=True)
    if kind == "json":
        return pd.read_json(p)
    return pd.read_parquet(p)


def _label_strings(col: pd.Series) -> pd.Series:
    """Labels as strings; integral floats (``1.0`` from a CSV with gaps) become ``"1"``."""
    if pd.api.types.is_bool_dtype(col):
        return col.map(lambda v: str(v).lower())
    if pd.api.types.is_float_dtype(col):
        vals = col.dropna()
        if (vals == vals.round()).all():
            return col.map(lambda v: "" if pd.isna(v) else str(int(v)))
    return col.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def _class_order(names: set[str]) -> list[str]:
    """Label order of a multi-class column: numeric when every name is a whole number written in ASCII
    digits (``-12``, ``7``), else alphabetical."""
    if all(re.fullmatch(r"-?[0-9]+", name) for name in names):
        return sorted(names, key=int)
    return sorted(names)


def _labelled_frame(
    df: pd.DataFrame,
    file: str,
    text_column: str,
    label_column: str,
    id_column: str | None,
) -> tuple[pd.DataFrame, list[str]]:
    """The file as id/text/label columns with the label still the file's value (a string)."""
    for col, what in ((text_column, "text_column"), (label_column, "label_column")) + (
        ((id_column, "id_column"),) if id_column else ()
    ):
        if col not in df.columns:
            raise DataError(
                f"{what} {col!r} not found in {file}; columns: {', '.join(map(str, df.columns))}"
            )
    text = df[text_column]
    bad = text.isna() | (text.astype(str).str.strip() == "")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise DataError(
            f"{file}: {len(rows)} empty text(s) in column {text_column!r} "
            f"(0-based data rows {', '.join(map(str, rows[:10]))}{' ...' if len(rows) > 10 else ''})"
        )
    labels = _label_strings(df[label_column])
    missing = labels.str.strip() == ""
    if missing.any():  # an unlabelled row is not a negative
        rows = np.flatnonzero(missing.to_numpy())
        raise DataError(
            f"{file}: {len(rows)} missing label(s) in column {label_column!r} "
            f"(0-based data rows {', '.join(map(str, rows[:10]))}{' ...' if len(rows) > 10 else ''}); "
            "label them or remove those rows"
        )
    classes = sorted(set(labels))
    ids = (
        df[id_column].astype(str).tolist()
        if id_column
        else [f"{Path(file).name}:{i}" for i in range(len(df))]
    )
    out = pd.DataFrame(
        {
            "id": ids,
            "text": text.astype(str).tolist(),
            "label": labels.tolist(),
        },
        columns=list(SPLIT_COLUMNS),
    )
    return out, classes


def build_custom_task(
    path: str,
    positive_class: str | int | bool,
    text_column: str = "text",
    label_column: str = "label",
    test_path: str | None = None,
    dev_path: str | None = None,
    id_column: str | None = None,
    name: str = "custom",
    seed: int = 0,
    imbalance_ratio: float | None = None,
    query: Mapping[str, Any] | KeywordQuery | None = None,
    fetch: FetchSettings | None = None,
    multiclass: bool = False,
) -> Task:
    """Build a :class:`Task` from user files (see module docstring). Errors name the file and the
    missing column / absent class / empty rows. ``fetch`` (where built-in datasets are downloaded) is
    accepted so every dataset builder has one signature; user files are read where they are."""
    text("dataset.path", path)
    text("dataset.name", name)
    text("dataset.text_column", text_column)
    text("dataset.label_column", label_column)
    text("dataset.test_path", test_path, nullable=True)
    text("dataset.dev_path", dev_path, nullable=True)
    text("dataset.id_column", id_column, nullable=True)
    if not isinstance(positive_class, (str, int, float)):
        raise ConfigError(
            f"dataset.positive_class={show(positive_class)}: must be one value of the "
            f"{label_column!r} column (a string or a number)"
        )
    check_sampling(seed, imbalance_ratio)
    flag("dataset.multiclass", multiclass)
    keyword_query = make_query(query)
    positive = (
        str(positive_class).lower() if isinstance(positive_class, bool) else str(positive_class)
    )
    files = {"train": path}
    if test_path:
        files["test"] = test_path
        if dev_path:
            files["dev"] = dev_path
    elif dev_path:
        raise DataError("dev_path needs test_path as well (otherwise the seeded split is used)")
    frames: dict[str, pd.DataFrame] = {}
    all_classes: set[str] = set()
    for split, f in files.items():
        frames[split], classes = _labelled_frame(
            read_table(f), f, text_column, label_column, id_column
        )
        all_classes.update(classes)
    if positive not in all_classes:
        raise DataError(
            f"positive_class {positive!r} does not occur in column {label_column!r} of {path}; "
            f"valid: {', '.join(sorted(all_classes))}"
        )
    order = _class_order(all_classes) if multiclass else []
    if multiclass and len(order) < 3:
        raise DataError(
            f"column {label_column!r} of {path} has {len(order)} classes; multiclass=true needs 3 or "
            f"more (set dataset.multiclass=false for a binary task)"
        )
    for split, frame in frames.items():
        frames[split] = frame.assign(label=label_codes(frame["label"], positive, order))
    if "test" not in frames:
        pool = frames.pop("train")
        parts = seeded_split_indices(len(pool), seed)
        for split in ("train", "dev", "test"):
            frames[split] = pool.iloc[parts[split]].reset_index(drop=True)
    ids = pd.concat([f["id"] for f in frames.values()])
    if ids.duplicated().any():
        dup = ids[ids.duplicated()].iloc[0]
        raise DataError(f"ids must be unique across train/dev/test; {dup!r} repeats")
    info: dict[str, object] = {
        "title": name,
        "source": "custom",
        "files": dict(files),
        "classes": order or sorted(all_classes),
        "positive_class": positive,
        "split": "files" if test_path else "seeded",
        "seed": int(seed),
        "imbalance_ratio": None if imbalance_ratio is None else float(imbalance_ratio),
    }
    if imbalance_ratio is not None:
        frames["train"], info["imbalance"] = subsample_to_ratio(
            frames["train"], float(imbalance_ratio), seed, target_label_of(positive, order)
        )
    return Task(
        name=name,
        positive_class=positive,
        train=frames["train"],
        dev=frames.get("dev"),
        test=frames["test"],
        query=keyword_query,
        info=info,
        classes=tuple(order),
    )
