"""The web pages through FastAPI's TestClient: the flow without JavaScript, escaping, security, limits, logs,
vendored files and packaging."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_world import REPO

from skillmatch.api import web

QUERY = [
    ("role", "data analyst"),
    ("skill", "Excel: advanced"),
    ("skill", "SQL: beginner"),
    ("currency", "EUR"),
]


def step_ids(html: str) -> list[str]:
    return re.findall(r'<li class="step" data-credential="([^"]+)"', html)


class Loads(HTMLParser):
    """Every URL a page would load by itself (scripts, stylesheets, images, frames, fonts, media)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed", "input"} and a.get("src"):
            self.urls.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.urls.append(str(a["href"]))
        if tag == "object" and a.get("data"):
            self.urls.append(str(a["data"]))


def loads(html: str) -> list[str]:
    parser = Loads()
    parser.feed(html)
    return parser.urls + re.findall(r"url\(([^)]+)\)|@import\s+['\"]([^'\"]+)", html)  # type: ignore[arg-type]


def test_the_core_flow_works_without_javascript(web_client: TestClient) -> None:
    # a plain form GET: type a job title and add skills one by one with the Add button
    typed = web_client.get(
        "/", params=[("role_q", "data analyst"), ("add_skill", "Excel"), ("add_level", "advanced")]
    )
    assert typed.status_code == 200
    assert 'name="role" value="data analyst"' in typed.text
    again = web_client.get(
        "/",
        params=[
            ("role", "data analyst"),
            ("skill", "Excel: advanced"),
            ("add_skill", "SQL"),
            ("add_level", "beginner"),
        ],
    )
    shared = web_client.get("/", params=QUERY)
    assert step_ids(again.text) == step_ids(shared.text) != []
    assert re.search(r"\d+ of \d+ skills</strong> for data analyst", shared.text)
    assert "<svg" in shared.text and 'class="gap-table"' in shared.text
    # removing a chip is a submit button too
    removed = web_client.get("/", params=[*QUERY, ("remove_skill", "SQL")])
    assert 'value="SQL: beginner"' not in removed.text and "Excel" in removed.text


def test_htmx_requests_get_the_targeted_block_and_the_shareable_url(web_client: TestClient) -> None:
    r = web_client.get(
        "/", params=[*QUERY, ("max_hours", "40")], headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert r.status_code == 200 and "<html" not in r.text and "<form" not in r.text
    assert 'id="pathway-totals"' in r.text
    assert (
        r.headers["HX-Push-Url"].startswith("/?role=data+analyst")
        and "max_hours=40" in r.headers["HX-Push-Url"]
    )


def test_a_filter_keeps_the_pathway_within_budget(web_client: TestClient) -> None:
    free = web_client.get("/", params=QUERY).text
    tight = web_client.get("/", params=[*QUERY, ("max_hours", "40")]).text
    hours = float(re.search(r'data-hours="([^"]+)"', tight).group(1))  # type: ignore[union-attr]
    assert 0 < hours <= 40 and step_ids(tight) != step_ids(free)


def test_a_skill_named_script_is_shown_as_text(web_client: TestClient) -> None:
    evil = "<script>alert(1)</script>"
    r = web_client.get("/", params=[("role", "data analyst"), ("skill", evil)])
    assert evil not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = web_client.get("/web/suggest/roles", params={"role_q": evil})
    assert evil not in r.text


def test_pages_load_nothing_from_other_hosts(web_client: TestClient) -> None:
    pages = [web_client.get("/", params=QUERY).text, web_client.get("/").text, web_client.get("/career").text]
    for html in pages:
        for url in loads(html):
            assert not re.match(r"^(https?:)?//", str(url)), url
    for template in (Path(web.TEMPLATES)).glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for url in loads(text):
            assert not re.match(r"^(https?:)?//", str(url)), f"{template.name}: {url}"
    for css in Path(web.STATIC).glob("*.css"):
        assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import", css.read_text(encoding="utf-8")), css.name
    r = web_client.get("/")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def test_vendored_htmx_matches_its_recorded_checksum() -> None:
    vendor = Path(web.STATIC) / "vendor"
    recorded = (vendor / "VENDOR.md").read_text(encoding="utf-8")
    [script] = vendor.glob("htmx-2.*.min.js")
    digest = hashlib.sha256(script.read_bytes()).hexdigest()
    assert digest == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717" and digest in recorded
    assert script.name in (Path(web.TEMPLATES) / "base.html").read_text(encoding="utf-8")
    assert (vendor / "htmx.LICENSE").is_file()


def test_static_files_and_templates_ship_in_the_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["skillmatch"]
    root = Path(web.__file__).resolve().parents[1]
    shipped = {p for pattern in patterns for p in root.glob(pattern)}
    for folder in (web.TEMPLATES, web.STATIC):
        for path in Path(folder).rglob("*"):
            if path.is_file():
                assert path in shipped, f"{path.relative_to(root)} is not in [tool.setuptools.package-data]"


def test_pathway_csv_has_one_row_per_step(web_client: TestClient) -> None:
    page = web_client.get("/", params=QUERY).text
    r = web_client.get("/learner/pathway.csv", params=QUERY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["id"] for row in rows] == step_ids(page)
    assert web_client.get("/learner/pathway.csv", params=[("role", "data analyst")]).status_code == 422


def test_size_limits_apply_to_the_page(web_client: TestClient) -> None:
    many = [("skill", f"skill {i}") for i in range(41)]
    r = web_client.get("/", params=[("role", "data analyst"), *many])
    assert r.status_code == 413 and "too many skills" in r.text
    r = web_client.post("/learner/cv", data={"cv": "x" * 5001, "role": "data analyst"})
    assert r.status_code == 413 and "text too long" in r.text


def test_no_learner_text_in_logs(web_client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret_cv = "Confidential-CV-marker built Power BI dashboards"
    with caplog.at_level(logging.DEBUG):
        web_client.post("/learner/cv", data={"cv": secret_cv, "role": "data analyst"})
        web_client.get("/", params=[("role", "data analyst"), ("skill", "Secret-skill-marker")])
    server = [r for r in caplog.records if r.name.split(".")[0] not in {"httpx", "httpx2", "httpcore"}]
    assert any(r.name.startswith("skillmatch") for r in server)  # the server did log these requests
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in server)
    assert "Confidential-CV-marker" not in logged and "Secret-skill-marker" not in logged


def _sign_in(client: TestClient, key: str) -> str:
    r = client.post("/career/login", data={"api_key": key}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/career"
    cookie = r.headers["set-cookie"]
    assert (
        key not in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    )
    page = client.get("/career").text
    assert key not in page
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_career_office_needs_a_key_and_never_shows_it(web_client: TestClient, api_key: str) -> None:
    r = web_client.post("/career/login", data={"api_key": "wrong"})
    assert r.status_code == 401 and "invalid API key" in r.text and "wrong" not in r.text.split("</h1>", 1)[1]
    files = {"learners": ("l.csv", (REPO / "data/demo/learners.csv").read_bytes(), "text/csv")}
    assert web_client.post("/career/cohort", data={"role": "data analyst"}, files=files).status_code == 401
    csrf = _sign_in(web_client, api_key)
    r = web_client.post("/career/cohort", data={"role": "data analyst", "csrf_token": csrf}, files=files)
    assert r.status_code == 200 and "Most common gaps" in r.text and api_key not in r.text
    rows = list(csv.DictReader(io.StringIO(web_client.get("/career/cohort.csv").text)))
    assert rows and rows[0]["label"]


def test_career_upload_needs_the_csrf_token(web_client: TestClient, api_key: str) -> None:
    _sign_in(web_client, api_key)
    files = {"learners": ("l.csv", (REPO / "data/demo/learners.csv").read_bytes(), "text/csv")}
    assert web_client.post("/career/cohort", data={"role": "data analyst"}, files=files).status_code == 403
    bad = {"role": "data analyst", "csrf_token": "forged"}
    assert web_client.post("/career/cohort", data=bad, files=files).status_code == 403


def test_career_upload_limits(web_client: TestClient, api_key: str) -> None:
    csrf = _sign_in(web_client, api_key)
    rows = "id,skills\n" + "".join(f"L{i},SQL\n" for i in range(101))
    files = {"learners": ("l.csv", rows.encode(), "text/csv")}
    r = web_client.post("/career/cohort", data={"role": "data analyst", "csrf_token": csrf}, files=files)
    assert r.status_code == 413 and "too many learners" in r.text
    big = {"learners": ("l.csv", b"id,skills\n" + b"L1," + b"x" * 300_000, "text/csv")}
    assert web_client.post("/career/cohort", data={"csrf_token": csrf}, files=big).status_code == 413
