"""``GET /v1/roles`` with the ESCO–O*NET crosswalk: an O*NET-SOC code finds ESCO roles, with their match type."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from api_world import api_settings
from fakes import HashingEncoder, concept_row, posting_row
from fastapi.testclient import TestClient

from skillmatch.api import create_app
from skillmatch.build import BuildInputs, build_bundle
from skillmatch.config import Settings
from skillmatch.facade import load
from skillmatch.schema import CREDENTIAL_COLUMNS, OCCUPATION_COLUMNS, POSTING_COLUMNS, Taxonomy

DS = "http://data.europa.eu/esco/occupation/data-scientist"
STAT = "http://data.europa.eu/esco/occupation/statistician"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("crosswalk-api")
    walk = root / "walk.csv"
    lines = [f"Mapping line {i},x,,,,," for i in range(16)]
    lines += [
        "O*NET Id,O*NET Title,O*NET Description,ESCO or ISCO URI,ESCO or ISCO Title,ESCO or ISCO Description,"
        "Type of Match",
        f"15-2051.00,Data Scientists,x,{DS},data scientist,y,exactMatch",
        f"15-2051.00,Data Scientists,x,{STAT},statistician,y,closeMatch",
    ]
    walk.write_text("\n".join(lines) + "\n", encoding="utf-8")
    occupations = pd.DataFrame(
        [
            {"id": DS, "label": "data scientist", "alt_labels": [], "description": "", "isco_group": "2511"},
            {"id": STAT, "label": "statistician", "alt_labels": [], "description": "", "isco_group": "2120"},
        ],
        columns=OCCUPATION_COLUMNS,
    )
    inputs = BuildInputs(
        Taxonomy(
            "test",
            "1",
            pd.DataFrame([concept_row("c:sql", "SQL", [])]),
            occupations,
            pd.DataFrame(columns=["occupation_id", "skill_id", "relation"]),
        ),
        pd.DataFrame(columns=CREDENTIAL_COLUMNS),
        pd.DataFrame([posting_row("P1", "Barista", "make coffee")], columns=POSTING_COLUMNS),
    )
    build_bundle(inputs, root / "bundle", encoder=HashingEncoder(), settings=Settings(use_cache=False))
    settings = api_settings(crosswalk_file=walk)
    service = load(root / "bundle", settings=settings, encoder=HashingEncoder())
    with TestClient(create_app(settings, service)) as c:
        yield c


def test_an_onet_code_finds_esco_roles_with_the_match_type(client: TestClient) -> None:
    r = client.get("/v1/roles", params={"q": "15-2051", "limit": 2})
    assert r.status_code == 200
    roles = r.json()["roles"]
    assert [(x["id"], x["match"], x["matched_label"]) for x in roles] == [
        (DS, "exactMatch", "15-2051.00"),
        (STAT, "closeMatch", "15-2051.00"),
    ]
    assert roles[0]["score"] == 1.0 > roles[1]["score"]


def test_ordinary_queries_have_no_match_type(client: TestClient) -> None:
    roles = client.get("/v1/roles", params={"q": "statistician"}).json()["roles"]
    assert roles[0]["id"] == STAT and roles[0]["match"] is None
    listed = client.get("/v1/roles").json()["roles"]
    assert all(x["match"] is None for x in listed)
