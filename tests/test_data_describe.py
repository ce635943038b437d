"""``make table-datasets``: the datasets table equals Table 4 of Ein-Dor et al. (2020)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.data.catalog import TASKS
from al_bert.data.describe import main
from al_bert.data.fetch import FetchSettings
from al_bert.data.task import Task


def _mirror() -> Path:
    env = os.environ.get("AL_BERT_DATA_MIRROR")
    return Path(env) if env else Path(__file__).parents[1].parent / "shared" / "datasets"


MIRROR = _mirror()
CONF = Path(__file__).parents[1] / "conf" / "dataset"
pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror missing: {MIRROR}")

# Ein-Dor et al. (2020), Table 4 (size, prior %) and Table 5 (precision, recall, F1).
TABLE4 = {
    ("subjectivity_imb", "train"): (3919, 10),
    ("subjectivity_imb", "dev"): (560, 10),
    ("subjectivity_imb", "test"): (1077, 10),
    ("polarity_imb", "train"): (4142, 10),
    ("polarity_imb", "dev"): (588, 10),
    ("polarity_imb", "test"): (1193, 10),
    ("isear", "train"): (5366, 14),
    ("isear", "dev"): (766, 15),
    ("isear", "test"): (1534, 15),
    ("trec", "train"): (4674, 15),
    ("trec", "dev"): (778, 15),
    ("trec", "test"): (500, 16),
    ("cola", "train"): (7592, 30),
    ("cola", "dev"): (959, 30),
    ("cola", "test"): (1043, 31),
    ("subjectivity", "train"): (7000, 50),
    ("subjectivity", "dev"): (1000, 50),
    ("subjectivity", "test"): (2000, 52),
    ("polarity", "train"): (7463, 50),
    ("polarity", "dev"): (1066, 50),
    ("polarity", "test"): (2133, 50),
}
TABLE5 = {"isear": (0.92, 0.24, 0.38), "trec": (1.0, 0.48, 0.65)}


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("tables")
    cache = tmp_path_factory.mktemp("cache")
    rc = main(["--out", str(out), "--mirror", str(MIRROR), "--cache-dir", str(cache), "--offline"])
    assert rc == 0
    return pd.read_csv(out / "datasets.csv"), out


def test_table_equals_paper1_table4(table: tuple[pd.DataFrame, Path]) -> None:
    df, _ = table
    for col in ("task", "split", "size", "prior", "query_precision", "query_recall", "query_f1"):
        assert col in df.columns
    got = {
        (r.task, r.split): (int(r.size), int(r.prior_pct))
        for r in df.itertuples()
        if (r.task, r.split) in TABLE4
    }
    assert got == TABLE4


def test_query_metrics_match_table5(table: tuple[pd.DataFrame, Path]) -> None:
    df, _ = table
    for task, expected in TABLE5.items():
        row = df[(df.task == task) & (df.split == "test")].iloc[0]
        assert (row.query_precision, row.query_recall, row.query_f1) == expected
    assert df[(df.task == "isear") & (df.split == "train")].query_f1.isna().all()


def test_unobtainable_tasks_are_rows_with_url(table: tuple[pd.DataFrame, Path]) -> None:
    df, out = table
    bad = df[df.status == "unavailable"]
    assert set(bad.task) == {
        "ag_news_imb",
        "ag_news",
        "wiki_attack",
        "ag_news_p2",
        "dbpedia",
        "pubmed",
    }
    assert bad.note.str.contains("https://").all()
    assert set(df[df.status == "ok"].task) == {
        "subjectivity_imb", "polarity_imb", "isear", "trec", "cola", "subjectivity", "polarity",
        "sst2", "trec6", "isear7",
    }  # fmt: skip
    md = (out / "datasets.md").read_text()
    assert "| isear | ISEAR | fear | test | 1534 |" in md


def test_every_task_has_a_config_and_every_config_instantiates() -> None:
    names = {p.stem for p in CONF.glob("*.yaml")}
    assert set(TASKS) | {"custom"} == names
    for path in sorted(CONF.glob("*.yaml")):
        cfg = OmegaConf.load(path)
        if path.stem == "custom":
            assert cfg._target_ == "al_bert.data.custom.build_custom_task"
            continue
        assert cfg.name == path.stem
        if path.stem in {"isear", "trec", "cola", "polarity_imb", "sst2"}:
            fetch = FetchSettings(mirror=MIRROR, download=False)
            task = instantiate(cfg, _partial_=True)(fetch=fetch)
            assert isinstance(task, Task)
            assert task.name == path.stem
    q = OmegaConf.load(CONF / "ag_news_imb.yaml").query
    assert q.kind == "word" and q.terms_file == "countries.txt"
