"""``dataset=custom``: user CSV / JSONL / Parquet files with clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from al_bert.data.custom import build_custom_task
from al_bert.data.task import SPLIT_COLUMNS, Task
from al_bert.errors import DataError
from tests.conftest import compose_config

CONF = Path(__file__).parents[1] / "conf" / "dataset"


def _frame(n: int = 200) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "body": [f"message number {i}" for i in range(n)],
            "kind": ["spam" if i % 5 == 0 else "ham" for i in range(n)],
            "num": [1 if i % 4 == 0 else 0 for i in range(n)],
            "key": [f"k{i}" for i in range(n)],
        }
    )


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet", "tsv"])
def test_formats_with_seeded_split(tmp_path: Path, ext: str) -> None:
    df = _frame()
    path = tmp_path / f"data.{ext}"
    if ext == "csv":
        df.to_csv(path, index=False)
    elif ext == "tsv":
        df.to_csv(path, sep="\t", index=False)
    elif ext == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    task = build_custom_task(str(path), "spam", text_column="body", label_column="kind", seed=1)
    assert task.dev is not None
    assert (len(task.train), len(task.dev), len(task.test)) == (140, 20, 40)
    total = pd.concat(task.splits().values())
    assert tuple(total.columns) == SPLIT_COLUMNS
    assert int(total["label"].sum()) == 40 and total["id"].is_unique
    assert task.positive_class == "spam"


def test_hydra_config_with_separate_test_file_and_int_labels(tmp_path: Path) -> None:
    df = _frame()
    df.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[150:].to_json(tmp_path / "test.jsonl", orient="records", lines=True)
    cfg = OmegaConf.load(CONF / "custom.yaml")
    cfg.path = str(tmp_path / "train.csv")
    cfg.test_path = str(tmp_path / "test.jsonl")
    cfg.text_column, cfg.label_column, cfg.positive_class = "body", "num", 1
    cfg.id_column = "key"
    cfg.query = {"kind": "substring", "terms": ["number 1"]}
    task = instantiate(cfg)
    assert isinstance(task, Task)
    assert (len(task.train), len(task.test), task.dev) == (150, 50, None)
    assert task.train["id"].iloc[0] == "k0"
    assert int(task.train["label"].sum()) == 38 and task.positive_class == "1"
    assert task.query is not None and task.query.terms == ("number 1",)


def test_missing_column_error(tmp_path: Path) -> None:
    _frame().to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(
        ValueError, match=r"text_column 'text' not found in .*d\.csv; columns: body"
    ):
        build_custom_task(str(tmp_path / "d.csv"), "spam", label_column="kind")
    with pytest.raises(ValueError, match="label_column 'label' not found"):
        build_custom_task(str(tmp_path / "d.csv"), "spam", text_column="body")


def test_absent_positive_class_error(tmp_path: Path) -> None:
    _frame().to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(
        ValueError, match=r"positive_class 'eggs' does not occur .*; valid: ham, spam"
    ):
        build_custom_task(str(tmp_path / "d.csv"), "eggs", text_column="body", label_column="kind")


def test_empty_text_error(tmp_path: Path) -> None:
    df = _frame()
    df.loc[3, "body"] = "   "
    df.loc[7, "body"] = None
    df.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(
        ValueError, match=r"2 empty text\(s\) in column 'body' \(0-based data rows 3, 7\)"
    ):
        build_custom_task(str(tmp_path / "d.csv"), "spam", text_column="body", label_column="kind")


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        build_custom_task(str(tmp_path / "nope.csv"), "x")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the format"):
        build_custom_task(str(tmp_path / "d.xlsx"), "x")


def test_custom_imbalance_ratio(tmp_path: Path) -> None:
    _frame(1000).to_csv(tmp_path / "d.csv", index=False)
    task = build_custom_task(
        str(tmp_path / "d.csv"), "spam", text_column="body", label_column="kind", imbalance_ratio=20
    )
    n, pos = len(task.train), int(task.train["label"].sum())
    assert abs(pos - n / 20) <= 1


def test_editing_a_custom_file_changes_the_run_key(tmp_path: Path) -> None:
    from al_bert.tracking.runkey import ITERATION0_KEYS, run_key, sub_key

    data = tmp_path / "data.csv"
    _frame().to_csv(data, index=False)
    overrides = [
        "dataset=custom",
        f"dataset.path={data}",
        "dataset.text_column=body",
        "dataset.label_column=kind",
        "dataset.positive_class=spam",
    ]
    cfg = compose_config(overrides)
    before, m0_before = run_key(cfg), sub_key(cfg, ITERATION0_KEYS)
    assert run_key(cfg) == before  # stable for the same bytes
    frame = _frame()
    frame.loc[0, "body"] = "an edited text"
    frame.to_csv(data, index=False)
    assert run_key(cfg) != before
    assert sub_key(cfg, ITERATION0_KEYS) != m0_before


def test_missing_labels_and_empty_files_fail_naming_the_file_and_rows(tmp_path: Path) -> None:
    frame = _frame()
    frame.loc[[3, 17], "kind"] = None
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    with pytest.raises(DataError, match=r"gaps\.csv: 2 missing label\(s\).*rows 3, 17"):
        build_custom_task(
            str(tmp_path / "gaps.csv"), "spam", text_column="body", label_column="kind"
        )
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv cannot be read"):
        build_custom_task(str(tmp_path / "empty.csv"), "spam")
    (tmp_path / "header.csv").write_text("body,kind\n")
    with pytest.raises(DataError, match=r"header\.csv holds no data rows"):
        build_custom_task(
            str(tmp_path / "header.csv"), "spam", text_column="body", label_column="kind"
        )
