"""The credential catalogue library (search, filters, lookup) used by /v1/credentials."""

from __future__ import annotations

import pytest
from api_world import SLASHED, SQL

from skillmatch.facade import Skillmatch
from skillmatch.matching.catalogue import CredentialCatalogue, CredentialFilter
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import UnknownCredentialError


@pytest.fixture(scope="module")
def catalogue(bundle_v1: Skillmatch) -> CredentialCatalogue:
    return CredentialCatalogue(bundle_v1.context)


def test_filter_validation_and_normalisation() -> None:
    flt = CredentialFilter(levels=["Basic", ""], modes=[" Online "], languages=["EN"], currency=" usd ")
    assert flt.levels == ["beginner"] and flt.modes == ["online"] and flt.languages == ["en"]
    assert flt.currency == "USD"
    with pytest.raises(ValueError, match="proficiency level"):
        CredentialFilter(levels=["guru"])
    with pytest.raises(ValueError, match="unknown mode"):
        CredentialFilter(modes=["telepathy"])
    with pytest.raises(ValueError, match="max_cost must be >= 0"):
        CredentialFilter(max_cost=-1)
    with pytest.raises(ValueError, match="not an ISO 4217 code"):
        CredentialFilter(currency="euro")
    with pytest.raises(ValueError, match="not an ISO 4217 code"):
        CredentialFilter(currency="XYZ")


def test_listing_without_query(catalogue: CredentialCatalogue) -> None:
    result = catalogue.search(None)
    assert result.total == len(catalogue) == 6
    assert all(h.score is None and h.match is None for h in result.items)
    assert catalogue.search("   ").total == 6


def test_semantic_hits_rank_by_best_outcome(catalogue: CredentialCatalogue) -> None:
    result = catalogue.search("query data with sql", min_score=0.5)
    top = result.items[0]
    assert top.credential["id"] == "C-SQL" and top.evidence == "Query data with SQL"
    # "sql" and "data" are also title words; the outcome match (1.0) beats the title share (2/3)
    assert top.match == "title+outcome" and top.score == 1.0
    by_id = {h.credential["id"]: h for h in result.items}
    # "Statistik und SQL" shares only "sql" with the query, and its outcome scores under 0.5: a title hit
    assert by_id["C-DE"].match == "title" and by_id["C-DE"].score == pytest.approx(1 / 3, abs=1e-3)
    assert by_id["C-DE"].evidence is None
    scores = [h.score for h in result.items]
    assert scores == sorted(scores, reverse=True)
    assert all(h.score >= 0.5 or h.match == "title" for h in result.items)


def test_title_match_counts_content_words(catalogue: CredentialCatalogue) -> None:
    hits = {h.credential["id"]: h for h in catalogue.search("python for the beginners", min_score=1.01).items}
    # "python" is one of the two content words ("for", "the" are stop words): half the query is in the title
    assert hits["C-PY1"].score == pytest.approx(0.5) and hits["C-PY1"].match == "title"
    assert hits["C-PY1"].evidence is None
    exact = catalogue.search("nursing care in", min_score=1.01).items[0]
    assert exact.credential["id"] == SLASHED and exact.score == 1.0


def test_pagination(catalogue: CredentialCatalogue) -> None:
    everything = [h.credential["id"] for h in catalogue.search(None).items]
    page = catalogue.search(None, limit=2, offset=4)
    assert page.total == 6 and [h.credential["id"] for h in page.items] == everything[4:6]
    with pytest.raises(ValueError, match="limit"):
        catalogue.search(None, limit=0)
    with pytest.raises(ValueError, match="offset"):
        catalogue.search(None, offset=-1)


def test_get_and_unknown(catalogue: CredentialCatalogue) -> None:
    record = catalogue.get("C-SQL")
    assert record["title"] == "SQL for data analysis"
    assert record["linked_skills"][0]["skill_id"] == SQL
    with pytest.raises(UnknownCredentialError, match="C-NOPE"):
        catalogue.get("C-NOPE")


def test_outcome_index_mismatch_is_refused(bundle_v1: Skillmatch) -> None:
    broken = bundle_v1.bundle.replace(outcomes=bundle_v1.bundle.outcomes.iloc[:-1])
    context = MatchContext(broken, bundle_v1.encoder, bundle_v1.linker)
    with pytest.raises(ValueError, match="outcome table has 7 rows but the outcome index has 8"):
        CredentialCatalogue(context)
