"""scripts/bench_peers.py (al-bert vs small-text and baal): its helpers, a whole run on a tiny random
model (``--smoke``) on the binary and on a multi-class pool, and the committed reports."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _bench_peers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_peers", REPO / "scripts/bench_peers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _peers_installed(request: pytest.FixtureRequest) -> None:
    """The ``peers`` tests run small-text and baal: without them they fail (never skip) in one line."""
    if request.node.get_closest_marker("peers"):
        missing = [m for m in ("small_text", "baal") if importlib.util.find_spec(m) is None]
        assert not missing, f"{', '.join(missing)} not installed: pip install -e '.[bench]'"


def _check_report(bench: ModuleType, report: dict) -> None:
    """Ratios and verdicts follow from the seconds; the markdown is rebuilt from the JSON."""
    for row in report["strategies"].values():
        base = row[bench.AL_BERT]
        assert base["seconds"] == min(base["runs"]) > 0
        for peer in (bench.SMALL_TEXT, bench.BAAL):
            if peer in row:
                assert row[peer]["seconds"] == min(row[peer]["runs"])
                ratio = row[peer]["seconds"] / base["seconds"]
                assert row[peer]["ratio_to_al_bert"] == pytest.approx(ratio, abs=0.006)
        if bench.SMALL_TEXT in row:
            assert row["goal_met"] == (row[bench.SMALL_TEXT]["ratio_to_al_bert"] >= bench.GOAL)
        else:  # the goal is against small-text (which has no BatchBALD)
            assert "goal_met" not in row


def test_overlap_modulo_ties_counts_a_different_tie_break_as_agreement():
    bench = _bench_peers()
    scores = np.array([0.9, 0.5, 0.5, 0.1])
    assert bench.overlap_modulo_ties([0, 1], [2, 0], scores) == {
        "k": 2,
        "overlap": 1,
        "agree_modulo_ties": True,
        "tied_at_kth": 2,
    }
    assert not bench.overlap_modulo_ties([0, 1], [0, 3], scores)["agree_modulo_ties"]
    assert bench.overlap_modulo_ties(np.array([4, 1]), np.array([1, 4])) == {"k": 2, "overlap": 2}


def test_ratios_are_peer_over_al_bert_and_the_goal_is_three_times_small_text():
    bench = _bench_peers()
    row = {"al-bert": {"seconds": 2.0}, "small-text": {"seconds": 7.0}, "baal": {"seconds": 3.0}}
    bench.add_ratios(row)
    assert row["small-text"]["ratio_to_al_bert"] == 3.5 and row["baal"]["ratio_to_al_bert"] == 1.5
    assert row["goal_met"] is True
    slow = {"al-bert": {"seconds": 2.0}, "small-text": {"seconds": 5.0}}
    bench.add_ratios(slow)
    assert slow["goal_met"] is False


def test_rows_default_to_the_pool_and_binary_only_rows_refuse_a_multiclass_pool():
    bench = _bench_peers()
    assert [row.name for row in bench.resolve_rows(None, 2)] == list(bench.ROW_NAMES)
    assert [row.name for row in bench.resolve_rows(None, 6)] == list(bench.MULTICLASS_ROW_NAMES)
    assert [row.name for row in bench.resolve_rows(["bald", "badge"], 2)] == ["badge", "bald"]
    with pytest.raises(SystemExit, match="badge: binary pools only"):
        bench.resolve_rows(["badge", "entropy"], 6)
    # each pool writes its own files: the multi-class report never overwrites peers.{md,json}
    stem = bench.report_stem
    assert stem(bench.parse_args([])) == "peers"
    assert stem(bench.parse_args(["--dataset", "trec6"])) == "peers_trec6"
    assert stem(bench.parse_args(["--dataset", "trec6", "--name", "mc"])) == "mc"


@pytest.mark.peers
def test_smoke_run_times_every_strategy_in_both_tools_and_their_selections_agree(tmp_path):
    bench = _bench_peers()
    report = bench.main(["--smoke", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "peers.json").read_text())
    assert saved["smoke"] and saved["strategies"].keys() == set(bench.ROW_NAMES)
    assert (tmp_path / "peers.md").read_text() == bench.render_markdown(saved)
    _check_report(bench, saved)
    # one set of weights: the peer's model gives al-bert's fp32 probabilities
    assert report["model"]["same_weights_max_abs_prob_diff_fp32"] < 1e-5
    # the same selection rule on the same inputs picks the same rows (up to tie-breaking)
    agreement = {name: row.get("agreement", {}) for name, row in saved["strategies"].items()}
    assert agreement["least_confidence"]["same_probabilities"]["agree_modulo_ties"]
    same_embeddings = agreement["core_set"]["same_embeddings"]
    assert same_embeddings["overlap"] == same_embeddings["k"] == saved["pool"]["k"]
    egl = agreement["egl_last_layer"]["same_weights_fp32"]
    assert egl["agree_modulo_ties"] and egl["max_relative_score_difference"] < 1e-4
    assert agreement["mc_dropout_bald"]["small_text_same_samples"]["agree_modulo_ties"]
    assert agreement["mc_dropout_bald"]["baal_same_samples"]["agree_modulo_ties"]
    assert saved["tools"]["small-text"]["max_length"] == saved["pool"]["tokens_max"]


@pytest.mark.peers
def test_multiclass_smoke_run_gives_the_peers_a_c_class_head_and_their_selections_agree(tmp_path):
    bench = _bench_peers()
    report = bench.main(["--smoke", "--dataset", "trec6", "--out", str(tmp_path)])
    assert not (tmp_path / "peers.json").exists()
    saved = json.loads((tmp_path / "peers_trec6.json").read_text())
    assert saved["smoke"] and saved["pool"]["num_classes"] == 6
    assert saved["strategies"].keys() == set(bench.MULTICLASS_ROW_NAMES)
    markdown = (tmp_path / "peers_trec6.md").read_text()
    assert markdown == bench.render_markdown(saved)
    assert markdown.startswith(
        "# al-bert vs small-text and baal: seconds per selection step (40 TREC6 "
    )
    assert "6 classes" in markdown.splitlines()[0] and f"goal ≥ {bench.GOAL:g}×" in markdown
    _check_report(bench, saved)
    # one set of weights over 6 classes: the peer's model gives al-bert's fp32 probabilities
    assert report["model"]["same_weights_max_abs_prob_diff_fp32"] < 1e-5
    assert "6 classes" in saved["model"]["head"]
    # small-text has no BatchBALD: baal is its only peer
    assert saved["tools"]["small-text"]["batchbald_classes"] == []
    assert bench.SMALL_TEXT not in saved["strategies"]["batchbald"]
    agreement = {name: row.get("agreement", {}) for name, row in saved["strategies"].items()}
    for name in ("entropy", "margin"):
        assert agreement[name]["small_text_same_probabilities"]["agree_modulo_ties"]
    assert agreement["bald"]["small_text_same_samples"]["agree_modulo_ties"]
    for name in ("entropy", "margin"):
        assert agreement[name]["baal_same_probabilities"]["agree_modulo_ties"]
    assert agreement["bald"]["baal_same_samples"]["agree_modulo_ties"]
    batch = agreement["batchbald"]["baal_same_samples"]
    assert batch["k"] == saved["pool"]["k"] and batch["bald_top_selected"]["al-bert"]
    assert bench.BAAL in saved["strategies"]["batchbald"]
    # --render rebuilds that report (the stem follows --dataset)
    (tmp_path / "peers_trec6.md").unlink()
    bench.main(["--render", "--dataset", "trec6", "--out", str(tmp_path)])
    assert (tmp_path / "peers_trec6.md").read_text() == markdown


@pytest.mark.parametrize(
    ("stem", "rows", "classes"),
    [("peers", "ROW_NAMES", 2), ("peers_trec6", "MULTICLASS_ROW_NAMES", 6)],
)
def test_committed_report_is_a_full_run_and_renders_its_markdown(
    stem: str, rows: str, classes: int
) -> None:
    """``make bench-peers`` (SST-2) and ``make bench-peers-multiclass`` (TREC-6): committed, full runs."""
    bench = _bench_peers()
    report = json.loads((REPO / f"benchmarks/{stem}.json").read_text())
    assert not report["smoke"] and report["pool"]["pool_size"] >= 2000
    assert report["pool"]["num_classes"] == classes
    assert report["strategies"].keys() == set(getattr(bench, rows))
    _check_report(bench, report)
    assert bench.render_markdown(report) == (REPO / f"benchmarks/{stem}.md").read_text()
