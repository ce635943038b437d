"""The package graph's rules (``[tool.importlinter]`` in pyproject.toml) are enforced: `make lint` fails on a
forbidden import. Checked on a copy of the package with one forbidden import added."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports")
    assert executable, "lint-imports (import-linter, in the dev extra) is not installed"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [executable, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_forbidden_import_breaks_the_lint(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "al_bert", tmp_path / "al_bert", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    clean = lint_imports(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    strategy = tmp_path / "al_bert" / "strategies" / "random.py"
    strategy.write_text(
        strategy.read_text() + "\nimport al_bert.model.training  # a strategy training a model\n"
    )
    broken = lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "BROKEN" in broken.stdout
    assert "al_bert.strategies.random -> al_bert.model.training" in broken.stdout
