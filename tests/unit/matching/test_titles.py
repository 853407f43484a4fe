"""Unit tests for skillmatch.matching.titles: title cleaning, query variants and the character n-gram lexicon."""

from __future__ import annotations

import numpy as np
import pytest

from skillmatch.matching.titles import TitleLexicon, clean_title, title_variants

# --- title_variants and clean_title --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # gender markers
        ("Data Analyst (m/f/d)", "Data Analyst"),
        ("Chef (h/f)", "Chef"),
        ("Pflegefachkraft m/w/d", "Pflegefachkraft"),
        ("Welder (all genders)", "Welder"),
        # pay
        ("Barista £30k", "Barista"),
        ("Cook $25/hr", "Cook"),
        ("Accountant up to £40,000 + benefits", "Accountant"),
        ("Welder DOE", "Welder"),
        ("Plumber €45,000", "Plumber"),
        # seniority, contract and shift words
        ("Sr. Data Analyst", "Data Analyst"),
        ("Junior Chef", "Chef"),
        ("Full-time Cleaner", "Cleaner"),
        ("Nurse Nights", "Nurse"),
        ("Temporary Part Time Receptionist", "Receptionist"),
        # trailing employer
        ("Accountant at Acme Ltd", "Accountant"),
        ("Buyer for leading retailer", "Buyer"),
        # hiring prefixes
        ("Hiring: Welder", "Welder"),
        ("URGENT: Welder", "Welder"),
        # level numerals
        ("Software Engineer II", "Software Engineer"),
        ("Engineer III", "Engineer"),
        # placeholders
        ("Nurse <LOCATION>", "Nurse"),
        # abbreviations expanded
        ("Sales Mgr", "Sales manager"),
        ("Sr. Dev", "developer"),
        ("HR Asst.", "human resources assistant"),
        ("IT Tech", "IT technician"),
    ],
)
def test_title_variants_clean_a_title_without_separators(title: str, expected: str) -> None:
    assert title_variants(title) == [expected]
    assert clean_title(title) == expected


def test_employer_after_at_sign_is_a_separated_part() -> None:
    # "@" is a separator: the employer becomes a part of its own, the title comes first
    assert title_variants("Designer @ Startup") == ["Designer Startup", "Designer", "Startup"]
    assert clean_title("Designer @ Startup") == "Designer"


def test_title_with_separators_gives_the_whole_then_each_part() -> None:
    variants = title_variants("Hiring: Staff Nurse – ICU Nights – London")
    assert variants == ["Staff Nurse ICU London", "Staff Nurse", "ICU", "London"]
    assert clean_title("Hiring: Staff Nurse – ICU Nights – London") == "Staff Nurse"
    noisy = "Sr. Data Analyst (m/f/d) – Berlin"
    assert title_variants(noisy) == ["Data Analyst Berlin", "Data Analyst", "Berlin"]
    assert clean_title(noisy) == "Data Analyst"


def test_parts_that_clean_to_nothing_are_dropped() -> None:
    # "Full-time" and "£30k" leave nothing: a single variant remains, with no parts
    assert title_variants("Cleaner - Full-time - £30k") == ["Cleaner"]
    assert title_variants("Full-time - Nurse") == ["Nurse"]


def test_variants_are_distinct() -> None:
    variants = title_variants("Data Analyst - Data Analyst")
    assert variants == ["Data Analyst Data Analyst", "Data Analyst"]
    assert len(variants) == len(set(variants))


@pytest.mark.parametrize("title", ["(m/f/d)", "Senior", "  Full-time  "])
def test_a_title_that_cleans_to_nothing_falls_back_to_the_raw_text(title: str) -> None:
    assert title_variants(title) == [title.strip()]
    assert clean_title(title) == title.strip()


@pytest.mark.parametrize("title", ["", "   "])
def test_an_empty_title_has_no_variants(title: str) -> None:
    assert title_variants(title) == []
    assert clean_title(title) == ""


def test_an_employer_in_the_first_part_does_not_swallow_the_title() -> None:
    assert clean_title("Registered Nurse at Royal Free - London") == "Registered Nurse"
    assert title_variants("Registered Nurse at Royal Free - London") == [
        "Registered Nurse London",
        "Registered Nurse",
        "London",
    ]


def test_variants_differing_only_in_case_count_once() -> None:
    assert title_variants("DATA ANALYST - data analyst") == ["DATA ANALYST data analyst", "DATA ANALYST"]


def test_correct_counts_a_swap_of_adjacent_letters_as_one_edit() -> None:
    assert TitleLexicon(["baker", "bakery assistant"]).correct("bakre") == "baker"


def test_clean_title_keeps_its_earlier_behaviour() -> None:
    assert clean_title("Data Analyst (m/f/d) - Berlin") == "Data Analyst"
    assert clean_title("Staff Nurse | NHS") == "Staff Nurse"


# --- TitleLexicon.correct ------------------------------------------------------------------------------------

LABELS = [
    "data analyst",
    "nurse",
    "staff nurse",
    "accountant",
    "physiotherapist",
    "teacher",
    "cook",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nurce", "nurse"),  # 5 letters, one substitution
        ("nuse", "nurse"),  # 4 letters, one deletion
        ("techer", "teacher"),  # 6 letters, one deletion
        ("data anlyst", "data analyst"),  # only the misspelt word changes
        ("staf nurse", "staff nurse"),
        ("acountant", "accountant"),  # 9 letters, one edit
        ("acuntant", "accountant"),  # 8 letters, two edits
        ("phisiotheripist", "physiotherapist"),  # 15 letters, two edits
    ],
)
def test_correct_fixes_close_typos(text: str, expected: str) -> None:
    assert TitleLexicon(LABELS).correct(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "cok",  # 3 letters: too short to correct
        "nrce",  # 4 letters, two edits from "nurse": too far
        "tchre",  # 5 letters, more than one edit from "teacher"
        "tcher",  # 5 letters, two edits from "teacher"
        "techerr",  # 7 letters, two edits from "teacher": one edit is the limit below 8 letters
        "phsiotheripst",  # 13 letters, three edits from "physiotherapist"
        "zzzzzz",  # near nothing
        "nurse teacher",  # known words
    ],
)
def test_correct_leaves_short_known_and_far_words_alone(text: str) -> None:
    assert TitleLexicon(LABELS).correct(text) == text


def test_correct_keeps_case_of_untouched_words_and_separators() -> None:
    assert TitleLexicon(LABELS).correct("Data Anlyst, Nurse") == "Data analyst, Nurse"


def test_correct_prefers_the_more_frequent_label_word_on_ties() -> None:
    # "bnker" is one edit from both "baker" and "banker"
    banker_commoner = TitleLexicon(["baker", "banker", "investment banker"])
    baker_commoner = TitleLexicon(["baker", "pastry baker", "banker"])
    assert banker_commoner.correct("bnker") == "banker"
    assert baker_commoner.correct("bnker") == "baker"


def test_correct_without_labels_changes_nothing() -> None:
    assert TitleLexicon([]).correct("nurce") == "nurce"


# --- TitleLexicon.top and score --------------------------------------------------------------------------------


def test_top_ranks_by_score_and_pads_with_minus_one() -> None:
    lexicon = TitleLexicon(LABELS)
    scores, rows = lexicon.top(["staff nurse", "data analyst"], 10)
    assert scores.shape == rows.shape == (2, 10)
    assert rows[0, 0] == LABELS.index("staff nurse")
    assert rows[0, 1] == LABELS.index("nurse")
    assert rows[1, 0] == LABELS.index("data analyst")
    assert scores[0, 0] == pytest.approx(1.0) and scores[1, 0] == pytest.approx(1.0)
    # seven labels: the last three columns are padding
    assert (rows[:, len(LABELS) :] == -1).all()
    assert (scores[:, len(LABELS) :] == 0).all()
    assert sorted(rows[0, : len(LABELS)].tolist()) == list(range(len(LABELS)))
    for row in scores:
        assert (np.diff(row[: len(LABELS)]) <= 1e-6).all(), "scores must not increase"


def test_top_with_k_below_the_number_of_labels() -> None:
    lexicon = TitleLexicon(LABELS)
    scores, rows = lexicon.top(["nurse"], 2)
    assert rows.tolist() == [[LABELS.index("nurse"), LABELS.index("staff nurse")]]
    assert scores[0, 0] > scores[0, 1] > 0


def test_top_of_an_empty_lexicon_or_no_queries() -> None:
    scores, rows = TitleLexicon([]).top(["nurse", "cook"], 3)
    assert rows.tolist() == [[-1, -1, -1], [-1, -1, -1]]
    assert scores.tolist() == [[0.0] * 3, [0.0] * 3]
    scores, rows = TitleLexicon(LABELS).top([], 3)
    assert scores.shape == rows.shape == (0, 3)


def test_score_matches_top_and_gives_zero_for_padding() -> None:
    lexicon = TitleLexicon(LABELS)
    queries = ["staf nurse", "data analyst", "cooking teacher"]
    scores, rows = lexicon.top(queries, 9)
    np.testing.assert_allclose(lexicon.score(queries, rows), scores, rtol=1e-5, atol=1e-6)
    assert (lexicon.score(queries, rows)[:, len(LABELS) :] == 0).all()
    # rows in any order, with padding in between
    mixed = np.array(
        [[-1, LABELS.index("nurse"), -1], [LABELS.index("teacher"), -1, LABELS.index("data analyst")]]
    )
    got = lexicon.score(queries[:2], mixed)
    assert got[0, 0] == 0 and got[0, 2] == 0 and got[1, 1] == 0
    assert got[0, 1] > 0.3  # "staf nurse" shares "nurse"
    assert got[1, 2] == pytest.approx(1.0)
    assert got[1, 0] == pytest.approx(0.0, abs=1e-6)
    assert TitleLexicon([]).score(["nurse"], np.array([[0, -1]])).tolist() == [[0.0, 0.0]]
