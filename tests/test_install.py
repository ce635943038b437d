"""The tested dependency set: README, CI and ``make install`` install through ``constraints.txt``, which
pins every dependency of the project for this Python."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest's own dependency on Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
UNPINNED = {"torch"}  # README installs it first, or keeps the user's CUDA build


def pins() -> dict[str, str]:
    """constraints.txt's exact version per package, for this interpreter's markers."""
    found: dict[str, str] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            found[canonicalize_name(requirement.name)] = spec.version
    return found


def test_every_dependency_is_pinned_for_this_python() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = pins()
    environment = default_environment()
    for line in wanted:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name in UNPINNED or (
            requirement.marker and not requirement.marker.evaluate(environment)
        ):
            continue
        assert name in pinned, f"{name} is not pinned in constraints.txt: run make lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"constraints.txt pins {name}=={pinned[name]} outside pyproject.toml's {requirement}"
        )
    assert not UNPINNED & set(pinned)


def test_readme_ci_and_make_install_through_the_constraints() -> None:
    readme = (REPO / "README.md").read_text()
    (install,) = re.findall(r"^pip install torch.*$", readme, flags=re.MULTILINE)
    assert "-c constraints.txt" in install
    assert install in (REPO / ".ci" / "run").read_text()
    assert "-c constraints.txt" in (REPO / "Makefile").read_text()
