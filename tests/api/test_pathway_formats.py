"""``/v1/recommendations`` in CSV and Open Badges 3.0, chosen by ``format`` or ``Accept``, by POST and GET."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from skillmatch.api.formats import PathwayFormat, negotiate
from skillmatch.readers.ob3 import schema_problems

BODY = {"roles": ["data analyst"], "skills": ["SQL"], "languages": ["en"], "max_hours": 100}


def pathway_ids(client: TestClient) -> list[str]:
    r = client.post("/v1/recommendations", json=BODY)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    return [s["credential"]["id"] for s in r.json()["pathway"]]


@pytest.mark.parametrize(
    ("query", "accept"),
    [("?format=csv", None), ("", "text/csv"), ("", "application/json;q=0.5, text/csv")],
)
def test_csv_rows_match_the_pathway(client: TestClient, query: str, accept: str | None) -> None:
    ids = pathway_ids(client)
    headers = {"Accept": accept} if accept else {}
    r = client.post(f"/v1/recommendations{query}", json=BODY, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv") and "x-bundle-generation" in r.headers
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["credential_id"] for row in rows] == ids and ids
    assert all(row["covered_skill_ids"] for row in rows)


@pytest.mark.parametrize("accept", ["application/ld+json", "application/vnd.openbadges+json"])
def test_ob3_achievements_by_accept_header(client: TestClient, accept: str) -> None:
    ids = pathway_ids(client)
    r = client.post("/v1/recommendations", json=BODY, headers={"Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"] == "application/ld+json"
    doc = r.json()
    assert [a["id"] for a in doc["achievements"]] == ids
    assert all(schema_problems(a) == [] for a in doc["achievements"])
    assert doc["targetRoles"][0]["label"] == "data analyst"
    assert {al["targetFramework"] for a in doc["achievements"] for al in a["alignment"]} == {"test"}


def test_get_takes_the_body_fields_as_query_parameters(client: TestClient) -> None:
    ids = pathway_ids(client)
    r = client.get(
        "/v1/recommendations",
        params={
            "roles": "data analyst",
            "skills": "SQL",
            "languages": "en",
            "max_hours": 100,
            "format": "ob3",
        },
    )
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["achievements"]] == ids
    plain = client.get("/v1/recommendations", params={"roles": "data analyst", "skills": ["SQL", "Excel"]})
    assert plain.status_code == 200 and "pathway" in plain.json()


def test_bad_format_and_bad_query_are_422(client: TestClient) -> None:
    assert client.post("/v1/recommendations?format=xml", json=BODY).status_code == 422
    r = client.get("/v1/recommendations", params={"roles": "data analyst", "skills": "SQL", "max_hours": -1})
    assert r.status_code == 422 and "max_hours" in r.text
    assert client.get("/v1/recommendations", params={"roles": "data analyst"}).status_code == 422


def test_negotiate() -> None:
    assert negotiate(None, None) is PathwayFormat.json
    assert negotiate(None, "*/*") is PathwayFormat.json
    assert negotiate(None, "text/html, text/csv;q=0.9") is PathwayFormat.csv
    assert negotiate(None, "text/csv;q=0.2, application/ld+json") is PathwayFormat.ob3
    assert negotiate(None, "text/csv;q=0") is PathwayFormat.json
    assert negotiate(PathwayFormat.csv, "application/ld+json") is PathwayFormat.csv
