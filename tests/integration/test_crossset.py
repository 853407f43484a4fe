"""Cross-set evaluation (choose on TECH, report on HOUSE and back) on full ESCO v1.1.1 with the real encoder.

Uses the session's full-ESCO bundle (``esco_bundle_path`` in conftest.py, built once per session) and a grid of
four points, so it adds seconds once the bundle exists. The full grid's figures are in docs/evaluation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skillmatch.config import Settings
from skillmatch.evaluation.crossset import GridPoint, evaluate_cross_set, format_cross_set
from skillmatch.evaluation.runner import SKILL_EXTRACTION_FILES
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

#: Plain and the defaults without / with lexical fusion: 4 points.
GRID = {"lexical_weight": [0.0, 0.2], "context_weight": [0.5], "ngram_max_words": [0, 12]}


@pytest.fixture(scope="module")
def bundle(esco_bundle_path: Path, real_encoder: object) -> Skillmatch:
    return load_service(esco_bundle_path, settings=Settings(use_cache=False), encoder=real_encoder)


@pytest.fixture(scope="module")
def result(bundle: Skillmatch) -> dict[str, Any]:
    paths = {name: DATA / rel for name, rel in SKILL_EXTRACTION_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        pytest.skip(
            f"shared benchmark data not found at {missing} (expected ../shared/data next to the repo)"
        )
    return evaluate_cross_set(bundle, paths, GRID)


def test_cross_set_on_esco(result: dict[str, Any]) -> None:
    assert {name: data["queries"] for name, data in result["sets"].items()} == {"tech": 75, "house": 61}
    assert result["points"] == 4
    for d in result["directions"]:
        rows = {r["point"]: r for r in result["sets"][d["tune"]]["grid"]}
        grid = [GridPoint(lex, 0.5, n).label() for lex in (0.0, 0.2) for n in (0, 12)]
        # the choice is the best grid point on the set it is tuned on ...
        assert d["tuned"]["rp@5"] == max(rows[p]["rp@5"] for p in grid)
        # ... and its held-out figure is the other set's figure for that point
        other = {r["point"]: r for r in result["sets"][d["report"]]["grid"]}
        assert d["held_out"]["rp@5"] == other[d["held_out"]["point"]]["rp@5"]
        assert d["oracle"]["rp@5"] >= d["held_out"]["rp@5"]
        # chosen on either set, the options beat the plain linker on the other by at least 5 RP@5 points
        assert d["held_out"]["rp@5"] >= d["plain"]["rp@5"] + 0.05, d
    for row in result["thresholds"]:
        assert row["held_out"]["threshold"] == row["tuned"]["threshold"]
        assert row["oracle"]["f1"] >= row["held_out"]["f1"]
        if row["linker"] == "defaults":
            # the defaults' threshold calibrated on one set loses at most 0.05 F1 on the other (0.01-0.02 measured)
            assert row["f1_loss"] <= 0.05, row
    assert "tech -> house" in format_cross_set(result)
