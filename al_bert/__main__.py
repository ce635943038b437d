"""``al-bert [overrides] [-m sweep overrides]`` (= ``python -m al_bert …``) — the Hydra entry point."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.types import RunMode
from omegaconf import DictConfig

from al_bert.app import main_entry
from al_bert.config_groups import composition_errors
from al_bert.console import say
from al_bert.errors import ConfigError

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


def check_overrides(args: Sequence[str]) -> None:
    """Compose the config from the command line's overrides as Hydra is about to, and raise a one-line
    :class:`ConfigError` on a composition error (an unknown group option or key, an override Hydra
    cannot parse) instead of Hydra's report of a dozen lines.

    A sweep (``-m``) is composed with each value of every swept config group (``strategy=random,badge``)
    and the first value of every other swept key. A command line with options besides ``-m`` (``--help``,
    ``--cfg job``, ``--info``, ``-cn`` …), a sweep the basic sweeper cannot enumerate, or
    ``HYDRA_FULL_ERROR=1`` is left to Hydra as it is."""
    multirun = bool(args) and args[0] in MULTIRUN_FLAGS
    overrides = list(args[1:] if multirun else args)
    if os.environ.get("HYDRA_FULL_ERROR") or any(arg.startswith("-") for arg in overrides):
        return
    with initialize_config_dir(config_dir=CONF, version_base="1.3"), composition_errors():
        loader = GlobalHydra.instance().config_loader()
        parsed = OverridesParser.create(config_loader=loader).parse_overrides(overrides)
        if any(o.is_sweep_override() and not o.is_discrete_sweep() for o in parsed):
            return  # another sweeper's syntax (interval, tags): Hydra checks it
        probes = _sweep_probes(parsed, is_group=lambda key: bool(loader.get_group_options(key)))
        if not multirun and any(o.is_sweep_override() for o in parsed):
            # A sweep without -m runs only where the config sets hydra.mode=MULTIRUN (Hydra's rule);
            # otherwise composing the overrides as they are raises Hydra's "ambiguous value".
            shown = compose(config_name="config", overrides=probes[0], return_hydra_config=True)
            if shown.hydra.mode != RunMode.MULTIRUN:
                compose(config_name="config", overrides=overrides)
        for probe in probes:
            compose(config_name="config", overrides=probe)


def _sweep_probes(parsed: list[Override], is_group: Callable[[str], bool]) -> list[list[str]]:
    """The override lists that cover a sweep's compositions: every override at its first value, then
    each further value of a swept config group, one at a time (written as the basic sweeper writes
    them)."""
    values = [
        [f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()]
        if o.is_sweep_override()
        else [o.input_line or o.get_key_element()]
        for o in parsed
    ]
    first = [choices[0] for choices in values]
    probes = [first]
    for i, (override, choices) in enumerate(zip(parsed, values, strict=True)):
        if override.is_sweep_override() and is_group(override.key_or_group):
            probes += [[*first[:i], choice, *first[i + 1 :]] for choice in choices[1:]]
    return probes


def cli() -> None:
    """The ``al-bert`` console script: ``-m`` may stand anywhere among the overrides; a config that does
    not compose fails with one line (exit status 2) before Hydra starts."""
    sys.argv = hoist_multirun_flag(sys.argv)
    try:
        check_overrides(sys.argv[1:])
    except ConfigError as error:
        say(f"al-bert: {error}", sys.stderr)
        raise SystemExit(2) from None
    main()


if __name__ == "__main__":
    cli()
