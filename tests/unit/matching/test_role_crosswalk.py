"""Roles asked for in the other taxonomy: RoleCatalog.search/resolve through the ESCO–O*NET crosswalk, on tiny
bundles (fake encoder) of each kind and a crosswalk file written here; the setting and the facade path."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder, concept_row, posting_row

from skillmatch import config
from skillmatch.build import BuildInputs, build_bundle
from skillmatch.bundle import Bundle, open_bundle
from skillmatch.config import Settings
from skillmatch.facade import load
from skillmatch.matching.roles import RoleCatalog, RoleHit, RoleParams, UnknownRoleError
from skillmatch.readers.crosswalk import crosswalk_for, read_crosswalk
from skillmatch.schema import CREDENTIAL_COLUMNS, OCCUPATION_COLUMNS, POSTING_COLUMNS, Taxonomy

ESCO = "http://data.europa.eu/esco/occupation/"
DS, STAT, ANALYST, VISION, NURSE = (
    f"{ESCO}data-scientist",
    f"{ESCO}statistician",
    f"{ESCO}data-analyst",
    f"{ESCO}vision-engineer",
    f"{ESCO}nurse",
)
#: (O*NET code, ESCO URI, match type), as the file has them
ROWS = [
    ("15-2051.00", DS, "exactMatch"),
    ("15-2051.00", VISION, "broadMatch"),
    ("15-2051.00", STAT, "closeMatch"),
    ("15-2051.00", ANALYST, "closeMatch"),
    ("15-2051.00", f"{ESCO}not-in-the-bundle", "exactMatch"),
    ("15-2041.00", STAT, "exactMatch"),
    ("15-2041.00", DS, "narrowMatch"),
    ("29-1141.00", NURSE, "broadMatch"),
]
HEADER = (
    "O*NET Id,O*NET Title,O*NET Description,ESCO or ISCO URI,ESCO or ISCO Title,ESCO or ISCO Description,"
    "Type of Match"
)


def write_crosswalk(path: Path, rows: list[tuple[str, str, str]] = ROWS) -> Path:
    """A crosswalk file like the real one: 16 preamble lines, the header, then the rows."""
    lines = [f"Mapping line {i},x,,,,," for i in range(16)] + [HEADER]
    lines += [f'{code},O*NET {code},"Does it.",{uri},ESCO title,"",{match}' for code, uri, match in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def occupation(oid: str, label: str, alts: list[str]) -> dict[str, object]:
    return {"id": oid, "label": label, "alt_labels": alts, "description": "", "isco_group": ""}


def build(out: Path, occupations: list[dict[str, object]]) -> Path:
    concepts = pd.DataFrame([concept_row("c:sql", "SQL", [])])
    relations = pd.DataFrame(columns=["occupation_id", "skill_id", "relation"])
    postings = pd.DataFrame([posting_row("P1", "Barista", "make coffee")], columns=POSTING_COLUMNS)
    build_bundle(
        BuildInputs(
            Taxonomy("test", "1", concepts, pd.DataFrame(occupations, columns=OCCUPATION_COLUMNS), relations),
            pd.DataFrame(columns=CREDENTIAL_COLUMNS),
            postings,
        ),
        out,
        encoder=HashingEncoder(),
        settings=Settings(use_cache=False, crosswalk_file=None),
    )
    return out


@pytest.fixture(scope="module")
def esco_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    occupations = [
        occupation(DS, "data scientist", ["data science specialist"]),
        occupation(STAT, "statistician", []),
        occupation(ANALYST, "data analyst", []),
        occupation(VISION, "computer vision engineer", []),
        occupation(NURSE, "nurse", ["staff nurse"]),
    ]
    return build(tmp_path_factory.mktemp("esco") / "bundle", occupations)


@pytest.fixture(scope="module")
def esco_bundle(esco_path: Path) -> Bundle:
    return open_bundle(esco_path)


@pytest.fixture(scope="module")
def onet_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    occupations = [
        occupation("15-2051.00", "Data Scientists", ["Data Science Manager"]),
        occupation("15-2041.00", "Statisticians", []),
        occupation("29-1141.00", "Registered Nurses", []),
    ]
    return open_bundle(build(tmp_path_factory.mktemp("onet") / "bundle", occupations))


@pytest.fixture(scope="module")
def crosswalk_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_crosswalk(tmp_path_factory.mktemp("crosswalk") / "walk.csv")


def catalog(bundle: Bundle, crosswalk_file: Path | None) -> RoleCatalog:
    walk = None
    if crosswalk_file is not None:
        walk = crosswalk_for(read_crosswalk(crosswalk_file), bundle.roles["id"])
    return RoleCatalog(bundle, HashingEncoder(), crosswalk=walk)


def search_one(roles: RoleCatalog, query: str, top_k: int = 5) -> list[RoleHit]:
    [hits] = roles.search([query], top_k=top_k)
    return hits


def test_an_onet_code_finds_its_esco_roles_first_with_their_match_types(
    esco_bundle: Bundle, crosswalk_file: Path
) -> None:
    hits = search_one(catalog(esco_bundle, crosswalk_file), "15-2051.00")
    step = RoleParams().search_crosswalk_step
    assert [(h.id, h.match, h.score) for h in hits[:4]] == [
        (DS, "exactMatch", 1.0),
        (ANALYST, "closeMatch", pytest.approx(1.0 - step)),  # ties by id
        (STAT, "closeMatch", pytest.approx(1.0 - step)),
        (VISION, "broadMatch", pytest.approx(1.0 - 3 * step)),
    ]
    assert hits[0].label == "data scientist"
    assert hits[0].matched_label == "15-2051.00"
    # ordinary label hits fill the rest of top_k, without a match type, and do not repeat crosswalked roles
    assert len(hits) == 5
    assert hits[4].id not in {DS, ANALYST, STAT, VISION} and hits[4].match is None


def test_a_code_without_its_suffix_is_the_same_key(esco_bundle: Bundle, crosswalk_file: Path) -> None:
    roles = catalog(esco_bundle, crosswalk_file)
    assert search_one(roles, " 15-2051 ", top_k=2) == search_one(roles, "15-2051.00", top_k=2)
    assert roles.resolve("15-2051") == DS


def test_top_k_cuts_crosswalked_roles_too(esco_bundle: Bundle, crosswalk_file: Path) -> None:
    hits = search_one(catalog(esco_bundle, crosswalk_file), "15-2051.00", top_k=1)
    assert [(h.id, h.match) for h in hits] == [(DS, "exactMatch")]


def test_resolve_takes_the_best_match(esco_bundle: Bundle, crosswalk_file: Path) -> None:
    roles = catalog(esco_bundle, crosswalk_file)
    assert roles.resolve("15-2051.00") == DS
    assert roles.resolve("15-2041.00") == STAT  # exactMatch beats the narrowMatch to the data scientist
    assert roles.resolve("29-1141.00") == NURSE  # a broadMatch is still the best there is
    # ids and labels come before the crosswalk
    assert roles.resolve(DS) == DS
    assert roles.resolve("statistician") == STAT


def test_unknown_codes_and_ordinary_queries_are_searched_as_usual(
    esco_bundle: Bundle, crosswalk_file: Path
) -> None:
    roles = catalog(esco_bundle, crosswalk_file)
    unknown = search_one(roles, "99-9999.00")
    assert all(h.match is None for h in unknown)
    assert unknown == search_one(catalog(esco_bundle, None), "99-9999.00")
    ordinary = search_one(roles, "Data Scientist")
    assert ordinary[0].id == DS and ordinary[0].match is None
    with pytest.raises(UnknownRoleError, match=r"unknown role '99-9999\.00'"):
        roles.resolve("99-9999.00")


def test_without_a_crosswalk_codes_are_ordinary_queries(esco_bundle: Bundle) -> None:
    roles = catalog(esco_bundle, None)
    assert roles.crosswalk == {}
    assert all(h.match is None for h in search_one(roles, "15-2051.00"))
    with pytest.raises(UnknownRoleError):
        roles.resolve("15-2051.00")


def test_an_esco_uri_finds_its_onet_roles_on_an_onet_bundle(
    onet_bundle: Bundle, crosswalk_file: Path
) -> None:
    roles = catalog(onet_bundle, crosswalk_file)
    hits = search_one(roles, DS)
    # the file's match types, unchanged in this direction too
    assert [(h.id, h.match) for h in hits[:2]] == [
        ("15-2051.00", "exactMatch"),
        ("15-2041.00", "narrowMatch"),
    ]
    assert hits[0].label == "Data Scientists" and hits[0].matched_label == DS
    assert roles.resolve(STAT) == "15-2041.00"
    assert roles.resolve(NURSE) == "29-1141.00"
    # an O*NET bundle's own codes resolve as ids, with or without the suffix, and are not crosswalk keys
    assert roles.resolve("15-2051") == "15-2051.00"
    assert all(h.match is None for h in search_one(roles, "15-2051.00"))


def test_a_crosswalk_mapping_to_unknown_roles_is_ignored(esco_bundle: Bundle) -> None:
    roles = RoleCatalog(
        esco_bundle, HashingEncoder(), crosswalk={"15-2051.00": [("esco:absent", "exactMatch")]}
    )
    assert roles.crosswalk == {}


# --- the setting and the facade -----------------------------------------------------------------------------------


def test_the_default_crosswalk_is_the_shared_file_only_if_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "checkout" / "repo"
    (repo / "src" / "skillmatch").mkdir(parents=True)
    monkeypatch.setattr(config, "PACKAGE_ROOT", repo / "src" / "skillmatch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SKILLMATCH_CROSSWALK_FILE", raising=False)
    assert config.default_crosswalk_file() is None
    assert Settings().crosswalk_file is None
    shared = repo.parent / config.SHARED_CROSSWALK.relative_to("..")
    shared.parent.mkdir(parents=True)
    write_crosswalk(shared)
    assert Settings().crosswalk_file == shared.resolve()  # beside the repository
    monkeypatch.setattr(config, "PACKAGE_ROOT", tmp_path / "elsewhere" / "src" / "skillmatch")
    assert Settings().crosswalk_file is None
    monkeypatch.chdir(repo)
    assert Settings().crosswalk_file == shared.resolve()  # beside the current directory
    monkeypatch.setenv("SKILLMATCH_CROSSWALK_FILE", "")
    assert Settings().crosswalk_file is None


def test_the_facade_passes_the_crosswalk_setting_to_role_lookup(
    esco_path: Path, crosswalk_file: Path
) -> None:
    service = load(
        esco_path, settings=Settings(use_cache=False, crosswalk_file=crosswalk_file), encoder=HashingEncoder()
    )
    found = service.roles("15-2051", top_k=2)
    frame = found.to_frame()
    assert frame[["id", "match"]].values.tolist() == [[DS, "exactMatch"], [ANALYST, "closeMatch"]]
    assert service.resolve_roles(["15-2041.00"]) == [STAT]
    off = load(esco_path, settings=Settings(use_cache=False, crosswalk_file=None), encoder=HashingEncoder())
    assert off.context.roles.crosswalk == {}
    assert off.roles("15-2051").to_frame()["match"].isna().all()


def test_the_roles_command_prints_the_match_type(
    esco_path: Path, crosswalk_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from skillmatch.cli import commands

    service = load(
        esco_path, settings=Settings(use_cache=False, crosswalk_file=crosswalk_file), encoder=HashingEncoder()
    )
    monkeypatch.setattr(commands, "open_service", lambda *_args, **_kwargs: service)
    result = CliRunner().invoke(
        commands.app, ["roles", "--bundle", str(esco_path), "-q", "15-2051", "-k", "2"]
    )
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    found = json.loads(line)
    assert found["query"] == "15-2051"
    assert [(r["id"], r["match"]) for r in found["roles"]] == [(DS, "exactMatch"), (ANALYST, "closeMatch")]
