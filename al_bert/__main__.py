"""``python -m al_bert [overrides] [-m sweep overrides]`` — the Hydra entry point."""

from __future__ import annotations

import sys

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


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    main_entry(cfg)


if __name__ == "__main__":
    sys.argv = hoist_multirun_flag(sys.argv)
    main()
