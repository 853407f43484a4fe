"""RoleCatalog.search on a tiny hand-built bundle (fake encoder): title variants, lexical fusion, typo
correction, penalties, excluded labels and the preferred-label tie-break."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import HashingEncoder, concept_row, posting_row

from skillmatch.build import BuildInputs, build_bundle
from skillmatch.bundle import Bundle, open_bundle
from skillmatch.config import Settings
from skillmatch.matching.roles import RoleCatalog, RoleHit, RoleParams
from skillmatch.matching.titles import TitleLexicon
from skillmatch.schema import CREDENTIAL_COLUMNS, OCCUPATION_COLUMNS, POSTING_COLUMNS, Taxonomy


def occupation(oid: str, label: str, alts: list[str], isco: str) -> dict[str, object]:
    return {"id": oid, "label": label, "alt_labels": alts, "description": "", "isco_group": isco}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    concepts = pd.DataFrame([concept_row("c:sql", "SQL", []), concept_row("c:care", "patient care", [])])
    occupations = pd.DataFrame(
        [
            occupation("o:analyst", "data analyst", ["analytics specialist"], "2511"),
            occupation("o:geologist", "geologist", ["earth scientist"], "2114"),
            occupation("o:genealogist", "genealogist", ["family historian"], "2633"),
            occupation("o:nurse", "nurse", ["staff nurse", "ward nurse"], "2221"),
            # "cook" is the preferred label of o:z-cook and an alternative label of o:a-chef
            occupation("o:z-cook", "cook", ["kitchen cook"], "5120"),
            occupation("o:a-chef", "chef", ["cook", "head chef"], "3434"),
        ],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame(
        [("o:analyst", "c:sql", "essential"), ("o:nurse", "c:care", "essential")],
        columns=["occupation_id", "skill_id", "relation"],
    )
    postings = pd.DataFrame([posting_row("P1", "Barista", "make coffee")], columns=POSTING_COLUMNS)
    out = tmp_path_factory.mktemp("roles") / "bundle"
    build_bundle(
        BuildInputs(
            Taxonomy("test", "1", concepts, occupations, relations),
            pd.DataFrame(columns=CREDENTIAL_COLUMNS),
            postings,
        ),
        out,
        encoder=HashingEncoder(),
        settings=Settings(use_cache=False),
    )
    return open_bundle(Path(out))


def catalog(
    bundle: Bundle, *, params: RoleParams | None = None, exclude_labels: Collection[tuple[str, str]] = ()
) -> RoleCatalog:
    return RoleCatalog(bundle, HashingEncoder(), params=params, exclude_labels=exclude_labels)


def search_one(roles: RoleCatalog, query: str, top_k: int = 5) -> list[RoleHit]:
    [hits] = roles.search([query], top_k=top_k)
    return hits


def test_noisy_title_finds_the_role_of_the_clean_one(bundle: Bundle) -> None:
    roles = catalog(bundle)
    clean = search_one(roles, "Data Analyst")
    noisy = search_one(roles, "Sr. Data Analyst (m/f/d) – Berlin")
    assert clean[0].id == noisy[0].id == "o:analyst"
    assert clean[0].matched_label == noisy[0].matched_label == "data analyst"
    assert clean[0].score == pytest.approx(1.0, abs=1e-3)
    # the part "Data Analyst" matched exactly, less the part penalty (the whole "Data Analyst Berlin" scores lower)
    assert noisy[0].score == pytest.approx(1.0 - RoleParams().search_part_penalty, abs=1e-3)


def test_part_penalty_applies_to_parts_not_to_the_whole_title(bundle: Bundle) -> None:
    whole = search_one(catalog(bundle), "Data Analyst Berlin")[0]  # the whole title, no separators
    assert whole.id == "o:analyst" and 0.5 < whole.score < 0.9
    for penalty in (0.05, 0.1, 0.3, 0.5):
        roles = catalog(bundle, params=RoleParams(search_part_penalty=penalty))
        hit = search_one(roles, "Data Analyst | Berlin")[0]
        assert hit.id == "o:analyst"
        # the part "Data Analyst" (exact, less the penalty) or else the unpenalised whole, whichever is better
        assert hit.score == pytest.approx(max(1.0 - penalty, whole.score), abs=1e-3)


def test_score_fuses_cosine_and_character_ngrams(bundle: Bundle) -> None:
    # "nurse ward" has no separators and no misspelt word: one variant, no penalty
    encoder = HashingEncoder()
    query, label = "nurse ward", "ward nurse"
    cosine = float(encoder.encode([query])[0] @ encoder.encode([label])[0])
    lexical = float(TitleLexicon([label]).score([query], np.array([[0]]))[0, 0])
    assert lexical == pytest.approx(1.0, abs=1e-5)  # same words: same n-grams within words
    assert cosine < 0.9  # the trigrams across the space differ
    for weight in (0.0, 0.2, 0.5):
        hit = search_one(catalog(bundle, params=RoleParams(search_lexical_weight=weight)), query)[0]
        assert hit.id == "o:nurse" and hit.matched_label == label
        assert hit.score == pytest.approx((1 - weight) * cosine + weight * lexical, abs=1e-3)


def test_misspelt_title_is_found_through_correction(bundle: Bundle) -> None:
    # "gealogist" is one edit from "geologist", but its character trigrams are closer to "genealogist"
    without_correction = search_one(
        catalog(bundle, params=RoleParams(search_lexical_weight=0.0)), "gealogist"
    )
    assert without_correction[0].id == "o:genealogist"
    corrected = search_one(catalog(bundle), "gealogist")
    assert corrected[0].id == "o:geologist"
    assert corrected[0].matched_label == "geologist"
    # the corrected variant matched exactly, less the correction penalty
    assert corrected[0].score == pytest.approx(1.0 - RoleParams().search_correction_penalty, abs=1e-3)
    assert corrected[1].id == "o:genealogist"


def test_correction_penalty_trades_off_against_the_raw_text(bundle: Bundle) -> None:
    # a large penalty makes the corrected variant lose to the raw text's best label
    roles = catalog(bundle, params=RoleParams(search_correction_penalty=0.5))
    hits = search_one(roles, "gealogist")
    assert hits[0].id == "o:genealogist"
    geologist = next(h for h in hits if h.id == "o:geologist")
    assert geologist.score < hits[0].score


def test_preferred_label_wins_a_tie_with_an_alternative_label(bundle: Bundle) -> None:
    hits = search_one(catalog(bundle), "cook", top_k=2)
    # both match "cook" exactly; o:z-cook has it as its preferred label (its id sorts last)
    assert [h.id for h in hits] == ["o:z-cook", "o:a-chef"]
    assert [h.matched_label for h in hits] == ["cook", "cook"]
    assert hits[0].score == hits[1].score


def test_exclude_labels_changes_the_matched_label(bundle: Bundle) -> None:
    before = search_one(catalog(bundle), "staff nurse")[0]
    assert (before.id, before.matched_label) == ("o:nurse", "staff nurse")
    # role id and text must both match; the text is compared case- and whitespace-insensitively
    after = search_one(catalog(bundle, exclude_labels=[("o:nurse", "  Staff   NURSE ")]), "staff nurse")[0]
    assert after.id == "o:nurse"
    assert after.matched_label != "staff nurse"
    assert after.score < before.score
    other_role = search_one(catalog(bundle, exclude_labels=[("o:analyst", "staff nurse")]), "staff nurse")[0]
    assert (other_role.id, other_role.matched_label) == ("o:nurse", "staff nurse")


def test_exclude_labels_removes_a_shared_text_from_one_role_only(bundle: Bundle) -> None:
    hits = search_one(catalog(bundle, exclude_labels=[("o:z-cook", "cook")]), "cook", top_k=2)
    assert hits[0].id == "o:a-chef" and hits[0].matched_label == "cook"
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert hits[1].id == "o:z-cook" and hits[1].matched_label == "kitchen cook"


def test_a_role_without_labels_is_no_longer_found(bundle: Bundle) -> None:
    excluded = [("o:geologist", "geologist"), ("o:geologist", "earth scientist")]
    roles = catalog(bundle, exclude_labels=excluded)
    hits = search_one(roles, "geologist", top_k=10)
    assert hits, "other roles are still found"
    assert "o:geologist" not in {h.id for h in hits}
    assert "o:geologist" in {h.id for h in search_one(catalog(bundle), "geologist", top_k=10)}


def test_top_k_is_respected_and_roles_are_distinct(bundle: Bundle) -> None:
    roles = catalog(bundle)
    for k in (1, 3, 5):
        hits = search_one(roles, "nurse", top_k=k)
        assert len(hits) == k
        assert len({h.id for h in hits}) == k
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    everything = search_one(roles, "nurse", top_k=100)
    assert len(everything) == len(bundle.roles)  # 6 occupations and the Barista role: each once


def test_empty_queries_give_no_hits(bundle: Bundle) -> None:
    roles = catalog(bundle)
    assert roles.search([]) == []
    assert roles.search(["", "   "]) == [[], []]
    empty, nurse = roles.search(["", "staff nurse"], top_k=2)
    assert empty == []
    assert nurse[0].id == "o:nurse"


def test_search_returns_hits_for_each_query_in_order(bundle: Bundle) -> None:
    hits = catalog(bundle).search(["geologist", "Hiring: Staff Nurse – London", "chef"], top_k=1)
    assert [h[0].id for h in hits] == ["o:geologist", "o:nurse", "o:a-chef"]
    barista = catalog(bundle).search(["barista"], top_k=1)[0][0]
    assert barista.label == "Barista" and barista.postings == 1
