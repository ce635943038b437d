"""The package graph's rules (``[tool.importlinter]`` in pyproject.toml) are enforced: `make lint` fails on a
forbidden import. Checked on a copy of the package with one forbidden import added.

The contracts name packages, not modules, so they cover a module added later: a new strategy or weighting
(written as docs/architecture.md's recipe says) keeps every contract, and the loop importing it breaks one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.generic_checks import EXAMPLE_STRATEGY, EXAMPLE_WEIGHTING, Example

REPO = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports")
    assert executable, "lint-imports (import-linter, in the dev extra) is not installed"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [executable, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def package_copy(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, which the lint keeps."""
    shutil.copytree(
        REPO / "al_bert", tmp_path / "al_bert", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    clean = lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    return tmp_path


def append(path: Path, line: str) -> None:
    path.write_text((path.read_text() if path.exists() else '"""A new module."""\n') + line + "\n")


def assert_broken(root: Path, chain: str) -> None:
    broken = lint_imports(root)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
    assert chain in broken.stdout, broken.stdout


def test_a_forbidden_import_breaks_the_lint(tmp_path: Path) -> None:
    root = package_copy(tmp_path)
    strategy = root / "al_bert" / "strategies" / "random.py"
    strategy.write_text(
        strategy.read_text() + "\nimport al_bert.model.training  # a strategy training a model\n"
    )
    broken = lint_imports(root)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
    assert "al_bert.strategies.random -> al_bert.model.training" in broken.stdout


@pytest.mark.parametrize("example", [EXAMPLE_STRATEGY, EXAMPLE_WEIGHTING], ids=lambda e: e.group)
def test_the_loop_importing_a_new_strategy_or_weighting_breaks_the_lint(
    tmp_path: Path, example: Example
) -> None:
    root = package_copy(tmp_path)
    module = f"al_bert.{example.package}.{example.module}"
    (root / "al_bert" / example.package / f"{example.module}.py").write_text(example.source)
    added = lint_imports(root)  # the new module alone keeps every contract ...
    assert added.returncode == 0, added.stdout + added.stderr
    append(root / "al_bert" / "loop.py", f"import {module}  # a concrete {example.group}")
    assert_broken(root, f"al_bert.loop -> {module}")  # ... the loop knowing it does not


@pytest.mark.parametrize(
    ("edits", "chain"),
    [
        # The loop may import the abstract bases only because they know no concrete strategy.
        (
            {"strategies/base.py": "import al_bert.strategies.random"},
            "al_bert.strategies.base -> al_bert.strategies.random",
        ),
        # A new top-level module is covered by the contracts written with `al_bert.*`.
        ({"helpers.py": "import al_bert.app"}, "al_bert.helpers -> al_bert.app"),
        (
            {"helpers.py": "", "errors.py": "import al_bert.helpers"},
            "al_bert.errors -> al_bert.helpers",
        ),
        (
            {"helpers.py": "", "outputs.py": "import al_bert.helpers"},
            "al_bert.outputs -> al_bert.helpers",
        ),
    ],
    ids=["base-imports-a-concrete-strategy", "new-module-imports-app", "errors", "outputs"],
)
def test_contracts_cover_modules_they_do_not_name(
    tmp_path: Path, edits: dict[str, str], chain: str
) -> None:
    root = package_copy(tmp_path)
    for path, line in edits.items():
        append(root / "al_bert" / path, line)
    assert_broken(root, chain)
