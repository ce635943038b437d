"""al-bert: which active-learning strategy, with which class-balancing weighting, gets a BERT-style text
classifier furthest on a tiny, skewed labelling budget (docs/architecture.md)."""

import os

# oneDNN (torch's CPU kernels) keeps an LRU cache of compiled primitives, one per new operator shape; its
# default 1,024 entries let a long in-process sweep grow by ~140 MiB over 24 jobs, 256 by ~66 MiB at no
# measured cost in speed (benchmarks/memory.md). Read once, at oneDNN's first primitive: set here, before
# any. A value in the environment wins; the cache changes no result.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")
