"""O*NET as a taxonomy: files recognised by their headers (text and Excel), the mapping, importance as relation
weights, rejects naming file/row/field, and role profiles that take the weights as priors."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from fakes import HashingEncoder

from skillmatch.build import BuildInputs, build_bundle
from skillmatch.config import Settings
from skillmatch.facade import load as load_service
from skillmatch.matching.roles import RoleParams, role_profiles
from skillmatch.readers import is_onet, load_taxonomy
from skillmatch.readers.onet import kind_of, onet_version
from skillmatch.schema import CREDENTIAL_COLUMNS, POSTING_COLUMNS, RELATION_COLUMNS, InputError

DS, BI = "15-2051.00", "15-2051.01"

OCCUPATIONS = (
    "O*NET-SOC Code\tTitle\tDescription\n"
    f"{DS}\tData Scientists\tDevelop analytics applications.\n"
    f"{BI}\tBusiness Intelligence Analysts\tProduce financial and market intelligence.\n"
    "\tNo Code\tA row without a code.\n"
    f"{DS}\tData Scientists again\tDuplicate.\n"
)
TITLES = (
    "O*NET-SOC Code\tAlternate Title\tShort Title\tSource(s)\n"
    f"{DS}\tMachine Learning Engineer\tML Engineer\t08\n"
    f"{DS}\tData Scientist\tn/a\t08\n"
    "99-9999.00\tNobody\tn/a\t08\n"
)
TASKS = (
    "O*NET-SOC Code\tTask ID\tTask\tTask Type\tIncumbents Responding\tDate\tDomain Source\n"
    f"{DS}\t1\tApply machine learning to large data sets.\tn/a\tn/a\t11/2020\tAnalyst\n"
    f"{DS}\t2\tWrite grant proposals.\tSupplemental\tn/a\t11/2020\tAnalyst\n"
)
TECHNOLOGY = (
    "O*NET-SOC Code\tExample\tCommodity Code\tCommodity Title\tHot Technology\tIn Demand\n"
    f"{DS}\tPython\t43232705\tObject or component oriented development software\tY\tY\n"
    f"{DS}\tSAS\t43232612\tAnalytical or scientific software\tN\tN\n"
    f"{BI}\tPython\t43232705\tObject or component oriented development software\tY\tN\n"
    f"{BI}\t\t43232612\tAnalytical or scientific software\tN\tN\n"
)
RATING_HEADER = (
    "O*NET-SOC Code",
    "Title",
    "Element ID",
    "Element Name",
    "Scale ID",
    "Scale Name",
    "Data Value",
    "N",
    "Not Relevant",
)
RATINGS = [
    (BI, "BI", "2.A.1.a", "Reading Comprehension", "IM", "Importance", 4.0, 8, None),
    (BI, "BI", "2.A.1.a", "Reading Comprehension", "LV", "Level", 4.5, 8, "N"),
    (BI, "BI", "2.B.3.e", "Programming", "IM", "Importance", 2.0, 8, None),
    (BI, "BI", "2.B.3.e", "Programming", "LV", "Level", 2.0, 8, "N"),
    (BI, "BI", "2.B.5.d", "Management of Personnel Resources", "IM", "Importance", 1.5, 8, None),
    (BI, "BI", "2.B.5.d", "Management of Personnel Resources", "LV", "Level", 0.0, 8, "Y"),
    (BI, "BI", "2.A.2.a", "Critical Thinking", "IM", "Importance", 7.5, 8, None),  # outside 1-5
    (BI, "BI", "2.A.2.b", "Active Learning", "IM", "Importance", "high", 8, None),  # not a number
    (BI, "BI", "2.A.2.c", "Learning Strategies", "XX", "Odd", 3.0, 8, None),  # unknown scale
]


def write_onet(folder: Path) -> Path:
    """A tiny O*NET folder; file names deliberately unlike O*NET's, since headers decide."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.txt").write_text(OCCUPATIONS, encoding="utf-8")
    (folder / "b.txt").write_text(TITLES, encoding="utf-8")
    (folder / "c.tsv").write_text(TASKS, encoding="utf-8")
    (folder / "d.txt").write_text(TECHNOLOGY, encoding="utf-8")
    (folder / "notes.txt").write_text("just some notes\n", encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(RATING_HEADER)
    for row in RATINGS:
        sheet.append(row)
    book.save(folder / "e.xlsx")
    return folder


@pytest.fixture(scope="module")
def onet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_onet(tmp_path_factory.mktemp("onet") / "db_29_2_text")


def test_files_are_recognised_by_their_headers(onet_dir: Path) -> None:
    kinds = {p.name: kind_of(p) for p in sorted(onet_dir.iterdir())}
    assert kinds == {
        "a.txt": "occupations",
        "b.txt": "alternate_titles",
        "c.tsv": "tasks",
        "d.txt": "technology",
        "e.xlsx": "ratings",
        "notes.txt": None,
    }
    assert is_onet(onet_dir) and onet_version(onet_dir) == "29.2"


def test_mapping_and_relation_weights(onet_dir: Path) -> None:
    tax, _ = load_taxonomy(onet_dir)
    assert (tax.name, tax.version) == ("O*NET", "29.2")
    occ = tax.occupations.set_index("id")
    assert occ.loc[DS, "label"] == "Data Scientists"
    assert occ.loc[DS, "alt_labels"] == ["Machine Learning Engineer", "ML Engineer", "Data Scientist"]
    assert occ.loc[DS, "description"].endswith("Tasks: Apply machine learning to large data sets.")
    concepts = tax.concepts.set_index("id")
    assert concepts.loc["2.A.1.a", "label"] == "Reading Comprehension"
    assert concepts.loc["2.A.1.a", "group_path"] == "Basic Skills"
    python = concepts.loc["onet:tech:python"]
    assert python["label"] == "Python" and "hot technology" in python["description"]
    assert python["group_path"] == "Technology Skills > Object or component oriented development software"
    assert list(tax.relations.columns) == RELATION_COLUMNS
    rel = {(o, s): (r, w) for o, s, r, w in tax.relations.itertuples(index=False)}
    assert rel[(BI, "2.A.1.a")] == ("essential", 0.75)  # importance 4 of 1-5
    assert rel[(BI, "2.B.3.e")] == ("optional", 0.25)  # importance 2
    assert (BI, "2.B.5.d") not in rel  # its level rating says "Not Relevant"
    assert rel[(DS, "onet:tech:python")] == ("optional", 0.75)  # hot and in demand
    assert rel[(BI, "onet:tech:python")] == ("optional", 0.5)  # hot only
    assert rel[(DS, "onet:tech:sas")] == ("optional", 0.25)


def test_rejects_name_file_row_field_and_reason(onet_dir: Path) -> None:
    _, rejects = load_taxonomy(onet_dir)
    got = {(Path(r.file).name, r.row, r.field) for r in rejects}
    assert got == {
        ("a.txt", 4, "O*NET-SOC Code"),
        ("a.txt", 5, "O*NET-SOC Code"),
        ("b.txt", 4, "O*NET-SOC Code"),
        ("d.txt", 5, "Example"),
        ("e.xlsx", 8, "Data Value"),
        ("e.xlsx", 9, "Data Value"),
        ("e.xlsx", 10, "Scale ID"),
    }
    reasons = {(Path(r.file).name, r.row): r.reason for r in rejects}
    assert "duplicate id '15-2051.00'" in reasons[("a.txt", 5)]
    assert "unknown occupation code '99-9999.00'" in reasons[("b.txt", 4)]
    assert "outside 1-5" in reasons[("e.xlsx", 8)]


def test_a_folder_without_occupations_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text(TITLES, encoding="utf-8")
    with pytest.raises(InputError, match="O\\*NET files"):
        load_taxonomy(tmp_path)


def test_profiles_take_relation_weights_as_priors() -> None:
    roles = pd.DataFrame({"id": ["r"]})
    assignments = pd.DataFrame(columns=["posting_id", "role_id"])
    skills = pd.DataFrame(columns=["posting_id", "skill_id"])
    params = RoleParams()
    typed = pd.DataFrame([("r", "a", "essential"), ("r", "b", "optional")], columns=RELATION_COLUMNS[:3])
    weighted = typed.assign(weight=[1.0, 0.25 / 0.6])
    by_type = role_profiles(roles, assignments, skills, typed, params)
    by_weight = role_profiles(roles, assignments, skills, weighted, params)
    assert by_type["weight"].tolist() == by_weight["weight"].tolist() == [0.6, 0.25]
    onet = typed.assign(weight=[0.5, 0.9])
    profile = role_profiles(roles, assignments, skills, onet, params)
    assert dict(zip(profile["skill_id"], profile["weight"], strict=True)) == {"b": 0.54, "a": 0.3}


def test_an_onet_bundle_answers_roles_gaps_and_recommend(onet_dir: Path, tmp_path: Path) -> None:
    tax, rejects = load_taxonomy(onet_dir)
    credentials = pd.DataFrame(
        [
            {
                **dict.fromkeys(CREDENTIAL_COLUMNS),
                "id": "PY-1",
                "title": "Python for data",
                "learning_outcomes": ["Write Python programs"],
                "skills": ["onet:tech:python"],
                "prerequisites": [],
                "prerequisite_skills": [],
                "stackable_into": [],
                "tags": [],
                "duration_hours": 10.0,
            }
        ],
        columns=CREDENTIAL_COLUMNS,
    )
    inputs = BuildInputs(tax, credentials, pd.DataFrame(columns=POSTING_COLUMNS), rejects, {})
    settings = Settings(use_cache=False, link_min_score=0.5)
    encoder = HashingEncoder()
    build_bundle(inputs, tmp_path / "b", encoder=encoder, settings=settings)
    service = load_service(tmp_path / "b", settings=settings, encoder=encoder)
    assert service.resolve_roles(["Data Scientists", DS, "ML Engineer"]) == [DS, DS, DS]
    profile = service.role_profile(BI).set_index("skill_id")["weight"].to_dict()
    assert profile == {"2.A.1.a": 0.45, "onet:tech:python": 0.3, "2.B.3.e": 0.15}
    gaps = service.gaps(DS, ["SAS"])
    assert {i.skill_id for i in gaps.items} == {"onet:tech:python", "onet:tech:sas"}
    rec = service.recommend(DS, ["SAS"])
    assert [s.credential["id"] for s in rec.pathway] == ["PY-1"]
