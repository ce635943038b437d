"""``al-bert [overrides] [-m sweep overrides]`` (= ``python -m al_bert …``) — the Hydra entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from al_bert.app import main_entry

MULTIRUN_FLAGS = ("-m", "--multirun")


def hoist_multirun_flag(argv: list[str]) -> list[str]:
    """Move ``-m``/``--multirun`` before the overrides.

    Hydra's parser only accepts overrides after the flag, but users write
    ``python -m al_bert +experiment=x strategy=badge -m seed=0,1`` (the flag in the middle).
    """
    if not any(arg in MULTIRUN_FLAGS for arg in argv[1:]):
        return argv
    rest = [arg for arg in argv[1:] if arg not in MULTIRUN_FLAGS]
    return [argv[0], "--multirun", *rest]


# An absolute path: the same configs whether started as `python -m al_bert` or as the `al-bert` script.
CONF = str(Path(__file__).resolve().parents[1] / "conf")


@hydra.main(version_base="1.3", config_path=CONF, config_name="config")
def main(cfg: DictConfig) -> str:
    return main_entry(cfg)


def cli() -> None:
    """The ``al-bert`` console script: ``-m`` may stand anywhere among the overrides."""
    sys.argv = hoist_multirun_flag(sys.argv)
    main()


if __name__ == "__main__":
    cli()
