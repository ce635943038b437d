"""A launch computes its run identity once: the config's walk from ``main_entry`` (``scripts/config_walk.py``)
enters ``al_bert.tracking`` once, climbs back up at most 3 times and resolves the config once."""

from __future__ import annotations

from tests.conftest import load_script


def test_a_launch_resolves_its_config_once_and_enters_tracking_once():
    report = load_script("config_walk").trace([])
    assert report["walk"][0] == "al_bert.app"
    assert report["tracking_entries"] == 1, report["walk"]
    assert report["climbs_back_up"] <= 3, report["walk"]
    assert report["full_resolves"] == 1
    assert report["run_key_computations"] == 0  # the key comes from RunIdentity.of, built once
    assert report["functions"]["al_bert.tracking.runkey.of"] == 1
