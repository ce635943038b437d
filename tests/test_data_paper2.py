"""Paper-2 binary-imbalanced tasks (Fairstein et al. §5.1), imbalance sub-sampling, seeded splits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.data.catalog import build_task
from al_bert.data.fetch import FetchSettings
from al_bert.data.imbalance import PAPER2_RATIOS, subsample_to_ratio
from al_bert.data.splits import seeded_split_indices
from al_bert.data.task import Task


def _mirror() -> Path:
    env = os.environ.get("AL_BERT_DATA_MIRROR")
    return Path(env) if env else Path(__file__).parents[1].parent / "shared" / "datasets"


MIRROR = _mirror()
OFFLINE = FetchSettings(download=False)
CONF = Path(__file__).parents[1] / "conf" / "dataset"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror missing: {MIRROR}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _sst2(cache: Path, **overrides: object) -> Task:
    cfg = OmegaConf.load(CONF / "sst2.yaml")
    for k, v in overrides.items():
        cfg[k] = v
    task = instantiate(cfg, _partial_=True)(
        fetch=FetchSettings(mirror=MIRROR, cache_dir=cache, download=False)
    )
    assert isinstance(task, Task)
    return task


@needs_mirror
def test_sst2_positive_1_ratio_50(cache: Path) -> None:
    task = _sst2(cache, positive_class=1, imbalance_ratio=50)
    assert task.positive_class == "positive"
    n, pos = len(task.train), int(task.train["label"].sum())
    # all 29,780 negatives kept; positives sub-sampled to a fraction 1/50 (within one example)
    assert n - pos == 29780
    assert abs(pos - n / 50) <= 1
    assert abs(pos - (n - pos) / 49) <= 1
    # test (= GLUE dev) unchanged
    assert len(task.test) == 872 and int(task.test["label"].sum()) == 444
    assert task.dev is None
    assert task.info["imbalance"]["positives_before"] == 37569  # type: ignore[index]


@needs_mirror
@pytest.mark.parametrize("ratio", PAPER2_RATIOS)
def test_sst2_every_paper_ratio(cache: Path, ratio: int) -> None:
    task = _sst2(cache, positive_class="negative", imbalance_ratio=ratio)
    n, pos = len(task.train), int(task.train["label"].sum())
    assert abs(pos - n / ratio) <= 1
    assert len(task.test) == 872


@needs_mirror
def test_sst2_no_ratio_keeps_glue_train(cache: Path) -> None:
    task = _sst2(cache, imbalance_ratio=None)
    assert len(task.train) == 67349 and int(task.train["label"].sum()) == 37569
    assert task.train["id"].iloc[0] == "train.tsv:0"
    assert task.train["text"].iloc[0] == "hide new secretions from the parental units"


@needs_mirror
def test_sst2_subsampling_is_seeded_and_order_preserving(cache: Path) -> None:
    a = _sst2(cache, imbalance_ratio=10, seed=1)
    b = _sst2(cache, imbalance_ratio=10, seed=1)
    c = _sst2(cache, imbalance_ratio=10, seed=2)
    pd.testing.assert_frame_equal(a.train, b.train)
    assert not a.train["id"].equals(c.train["id"])
    rows = a.train["id"].str.split(":").str[1].astype(int)
    assert rows.is_monotonic_increasing


@needs_mirror
def test_sst2_seeded_split_caps(cache: Path) -> None:
    task = _sst2(cache, split="seeded", imbalance_ratio=None, seed=0)
    assert task.dev is not None
    assert (len(task.train), len(task.dev), len(task.test)) == (15000, 3000, 3000)


def test_misspelled_positive_class_lists_valid_names() -> None:
    with pytest.raises(ValueError) as err:
        build_task("ag_news_p2", positive_class="Sprots", fetch=OFFLINE)
    assert str(err.value) == (
        "unknown positive_class 'Sprots' for ag_news_p2; valid: World, Sports, Business, Sci/Tech"
    )
    with pytest.raises(ValueError, match="Company, EducationalInstitution, Artist"):
        build_task("dbpedia", positive_class="Compnay", fetch=OFFLINE)
    with pytest.raises(ValueError, match="BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS"):
        build_task("pubmed", positive_class="method", fetch=OFFLINE)


@needs_mirror
@pytest.mark.parametrize("name", ["ag_news_p2", "dbpedia", "pubmed"])
def test_unobtainable_paper2_sources_say_where_to_get_them(name: str, cache: Path) -> None:
    from al_bert.data.fetch import DataUnavailableError

    with pytest.raises(DataUnavailableError, match="Download it from https://"):
        build_task(name, fetch=FetchSettings(mirror=MIRROR, cache_dir=cache, download=False))


# --------------------------------------------------------------------------- building blocks


def _labels(pos: int, neg: int) -> pd.DataFrame:
    lab = np.array([1] * pos + [0] * neg)
    np.random.default_rng(0).shuffle(lab)
    return pd.DataFrame({"id": [str(i) for i in range(lab.size)], "text": "x", "label": lab})


@pytest.mark.parametrize("ratio", [1, 2, 3.5, 10, 20, 50, 100, 200, 1000])
def test_subsample_to_ratio(ratio: float) -> None:
    df = _labels(5000, 20000)
    out, info = subsample_to_ratio(df, ratio, seed=0)
    pos = int(out["label"].sum())
    if ratio == 1:
        assert len(out) == len(df)
    else:
        assert abs(pos - len(out) / ratio) <= 1
        if 20000 / (ratio - 1) <= 5000:  # enough positives: all negatives kept
            assert int((out["label"] == 0).sum()) == 20000
        else:  # too few positives: all kept, negatives sub-sampled instead
            assert pos == 5000
    assert info["positives_after"] == pos


def test_subsample_when_positives_are_too_few_drops_negatives() -> None:
    out, info = subsample_to_ratio(_labels(100, 1000), 2, seed=0)
    assert int(out["label"].sum()) == 100 and len(out) == 200
    assert info["subsampled"] == "negatives"


@pytest.mark.parametrize("bad", [0.5, 0, -3, float("nan")])
def test_subsample_rejects_bad_ratio(bad: float) -> None:
    with pytest.raises(ValueError, match="imbalance_ratio"):
        subsample_to_ratio(_labels(10, 10), bad, seed=0)


def test_seeded_split_fractions_and_caps() -> None:
    parts = seeded_split_indices(1000, seed=0)
    assert [len(parts[k]) for k in ("train", "dev", "test")] == [700, 100, 200]
    allidx = np.concatenate(list(parts.values()))
    assert len(np.unique(allidx)) == 1000
    big = seeded_split_indices(100_000, seed=0)
    assert [len(big[k]) for k in ("train", "dev", "test")] == [15000, 3000, 3000]
    again = seeded_split_indices(100_000, seed=0)
    for k in big:
        np.testing.assert_array_equal(big[k], again[k])
        assert np.all(np.diff(big[k]) > 0)
