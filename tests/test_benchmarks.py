"""The committed benchmark reports are well formed and their markdown is rebuilt from their JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[1]


def _bench_select():
    return load_script("bench_select")


def test_select_report_has_every_strategy_and_renders_its_markdown():
    bench = _bench_select()
    report = json.loads((REPO / "benchmarks/select.json").read_text())
    assert set(report["strategies"]) == set(bench.STRATEGIES)
    assert report["inference_speedup_vs_naive"] >= 3.0
    for name, limit in bench.TARGETS.items():
        ratio = report["strategies"][name]["ratio_to_one_pass"]
        assert report["targets_met"][name] == (ratio <= limit)
    assert bench.render_markdown(report) == (REPO / "benchmarks/select.md").read_text()


def test_gpu_check_dry_run_checks_the_backends_this_machine_has(tmp_path):
    import os
    import subprocess

    result = subprocess.run(
        ["bash", str(REPO / "scripts/gpu_check.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "scripts/bench_select.py --out benchmarks/gpu" in result.stdout
    report = json.loads((tmp_path / "al-bert-gpu-check-dry-run" / "backends.json").read_text())
    assert report["all_agree"] and "torch" in report["backends"]
    assert set(report["agree"]["torch"]) == {"core_set", "badge", "kmeans_pp", "knn"}


def test_memory_report_renders_and_attributes_the_growth():
    bench = load_script("bench_memory")
    report = json.loads((REPO / "benchmarks/memory.json").read_text())
    rows = report["per_job"]
    assert report["growth_mb"] == rows[-1]["rss_mb"] - rows[1]["rss_mb"]
    assert report["target_met"] == (report["growth_mb"] < bench.TARGET_MB)
    variants = {v["env"]: v["growth_mb"] for v in report["compared"]}
    # the measured reason for al-bert's oneDNN cache default: torch's 1024 grows more than 256 does
    assert variants["ONEDNN_PRIMITIVE_CACHE_CAPACITY=1024"] > report["growth_mb"]
    assert all(r["numpy_mb"] + r["tensors_mb"] < 1 for r in rows)
    assert bench.render_markdown(report) == (REPO / "benchmarks/memory.md").read_text()
