"""The code passes the project's linters: ruff (style, imports, Google-style docstrings on the library) and mypy.

Both are configured in pyproject.toml and declared in the dev extra; the tests run them on the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("command", [("ruff", "check", "."), ("ruff", "format", "--check", ".")])
def test_ruff(command: tuple[str, ...]) -> None:
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    if shutil.which("mypy") is None and _run("mypy", "--version").returncode != 0:
        pytest.fail("mypy is not installed: pip install -e '.[dev]'")
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
