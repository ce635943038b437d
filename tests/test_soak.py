"""The soak, shortened (``make bench-soak`` runs 105 runs and 3 kills): 12 tiny runs through the joblib
launcher with 2 workers, one worker SIGKILLed at a random moment, the sweep re-launched until done."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def _bench_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_soak", REPO / "scripts/bench_soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_soak"] = module  # its dataclass resolves its module by name
    spec.loader.exec_module(module)
    return module


def test_a_killed_sweep_relaunched_ends_like_an_undisturbed_one(tmp_path: Path) -> None:
    bench = _bench_soak()
    report = bench.soak(bench.SHORT_GRID, kills=1, root=tmp_path)
    assert report["kills"] == 1 and report["launches"] >= 2
    assert (
        report["soak_runs"] == report["reference_runs"] == bench.grid_size(bench.SHORT_GRID) == 12
    )
    assert report["every_run_finished_exactly_once"]
    assert report["records_identical_to_reference"]
    assert report["temporary_files_left"] == []
    assert report["locks_held"] == []
    assert report["passed"], report
