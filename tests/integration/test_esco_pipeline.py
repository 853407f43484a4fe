"""Full ESCO v1.1.1 + the demo catalogue + 140 real SkillSpan postings, with the real encoder.

The bundle is built once per session (about two minutes of encoding on 2 cores without a warm cache).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skillmatch.config import Settings
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import Learner
from skillmatch.matching.recommend import Limits
from skillmatch.matching.recommend import recommend as recommend_pathway


def recommend(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The recommendation as its JSON dict (these tests read the API's shape)."""
    return recommend_pathway(*args, **kwargs).to_dict()


pytestmark = pytest.mark.integration

POSTGRESQL = "http://data.europa.eu/esco/skill/a8d07b5a-c1a1-42c6-9d53-db9c7a2ca996"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
DATA_ANALYST = "http://data.europa.eu/esco/occupation/d3edb8f8-3a06-47a0-8fb9-9b212c006aa2"


@pytest.fixture(scope="module")
def bundle(esco_bundle_path: Path, real_encoder: object) -> Skillmatch:
    return load_service(esco_bundle_path, settings=Settings(use_cache=False), encoder=real_encoder)


@pytest.fixture(scope="module")
def matcher(bundle: Skillmatch) -> MatchContext:
    return bundle.context


def test_manifest_describes_the_bundle(esco_bundle_path: Path) -> None:
    manifest = json.loads((esco_bundle_path / "manifest.json").read_text())
    assert manifest["taxonomy"] == {"name": "ESCO", "version": "v1.1.1"}
    counts = manifest["counts"]
    assert counts["concepts"] == 13896
    assert counts["occupations"] == 3007
    assert counts["labels"] > 90_000
    assert counts["postings"] == 140
    # ESCO v1.1.1 itself has 74 dangling references; they are reported, not dropped silently
    assert manifest["rejects"]["total"] == 74
    assert manifest["indexes"]["labels"]["rows"] == counts["labels"]
    assert set(manifest["versions"]) >= {"skillmatch", "faiss", "sentence-transformers"}
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())


def test_known_answers(bundle: Skillmatch) -> None:
    texts = [
        "Experience administering PostgreSQL databases in production",
        "You write clean, tested Python code",
    ]
    pg, py = bundle.linker.link(texts, top_k=3, min_score=0.0)
    assert POSTGRESQL in [s.id for s in pg]
    assert PYTHON in [s.id for s in py]
    assert pg[0].evidence and pg[0].matched_label


def test_explicit_skill_normalisation(bundle: Skillmatch) -> None:
    [[hit]] = bundle.linker.normalise(["postgres"], min_score=0.0)
    assert hit.id == POSTGRESQL


def test_role_without_postings_still_has_a_profile(matcher: MatchContext) -> None:
    roles = matcher.bundle.roles.set_index("id")
    nurse = matcher.roles.resolve("nurse responsible for general care")
    assert roles.loc[nurse, "postings"] == 0
    profile = matcher.roles.profile(nurse)
    assert len(profile) >= 10
    assert set(profile["relation"].dropna()) <= {"essential", "optional"}
    result = recommend(
        matcher,
        Learner(skills=["patient care", "communication"]),
        [nurse],
        Limits(max_hours=300, languages=["en"]),
    )
    assert result["pathway"]
    assert result["totals"]["hours"] <= 300


def test_skillspan_titles_normalise_or_cluster(matcher: MatchContext) -> None:
    assign = matcher.bundle.posting_roles
    assert len(assign) == 140
    assert set(assign["method"]) <= {"title", "cluster", "untitled"}
    assert (assign["method"] == "title").sum() > 20


def test_role_search_finds_data_analyst(matcher: MatchContext) -> None:
    [hits] = matcher.roles.search(["Data Analyst"], top_k=3)
    assert hits[0].id == DATA_ANALYST


def test_every_esco_preferred_label_and_id_resolves_to_its_own_concept(bundle: Skillmatch) -> None:
    concepts = bundle.bundle.taxonomy.concepts
    ids, labels = concepts["id"].tolist(), concepts["label"].tolist()
    by_label = [found[0].id if found else None for found in bundle.linker.normalise(labels)]
    wrong = [(label, got) for label, want, got in zip(labels, ids, by_label, strict=True) if got != want]
    assert wrong == [], f"{len(wrong)} of {len(labels)} preferred labels resolve elsewhere, e.g. {wrong[:5]}"
    by_id = [found[0].id for found in bundle.linker.normalise(ids)]
    assert by_id == ids
    # the cases found on an outside benchmark: a preferred label that is also another concept's alternative label
    for label in ("CSS", "MATLAB", "microprocessors"):
        [[hit]] = bundle.linker.normalise([label])
        assert hit.label == label and hit.score == 1.0
