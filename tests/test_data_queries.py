"""Keyword queries of paper 1 §3.2 and the single ``query_matches`` function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from al_bert.data.queries import load_terms, make_query, query_matches, query_scores
from al_bert.data.task import KeywordQuery


def test_substring_is_case_sensitive_and_matches_inside_words() -> None:
    q = KeywordQuery("substring", ("fear", "cit"))
    mask = query_matches(q, ["fearsome dog", "Fear itself", "big cities", "nothing"])
    assert mask.tolist() == [True, False, True, False]
    assert mask.dtype == np.bool_


def test_regex_query() -> None:
    q = make_query({"kind": "regex", "pattern": "[A-Z]!"})
    assert q is not None
    assert query_matches(q, pd.Series(["you IDIOT!", "hi!", "A!"])).tolist() == [True, False, True]


def test_word_query_does_not_match_inside_longer_words() -> None:
    q = make_query({"kind": "word", "terms": ["India", "Oman", "South Korea"]})
    assert q is not None
    texts = ["Indiana Jones", "India wins", "a Woman", "Oman's oil", "South Korea's exports"]
    assert query_matches(q, texts).tolist() == [False, True, False, True, True]


def test_query_matches_accepts_a_split_frame() -> None:
    df = pd.DataFrame({"id": ["a", "b"], "text": ["Where is it", "What"], "label": [1, 0]})
    q = KeywordQuery("substring", ("Where",))
    assert query_matches(q, df).tolist() == [True, False]
    s = query_scores(q, df)
    assert s["query_precision"] == 1.0 and s["query_recall"] == 1.0 and s["query_f1"] == 1.0


def test_country_list_is_packaged() -> None:
    terms = load_terms("countries.txt")
    assert len(terms) >= 250 and len(set(terms)) == len(terms)
    for name in ("Iraq", "China", "United States", "Taiwan", "Puerto Rico", "Palestine"):
        assert name in terms
    q = make_query({"kind": "word", "terms_file": "countries.txt"})
    assert q is not None and len(q.terms) == len(terms)


@pytest.mark.parametrize(
    "cfg, msg",
    [
        ({"kind": "fuzzy", "terms": ["a"]}, "unknown query kind 'fuzzy'"),
        ({"kind": "regex"}, "non-empty 'pattern'"),
        ({"kind": "substring"}, "needs 'terms'"),
        ({"kind": "substring", "term": ["a"]}, "unknown query keys"),
    ],
)
def test_bad_query_configs(cfg: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        make_query(cfg)
