"""The soak, shortened (``make bench-soak`` runs 105 runs and 3 kills): 12 tiny runs through the joblib
launcher with 2 workers, one worker SIGKILLed at a random moment, the sweep re-launched until done."""

from __future__ import annotations

from pathlib import Path

from al_bert.grid import sweep_size
from tests.conftest import load_script


def test_a_killed_sweep_relaunched_ends_like_an_undisturbed_one(tmp_path: Path) -> None:
    bench = load_script("bench_soak")
    report = bench.soak(bench.SHORT_GRID, kills=1, root=tmp_path)
    assert report["kills"] == 1 and report["launches"] >= 2
    assert report["soak_runs"] == report["reference_runs"] == sweep_size(bench.SHORT_GRID) == 12
    assert report["every_run_finished_exactly_once"]
    assert report["records_identical_to_reference"]
    assert report["temporary_files_left"] == []
    assert report["locks_held"] == []
    assert report["passed"], report
