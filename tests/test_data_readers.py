"""Parsers and id mapping of the sources missing from the mirror, on synthetic files in their
published formats (AG News train, Wiki attack, PubMed, DBpedia). Real files replace these once
downloaded; the split sizes of paper 1 Table 4 only depend on the row layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from al_bert.data import readers
from al_bert.data.catalog import build_task
from al_bert.data.fetch import FetchSettings


def _mirror() -> Path:
    env = os.environ.get("AL_BERT_DATA_MIRROR")
    return Path(env) if env else Path(__file__).parents[1].parent / "shared" / "datasets"


MIRROR = _mirror()
OFFLINE = FetchSettings(download=False)
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror missing: {MIRROR}")


def _n(df: pd.DataFrame | None) -> int:
    return 0 if df is None else len(df)


@pytest.fixture()
def fake_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[tuple[str, str], Path]:
    """Route chosen (source, name) files to synthetic copies; others resolve normally."""
    table: dict[tuple[str, str], Path] = {}
    real = readers._path

    def _path(source: str, name: str, settings: FetchSettings) -> Path:
        return table.get((source, name)) or real(source, name, settings)

    monkeypatch.setattr(readers, "_path", _path)
    return table


def _write_zhang_csv(path: Path, n: int, n_classes: int) -> None:
    rng = np.random.default_rng(0)
    cls = rng.integers(1, n_classes + 1, size=n)
    with path.open("w", encoding="utf-8") as f:
        for i, c in enumerate(cls):
            f.write(f'"{c}","Title {i}","Body #36;{i} with a \\"quote\\" and a\\backslash"\n')


@needs_mirror
def test_ag_news_tasks_from_a_train_file_with_the_published_layout(
    fake_files: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    train = tmp_path / "train.csv"
    _write_zhang_csv(train, 120_000, 4)
    fake_files[("ag_news", "train.csv")] = train
    kw = {"fetch": FetchSettings(mirror=MIRROR, cache_dir=tmp_path / "c", download=False)}
    imb = build_task("ag_news_imb", **kw)  # type: ignore[arg-type]
    assert (len(imb.train), _n(imb.dev), len(imb.test)) == (12569, 2456, 2513)
    # the test split comes from the real test.csv only: World prior 10% (Table 4)
    assert round(100 * imb.test["label"].mean()) == 10
    bal = build_task("ag_news", **kw)  # type: ignore[arg-type]
    assert (len(bal.train), _n(bal.dev), len(bal.test)) == (15000, 3000, 3000)
    assert round(100 * bal.test["label"].mean()) == 25
    assert pd.concat([bal.train.id, bal.dev.id, bal.test.id]).is_unique  # type: ignore[union-attr]
    assert bal.train["text"].str.contains(r"\$", regex=True).any()  # "#36;" cleaned to "$"
    p2 = build_task("ag_news_p2", positive_class="Sports", imbalance_ratio=20, **kw)  # type: ignore[arg-type]
    assert len(p2.test) == 7600 and int(p2.test["label"].sum()) == 1900
    n, pos = len(p2.train), int(p2.train["label"].sum())
    assert abs(pos - n / 20) <= 1
    assert p2.test["text"].iloc[0].startswith("Fears for T N pension after talks Unions")


def test_wiki_attack_labels_and_split_rows(
    fake_files: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    comments = pd.DataFrame(
        {
            "rev_id": [10, 11, 12, 13, 14],
            "comment": ["You IDIOT!NEWLINE_TOKENgo", "fine", "TAB_TOKENok", "bad", "meh"],
            "year": 2015,
            "logged_in": True,
            "ns": "user",
            "sample": "random",
            "split": ["train", "dev", "train", "test", "train"],
        }
    )
    ann = pd.DataFrame(
        {
            "rev_id": [10, 10, 10, 11, 12, 12, 13, 13, 14, 14],
            "worker_id": range(10),
            "attack": [1, 1, 0, 0, 1, 0, 1, 1, 0, 0],
        }
    )
    comments.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    ann.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    fake_files[("wiki_attack", "attack_annotated_comments.tsv")] = tmp_path / "c.tsv"
    fake_files[("wiki_attack", "attack_annotations.tsv")] = tmp_path / "a.tsv"
    raw = readers.read_wiki_attack(FetchSettings(download=False))
    assert raw["cls"].tolist() == ["attack", "no_attack", "no_attack", "attack", "no_attack"]
    assert raw["text"].tolist()[0] == "You IDIOT! go"
    assert raw["text"].tolist()[2] == "ok"
    assert list(zip(raw["lrtc_file"], raw["lrtc_row"])) == [
        ("train.csv", 0), ("dev.csv", 0), ("train.csv", 1), ("test.csv", 0), ("train.csv", 2),
    ]  # fmt: skip


def test_pubmed_and_dbpedia_parsers(
    fake_files: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    abstract = "###123\nBACKGROUND\tSome background .\nMETHODS\tWe did @ things .\n\n"
    for part in ("train", "dev", "test"):
        (tmp_path / f"{part}.txt").write_text(abstract * 3, encoding="utf-8")
        fake_files[("pubmed_20k_rct", f"{part}.txt")] = tmp_path / f"{part}.txt"
    task = build_task("pubmed", positive_class="methods", imbalance_ratio=None, fetch=OFFLINE)
    assert task.positive_class == "METHODS"
    assert (len(task.train), _n(task.dev), len(task.test)) == (6, 6, 6)
    assert task.train["label"].tolist() == [0, 1] * 3
    assert task.train["text"].iloc[1] == "We did @ things ."
    for part in ("train", "test"):
        _write_zhang_csv(tmp_path / f"db_{part}.csv", 280, 14)
        fake_files[("dbpedia_14", f"{part}.csv")] = tmp_path / f"db_{part}.csv"
    db = build_task("dbpedia", positive_class="album", imbalance_ratio=None, fetch=OFFLINE)
    assert db.positive_class == "Album" and len(db.train) == 280 and db.dev is None
    assert db.train["text"].iloc[0].startswith("Title 0 Body")
