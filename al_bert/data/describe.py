"""``make table-datasets``: one row per (task, split) with size, prior and query quality.

Builds every task of ``conf/dataset/*.yaml`` (except ``custom``) as configured there and writes
``datasets.csv`` and ``datasets.md``. Compare with Ein-Dor et al. (2020) Table 4 (sizes, priors)
and Table 5 (query precision / recall / F1 on the test split). A task whose files cannot be
obtained gets one row with ``status = unavailable`` and the URL to fetch them from.

Run: ``python -m al_bert.data.describe --out outputs/tables [--mirror DIR] [--offline]``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from al_bert.data.catalog import TASKS
from al_bert.data.fetch import DataUnavailableError, FetchSettings
from al_bert.data.queries import query_scores
from al_bert.data.task import Task

__all__ = [
    "COLUMNS",
    "default_conf_dir",
    "describe_configs",
    "describe_task",
    "main",
    "write_tables",
]

log = logging.getLogger(__name__)

COLUMNS = (
    "task",
    "title",
    "positive_class",
    "split",
    "size",
    "positives",
    "prior",
    "prior_pct",
    "query_precision",
    "query_recall",
    "query_f1",
    "status",
    "note",
)


def default_conf_dir() -> Path:
    """``conf/dataset`` of the repository checkout this package lives in."""
    return Path(__file__).resolve().parents[2] / "conf" / "dataset"


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def describe_task(task: Task, config_name: str | None = None) -> list[dict[str, Any]]:
    """Rows (train, dev, test) for one built task; query metrics on the test row only."""
    rows = []
    q = query_scores(task.query, task.test) if task.query is not None else {}
    for split in ("train", "dev", "test"):
        df = task.splits().get(split)
        if df is None:
            continue
        n = len(df)
        pos = int((df["label"].to_numpy() == task.target_label).sum())  # the target class
        prior = pos / n if n else float("nan")
        row: dict[str, Any] = {
            "task": config_name or task.name,
            "title": task.info.get("title", task.name),
            "positive_class": task.positive_class,
            "split": split,
            "size": n,
            "positives": pos,
            "prior": round(prior, 4),
            "prior_pct": _round_half_up(100 * prior) if n else None,
            "status": "ok",
            "note": _note(task),
        }
        if split == "test" and q:
            row.update({k: round(q[k], 2) for k in ("query_precision", "query_recall", "query_f1")})
        rows.append(row)
    return rows


def _note(task: Task) -> str:
    parts = [str(task.info.get("split_ids") or task.info.get("split", ""))]
    if task.info.get("imbalance_ratio") is not None:
        parts.append(f"train positives sub-sampled to 1/{task.info['imbalance_ratio']:g}")
    if task.multiclass:
        parts.append(f"{task.num_classes} classes; positives = the target class")
    return "; ".join(p for p in parts if p)


def _unavailable_row(name: str, cfg: Any, err: Exception) -> dict[str, Any]:
    spec = TASKS.get(str(cfg.get("name", name)))
    msg = str(err)
    url = ""
    if " Download it from " in msg:
        url = msg.split(" Download it from ", 1)[1].split(" and put it at ", 1)[0]
    missing = msg.split(" is not available", 1)[0].replace("data file ", "")
    return {
        "task": name,
        "title": spec.title if spec else name,
        "positive_class": cfg.get("positive_class"),
        "split": "all",
        "status": "unavailable",
        "note": f"missing {missing}; download from {url}" if url else msg,
    }


def describe_configs(
    conf_dir: str | Path | None = None,
    fetch: FetchSettings | None = None,
    names: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Build each ``<conf_dir>/*.yaml`` task (``custom`` skipped) with the raw files from ``fetch``
    and collect the table rows."""
    from hydra.utils import instantiate
    from omegaconf import DictConfig, OmegaConf

    conf = Path(conf_dir) if conf_dir else default_conf_dir()
    configs: dict[str, DictConfig] = {}
    for path in sorted(conf.glob("*.yaml")):
        loaded = OmegaConf.load(path)
        if not isinstance(loaded, DictConfig):
            raise TypeError(f"{path} is not a mapping")
        if path.stem != "custom":
            configs[path.stem] = loaded
    if not configs:
        if conf_dir:
            raise FileNotFoundError(f"no dataset configs in {conf}")
        # installed without the repository's conf/: registry defaults, no queries
        log.warning("no dataset configs in %s; describing the registry defaults", conf)
        configs = {
            n: OmegaConf.create({"_target_": "al_bert.data.catalog.build_task", "name": n})
            for n in TASKS
        }
    order = {n: i for i, n in enumerate(TASKS)}
    wanted = set(names) if names else None
    rows: list[dict[str, Any]] = []
    for stem in sorted(configs, key=lambda n: (order.get(n, len(order)), n)):
        if wanted is not None and stem not in wanted:
            continue
        cfg = configs[stem]
        try:
            task = instantiate(cfg, _partial_=True)(fetch=fetch or FetchSettings())
        except Exception as err:  # Hydra wraps the target's exception
            cause = err if isinstance(err, DataUnavailableError) else err.__cause__
            if not isinstance(cause, DataUnavailableError):
                raise
            log.info("%s unavailable: %s", stem, cause)
            rows.append(_unavailable_row(stem, cfg, cause))
            continue
        rows.extend(describe_task(task, stem))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["size"] = table["size"].astype("Int64")
    table["positives"] = table["positives"].astype("Int64")
    table["prior_pct"] = table["prior_pct"].astype("Int64")
    return table


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in table.itertuples(index=False):
        cells = ["" if pd.isna(v) else str(v).replace("|", "\\|") for v in rec]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(table: pd.DataFrame, out_dir: str | Path, stem: str = "datasets") -> list[Path]:
    """Write ``<stem>.csv`` and ``<stem>.md`` (atomically) and return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
    tmp = csv_path.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, csv_path)
    header = (
        "# Datasets\n\nOne row per (task, split); `prior` = fraction of positives, `prior_pct` "
        "rounded as in Ein-Dor et al. (2020) Table 4; query metrics on the test split "
        "(compare Table 5).\n\n"
    )
    tmp = md_path.with_suffix(".md.tmp")
    tmp.write_text(header + _markdown(table), encoding="utf-8")
    os.replace(tmp, md_path)
    return [csv_path, md_path]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m al_bert.data.describe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="outputs/tables", help="output folder")
    parser.add_argument("--conf-dir", default=None, help="folder of dataset configs")
    parser.add_argument("--mirror", default=None, help="offline mirror (else AL_BERT_DATA_MIRROR)")
    parser.add_argument("--cache-dir", default=None, help="cache dir (else AL_BERT_CACHE_DIR)")
    parser.add_argument("--offline", action="store_true", help="never download")
    parser.add_argument("--task", action="append", default=None, help="only these tasks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    fetch = FetchSettings(
        mirror=args.mirror, cache_dir=args.cache_dir, download=False if args.offline else None
    )
    table = describe_configs(args.conf_dir, fetch, args.task)
    for path in write_tables(table, args.out):
        print(f"wrote {path}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.drop(columns=["note"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
