"""Data layer: binary tasks of both papers, verified raw files, keyword queries.

Main entry points: :func:`build_task` (Hydra target of ``conf/dataset/*.yaml``),
:func:`build_custom_task` (``dataset=custom``), :func:`query_matches`, and
``python -m al_bert.data.describe`` (``make table-datasets``).
"""

from al_bert.data.catalog import TASKS, build_task
from al_bert.data.custom import build_custom_task
from al_bert.data.fetch import ChecksumError, DataUnavailableError
from al_bert.data.queries import make_query, query_matches, query_scores
from al_bert.data.task import KeywordQuery, Task
from al_bert.errors import DataError

__all__ = [
    "TASKS",
    "ChecksumError",
    "DataError",
    "DataUnavailableError",
    "KeywordQuery",
    "Task",
    "build_custom_task",
    "build_task",
    "make_query",
    "query_matches",
    "query_scores",
]
