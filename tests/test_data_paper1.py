"""Paper-1 tasks (Ein-Dor et al. 2020) from the exact IBM split ids: Table 4 sizes and priors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from al_bert.data.catalog import build_task
from al_bert.data.fetch import DataUnavailableError, FetchSettings
from al_bert.data.queries import make_query, query_scores
from al_bert.data.task import SPLIT_COLUMNS, Task


def _mirror() -> Path:
    env = os.environ.get("AL_BERT_DATA_MIRROR")
    return Path(env) if env else Path(__file__).parents[1].parent / "shared" / "datasets"


MIRROR = _mirror()
pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror missing: {MIRROR}")

# Ein-Dor et al. (2020), Table 4: (size, prior %) for train / dev / test.
TABLE4 = {
    "subjectivity_imb": [(3919, 10), (560, 10), (1077, 10)],
    "polarity_imb": [(4142, 10), (588, 10), (1193, 10)],
    "isear": [(5366, 14), (766, 15), (1534, 15)],
    "trec": [(4674, 15), (778, 15), (500, 16)],
    "cola": [(7592, 30), (959, 30), (1043, 31)],
    "subjectivity": [(7000, 50), (1000, 50), (2000, 52)],
    "polarity": [(7463, 50), (1066, 50), (2133, 50)],
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _build(name: str, cache: Path, **kw: object) -> Task:
    return build_task(
        name, fetch=FetchSettings(mirror=MIRROR, cache_dir=cache, download=False), **kw
    )  # type: ignore[arg-type]


def _pct(df: pd.DataFrame) -> int:
    return int(np.floor(100 * df["label"].mean() + 0.5))


@pytest.mark.parametrize("name", list(TABLE4))
def test_table4_sizes_and_priors(name: str, cache: Path) -> None:
    task = _build(name, cache)
    got = [(len(df), _pct(df)) for df in (task.train, task.dev, task.test)]
    assert got == TABLE4[name]


@pytest.mark.parametrize("name", list(TABLE4))
def test_split_frames_are_plain_columns_with_unique_ids(name: str, cache: Path) -> None:
    task = _build(name, cache)
    ids: list[str] = []
    for df in task.splits().values():
        assert tuple(df.columns) == SPLIT_COLUMNS
        assert set(df["label"].unique()) <= {0, 1}
        assert df["label"].dtype == np.int64
        assert all(isinstance(t, str) and t.strip() for t in df["text"])
        assert list(df.index) == list(range(len(df)))
        ids += df["id"].tolist()
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", ["isear", "cola", "polarity"])
def test_redirected_rows_keep_sizes_and_repeats(name: str, cache: Path) -> None:
    home = _build(name, cache)
    red = _build(name, cache, lrtc_rows="redirected")
    for a, b in zip(home.splits().values(), red.splits().values()):
        assert len(a) == len(b)
    ids = pd.concat([df["id"] for df in red.splits().values()])
    assert ids.is_unique  # repeats are kept, with an occurrence suffix
    if name != "polarity":
        assert ids.str.contains("#").any()


def test_deterministic(cache: Path) -> None:
    a, b = _build("cola", cache), _build("cola", cache)
    for x, y in zip(a.splits().values(), b.splits().values()):
        pd.testing.assert_frame_equal(x, y)


def test_trec_test_is_all_of_trec10_and_positive_is_loc(cache: Path) -> None:
    task = _build("trec", cache, positive_class="location")
    assert task.positive_class == "LOC"
    assert len(task.test) == 500 and int(task.test["label"].sum()) == 81
    assert task.test["id"].iloc[0] == "TREC_10.label:0"
    assert task.train["text"].iloc[0]  # "COARSE:fine" prefix removed
    assert not task.train["text"].str.contains(r"^[A-Z]+:\w+ ", regex=True).any()


def test_cola_positive_is_unacceptable_raw_label_zero(cache: Path) -> None:
    task = _build("cola", cache)
    assert task.positive_class == "unacceptable"
    raw = pd.read_csv(
        MIRROR / "cola" / "cola_public" / "raw" / "in_domain_train.tsv",
        sep="\t",
        header=None,
        quoting=3,
    )
    first = task.train.iloc[0]
    src_row = int(first["id"].split(":")[1])
    assert first["label"] == int(raw.iloc[src_row, 1] == 0)
    assert first["text"] == raw.iloc[src_row, 3].strip()


def test_polarity_lines_with_nel_byte_do_not_shift_ids(cache: Path) -> None:
    raw = (MIRROR / "rt-polarity" / "rt-polarity.pos").read_bytes().split(b"\n")
    nel_line = next(i for i, line in enumerate(raw) if b"\x85" in line)
    task = _build("polarity", cache)
    frames = pd.concat(task.splits().values())
    row = frames[frames["id"] == f"rt-polarity.pos:{nel_line}"]
    if len(row):  # the line is in one of the splits
        assert row["text"].iloc[0] == raw[nel_line].decode("iso-8859-1").rstrip()
    assert len(task.train) + len(task.dev) + len(task.test) == 10662


def test_isear_fear_query_matches_table5(cache: Path) -> None:
    task = _build(
        "isear", cache, query={"kind": "substring", "terms": ["fear", "afraid", "scared", "scary"]}
    )
    assert task.query is not None
    s = query_scores(task.query, task.test)
    assert (
        round(s["query_precision"], 2),
        round(s["query_recall"], 2),
        round(s["query_f1"], 2),
    ) == (
        0.92,
        0.24,
        0.38,
    )


def test_trec_location_query_matches_table5(cache: Path) -> None:
    task = _build("trec", cache)
    q = make_query({"kind": "substring", "terms": ["Where", "countr", "cit"]})
    assert q is not None
    s = query_scores(q, task.test)
    assert (
        round(s["query_precision"], 2),
        round(s["query_recall"], 2),
        round(s["query_f1"], 2),
    ) == (
        1.0,
        0.48,
        0.65,
    )


def test_isear_other_positive_class(cache: Path) -> None:
    task = _build("isear", cache, positive_class="Joy")
    assert task.positive_class == "joy"
    assert 0.13 < task.train["label"].mean() < 0.16


def test_imbalanced_ids_are_fixed_to_their_class(cache: Path) -> None:
    with pytest.raises(ValueError, match="sub-sampled for class 'positive'"):
        _build("polarity_imb", cache, positive_class="negative")


def test_misspelled_names_list_the_valid_ones(cache: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'isaer'; valid: .*isear.*trec"):
        _build("isaer", cache)
    with pytest.raises(
        ValueError, match=r"unknown positive_class 'feer' for isear; valid: joy, fear"
    ):
        _build("isear", cache, positive_class="feer")
    with pytest.raises(ValueError, match="unknown split"):
        _build("isear", cache, split="random")


@pytest.mark.parametrize("name", ["ag_news", "ag_news_imb", "wiki_attack"])
def test_unobtainable_tasks_raise_unavailable(name: str, cache: Path) -> None:
    with pytest.raises(DataUnavailableError, match="https://"):
        _build(name, cache)


def test_seeded_split_of_paper1_dataset(cache: Path) -> None:
    a = _build("subjectivity", cache, split="seeded", seed=3)
    b = _build("subjectivity", cache, split="seeded", seed=3)
    c = _build("subjectivity", cache, split="seeded", seed=4)
    assert (len(a.train), len(a.dev), len(a.test)) == (7000, 1000, 2000)
    pd.testing.assert_frame_equal(a.train, b.train)
    assert not a.train["id"].equals(c.train["id"])
    ids = pd.concat([a.train["id"], a.dev["id"], a.test["id"]])
    assert ids.is_unique and len(ids) == 10000


def test_seeded_imbalanced_variant_has_ten_percent_prior(cache: Path) -> None:
    task = _build("polarity_imb", cache, split="seeded", seed=1)
    total = pd.concat(task.splits().values())
    assert abs(total["label"].mean() - 0.10) < 0.001
    assert len(total) == 5331 + round(5331 / 9)
