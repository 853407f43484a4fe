"""The ESCO–O*NET crosswalk reader and its lookup into a bundle's roles (both directions), on small files written
here; one test reads the real crosswalk in ../shared/data (skipped where it is absent)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.evaluation import titles
from skillmatch.readers.crosswalk import crosswalk_for, crosswalk_key, match_rank, read_crosswalk
from skillmatch.schema import InputError

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
REAL_CROSSWALK = SHARED_DATA / "crosswalks" / "esco_onet_crosswalk.csv"
DATA_SCIENTIST = "http://data.europa.eu/esco/occupation/258e46f9-0075-4a2e-adae-1ff0477e0f30"

PREAMBLE = [f"Mapping line {i},x,,,,," for i in range(14)] + [",,,,,,", ",,,,,,"]
HEADER = (
    "O*NET Id,O*NET Title,O*NET Description,ESCO or ISCO URI,ESCO or ISCO Title,ESCO or ISCO Description,"
    "Type of Match"
)


def write_crosswalk(path: Path, rows: list[tuple[str, str, str]], *, header: str = HEADER) -> Path:
    """A crosswalk like the real one: 16 preamble lines (header on line 17), then (code, uri, match) rows."""
    lines = ["\ufeff" + PREAMBLE[0], *PREAMBLE[1:], header]
    lines += [
        f'{code},O*NET {code},"Does things, well.",{uri},ESCO {uri},"",{match}' for code, uri, match in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_codes_uris_and_match_types_after_the_preamble(tmp_path: Path) -> None:
    path = write_crosswalk(
        tmp_path / "walk.csv",
        [("15-2051.00", "esco:ds", "exactMatch"), ("15-2051.00", "esco:da", " closeMatch ")],
    )
    walk = read_crosswalk(path)
    assert walk.values.tolist() == [
        ["15-2051.00", "esco:ds", "exactMatch"],
        ["15-2051.00", "esco:da", "closeMatch"],
    ]
    with_titles = read_crosswalk(path, titles=True)
    assert list(with_titles.columns) == ["onet_code", "esco_uri", "match", "onet_title", "esco_title"]
    assert with_titles.iloc[0].tolist()[3:] == ["O*NET 15-2051.00", "ESCO esco:ds"]


def test_evaluation_titles_still_exports_read_crosswalk() -> None:
    assert titles.read_crosswalk is read_crosswalk


def test_errors_name_file_row_and_field(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"absent\.csv: crosswalk file not found"):
        read_crosswalk(tmp_path / "absent.csv")
    no_header = tmp_path / "no_header.csv"
    no_header.write_text("\n".join([*PREAMBLE, "15-2051.00,x,y,esco:ds,z,w,exactMatch"]) + "\n")
    with pytest.raises(InputError, match=r"no_header\.csv: no header row starting with 'O\*NET Id,'"):
        read_crosswalk(no_header)
    renamed = write_crosswalk(
        tmp_path / "renamed.csv",
        [("15-2051.00", "esco:ds", "exactMatch")],
        header=HEADER.replace("Type of", "Kind of"),
    )
    with pytest.raises(InputError, match=r"renamed\.csv, row 17 \[Type of Match\]: column missing"):
        read_crosswalk(renamed)
    empty = write_crosswalk(
        tmp_path / "empty.csv", [("15-2051.00", "esco:ds", "exactMatch"), ("15-2041.00", "", "closeMatch")]
    )
    with pytest.raises(InputError, match=r"empty\.csv, row 19 \[ESCO or ISCO URI\]: empty"):
        read_crosswalk(empty)


def test_crosswalk_key_adds_the_missing_soc_suffix_only() -> None:
    assert crosswalk_key(" 15-2051 ") == "15-2051.00"
    assert crosswalk_key("15-2051.01") == "15-2051.01"
    assert crosswalk_key("esco:ds") == "esco:ds"
    assert crosswalk_key("data scientist") == "data scientist"


def test_match_types_rank_exact_close_narrow_broad_then_others() -> None:
    ranks = [match_rank(m) for m in ("exactMatch", "closeMatch", "narrowMatch", "broadMatch", "exactISCO")]
    assert ranks == [0, 1, 2, 3, 4]


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["onet_code", "esco_uri", "match"])


def test_lookup_on_an_esco_bundle_maps_codes_to_uris_best_first() -> None:
    walk = frame(
        [
            ("15-2051.00", "esco:z", "broadMatch"),
            ("15-2051.00", "esco:b", "closeMatch"),
            ("15-2051.00", "esco:a", "closeMatch"),
            ("15-2051.00", "esco:ds", "exactMatch"),
            ("15-2051.00", "esco:absent", "exactMatch"),  # not a role of the bundle
            ("15-2041.00", "esco:ds", "narrowMatch"),
            ("15-2041.00", "esco:ds", "closeMatch"),  # the same pair twice keeps the better type
        ]
    )
    lookup = crosswalk_for(walk, ["esco:ds", "esco:a", "esco:b", "esco:z"])
    assert lookup == {
        "15-2051.00": [
            ("esco:ds", "exactMatch"),
            ("esco:a", "closeMatch"),
            ("esco:b", "closeMatch"),
            ("esco:z", "broadMatch"),
        ],
        "15-2041.00": [("esco:ds", "closeMatch")],
    }


def test_lookup_on_an_onet_bundle_maps_uris_to_codes_with_the_files_match_type() -> None:
    walk = frame([("15-2051.00", "esco:ds", "exactMatch"), ("15-2041.00", "esco:ds", "narrowMatch")])
    lookup = crosswalk_for(walk, ["15-2051.00", "15-2041.00"])
    # the type is the file's (O*NET -> ESCO), not inverted
    assert lookup == {"esco:ds": [("15-2051.00", "exactMatch"), ("15-2041.00", "narrowMatch")]}
    assert crosswalk_for(walk, ["o:unrelated"]) == {}


@pytest.mark.skipif(not REAL_CROSSWALK.is_file(), reason=f"the real crosswalk is absent ({REAL_CROSSWALK})")
def test_the_real_crosswalk_maps_data_scientists_to_the_esco_data_scientist() -> None:
    walk = read_crosswalk(REAL_CROSSWALK)
    assert len(walk) > 4000
    assert set(walk["match"]) <= {"exactMatch", "closeMatch", "broadMatch", "narrowMatch", "exactISCO"}
    occupations = REAL_CROSSWALK.parents[1] / "esco" / "v1.1.1" / "occupations_en.csv"
    if occupations.is_file():
        with occupations.open(encoding="utf-8") as handle:
            labels = {row["conceptUri"]: row["preferredLabel"] for row in csv.DictReader(handle)}
        assert labels[DATA_SCIENTIST] == "data scientist"
        esco_ids = list(labels)
    else:
        esco_ids = list(walk["esco_uri"])
    esco = crosswalk_for(walk, esco_ids)
    assert esco["15-2051.00"][0] == (DATA_SCIENTIST, "exactMatch")
    onet = crosswalk_for(walk, set(walk["onet_code"]))
    assert ("15-2051.00", "exactMatch") in onet[DATA_SCIENTIST]
