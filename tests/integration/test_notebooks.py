"""Execute the notebooks top to bottom on a small configuration (parameters cell overridden, as papermill does)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, overrides: dict[str, object], cwd: Path, timeout: int = 1200) -> nbformat.NotebookNode:
    """Run a notebook with ``overrides`` injected right after its ``parameters`` cell; returns it executed."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "\n".join(f"{key} = {value!r}" for key, value in overrides.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def test_01_explore(demo_bundle_path: Path, tmp_path: Path) -> None:
    nb = execute(
        "01_explore.ipynb", {"BUNDLE": str(demo_bundle_path), "BUILD_DEMO_IF_MISSING": False}, tmp_path
    )
    text = outputs_text(nb)
    assert "image/png" in str([o.get("data", {}).keys() for c in nb.cells for o in c.get("outputs", [])])
    assert "coverage" in text
    assert "teachable_share" in text


def test_02_finetune_encoder(esco_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "encoder"
    overrides = {
        "TAXONOMY": str(esco_dir),
        "OUT": str(out),
        "MAX_PAIRS": 128,
        "EVAL_SAMPLE": 300,
        "REBUILD_BUNDLE": str(tmp_path / "bundle"),
    }
    nb = execute("02_finetune_encoder.ipynb", overrides, tmp_path)
    assert (out / "skillmatch_training.json").exists()
    manifest = (tmp_path / "bundle" / "manifest.json").read_text()
    assert str(out.resolve()) in manifest
    assert "fine-tuned" in outputs_text(nb)


def test_03_evaluate(esco_bundle_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    overrides = {
        "BUNDLE": str(esco_bundle_path),
        "DATA": str(Path(__file__).resolve().parents[3] / "shared" / "data"),
        "NORMALISATION_SAMPLE": 200,
        "OUTPUT": str(out),
    }
    nb = execute("03_evaluate.ipynb", overrides, tmp_path)
    results = json.loads(out.read_text())
    assert {"skill_extraction", "job_titles", "skill_normalisation", "role_profiles"} <= set(results)
    assert "pipeline" in outputs_text(nb)
