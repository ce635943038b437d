"""A sweep's grid: how many runs a set of Hydra sweep overrides, or a sweep file's blocks, launch.

The one place that counts a sweep's runs: the console's running count (:class:`al_bert.sweep_counter.
SweepCounter`), the reproduction report's scale estimates and ``sweeps/run_sweep.py`` all use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any


def value_text(value: Any) -> str:
    """A YAML value as Hydra's override grammar writes it (``null``, ``true``, ``0.5``)."""
    return (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )


def sweep_size(overrides: Sequence[str]) -> int:
    """How many jobs Hydra's basic sweeper launches for these overrides (``key=a,b`` multiplies by 2)."""
    total = 1
    for override in overrides:
        _, _, value = override.partition("=")
        if value and "," in value and not value.startswith(("[", "{", "'", '"')):
            total *= len(value.split(","))
    return total


def block_sweep(block: dict[str, Any]) -> list[str]:
    """A sweep file block's ``grid`` as Hydra sweep overrides (``key=v1,v2``)."""
    grid = block.get("grid", {})
    return [f"{k}={','.join(value_text(v) for v in values)}" for k, values in grid.items()]


def block_runs(block: dict[str, Any]) -> list[list[str]]:
    """Every run of a block as its list of overrides (the cartesian product Hydra launches)."""
    fixed = [str(o) for o in block.get("fixed", [])]
    grid = block.get("grid", {})
    keys = list(grid)
    combos = itertools.product(*[[value_text(v) for v in grid[k]] for k in keys])
    return [fixed + [f"{k}={v}" for k, v in zip(keys, combo)] for combo in combos]


def blocks_size(blocks: Sequence[dict[str, Any]]) -> int:
    """How many runs these sweep file blocks launch."""
    return sum(sweep_size(block_sweep(block)) for block in blocks)
