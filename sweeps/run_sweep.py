"""Run the grid behind one of the papers' tables or figures, then write it with the analysis CLI.

    python sweeps/run_sweep.py <sweep> --target <analysis target> --scale smoke|paper [--dry-run]

``sweeps/<sweep>.yaml`` has a ``smoke:`` and a ``paper:`` list of blocks. A block is one Hydra
multirun: ``fixed`` overrides plus a ``grid`` of ``key: [values]`` that Hydra crosses
(``python -m al_bert -m fixed... key=v1,v2 ...``); an optional ``targets:`` list limits the block to
those analysis targets (smoke grids are cut to what each target needs). Runs are keyed by their resolved
config, so a block whose runs are all finished is not launched again, and runs shared between targets
are trained once. The analysis then reads exactly the runs of the selected blocks (their directories
are computed from the composed configs, ``outputs/sweeps/<sweep>-<target>-<scale>.runs.txt``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from al_bert.grid import block_runs, block_sweep

REPO = Path(__file__).resolve().parents[1]
SWEEPS = Path(__file__).resolve().parent


def load_blocks(sweep: str, scale: str, target: str | None) -> list[dict[str, Any]]:
    """The blocks of ``scale`` in ``sweeps/<sweep>.yaml`` that serve ``target`` (all when None)."""
    spec = yaml.safe_load((SWEEPS / f"{sweep}.yaml").read_text(encoding="utf-8"))
    if scale not in spec:
        raise SystemExit(f"sweeps/{sweep}.yaml has no {scale!r} section (smoke | paper)")
    blocks = [b for b in spec[scale] if target is None or target in b.get("targets", [target])]
    if not blocks:
        raise SystemExit(f"sweeps/{sweep}.yaml: no {scale} block serves {target}")
    return blocks


def multirun_command(block: dict[str, Any], extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "al_bert",
        "-m",
        *map(str, block.get("fixed", [])),
        *extra,
        *block_sweep(block),
    ]


def run_dirs(runs: list[list[str]]) -> list[Path]:
    """Where each run's results live: ``<paths.output_root>/runs/<run key of the composed config>``."""
    from hydra import compose, initialize_config_dir

    from al_bert.tracking.runkey import results_dir

    out = []
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for overrides in runs:
            out.append(results_dir(compose(config_name="config", overrides=overrides)))
    return out


def status(run_dir: Path) -> str:
    run_file = run_dir / "run.json"
    if not run_file.is_file():
        return "missing"
    return str(json.loads(run_file.read_text(encoding="utf-8")).get("status", "unknown"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sweep", help="sweeps/<sweep>.yaml")
    parser.add_argument("--target", help="analysis target (python -m al_bert.analysis --help)")
    parser.add_argument("--scale", choices=["smoke", "cpu", "paper"], default="smoke")
    parser.add_argument("--out", default="outputs/tables")
    parser.add_argument("--override", nargs="*", default=[], help="extra overrides for every run")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--no-run", action="store_true", help="only analyse the finished runs")
    parser.add_argument("--wandb", action="store_true", help="log the tables to W&B")
    parser.add_argument(
        "--skip-analysis", action="store_true", help="run the grid, analyse nothing"
    )
    args = parser.parse_args(argv)

    blocks = load_blocks(args.sweep, args.scale, args.target)
    started = time.perf_counter()
    all_dirs: list[Path] = []
    for block in blocks:
        runs = [overrides + args.override for overrides in block_runs(block)]
        dirs = run_dirs(runs)
        all_dirs += dirs
        todo = [d for d in dirs if status(d) != "finished"]
        command = multirun_command(block, args.override)
        print(
            f"[sweep] {len(runs)} runs, {len(runs) - len(todo)} finished: {' '.join(command[1:])}"
        )
        if args.dry_run or args.no_run or not todo:
            continue
        # A failed run stops with its reason in run.json; the analysis uses the finished ones.
        code = subprocess.call(command, cwd=REPO)
        if code != 0:
            print(f"[sweep] multirun exited with {code}; see run.json of the failed runs")
    finished = [d for d in all_dirs if status(d) == "finished"]
    print(
        f"[sweep] {len(finished)}/{len(all_dirs)} runs finished in {time.perf_counter() - started:.0f} s"
    )
    if args.dry_run or args.skip_analysis:
        return 0
    listing = (
        REPO / "outputs" / "sweeps" / f"{args.sweep}-{args.target or 'all'}-{args.scale}.runs.txt"
    )
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text(
        "".join(f"{d.resolve()}\n" for d in dict.fromkeys(finished)), encoding="utf-8"
    )
    analysis = [
        sys.executable,
        "-m",
        "al_bert.analysis",
        args.target or "all",
        "--runs-from",
        str(listing),
        "--out",
        args.out,
    ]
    if args.wandb:
        analysis.append("--wandb")
    return subprocess.call(analysis, cwd=REPO)


if __name__ == "__main__":
    raise SystemExit(main())
