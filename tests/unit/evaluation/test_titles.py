"""Unit tests for skillmatch.evaluation.titles: dressing titles as vacancy titles, the noisy ESCO title set and
the O*NET alternate-title set (tiny files written in the test)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skillmatch.evaluation.titles import (
    ABBREVIATIONS,
    NOISE_KINDS,
    TitleSet,
    dress_title,
    noisy_titles,
    onet_titles,
    read_crosswalk,
)
from skillmatch.schema import OCCUPATION_COLUMNS, InputError

# --- dress_title ---------------------------------------------------------------------------------------------


def test_dress_title_is_deterministic_for_a_seed() -> None:
    first = [dress_title("registered nurse", np.random.default_rng(seed)) for seed in range(20)]
    again = [dress_title("registered nurse", np.random.default_rng(seed)) for seed in range(20)]
    assert first == again
    assert len({text for text, _ in first}) > 10  # different seeds dress differently


def test_dress_title_reports_kinds_in_order_and_at_most_as_many_as_asked() -> None:
    for seed in range(50):
        for kinds in (1, 3, 5):
            text, applied = dress_title("sales manager", np.random.default_rng(seed), kinds=kinds)
            assert set(applied) <= set(NOISE_KINDS)
            assert list(applied) == [k for k in NOISE_KINDS if k in applied]
            # every kind can change "sales manager" (a word to abbreviate, words of 5+ letters for a typo)
            assert len(applied) == kinds
            assert text != "sales manager"


def test_dress_title_reports_only_the_kinds_it_applied() -> None:
    # "cook": no word to abbreviate and no word of 5+ letters to misspell
    for seed in range(30):
        text, applied = dress_title("cook", np.random.default_rng(seed), kinds=len(NOISE_KINDS))
        assert set(applied) == set(NOISE_KINDS) - {"abbreviation", "typo"}
        assert "cook" in text.lower()


def test_dress_title_kinds_match_the_text() -> None:
    title = "sales manager"
    seen: set[str] = set()
    for seed in range(200):
        text, applied = dress_title(title, np.random.default_rng(seed), kinds=2)
        seen.update(applied)
        lower = text.lower()
        if "abbreviation" in applied:
            assert "mgr" in lower and "manager" not in lower, text
        if "typo" in applied and "abbreviation" not in applied:
            assert "sales manager" not in lower, text
        if not {"abbreviation", "typo"} & set(applied):
            assert "sales manager" in lower, text
            # the words are intact; only "case" may change their letters' case
            assert (title in text) == ("case" not in applied), text
        if "gender" in applied:
            assert re.search(r"[mwfh]\s*/\s*[mwfdx]|all genders", text), text
        if "prefix" in applied:
            assert re.match(r"(?:Hiring:|URGENT:|Job:|NEW:|We're hiring -) ", text), text
        if "employer" in applied:
            assert re.search(r"Acme|NHS|Agency|Startup|retailer|Bosch", text), text
    assert seen == set(NOISE_KINDS)


def test_abbreviation_counts_only_when_a_word_changed() -> None:
    assert not {"registered", "nurse"} & set(ABBREVIATIONS)
    for seed in range(100):
        _, applied = dress_title("registered nurse", np.random.default_rng(seed), kinds=4)
        assert "abbreviation" not in applied
    counted = 0
    for seed in range(100):
        text, applied = dress_title("operations manager", np.random.default_rng(seed), kinds=4)
        if "abbreviation" in applied:
            counted += 1
            assert "mgr" in text.lower() and "manager" not in text.lower(), text
        elif "typo" not in applied:
            assert "manager" in text.lower(), text
    assert counted


@pytest.mark.parametrize("kinds", [0, -1])
def test_dress_title_rejects_fewer_than_one_kind(kinds: int) -> None:
    with pytest.raises(ValueError, match="kinds must be >= 1"):
        dress_title("nurse", np.random.default_rng(0), kinds=kinds)


# --- noisy_titles ----------------------------------------------------------------------------------------------


def occupations_frame(rows: list[tuple[str, str, list[str]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"id": oid, "label": label, "alt_labels": alts, "description": "", "isco_group": "0000"}
            for oid, label, alts in rows
        ],
        columns=OCCUPATION_COLUMNS,
    )


OCCUPATIONS = occupations_frame(
    [
        # "staff nurse" is also a title of o:midwife, "NURSE" repeats the preferred label: only "ward sister"
        ("o:nurse", "nurse", ["staff nurse", "NURSE", "ward  sister"]),
        ("o:midwife", "midwife", ["Staff Nurse"]),  # its only alternative title is not its own
        ("o:cook", "cook", ["kitchen cook", "line cook", "Line Cook"]),
        ("o:welder", "welder", []),
        ("o:other", "baker", ["ward sister assistant"]),
    ]
)


def test_noisy_titles_draws_from_the_given_occupations_only() -> None:
    titles = noisy_titles(OCCUPATIONS, ["o:nurse", "o:midwife", "o:cook", "o:welder"], seed=1)
    assert isinstance(titles, TitleSet) and titles.name == "noisy_esco"
    assert len(titles) == len(titles.relevant) == len(titles.sources) == len(titles.noise)
    assert {next(iter(r)) for r in titles.relevant} == {"o:nurse", "o:midwife", "o:cook", "o:welder"}
    assert all(len(r) == 1 for r in titles.relevant)
    by_occupation: dict[str, list[str]] = {}
    for relevant, source in zip(titles.relevant, titles.sources, strict=True):
        by_occupation.setdefault(next(iter(relevant)), []).append(source)
    # the preferred label, then one alternative label that belongs to this occupation alone
    assert by_occupation["o:nurse"] == ["nurse", "ward sister"]
    assert by_occupation["o:midwife"] == ["midwife"]
    assert by_occupation["o:welder"] == ["welder"]
    assert by_occupation["o:cook"][0] == "cook"
    assert by_occupation["o:cook"][1] in {"kitchen cook", "line cook", "Line Cook"}
    assert titles.notes == {"occupations": 4, "without_distinct_alt_label": 2}
    assert titles.held_out_labels == []
    for text, noise in zip(titles.queries, titles.noise, strict=True):
        assert noise and set(noise) <= set(NOISE_KINDS)
        assert text


def test_noisy_titles_records_held_out_alt_labels_only_when_asked() -> None:
    ids = ["o:nurse", "o:midwife", "o:welder"]
    kept = noisy_titles(OCCUPATIONS, ids, seed=0, hold_out_label=False)
    held = noisy_titles(OCCUPATIONS, ids, seed=0, hold_out_label=True)
    assert kept.held_out_labels == []
    assert held.held_out_labels == [("o:nurse", "ward sister")]  # never a preferred label
    assert held.queries == kept.queries


def test_noisy_titles_is_seeded() -> None:
    ids = ["o:nurse", "o:cook"]
    first = noisy_titles(OCCUPATIONS, ids, seed=3, kinds=2)
    again = noisy_titles(OCCUPATIONS, ids, seed=3, kinds=2)
    assert (first.queries, first.sources, first.noise) == (again.queries, again.sources, again.noise)
    others = {tuple(noisy_titles(OCCUPATIONS, ids, seed=s, kinds=2).queries) for s in range(10)}
    assert len(others) > 1
    assert all(len(n) <= 2 for n in first.noise)


def test_noisy_titles_rejects_unknown_ids() -> None:
    with pytest.raises(ValueError, match=r"1 occupation ids are not in the table.*o:astronaut"):
        noisy_titles(OCCUPATIONS, ["o:nurse", "o:astronaut"])


# --- read_crosswalk --------------------------------------------------------------------------------------------

CROSSWALK_PREAMBLE = [
    "\ufeffMapping project name,ESCO-O*NET Crosswalk,,,,,",
    "Mapping project author,ESCO Secretariat,,,,,",
    "Mapping project version,1,,,,,",
    "Mapping project version date,Sep-22,,,,,",
    "Classification 1 Name,O*NET,,,,,",
    "Classification 1 Concept type,Occupation,,,,,",
    "Classification 1 Version,O*NET-SOC 2019,,,,,",
    "Classification 1 Language,English,,,,,",
    "Classification 1 Landing page,https://www.onetonline.org/,,,,,",
    "Classification 2 Name,ESCO,,,,,",
    "Classification 2 Concept type,Occupation,,,,,",
    "Classification 2 Version,v1.1.0,,,,,",
    "Classification 2 Language,English,,,,,",
    "Classification 2 Landing page,https://esco.ec.europa.eu/en,,,,,",
    ",,,,,,",
    ",,,,,,",
]
CROSSWALK_HEADER = (
    "O*NET Id,O*NET Title,O*NET Description,ESCO or ISCO URI,ESCO or ISCO Title,ESCO or ISCO Description,"
    "Type of Match"
)


def write_crosswalk(path: Path, rows: list[tuple[str, str, str]], *, header: str = CROSSWALK_HEADER) -> Path:
    """A crosswalk file like the real one: 16 preamble lines, the header row, then (code, uri, match) rows."""
    lines = [*CROSSWALK_PREAMBLE, header]
    lines += [
        f'{code},Title {code},"Does things, well.",{uri},esco {uri}," ",{match}' for code, uri, match in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_crosswalk_skips_the_preamble(tmp_path: Path) -> None:
    path = write_crosswalk(
        tmp_path / "walk.csv",
        [("11-1011.00", "esco:ceo", "exactMatch"), ("11-1011.00", "esco:md", "broadMatch")],
    )
    walk = read_crosswalk(path)
    assert list(walk.columns) == ["onet_code", "esco_uri", "match"]
    assert walk.values.tolist() == [
        ["11-1011.00", "esco:ceo", "exactMatch"],
        ["11-1011.00", "esco:md", "broadMatch"],
    ]


def test_read_crosswalk_names_the_file_when_the_header_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "no_header.csv"
    path.write_text("\n".join([*CROSSWALK_PREAMBLE, "11-1011.00,x,y,esco:ceo,z,w,exactMatch"]) + "\n")
    with pytest.raises(InputError, match=r"no_header\.csv: no header row starting with 'O\*NET Id,'"):
        read_crosswalk(path)
    with pytest.raises(InputError, match=r"absent\.csv: crosswalk file not found"):
        read_crosswalk(tmp_path / "absent.csv")


def test_read_crosswalk_names_a_missing_column(tmp_path: Path) -> None:
    header = CROSSWALK_HEADER.replace("Type of Match", "Match Kind")
    path = write_crosswalk(tmp_path / "walk.csv", [("11-1011.00", "esco:ceo", "exactMatch")], header=header)
    with pytest.raises(InputError, match=r"walk\.csv, row 17 \[Type of Match\]: column missing"):
        read_crosswalk(path)


# --- onet_titles -------------------------------------------------------------------------------------------------


def write_alternate_titles(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["O*NET-SOC Code\tAlternate Title\tShort Title\tSource(s)"]
    lines += [f"{code}\t{title}\tn/a\t08" for code, title in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def onet_files(tmp_path: Path) -> tuple[Path, Path]:
    titles = write_alternate_titles(
        tmp_path / "Alternate Titles.txt",
        [
            ("11-1011.00", "Chief Executive Officer"),
            ("11-1011.00", "chief  executive officer"),  # the same title again, once counted
            ("11-1011.00", "Agency Owner"),
            ("29-1141.00", "ICU Nurse"),
            ("29-1141.00", "Staff Nurse"),  # excluded (e.g. a MELO query)
            ("29-1141.01", "Nurse Practitioner"),  # crosswalk target is outside the bundle
            ("29-1141.02", "Nurse Anesthetist"),  # only a broad match
            ("99-9999.00", "Astronaut"),  # code not in the crosswalk
        ],
    )
    walk = write_crosswalk(
        tmp_path / "walk.csv",
        [
            ("11-1011.00", "esco:ceo", "exactMatch"),
            ("11-1011.00", "esco:md", "closeMatch"),
            ("11-1011.00", "esco:chair", "broadMatch"),
            ("29-1141.00", "esco:nurse", "closeMatch"),
            ("29-1141.00", "esco:carer", "narrowMatch"),
            ("29-1141.01", "esco:elsewhere", "exactMatch"),
            ("29-1141.02", "esco:nurse", "broadMatch"),
        ],
    )
    return titles, walk


BUNDLE_OCCUPATIONS = {"esco:ceo", "esco:md", "esco:chair", "esco:nurse", "esco:carer"}


def test_onet_titles_maps_codes_through_exact_and_close_matches(onet_files: tuple[Path, Path]) -> None:
    titles, walk = onet_files
    found = onet_titles(titles, walk, BUNDLE_OCCUPATIONS, exclude=["STAFF   nurse"], sample=None)
    assert found.name == "onet_alternate"
    assert dict(zip(found.queries, found.relevant, strict=True)) == {
        "Chief Executive Officer": {"esco:ceo", "esco:md"},
        "Agency Owner": {"esco:ceo", "esco:md"},
        "ICU Nurse": {"esco:nurse"},
    }
    assert found.sources == found.queries
    assert found.noise == [(), (), ()]
    assert found.notes == {"titles_with_target": 3, "title_rows_without_target": 3, "title_rows_excluded": 1}


def test_onet_title_under_several_codes_is_one_query_relevant_to_all(tmp_path: Path) -> None:
    titles = write_alternate_titles(
        tmp_path / "titles.txt",
        [("11-1011.00", "Director"), ("11-2021.00", "director"), ("11-2021.00", "CMO")],
    )
    walk = write_crosswalk(
        tmp_path / "walk.csv",
        [("11-1011.00", "esco:ceo", "exactMatch"), ("11-2021.00", "esco:marketing", "exactMatch")],
    )
    found = onet_titles(titles, walk, {"esco:ceo", "esco:marketing"}, sample=None)
    assert dict(zip(found.queries, found.relevant, strict=True)) == {
        "Director": {"esco:ceo", "esco:marketing"},
        "CMO": {"esco:marketing"},
    }


def test_onet_titles_match_types_are_a_parameter(onet_files: tuple[Path, Path]) -> None:
    titles, walk = onet_files
    found = onet_titles(titles, walk, BUNDLE_OCCUPATIONS, matches=["broadMatch"], sample=None)
    assert dict(zip(found.queries, found.relevant, strict=True)) == {
        "Chief Executive Officer": {"esco:chair"},
        "Agency Owner": {"esco:chair"},
        "Nurse Anesthetist": {"esco:nurse"},
    }


def test_onet_titles_samples_deterministically(onet_files: tuple[Path, Path]) -> None:
    titles, walk = onet_files
    full = onet_titles(titles, walk, BUNDLE_OCCUPATIONS, sample=None)
    assert len(full) == 4
    picks = {}
    for seed in range(12):
        sampled = onet_titles(titles, walk, BUNDLE_OCCUPATIONS, sample=2, seed=seed)
        assert sampled.queries == onet_titles(titles, walk, BUNDLE_OCCUPATIONS, sample=2, seed=seed).queries
        assert len(sampled) == 2
        assert set(sampled.queries) <= set(full.queries)
        # the sample keeps the file's order and each title's relevant set
        assert sampled.queries == [q for q in full.queries if q in sampled.queries]
        for query, relevant in zip(sampled.queries, sampled.relevant, strict=True):
            assert relevant == full.relevant[full.queries.index(query)]
        assert sampled.notes["titles_with_target"] == 4
        picks[seed] = tuple(sampled.queries)
    assert len(set(picks.values())) > 1
    assert onet_titles(titles, walk, BUNDLE_OCCUPATIONS, sample=10).queries == full.queries


def test_onet_titles_names_a_missing_file_or_column(tmp_path: Path, onet_files: tuple[Path, Path]) -> None:
    _, walk = onet_files
    with pytest.raises(InputError, match=r"nowhere\.txt: O\*NET alternate titles file not found"):
        onet_titles(tmp_path / "nowhere.txt", walk, BUNDLE_OCCUPATIONS)
    bad = tmp_path / "bad.txt"
    bad.write_text("Code\tAlternate Title\n11-1011.00\tCEO\n")
    with pytest.raises(InputError, match=r"bad\.txt, row 1 \[O\*NET-SOC Code\]: column missing"):
        onet_titles(bad, walk, BUNDLE_OCCUPATIONS)
