"""Seed builders (one per scenario)."""

from al_bert.seeding.builders import (
    ColdStartSeed,
    PositivesSeed,
    QuerySeed,
    RandomSeed,
    Seed,
    SeedBuilder,
    SeedError,
    WarmStartSeed,
)

__all__ = [
    "ColdStartSeed",
    "PositivesSeed",
    "QuerySeed",
    "RandomSeed",
    "Seed",
    "SeedBuilder",
    "SeedError",
    "WarmStartSeed",
]
