"""Every endpoint, its answers and its error paths (TestClient over the tiny fake-encoder bundle)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from api_world import ANALYST, EXCEL, NURSE, NURSE_ROLE, OTHER_KEY, PY, SLASHED, SQL, STATS
from fastapi.testclient import TestClient


def enc(identifier: str) -> str:
    return quote(identifier, safe="")


# --- skills -----------------------------------------------------------------------------------------------------


def test_extract_links_each_text_in_order(client: TestClient) -> None:
    texts = ["Query databases with SQL", "", "nursing care for patients"]
    r = client.post("/v1/skills/extract", json={"texts": texts, "top_k": 2})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["text"] for x in results] == texts
    assert results[0]["skills"][0]["id"] == SQL
    assert results[1]["skills"] == []
    assert results[2]["skills"][0]["id"] == NURSE
    assert all(len(x["skills"]) <= 2 for x in results)
    top = results[0]["skills"][0]
    assert set(top) == {"id", "label", "score", "evidence", "matched_label"}
    assert top["label"] == "SQL" and 0 < top["score"] <= 1


def test_extract_min_score_filters(client: TestClient) -> None:
    loose = client.post("/v1/skills/extract", json={"texts": ["SQL and statistics"], "min_score": 0.0}).json()
    scores = [s["score"] for s in loose["results"][0]["skills"]]
    assert len(scores) >= 2
    # a threshold at the best score keeps the best skill(s) and drops the rest
    strict = client.post(
        "/v1/skills/extract", json={"texts": ["SQL and statistics"], "min_score": max(scores)}
    ).json()
    kept = [s["score"] for s in strict["results"][0]["skills"]]
    assert kept and all(k >= max(scores) for k in kept)
    assert len(kept) < len(scores)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"texts": []}, ["body", "texts"]),
        ({"texts": "SQL"}, ["body", "texts"]),
        ({"texts": ["SQL"], "top_k": 0}, ["body", "top_k"]),
        ({"texts": ["SQL"], "min_score": 2}, ["body", "min_score"]),
        ({"texts": ["SQL"], "topk": 3}, ["body", "topk"]),
        ({}, ["body", "texts"]),
    ],
)
def test_extract_invalid_input_is_422_with_field(client: TestClient, body: dict, loc: list[str]) -> None:
    r = client.post("/v1/skills/extract", json=body)
    assert r.status_code == 422
    assert loc in [d["loc"] for d in r.json()["detail"]]


def test_malformed_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/v1/skills/extract", content=b'{"texts": ["SQL"', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


# --- roles ------------------------------------------------------------------------------------------------------


def test_role_search(client: TestClient) -> None:
    r = client.get("/v1/roles", params={"q": "Data Analyst (m/f/d)", "limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "Data Analyst (m/f/d)"
    assert len(body["roles"]) == 2
    assert body["roles"][0]["id"] == ANALYST
    assert body["roles"][0]["source"] == "taxonomy"
    assert body["roles"][0]["score"] >= body["roles"][1]["score"]


def test_role_list_without_query_orders_by_postings(client: TestClient) -> None:
    body = client.get("/v1/roles").json()
    assert body["query"] is None and body["total"] == 3
    postings = [r["postings"] for r in body["roles"]]
    assert postings == sorted(postings, reverse=True)
    assert body["roles"][0]["id"] == ANALYST
    assert client.get("/v1/roles", params={"limit": 1}).json()["roles"][0]["id"] == ANALYST


def test_role_profile_by_encoded_uri(client: TestClient) -> None:
    r = client.get(f"/v1/roles/{enc(ANALYST)}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == ANALYST and body["label"] == "data analyst" and body["isco_group"] == "2511"
    weights = [s["weight"] for s in body["skills"]]
    assert weights == sorted(weights, reverse=True)
    assert {s["skill_id"] for s in body["skills"]} >= {SQL, PY, STATS}
    assert body["skills"][0]["skill_id"] == SQL and body["skills"][0]["relation"] == "essential"


def test_role_profile_unencoded_and_cluster_ids(client: TestClient) -> None:
    assert client.get(f"/v1/roles/{NURSE_ROLE}").json()["skills"][0]["skill_id"] == NURSE
    barista = next(r for r in client.get("/v1/roles").json()["roles"] if r["label"] == "Barista")
    profile = client.get(f"/v1/roles/{enc(barista['id'])}").json()
    assert profile["source"] == "postings" and profile["isco_group"] is None


def test_unknown_role_is_404(client: TestClient) -> None:
    r = client.get(f"/v1/roles/{enc('http://data.europa.eu/esco/occupation/astronaut')}")
    assert r.status_code == 404
    assert "unknown role" in r.json()["detail"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "many"}])
def test_role_search_invalid_params(client: TestClient, params: dict) -> None:
    r = client.get("/v1/roles", params=params)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]


# --- credentials --------------------------------------------------------------------------------------------


def test_credentials_list_and_pagination(client: TestClient) -> None:
    body = client.get("/v1/credentials").json()
    assert body["total"] == 6 and len(body["items"]) == 6
    titles = [c["title"] for c in body["items"]]
    assert titles == sorted(titles, key=str.lower)
    page = client.get("/v1/credentials", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 6 and [c["id"] for c in page["items"]] == [c["id"] for c in body["items"][2:4]]


def test_credentials_semantic_and_title_search(client: TestClient) -> None:
    body = client.get("/v1/credentials", params={"q": "statistics"}).json()
    ids = [c["id"] for c in body["items"]]
    assert {"C-STAT", "C-PY2", "C-DE"} <= set(ids)
    assert "C-SQL" not in ids
    assert body["items"][0]["score"] == 1.0
    stat = next(c for c in body["items"] if c["id"] == "C-STAT")
    assert stat["match"] == "title+outcome" and stat["evidence"] == "statistics"
    titled = client.get("/v1/credentials", params={"q": "Python basics", "min_score": 0.99}).json()
    assert titled["items"][0]["id"] == "C-PY1" and titled["items"][0]["match"].startswith("title")


def test_credentials_filters(client: TestClient) -> None:
    def ids(**params: object) -> set[str]:
        return {c["id"] for c in client.get("/v1/credentials", params=params).json()["items"]}

    assert ids(level="advanced") == {"C-STAT"}
    assert ids(level=["advanced", "intermediate"]) == {"C-STAT", "C-PY2"}
    assert ids(mode="physical") == {SLASHED}
    assert ids(language="de") == {"C-DE"}
    assert ids(max_hours=15) == {"C-DE", SLASHED}
    # 500 USD is 460 EUR at the default rate; the nursing course has no cost and is left out
    assert "C-STAT" in ids(max_cost=460) and "C-STAT" not in ids(max_cost=459)
    assert SLASHED not in ids(max_cost=10_000)
    # 100 EUR is about 108.7 USD
    assert ids(max_cost=100, currency="usd") == {"C-PY1", "C-DE"}
    assert ids(max_cost=109, currency="USD") == {"C-SQL", "C-PY1", "C-DE"}
    assert ids(q="statistics", level="beginner") == {"C-DE"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"level": "guru"}, "level"),
        ({"mode": "telepathy"}, "mode"),
        ({"max_hours": -1}, "max_hours"),
        ({"currency": "EURO"}, "currency"),
        ({"offset": -1}, "offset"),
    ],
)
def test_credentials_invalid_filters(client: TestClient, params: dict, field: str) -> None:
    r = client.get("/v1/credentials", params=params)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["query", field]


def test_credential_detail_with_slashes_in_id(client: TestClient) -> None:
    r = client.get(f"/v1/credentials/{enc(SLASHED)}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == SLASHED and body["mode"] == "physical" and body["cost"] is None
    assert body["learning_outcomes"] == ["nursing care"]
    assert body["linked_skills"][0]["skill_id"] == NURSE
    plain = client.get("/v1/credentials/C-PY2").json()
    assert plain["prerequisites"] == ["C-PY1"]
    assert {s["skill_id"] for s in plain["linked_skills"]} >= {PY, STATS}


def test_unknown_credential_is_404(client: TestClient) -> None:
    r = client.get("/v1/credentials/C-NOPE")
    assert r.status_code == 404 and r.json()["detail"] == "unknown credential id 'C-NOPE'"


# --- gaps and recommendations -------------------------------------------------------------------------------


def test_gaps(client: TestClient) -> None:
    r = client.post(
        "/v1/gaps", json={"roles": ["data analyst"], "skills": ["SQL", "Python: beginner", "juggling"]}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["roles"][0]["id"] == ANALYST
    items = {i["skill_id"]: i for i in body["skills"]}
    assert items[SQL]["status"] == "covered"
    assert items[PY]["status"] == "partial" and items[PY]["match_kind"] == "level"
    assert items[STATS]["status"] == "missing"
    assert body["counts"] == {"covered": 1, "partial": 1, "missing": len(items) - 2}
    assert body["learner"]["unmatched"] == ["juggling"]
    assert 0 < body["coverage"] < 1


def test_gaps_by_role_id_with_held_credential_and_weights(client: TestClient) -> None:
    r = client.post(
        "/v1/gaps",
        json={"roles": [ANALYST, NURSE_ROLE], "role_weights": [3, 1], "credentials_held": ["C-PY2"]},
    )
    assert r.status_code == 200
    body = r.json()
    assert [x["weight"] for x in body["roles"]] == [0.75, 0.25]
    items = {i["skill_id"]: i for i in body["skills"]}
    assert items[STATS]["status"] != "missing"
    assert items[NURSE]["status"] == "missing"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"roles": ["data analyst"]}, 422, "what the learner has"),
        ({"roles": [], "skills": ["SQL"]}, 422, "at least 1"),
        ({"roles": ["  "], "skills": ["SQL"]}, 422, "at least 1"),
        ({"roles": ["data analyst"], "skills": ["SQL"], "role_weights": [1, 2]}, 422, "role_weights"),
        ({"roles": ["data analyst"], "skills": ["SQL"], "role_weights": [0]}, 422, "greater than 0"),
        ({"roles": ["astronaut"], "skills": ["SQL"]}, 404, "unknown role"),
        ({"roles": ["data analyst"], "credentials_held": ["C-NOPE"]}, 404, "C-NOPE"),
        (
            {
                "roles": ["data analyst"],
                "skills": ["SQL", "http://data.europa.eu/esco/skill/no-such: beginner"],
            },
            422,
            "http://data.europa.eu/esco/skill/no-such",
        ),
    ],
)
def test_gaps_errors(client: TestClient, body: dict, status: int, needle: str) -> None:
    r = client.post("/v1/gaps", json=body)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_recommendations(client: TestClient) -> None:
    r = client.post(
        "/v1/recommendations",
        json={
            "roles": ["data analyst"],
            "skills": ["SQL"],
            "languages": ["en"],
            "levels": ["beginner", "intermediate"],  # C-STAT (advanced) out: statistics needs C-PY2
            "max_hours": 100,
        },
    )
    assert r.status_code == 200
    body = r.json()
    ids = [s["credential"]["id"] for s in body["pathway"]]
    assert "C-PY2" in ids and "C-PY1" in ids and ids.index("C-PY1") < ids.index("C-PY2")
    assert "C-DE" in body["excluded"]["language"]
    assert body["totals"]["hours"] <= 100 and body["totals"]["currency"] == "EUR"
    assert body["coverage_after"] > body["coverage_before"]
    step = next(s for s in body["pathway"] if s["credential"]["id"] == "C-PY2")
    assert step["covers"] and all(c["outcome"] for c in step["covers"])
    reasons = {g["skill_id"]: g["reason"] for g in body["remaining_gap"]}
    assert reasons[EXCEL] == "not_taught"


def test_recommendations_limits_and_filters(client: TestClient) -> None:
    r = client.post(
        "/v1/recommendations",
        json={
            "roles": ["data analyst"],
            "skills": ["SQL", "Python"],
            "max_cost": 500,
            "currency": "eur",
            "levels": ["advanced"],
            "modes": ["online"],
            "exclude_providers": ["Nobody"],
            "max_items": 1,
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert [s["credential"]["id"] for s in body["pathway"]] == ["C-STAT"]
    assert body["totals"]["cost"] == pytest.approx(460.0)
    assert body["totals"]["currency"] == "EUR"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"max_hours": -5}, "max_hours"),
        ({"max_items": 0}, "max_items"),
        ({"levels": ["guru"]}, "levels"),
        ({"modes": ["telepathy"]}, "modes"),
        ({"currency": "euros"}, "currency"),
        ({"max_hour": 5}, "max_hour"),
    ],
)
def test_recommendations_invalid_limits(client: TestClient, extra: dict, field: str) -> None:
    r = client.post("/v1/recommendations", json={"roles": ["data analyst"], "skills": ["SQL"], **extra})
    assert r.status_code == 422
    assert any(field in d["loc"] for d in r.json()["detail"]), r.text


# --- cohorts --------------------------------------------------------------------------------------------------


def test_cohort_gaps(client: TestClient, auth: dict[str, str]) -> None:
    learners = [
        {"id": "a", "skills": ["SQL"]},
        {"id": "b", "skills": ["statistics", "SQL"]},
        {"id": "c", "credentials_held": ["C-PY2", "C-PY1"]},
    ]
    r = client.post("/v1/cohorts/gaps", json={"learners": learners, "roles": [ANALYST]}, headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["learners"] == 3
    rows = {g["skill_id"]: g for g in body["gaps"]}
    assert rows[SQL]["share_missing"] == pytest.approx(1 / 3, abs=1e-3)
    assert rows[EXCEL]["share_missing"] == 1.0
    by_id = {c["id"]: c for c in body["credentials"]}
    assert by_id["C-SQL"]["learners_helped"] == 1
    assert [p["id"] for p in body["per_learner"]] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"learners": [], "roles": [ANALYST]}, 422, "learners"),
        (
            {"learners": [{"id": "a", "skills": ["SQL"]}] * 2, "roles": [ANALYST]},
            422,
            "duplicate learner ids",
        ),
        ({"learners": [{"id": "a"}], "roles": [ANALYST]}, 422, "what the learner has"),
        ({"learners": [{"id": "", "skills": ["SQL"]}], "roles": [ANALYST]}, 422, "id"),
        ({"learners": [{"id": "a", "skills": ["SQL"]}], "roles": ["astronaut"]}, 404, "unknown role"),
    ],
)
def test_cohort_errors(
    client: TestClient, auth: dict[str, str], body: dict, status: int, needle: str
) -> None:
    r = client.post("/v1/cohorts/gaps", json=body, headers=auth)
    assert r.status_code == status, r.text
    assert needle in r.text


# --- operations -----------------------------------------------------------------------------------------------


def test_health_and_ready(client: TestClient, bundle_paths: dict) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/v1/health").status_code == 200
    ready = client.get("/ready").json()
    assert ready["status"] == "ready"
    bundle = ready["bundle"]
    assert bundle["name"] == "v1" and bundle["generation"] == 1
    assert bundle["counts"]["credentials"] == 6 and bundle["taxonomy"] == {"name": "test", "version": "1"}
    assert bundle["model"]["id"] == "test/hashing-encoder"


def test_the_bundle_path_is_shown_only_with_an_api_key(
    client: TestClient, bundle_paths: dict, auth: dict[str, str]
) -> None:
    folder = str(bundle_paths["v1"])
    for headers in ({}, {"X-API-Key": OTHER_KEY}):
        response = client.get("/ready", headers=headers)
        assert response.status_code == 200 and response.json()["bundle"]["path"] is None
        assert folder not in response.text
    assert client.get("/ready", headers=auth).json()["bundle"]["path"] == folder
    metrics = client.get("/metrics").text
    assert 'bundle="v1"' in metrics and folder not in metrics


def test_metrics_count_routes_by_template(client: TestClient) -> None:
    client.get(f"/v1/roles/{enc(ANALYST)}")
    client.get(f"/v1/roles/{enc(NURSE_ROLE)}")
    client.get("/v1/roles/nope")
    client.get("/no/such/path")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert (
        'skillmatch_http_requests_total{method="GET",route="/v1/roles/{role_id:path}",status="200"} 2.0'
        in text
    )
    assert (
        'skillmatch_http_requests_total{method="GET",route="/v1/roles/{role_id:path}",status="404"} 1.0'
        in text
    )
    assert 'route="<unmatched>",status="404"} 1.0' in text
    assert (
        'skillmatch_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/roles/{role_id:path}"}'
        in text
    )
    assert "skillmatch_bundle_info{" in text and 'generation="1"' in text
    assert ANALYST not in text  # raw paths never become labels


def test_openapi_has_examples_and_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/v1/skills/extract",
        "/v1/roles",
        "/v1/roles/{role_id}",
        "/v1/credentials",
        "/v1/credentials/{credential_id}",
        "/v1/gaps",
        "/v1/recommendations",
        "/v1/cohorts/gaps",
        "/v1/admin/reload",
        "/health",
        "/ready",
        "/metrics",
    ]:
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    for model in ("ExtractRequest", "GapsRequest", "RecommendationsRequest", "CohortRequest"):
        assert schemas[model]["examples"], model
    assert "APIKeyHeader" in spec["components"]["securitySchemes"]
    assert paths["/v1/cohorts/gaps"]["post"]["security"] == [{"APIKeyHeader": []}]


def test_examples_in_schema_are_accepted(client: TestClient, auth: dict[str, str]) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for model, path in [
        ("ExtractRequest", "/v1/skills/extract"),
        ("GapsRequest", "/v1/gaps"),
        ("RecommendationsRequest", "/v1/recommendations"),
        ("CohortRequest", "/v1/cohorts/gaps"),
    ]:
        r = client.post(path, json=schemas[model]["examples"][0], headers=auth)
        assert r.status_code == 200, (model, r.text)


@pytest.mark.parametrize(
    ("path", "raw", "loc"),
    [
        ("/v1/skills/extract", b'{"texts": ["SQL"], "min_score": NaN}', ["body", "min_score"]),
        (
            "/v1/recommendations",
            b'{"roles": ["data analyst"], "skills": ["SQL"], "max_hours": Infinity}',
            ["body", "max_hours"],
        ),
        (
            "/v1/gaps",
            b'{"roles": ["data analyst"], "skills": ["SQL"], "role_weights": [NaN]}',
            ["body", "role_weights", 0],
        ),
        ("/v1/gaps", b'{"roles": ["data analyst"], "skills": [NaN]}', ["body", "skills", 0]),
    ],
)
def test_non_finite_numbers_are_422_not_500(client: TestClient, path: str, raw: bytes, loc: list) -> None:
    r = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


def test_huge_role_weights_are_refused(client: TestClient) -> None:
    r = client.post(
        "/v1/gaps", json={"roles": [ANALYST, NURSE_ROLE], "skills": ["SQL"], "role_weights": [1e308, 1]}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "role_weights", 0]


def test_the_openapi_schema_states_the_configured_limits(client: TestClient) -> None:
    limits = client.app.state.limits  # type: ignore[attr-defined]
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    texts = schemas["ExtractRequest"]["properties"]["texts"]
    assert texts["maxItems"] == limits.max_texts == 5 and texts["items"]["maxLength"] == limits.max_text_chars
    assert f"At most {limits.max_request_chars} characters" in schemas["ExtractRequest"]["description"]
    gaps = schemas["GapsRequest"]["properties"]
    assert gaps["skills"]["maxItems"] == limits.max_skills and gaps["roles"]["maxItems"] == limits.max_roles
    assert gaps["cv"]["anyOf"][0]["maxLength"] == limits.max_text_chars
    assert schemas["CohortRequest"]["properties"]["learners"]["maxItems"] == limits.max_cohort
    [q] = [p for p in spec["paths"]["/v1/credentials"]["get"]["parameters"] if p["name"] == "q"]
    assert q["schema"]["anyOf"][0]["maxLength"] == limits.max_text_chars
    for item in spec["paths"].values():  # any route may answer 414 (URL) and 504 (deadline)
        for operation in item.values():
            assert {"414", "504"} <= set(operation["responses"])
    # what the schema states is what the routes refuse
    too_many = client.post("/v1/skills/extract", json={"texts": ["SQL"] * (texts["maxItems"] + 1)})
    assert too_many.status_code == 413
