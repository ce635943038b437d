"""The one home of nearest-neighbour and clustering math.

Every strategy, weighting and analysis that needs distances goes through these functions:

* :func:`knn` — k-nearest-neighbour search (exact Euclidean distances);
* :func:`greedy_k_center` — weighted greedy k-center with an incremental running minimum;
* :func:`kmeans_pp_seeding` — k-means++ seeding, one D²·w draw per step;
* :func:`weighted_kmeans` — weighted Lloyd's k-means seeded by the above;
* :func:`nearest_to_centers` — one distinct pool row per centre;
* :func:`knn_density` — mean distance to the k nearest neighbours.

Each takes ``backend=`` ("auto", "faiss-gpu", "faiss-cpu", "torch"; see :func:`resolve_backend`).
The back-end proposes candidates in float32; decisions are taken on exact float64 distances, so the
back-ends return identical selections (see :mod:`al_bert.index.exact`).
"""

from al_bert.index.backends import BACKENDS, available_backends, resolve_backend
from al_bert.index.clustering import greedy_k_center, kmeans_pp_seeding, weighted_kmeans
from al_bert.index.search import knn, knn_density, nearest_to_centers

__all__ = [
    "BACKENDS",
    "available_backends",
    "greedy_k_center",
    "kmeans_pp_seeding",
    "knn",
    "knn_density",
    "nearest_to_centers",
    "resolve_backend",
    "weighted_kmeans",
]
