"""Parsers for the raw files as their authors publish them (formats: each ``PROVENANCE.md``).

Every reader returns a *raw table*, one row per raw example, in file order, with columns

- ``src`` / ``src_row``: base name of the raw file and 0-based row in it (used to build ids);
- ``lrtc_file`` / ``lrtc_row``: the file name and 0-based row that the IBM split ids of
  Ein-Dor et al. (2020) address (``lrtc_ids/PROVENANCE.md``, "How id is counted");
- ``part``: the original split (``train`` / ``dev`` / ``test``);
- ``text``: the text as the paper's framework used it; ``cls``: the source class name.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from al_bert.data.fetch import FetchSettings, resolve
from al_bert.data.sources import get_file

__all__ = ["CLASSES", "READERS", "read_source"]

RAW_COLUMNS = ("src", "src_row", "lrtc_file", "lrtc_row", "part", "text", "cls")

# Source class names, in the order the authors list them.
CLASSES: dict[str, tuple[str, ...]] = {
    "rt-polarity": ("positive", "negative"),
    "subjectivity": ("subjective", "objective"),
    "trec": ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"),
    "cola": ("unacceptable", "acceptable"),
    "isear": ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt"),
    "ag_news": ("World", "Sports", "Business", "Sci/Tech"),
    "wiki_attack": ("attack", "no_attack"),
    "sst2": ("negative", "positive"),
    "pubmed_20k_rct": ("BACKGROUND", "OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS"),
    "dbpedia_14": (
        "Company",
        "EducationalInstitution",
        "Artist",
        "Athlete",
        "OfficeHolder",
        "MeanOfTransportation",
        "Building",
        "NaturalPlace",
        "Village",
        "Animal",
        "Plant",
        "Album",
        "Film",
        "WrittenWork",
    ),
}


def _frame(rows: list[tuple[str, int, str, int, str, str, str]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(RAW_COLUMNS))
    df["src_row"] = df["src_row"].astype("int64")
    df["lrtc_row"] = df["lrtc_row"].astype("int64")
    return df


def _path(source: str, name: str, settings: FetchSettings) -> Path:
    return resolve(get_file(source, name), settings)


def _latin1_lines(path: Path, encoding: str = "iso-8859-1") -> list[str]:
    """Lines as the IBM extractor sees them: text mode, ``for line in f`` (never ``splitlines``)."""
    with path.open(encoding=encoding) as f:
        return [line for line in f]


def read_polarity(settings: FetchSettings) -> pd.DataFrame:
    """rt-polarity.pos / .neg: one snippet per line, ISO-8859-1 (byte 0x85 stays inside lines)."""
    rows = []
    for name, cls in (("rt-polarity.pos", "positive"), ("rt-polarity.neg", "negative")):
        for i, line in enumerate(_latin1_lines(_path("rt-polarity", name, settings))):
            rows.append((name, i, name, i, "train", line.rstrip(), cls))
    return _frame(rows)


def read_subjectivity(settings: FetchSettings) -> pd.DataFrame:
    """quote (subjective, NLTK's UTF-8 copy) and plot (objective, ASCII) files, one per line."""
    rows = []
    for name, cls in (("quote.tok.gt9.5000", "subjective"), ("plot.tok.gt9.5000", "objective")):
        for i, line in enumerate(_latin1_lines(_path("subjectivity", name, settings), "utf-8")):
            rows.append((name, i, name, i, "train", line.rstrip(), cls))
    return _frame(rows)


def _trec_line(line: str) -> tuple[str, str]:
    # prepare_trec: ISO-8859-1, non-ASCII dropped, stripped; "COARSE:fine question ...".
    clean = line.encode("ascii", "ignore").decode("ascii").strip()
    label, _, text = clean.partition(" ")
    return label.split(":", 1)[0], text


def read_trec(settings: FetchSettings) -> pd.DataFrame:
    """train_5500.label (train) and TREC_10.label (test); class = coarse label."""
    rows = []
    for name, part in (("train_5500.label", "train"), ("TREC_10.label", "test")):
        for i, line in enumerate(_latin1_lines(_path("trec", name, settings))):
            cls, text = _trec_line(line)
            rows.append((name, i, name, i, part, text, cls))
    return _frame(rows)


def _tsv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [r for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r]


def read_cola(settings: FetchSettings) -> pd.DataFrame:
    """Raw CoLA tsv (source, label, mark, sentence); label 0 = unacceptable.

    The framework's ``test.csv`` is in_domain_dev followed by out_of_domain_dev (ids 0..1042).
    """
    rows = []
    lrtc_next = {"train.csv": 0, "test.csv": 0}
    for name, part, lrtc in (
        ("in_domain_train.tsv", "train", "train.csv"),
        ("in_domain_dev.tsv", "test", "test.csv"),
        ("out_of_domain_dev.tsv", "test", "test.csv"),
    ):
        for i, rec in enumerate(_tsv_rows(_path("cola", f"cola_public/raw/{name}", settings))):
            cls = "unacceptable" if rec[1] == "0" else "acceptable"
            rows.append((name, i, lrtc, lrtc_next[lrtc], part, rec[3].strip(), cls))
            lrtc_next[lrtc] += 1
    return _frame(rows)


def read_isear(settings: FetchSettings) -> pd.DataFrame:
    """``|``-separated CSV export; ``SIT`` may itself contain ``|`` (isear/PROVENANCE.md).

    Takes the first 40 fields by position, ``SIT`` = everything up to the last two fields; removes
    the line-wrap artifact ``"á "`` (``prepare_isear.py`` removes ``"á\\n"``).
    """
    path = _path("isear", "isear.csv", settings)
    with path.open(encoding="utf-8", newline="") as f:
        lines = [line.rstrip("\r\n") for line in f]
    header = lines[0].split("|")
    emo = header.index("Field1")
    rows = []
    for i, line in enumerate(lines[1:]):
        if not line:
            continue
        fields = line.split("|")
        sit = "|".join(fields[40:-2]).replace("á ", "").replace("á\n", "").strip()
        rows.append(("isear.csv", i, "isear_data.csv", i, "train", sit, fields[emo]))
    return _frame(rows)


def _ag_clean(x: str) -> str:
    """The HTML-entity/backslash clean-up that the framework's ``prepare_ag_news`` describes."""
    x = re.sub(r"#\S+;", r"&\g<0>", x)
    x = re.sub(r"(\w+)\\(\w+)", r"\g<1> \g<2>", x)
    x = x.replace("quot;", "&quot;").replace("amp;", "&amp;").replace("\\$", "$")
    x = x.rstrip("\\")
    return html.unescape(x)


def _read_zhang_csv(path: Path, classes: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Zhang et al. 2015 format: headerless quoted CSV ``class index (1-based), title, body``."""
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for rec in csv.reader(f):
            if rec:
                out.append((classes[int(rec[0]) - 1], rec[1], " ".join(rec[2:])))
    return out


def read_ag_news(
    settings: FetchSettings, parts: tuple[str, ...] = ("train", "test")
) -> pd.DataFrame:
    """AG's News ``train.csv`` / ``test.csv``; text = cleaned description (the paper's framework
    keeps the title as context only), title kept in ``title``."""
    rows = []
    titles = []
    for part in parts:
        name = f"{part}.csv"
        recs = _read_zhang_csv(_path("ag_news", name, settings), CLASSES["ag_news"])
        for i, (cls, title, body) in enumerate(recs):
            rows.append((name, i, f"{part}_orig.csv", i, part, _ag_clean(body), cls))
            titles.append(_ag_clean(title))
    df = _frame(rows)
    df["title"] = titles
    return df


def read_dbpedia(settings: FetchSettings) -> pd.DataFrame:
    """DBpedia-14 ``train.csv`` / ``test.csv`` (Zhang format); text = title + " " + content."""
    rows = []
    for part in ("train", "test"):
        name = f"{part}.csv"
        recs = _read_zhang_csv(_path("dbpedia_14", name, settings), CLASSES["dbpedia_14"])
        for i, (cls, title, body) in enumerate(recs):
            rows.append((name, i, name, i, part, f"{title} {body}".strip(), cls))
    return _frame(rows)


def read_sst2(settings: FetchSettings) -> pd.DataFrame:
    """GLUE SST-2 ``train.tsv`` / ``dev.tsv`` (header ``sentence<TAB>label``)."""
    rows = []
    for name, part in (("train.tsv", "train"), ("dev.tsv", "dev")):
        recs = _tsv_rows(_path("sst2", name, settings))
        for i, rec in enumerate(recs[1:]):
            cls = "positive" if rec[1].strip() == "1" else "negative"
            rows.append((name, i, name, i, part, rec[0].strip(), cls))
    return _frame(rows)


def read_pubmed(settings: FetchSettings) -> pd.DataFrame:
    """PubMed 20k RCT: ``###PMID`` lines start abstracts, then ``LABEL<TAB>sentence`` lines."""
    rows = []
    for part in ("train", "dev", "test"):
        name = f"{part}.txt"
        path = _path("pubmed_20k_rct", name, settings)
        i = 0
        with path.open(encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if not line or line.startswith("###"):
                    continue
                label, _, text = line.partition("\t")
                rows.append((name, i, name, i, part, text.strip(), label.strip()))
                i += 1
    return _frame(rows)


def read_wiki_attack(settings: FetchSettings) -> pd.DataFrame:
    """Comments with label = mean ``attack`` annotation per ``rev_id`` > 0.5 (Wulczyn et al.).

    ``NEWLINE_TOKEN`` / ``TAB_TOKEN`` become spaces; ``lrtc_row`` counts rows within each split,
    as the framework's per-split ``train.csv`` / ``dev.csv`` / ``test.csv`` do.
    """
    comments = pd.read_csv(
        _path("wiki_attack", "attack_annotated_comments.tsv", settings), sep="\t", index_col=0
    )
    ann = pd.read_csv(_path("wiki_attack", "attack_annotations.tsv", settings), sep="\t")
    attack = ann.groupby("rev_id")["attack"].mean() > 0.5
    text = (
        comments["comment"]
        .astype(str)
        .str.replace("NEWLINE_TOKEN", " ", regex=False)
        .str.replace("TAB_TOKEN", " ", regex=False)
    )
    is_attack = attack.reindex(comments.index).fillna(False).astype(bool).to_numpy()
    rows = []
    per_split: dict[str, int] = {}
    for i, (part, t, a) in enumerate(zip(comments["split"], text, is_attack)):
        k = per_split.get(part, 0)
        per_split[part] = k + 1
        rows.append(
            (
                "attack_annotated_comments.tsv",
                i,
                f"{part}.csv",
                k,
                str(part),
                t.strip(),
                "attack" if a else "no_attack",
            )
        )
    return _frame(rows)


READERS: dict[str, Callable[[FetchSettings], pd.DataFrame]] = {
    "rt-polarity": read_polarity,
    "subjectivity": read_subjectivity,
    "trec": read_trec,
    "cola": read_cola,
    "isear": read_isear,
    "ag_news": read_ag_news,
    "wiki_attack": read_wiki_attack,
    "sst2": read_sst2,
    "pubmed_20k_rct": read_pubmed,
    "dbpedia_14": read_dbpedia,
}


def read_source(source: str, settings: FetchSettings | None = None) -> pd.DataFrame:
    """Parse every file of ``source`` into a raw table (see module docstring)."""
    if source not in READERS:
        raise ValueError(f"unknown data source {source!r}; valid: {', '.join(READERS)}")
    return READERS[source](settings or FetchSettings())
