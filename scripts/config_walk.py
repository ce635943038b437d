"""Follow the Hydra config through one launch: which al-bert functions receive it, in what order.

    python scripts/config_walk.py [overrides...]

Runs one tiny experiment (``model=tiny trainer=fast``, one iteration, a temporary output folder) through
:func:`al_bert.app.main_entry` under :func:`sys.setprofile` and records every call of an ``al_bert``
function that receives the root config or one of its nodes. The *walk* is the sequence of modules of
those calls, consecutive repeats collapsed. Printed:

- modules visited; *re-entries*: visits to a module already visited earlier in the walk;
- *tracking entries*: how many times the walk enters ``al_bert.tracking`` (the issue's target: at most
  one re-entry, i.e. ≤ 2 entries);
- *climbs back up*: steps of the walk from a lower layer to a higher one (layers: the composition
  root ``app``; the loop and settings ``config_groups``; everything else);
- full resolves (``OmegaConf.to_container(root, resolve=True)``) and run-key computations.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, ListConfig

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "model=tiny", "trainer=fast", "trainer.max_epochs=1", "limit.train=200", "limit.eval=50",
    "al.iterations=1", "al.batch_size=10", "seed_builder.size=20", "seed_builder.weak_negatives=20",
    "logger=none", "print_table=false",
]  # fmt: skip
TOP = {"al_bert.app": 0, "al_bert.__main__": 0, "al_bert.loop": 1, "al_bert.config_groups": 1}


def layer(module: str) -> int:
    return TOP.get(module, 2)


def trace(overrides: list[str]) -> dict[str, Any]:
    from al_bert.app import main_entry

    with tempfile.TemporaryDirectory() as tmp:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            root = compose("config", overrides=[*TINY, *overrides, f"paths.output_root={tmp}"])
        calls: list[tuple[str, str]] = []
        resolves = 0

        def holds_config(value: object) -> bool:
            if value is root:
                return True
            if isinstance(value, DictConfig | ListConfig):
                try:
                    return value._get_root() is root
                except AttributeError:
                    return False
            return False

        def profiler(frame: Any, event: str, _arg: Any) -> None:
            nonlocal resolves
            if event != "call":
                return
            module = str(frame.f_globals.get("__name__", ""))
            code = frame.f_code
            if module.startswith("omegaconf") and code.co_name == "to_container":
                if frame.f_locals.get("cfg") is root and frame.f_locals.get("resolve"):
                    resolves += 1
                return
            if not module.startswith("al_bert"):
                return
            names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
            if any(holds_config(frame.f_locals.get(n)) for n in names):
                calls.append((module, code.co_name))

        sys.setprofile(profiler)
        try:
            main_entry(root)
        finally:
            sys.setprofile(None)
    walk = [m for i, (m, _) in enumerate(calls) if i == 0 or calls[i - 1][0] != m]
    seen: set[str] = set()
    reentries = 0
    for module in walk:
        reentries += module in seen
        seen.add(module)
    tracking_entries = sum(
        1
        for i, m in enumerate(walk)
        if m.startswith("al_bert.tracking")
        and (i == 0 or not walk[i - 1].startswith("al_bert.tracking"))
    )
    climbs = sum(1 for a, b in itertools.pairwise(walk) if layer(b) < layer(a))
    functions = Counter(f"{m}.{f}" for m, f in calls)
    return {
        "walk": walk,
        "modules": len(seen),
        "reentries": reentries,
        "tracking_entries": tracking_entries,
        "climbs_back_up": climbs,
        "full_resolves": resolves,
        "run_key_computations": functions["al_bert.tracking.runkey.run_key"],
        "functions": dict(functions),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    report = trace(list(sys.argv[1:] if argv is None else argv))
    print(" → ".join(m.removeprefix("al_bert.") for m in report["walk"]))
    for name, count in sorted(report["functions"].items()):
        print(f"  {count:2d} × {name}")
    print(
        f"modules {report['modules']}, re-entries {report['reentries']}, tracking entries "
        f"{report['tracking_entries']}, climbs back up {report['climbs_back_up']}, full resolves "
        f"{report['full_resolves']}, run keys {report['run_key_computations']}"
    )
    return report


if __name__ == "__main__":
    main()
