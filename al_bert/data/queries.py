"""Keyword queries of Ein-Dor et al. (2020) §3.2 (imbalanced-practical seeds) and their matches.

A query is data in the dataset config, e.g. ``{kind: substring, terms: [fear, afraid]}``,
``{kind: regex, pattern: "[A-Z]!"}`` or ``{kind: word, terms_file: countries.txt}``. Kinds:

- ``substring``: any term occurs in the text (case-sensitive, as the paper writes its queries);
- ``word``: any term occurs as a whole word / phrase (not inside a longer word), case-sensitive;
- ``regex``: ``re.search(pattern, text)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from al_bert.data.task import KeywordQuery
from al_bert.errors import ConfigError, DataError
from al_bert.validation import show

__all__ = ["QUERY_KINDS", "load_terms", "make_query", "query_matches", "query_scores"]

QUERY_KINDS = ("substring", "word", "regex")


def load_terms(terms_file: str | Path) -> tuple[str, ...]:
    """Read one term per line (``#`` comments, blank lines skipped).

    A bare file name is looked up in the package resources ``al_bert/data/resources/``.
    """
    path = Path(terms_file).expanduser()
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        res = resources.files("al_bert.data").joinpath("resources", str(terms_file))
        if not res.is_file():
            raise FileNotFoundError(
                f"query terms file {terms_file!r} not found (neither a path nor a packaged "
                "resource in al_bert/data/resources/)"
            )
        text = res.read_text(encoding="utf-8")
    terms = [ln.strip() for ln in text.splitlines()]
    return tuple(t for t in terms if t and not t.startswith("#"))


def make_query(cfg: Mapping[str, object] | KeywordQuery | None) -> KeywordQuery | None:
    """Build a :class:`KeywordQuery` from a config mapping (keys ``kind``, ``terms``,
    ``terms_file``, ``pattern``); ``None`` stays ``None``."""
    if cfg is None or isinstance(cfg, KeywordQuery):
        return cfg
    known = {"kind", "terms", "terms_file", "pattern"}
    if not isinstance(cfg, Mapping):
        raise ConfigError(
            f"dataset.query={show(cfg)}: must be null or a mapping with keys {', '.join(sorted(known))}"
        )
    cfg = _plain(cfg)
    unknown = set(cfg) - known
    if unknown:
        raise ConfigError(
            f"dataset.query: unknown query keys {sorted(unknown)}; valid: {sorted(known)}"
        )
    kind = cfg.get("kind", "substring")
    if kind not in QUERY_KINDS:
        raise ConfigError(
            f"dataset.query.kind={show(kind)}: unknown query kind {kind!r}; "
            f"valid: {', '.join(QUERY_KINDS)}"
        )
    raw_terms = cfg.get("terms") or ()
    if isinstance(raw_terms, str):
        raw_terms = [raw_terms]
    if not isinstance(raw_terms, Iterable) or isinstance(raw_terms, Mapping):
        raise ConfigError(f"dataset.query.terms={show(raw_terms)}: must be a list of strings")
    terms = [str(t) for t in raw_terms]
    terms_file = cfg.get("terms_file")
    if terms_file:
        try:
            terms += load_terms(str(terms_file))
        except FileNotFoundError as error:
            raise ConfigError(f"dataset.query.terms_file={show(terms_file)}: {error}") from None
    pattern = cfg.get("pattern") or ""
    if kind == "regex":
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(
                f"dataset.query.pattern={show(pattern)}: a regex query needs a non-empty 'pattern'"
            )
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(
                f"dataset.query.pattern={show(pattern)}: not a regular expression ({error})"
            ) from None
    elif not terms:
        raise ConfigError(f"dataset.query: a {kind} query needs 'terms' or 'terms_file'")
    return KeywordQuery(kind=kind, terms=tuple(terms), pattern=str(pattern))


def _plain(cfg: Mapping[str, object]) -> Mapping[str, object]:
    """A Hydra ``DictConfig`` as a plain dict (other mappings unchanged)."""
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        return cfg
    if isinstance(cfg, DictConfig):
        plain = OmegaConf.to_container(cfg, resolve=True)
        assert isinstance(plain, dict)
        return {str(k): v for k, v in plain.items()}
    return cfg


def _compiled(query: KeywordQuery) -> re.Pattern[str]:
    if query.kind == "regex":
        return re.compile(query.pattern)
    # longest first, so that alternation prefers "South Sudan" over "Sudan" (same match set anyway)
    alts = "|".join(re.escape(t) for t in sorted(set(query.terms), key=len, reverse=True))
    if query.kind == "substring":
        return re.compile(alts)
    if query.kind == "word":
        return re.compile(rf"(?<!\w)(?:{alts})(?!\w)")
    raise DataError(f"unknown query kind {query.kind!r}; valid: {', '.join(QUERY_KINDS)}")


def query_matches(
    query: KeywordQuery, texts: pd.DataFrame | pd.Series | Iterable[str]
) -> np.ndarray:
    """Boolean mask: which texts match ``query``. Accepts a split DataFrame (uses its ``text``
    column), a Series or any iterable of strings; the mask follows their order."""
    if isinstance(texts, pd.DataFrame):
        texts = texts["text"]
    values = [str(t) for t in texts]
    rx = _compiled(query)
    return np.fromiter((rx.search(t) is not None for t in values), dtype=bool, count=len(values))


def query_scores(query: KeywordQuery, split: pd.DataFrame) -> dict[str, float]:
    """Precision / recall / F1 of the query as a classifier of the positive class (paper 1,
    Table 5), plus the number of matches."""
    hit = query_matches(query, split)
    pos = split["label"].to_numpy() == 1
    tp = float(np.sum(hit & pos))
    precision = tp / hit.sum() if hit.sum() else 0.0
    recall = tp / pos.sum() if pos.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "query_matches": float(hit.sum()),
        "query_precision": float(precision),
        "query_recall": float(recall),
        "query_f1": float(f1),
    }
