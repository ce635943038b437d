"""``python -m al_bert [overrides] [-m sweep overrides]`` — the Hydra entry point."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from al_bert.app import main_entry


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    main_entry(cfg)


if __name__ == "__main__":
    main()
