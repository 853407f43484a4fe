"""CLI conventions that need no bundle: version, usage errors, server settings from the environment."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skillmatch.cli import commands as cli
from skillmatch.cli.commands import app, counts_in_words


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"skillmatch {version('skillmatch')}"


def test_usage_errors_exit_2_and_runtime_errors_exit_1(tmp_path: Path) -> None:
    missing_option = CliRunner().invoke(app, ["build", "--out", str(tmp_path / "b")])
    assert missing_option.exit_code == 2 and "--taxonomy" in missing_option.output
    no_learner = CliRunner().invoke(app, ["gaps", "--bundle", str(tmp_path), "--role", "x"])
    assert no_learner.exit_code == 2 and "--skills" in no_learner.output
    not_a_bundle = CliRunner().invoke(
        app, ["gaps", "--bundle", str(tmp_path), "--role", "x", "--skills", "SQL"]
    )
    assert not_a_bundle.exit_code == 1 and "not a skillmatch bundle" in not_a_bundle.output


def test_counts_in_words() -> None:
    assert (
        counts_in_words({"covered": 3, "partial": 1, "missing": 0})
        == "3 covered, 1 partly covered, 0 missing"
    )


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_serve_and_demo_honour_the_api_settings(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, object]] = []

    def fake_serve(path: Path, **kwargs: object) -> None:
        calls.append({"path": path, **kwargs})

    monkeypatch.setattr("skillmatch.api.server.serve", fake_serve)
    monkeypatch.setattr("skillmatch.api.server.ensure_demo_bundle", lambda out, **_: out)
    (tmp_path / "manifest.json").write_text("{}")
    monkeypatch.setenv("SKILLMATCH_API_HOST", "127.0.0.2")
    monkeypatch.setenv("SKILLMATCH_API_PORT", "8123")
    monkeypatch.setenv("SKILLMATCH_API_WORKERS", "3")
    args = [command, "--bundle" if command == "serve" else "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = {"host": "127.0.0.2", "port": 8123}
    if command == "serve":
        expected["workers"] = 3
    assert {k: calls[0][k] for k in expected} == expected
    # options still win over the environment
    calls.clear()
    result = CliRunner().invoke(app, [*args, "--port", "9001"])
    assert result.exit_code == 0 and calls[0]["port"] == 9001


def test_link_in_chunks_reports_progress_and_keeps_order() -> None:
    seen: list[tuple[int, int]] = []
    texts = [str(i) for i in range(150)]
    out = cli.link_in_chunks(
        lambda chunk: [[t] for t in chunk], texts, lambda d, t: seen.append((d, t)), chunk=64
    )
    assert out == [[t] for t in texts]
    assert seen == [(64, 150), (128, 150), (150, 150)]
