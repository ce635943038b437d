"""Initial labelled set builders (``seed_builder`` config group; one per scenario)."""

from al_bert.seeding.builders import (
    ColdStartSeed,
    InitialSet,
    PositivesSeed,
    QuerySeed,
    RandomSeed,
    SeedBuilder,
    SeedError,
    WarmStartSeed,
)

__all__ = [
    "ColdStartSeed",
    "InitialSet",
    "PositivesSeed",
    "QuerySeed",
    "RandomSeed",
    "SeedBuilder",
    "SeedError",
    "WarmStartSeed",
]
