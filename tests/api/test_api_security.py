"""API keys, CORS, request ids, structured logs without learner text, and payload limits (413)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from api_world import ANALYST, API_KEY, OTHER_KEY, api_settings
from fastapi.testclient import TestClient

from skillmatch.api import create_app
from skillmatch.api.security import hash_api_key, key_matches, parse_key_hashes, parse_origins
from skillmatch.facade import Skillmatch

COHORT = {"learners": [{"id": "a", "skills": ["SQL"]}], "roles": [ANALYST]}


# --- API keys ---------------------------------------------------------------------------------------------------


def test_key_helpers() -> None:
    digest = hash_api_key("s3cret")
    assert len(digest) == 64
    assert key_matches("s3cret", (hash_api_key("other"), digest))
    assert not key_matches("S3CRET", (digest,))
    assert not key_matches(None, (digest,))
    assert not key_matches("s3cret", ())
    assert parse_key_hashes(f" {digest.upper()} ,, {hash_api_key('x')}") == (digest, hash_api_key("x"))
    with pytest.raises(ValueError, match="entry 2 is not a SHA-256"):
        parse_key_hashes(f"{digest},plain-text-key")
    assert parse_origins("https://a.example/, http://b.example:8080 ,") == [
        "https://a.example",
        "http://b.example:8080",
    ]


@pytest.mark.parametrize("path", ["/v1/cohorts/gaps", "/v1/admin/reload"])
def test_protected_endpoints_need_a_valid_key(client: TestClient, path: str) -> None:
    body = COHORT if "cohorts" in path else {"bundle": "/nonexistent"}
    missing = client.post(path, json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "APIKey"
    assert "X-API-Key" in missing.json()["detail"]
    wrong = client.post(path, json=body, headers={"X-API-Key": OTHER_KEY})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid API key"


def test_every_configured_key_works(client: TestClient) -> None:
    for key in (API_KEY, "second-key"):
        assert client.post("/v1/cohorts/gaps", json=COHORT, headers={"X-API-Key": key}).status_code == 200


def test_public_endpoints_need_no_key(client: TestClient) -> None:
    assert client.post("/v1/gaps", json={"roles": [ANALYST], "skills": ["SQL"]}).status_code == 200


def test_no_keys_configured_refuses_protected_endpoints(bundle_v1: Skillmatch) -> None:
    app = create_app(api_settings(api_key_hashes=""), bundle_v1)
    with TestClient(app) as c:
        r = c.post("/v1/cohorts/gaps", json=COHORT, headers={"X-API-Key": API_KEY})
    # the same answer as on a server with keys: a caller cannot tell whether any key is configured
    assert r.status_code == 401 and r.json()["detail"] == "invalid API key"


def test_malformed_key_hash_setting_fails_at_startup(bundle_v1: Skillmatch) -> None:
    with pytest.raises(ValueError, match="SKILLMATCH_API_KEY_HASHES entry 1"):
        create_app(api_settings(api_key_hashes="my-plain-key"), bundle_v1)


# --- CORS and request ids -----------------------------------------------------------------------------------


def test_cors_allows_configured_origins_only(bundle_v1: Skillmatch) -> None:
    app = create_app(api_settings(api_cors_origins="https://app.example"), bundle_v1)
    with TestClient(app) as c:
        preflight = c.options(
            "/v1/gaps",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-api-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        simple = c.get("/health", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_off_by_default(client: TestClient) -> None:
    r = client.get("/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in r.headers


def test_request_id_kept_or_made(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/health").headers["x-request-id"]
    assert len(made) == 32 and int(made, 16) >= 0
    unsafe = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert unsafe != "bad id\twith spaces" and len(unsafe) == 32
    # errors carry it too
    assert (
        client.get("/v1/credentials/nope", headers={"X-Request-ID": "r-404"}).headers["x-request-id"]
        == "r-404"
    )


def test_bundle_generation_header(client: TestClient) -> None:
    assert client.post("/v1/skills/extract", json={"texts": ["SQL"]}).headers["x-bundle-generation"] == "1"


# --- logs -------------------------------------------------------------------------------------------------------


def test_access_log_is_structured_and_never_has_learner_text(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Zebra-Whispering-7731"
    client.post(
        "/v1/skills/extract", json={"texts": [f"I know SQL and {secret}"]}, headers={"X-Request-ID": "rq-1"}
    )
    client.post("/v1/gaps", json={"roles": ["data analyst"], "skills": [secret], "cv": secret})
    client.post("/v1/recommendations", json={"roles": ["data analyst"], "skills": [secret], "max_hours": -1})
    client.get("/v1/credentials", params={"q": secret})
    server = [r for r in caplog.records if r.name.startswith(("skillmatch", "uvicorn"))]
    access = [r for r in server if r.name == "skillmatch.api.access"]
    assert len(access) == 4
    first = access[0]
    assert first.request_id == "rq-1"  # type: ignore[attr-defined]
    assert first.route == "/v1/skills/extract" and first.status == 200  # type: ignore[attr-defined]
    assert first.method == "POST" and first.duration_ms >= 0  # type: ignore[attr-defined]
    assert [r.status for r in access] == [200, 200, 422, 200]  # type: ignore[attr-defined]
    for record in server:
        rendered = json.dumps({**record.__dict__, "msg": record.getMessage()}, default=str)
        assert secret not in rendered


def test_json_formatter_renders_extras() -> None:
    from skillmatch.api.logs import JsonFormatter, log_config

    record = logging.LogRecord("skillmatch.api.access", logging.INFO, __file__, 1, "request", None, None)
    record.request_id = "abc"
    record.status = 200
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["request_id"] == "abc" and line["status"] == 200
    assert line["level"] == "INFO" and line["logger"] == "skillmatch.api.access" and "time" in line
    assert log_config("debug")["loggers"]["skillmatch"]["level"] == "DEBUG"


# --- payload limits (413) -----------------------------------------------------------------------------------


def test_body_over_limit_by_content_length(client: TestClient) -> None:
    big = json.dumps({"texts": ["x" * 40_000]}).encode()
    r = client.post("/v1/skills/extract", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/skills/extract", {}),
        ("/v1/admin/reload", {"X-API-Key": API_KEY}),
        ("/v1/admin/reload", {}),  # refused for the key before the body is read
    ],
)
def test_body_over_limit_is_answered_in_json(client: TestClient, path: str, headers: dict[str, str]) -> None:
    big = json.dumps({"bundle": "b" * 40_000, "texts": ["x"]}).encode()
    r = client.post(path, content=big, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/json"
    assert "larger than" in r.json()["detail"] or r.json()["detail"] == "Content Too Large"


def test_chunked_body_over_limit(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"texts": ["'
        for _ in range(40):
            yield b"y" * 1024
        yield b'"]}'

    r = client.post("/v1/skills/extract", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_chunked_body_under_limit_is_served(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"texts": '
        yield b'["SQL"]}'

    r = client.post("/v1/skills/extract", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["results"][0]["skills"]


@pytest.mark.parametrize(
    ("path", "body", "loc", "needle"),
    [
        ("/v1/skills/extract", {"texts": ["SQL"] * 6}, ["body", "texts"], "too many texts: 6"),
        ("/v1/skills/extract", {"texts": ["SQL", "z" * 2001]}, ["body", "texts", 1], "2001 characters"),
        (
            "/v1/gaps",
            {"roles": ["data analyst"], "skills": ["SQL"] * 11},
            ["body", "skills"],
            "too many skills",
        ),
        ("/v1/gaps", {"roles": ["data analyst"], "cv": "c" * 2001}, ["body", "cv"], "text too long"),
        (
            "/v1/recommendations",
            {"roles": ["data analyst"] * 4, "skills": ["SQL"]},
            ["body", "roles"],
            "too many roles",
        ),
        (
            "/v1/recommendations",
            {"roles": ["data analyst"], "credentials_held": ["C-SQL"] * 11},
            ["body", "credentials_held"],
            "too many credentials",
        ),
        (
            "/v1/cohorts/gaps",
            {"learners": [{"id": str(i), "skills": ["SQL"]} for i in range(5)], "roles": [ANALYST]},
            ["body", "learners"],
            "too many learners: 5",
        ),
        (
            "/v1/cohorts/gaps",
            {"learners": [{"id": "a", "skills": ["s" * 2001]}], "roles": [ANALYST]},
            ["body", "learners", 0, "skills", 0],
            "text too long",
        ),
    ],
)
def test_limits_give_413_naming_the_field(
    client: TestClient, path: str, body: dict, loc: list, needle: str
) -> None:
    r = client.post(path, json=body, headers={"X-API-Key": API_KEY})
    assert r.status_code == 413, r.text
    [detail] = r.json()["detail"]
    assert detail["loc"] == loc and needle in detail["msg"] and detail["type"] == "payload_too_large"


def test_query_text_limit(client: TestClient) -> None:
    assert client.get("/v1/roles", params={"q": "q" * 2001}).status_code == 413
    assert client.get("/v1/credentials", params={"q": "q" * 2001}).status_code == 413


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/v1/skills/extract", '{"texts": "\\ud800"}'),
        ("/v1/skills/extract", '{"texts": ["ZZSECRETSKILL \\ud800"], "top_k": "x"}'),
        ("/v1/gaps", '{"roles": ["data analyst"], "skills": ["SQL"], "\\ud800": 1}'),
        ("/v1/gaps", '{"roles": "\\udfff", "skills": ["SQL"]}'),
        ("/v1/recommendations", '{"roles": ["data analyst"], "skills": "\\ud800x"}'),
    ],
)
def test_lone_surrogates_give_a_json_422_not_a_500(
    client: TestClient, path: str, raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    r = client.post(path, content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    body = r.json()  # valid JSON, with the unencodable text replaced
    assert body["detail"]
    assert "ZZSECRETSKILL" not in caplog.text


def test_duplicate_learner_ids_are_named() -> None:
    from skillmatch.api.models import CohortRequest

    # 20,000 learners: the check counts ids once (it used to call ids.count per id: 62 s, the server frozen)
    learners = [{"id": f"L{i}", "skills": ["SQL"]} for i in range(20_000)] + [{"id": "L7", "skills": ["x"]}]
    with pytest.raises(ValueError, match="duplicate learner ids: L7"):
        CohortRequest.model_validate({"roles": ["data analyst"], "learners": learners})
