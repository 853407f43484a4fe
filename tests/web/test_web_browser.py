"""The web pages in a real browser (Debian's Chromium through pytest-playwright), against a live server.

Covers the learner flow with the mouse and with the keyboard only, the type-ahead, CV paste, gap table and chart,
filters updating the pathway in place, shared URLs, downloads, the career-office page, an axe-core audit and a
screenshot of the result page (``test-results/web/``; ``SKILLMATCH_DOCS_SCREENSHOT=1`` also refreshes
``docs/web-learner.png``).
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect
from web_world import CHROMIUM, REPO

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)"
)

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
RESULT_QUERY = "role=data+analyst&skill=Excel%3A+advanced&skill=SQL%3A+beginner&currency=EUR"


def step_ids(page: Page) -> list[str]:
    return page.locator("ol.pathway li.step").evaluate_all("els => els.map(e => e.dataset.credential)")


def totals(page: Page) -> dict[str, float]:
    el = page.locator("#pathway-totals")
    return {k: float(el.get_attribute(f"data-{k}") or "nan") for k in ("items", "hours", "cost")}


def test_pick_a_role_from_the_type_ahead(page: Page, live_server: str) -> None:
    page.goto(live_server + "/")
    combo = page.get_by_role("combobox", name="Add a target role")
    combo.press_sequentially("analy", delay=30)
    option = page.get_by_role("option", name=re.compile(r"^data analyst"))
    expect(option).to_be_visible()
    expect(combo).to_have_attribute("aria-expanded", "true")
    option.click()
    chips = page.get_by_role("list", name="Chosen roles")
    expect(chips).to_contain_text("data analyst")
    assert "role=data+analyst" in page.url  # htmx pushed the shareable URL


def test_skills_by_chips_and_by_pasting_a_cv(page: Page, live_server: str) -> None:
    page.goto(live_server + "/?role=data+analyst")
    page.get_by_role("combobox", name="Add a skill").press_sequentially("SQ", delay=30)
    page.get_by_role("option", name=re.compile(r"^SQL")).first.click()
    skills = page.get_by_role("list", name="Your skills")
    expect(skills).to_contain_text("SQL")
    page.get_by_label("Proficiency in SQL").select_option(label="beginner")
    expect(page.locator("#results")).to_contain_text("skills for data analyst")

    page.get_by_label(re.compile("CV or profile text")).fill(
        "In my last job I built Power BI dashboards and wrote SQL queries against the sales database."
    )
    page.get_by_role("button", name="Find skills in this text").click()
    found = page.get_by_role("list", name="Skills found in your text")
    expect(found).to_contain_text("Power BI")
    expect(found.locator(".evidence").first).to_contain_text("from “")
    labels = found.locator("li strong").all_inner_texts()
    assert "SQL" not in labels  # already a chip
    dropped = labels[-1]
    page.get_by_role("checkbox", name=dropped).uncheck()
    page.get_by_role("button", name="Add the ticked skills").click()
    expect(page.get_by_role("list", name="Your skills")).to_contain_text("Power BI")
    chips = page.get_by_role("list", name="Your skills").locator(".chip-text").all_inner_texts()
    assert "Power BI" in chips and "SQL" in chips and dropped not in chips
    assert "Power+BI" in page.url and "cv=" not in page.url  # the CV text itself never goes into a URL


def test_gap_table_chart_and_pathway(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/?{RESULT_QUERY}")
    summary = page.locator(".summary-main")
    expect(summary).to_contain_text(re.compile(r"\d+ of \d+ skills for data analyst"))
    expect(summary).to_contain_text("essential")
    chart = page.get_by_role("img", name=re.compile("Gap chart"))
    expect(chart).to_be_visible()
    assert chart.locator("g.bar").count() > 0
    rows = page.locator("table.gap-table tbody tr")
    assert rows.count() >= chart.locator("g.bar").count()
    expect(page.locator("table.gap-table")).to_contain_text("missing")
    steps = step_ids(page)
    assert steps, "the demo catalogue has credentials for a data analyst"
    first = page.locator("ol.pathway li.step").first
    for fact in ("Provider", "Level", "Mode", "Language", "Hours", "Cost", "Credits", "Running total"):
        expect(first.locator("dt", has_text=fact)).to_have_count(1)
    expect(first).to_contain_text("matched outcome")
    expect(page.locator("ol.pathway")).to_contain_text("Stacks into")


def test_a_filter_updates_the_pathway_in_place_within_budget(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/?{RESULT_QUERY}")
    before = totals(page)
    assert before["hours"] > 40
    page.evaluate("document.getElementById('main').dataset.marker = 'same-document'")
    page.get_by_label("Max hours").fill("40")
    page.get_by_label("Max hours").press("Tab")  # change event -> htmx updates #results
    expect(page.locator("#pathway-totals")).not_to_have_attribute("data-hours", str(before["hours"]))
    after = totals(page)
    assert 0 < after["hours"] <= 40
    assert page.evaluate("document.getElementById('main').dataset.marker") == "same-document"  # no reload
    assert "max_hours=40" in page.url

    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    assert step_ids(other) == step_ids(page)
    assert totals(other) == after


def test_the_last_change_wins_when_an_earlier_answer_comes_late(page: Page, live_server: str) -> None:
    """A slow answer to an earlier change must not overwrite the pathway of a later one."""
    page.goto(f"{live_server}/?{RESULT_QUERY}")
    assert totals(page)["hours"] > 40
    held: list[Route] = []

    def hold_the_level_change(route: Route) -> None:
        if "max_hours=40" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    done: list[Request] = []
    page.on("requestfinished", lambda r: done.append(r))
    page.on("requestfailed", lambda r: done.append(r))  # a request the page dropped
    page.route(lambda url: urlsplit(url).path == "/", hold_the_level_change)
    page.get_by_label("Proficiency in Excel").select_option(label="intermediate")
    for _ in range(100):  # the route handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(20)
    assert len(held) == 1
    page.get_by_label("Max hours").fill("40")
    page.get_by_label("Max hours").press("Tab")
    page.wait_for_function("() => Number(document.getElementById('pathway-totals')?.dataset.hours) <= 40")
    held[0].continue_()
    for _ in range(250):
        if held[0].request in done:
            break
        page.wait_for_timeout(20)
    assert held[0].request in done
    page.wait_for_timeout(300)  # what a late answer would swap in has had its chance
    assert 0 < totals(page)["hours"] <= 40
    assert (
        "max_hours=40" in page.url and "Excel%3A+intermediate" in page.url
    )  # the later request kept the level


def test_download_the_pathway_as_csv_and_json(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/?{RESULT_QUERY}&max_hours=120")
    steps = step_ids(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the pathway (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == steps
    assert float(rows[-1]["hours_total"]) == pytest.approx(totals(page)["hours"])
    assert all(float(r["hours_total"]) <= 120 for r in rows)
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(r"JSON")).click()
    assert '"recommendation"' in Path(info.value.path()).read_text(encoding="utf-8")


def _tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def test_keyboard_only_main_flow(page: Page, live_server: str) -> None:
    page.goto(live_server + "/")
    _tab_to(page, "role_q")
    page.keyboard.type("data analy", delay=30)
    expect(page.get_by_role("option").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#role_q")).to_have_attribute("aria-activedescendant", "role-opt-1")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Chosen roles")).to_contain_text("data analyst")
    _tab_to(page, "add_skill")
    page.keyboard.type("Excel", delay=30)
    expect(page.locator("#skill-options [role=option]").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("list", name="Your skills")).to_contain_text(
        re.compile("spreadsheet|Excel", re.I)
    )
    expect(page.locator("#results .summary-main")).to_contain_text("skills for data analyst")
    expect(page.locator("#pathway-totals")).to_be_visible()
    assert totals(page)["cost"] > 50  # the budget below has something to cut
    _tab_to(page, "max_cost")
    page.keyboard.type("50")
    page.keyboard.press("Tab")
    # Wait for the re-rendered pathway: the totals of the previous one stay visible until htmx swaps them.
    page.wait_for_function(
        "() => { const t = document.getElementById('pathway-totals'); return !!t && Number(t.dataset.cost) <= 50; }"
    )
    assert totals(page)["items"] > 0
    assert "max_cost=50" in page.url


def test_axe_finds_no_serious_violations(browser: Browser, live_server: str, api_key: str) -> None:
    context = browser.new_context(bypass_csp=True)  # axe is injected as an inline script
    page = context.new_page()
    problems = {}
    for path in ("/", f"/?{RESULT_QUERY}&max_hours=120", "/career"):
        page.goto(live_server + path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: {v['nodes'][0]['target']})"
            for v in result["violations"]
            if v["impact"] in {"serious", "critical"}
        ]
        if serious:
            problems[path] = serious
    context.close()
    assert problems == {}


def test_result_page_screenshot_and_no_other_hosts(page: Page, live_server: str, artifacts: Path) -> None:
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/?{RESULT_QUERY}&max_hours=120&max_cost=500")
    expect(page.locator("ol.pathway")).to_be_visible()
    shot = artifacts / "learner-result.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SKILLMATCH_DOCS_SCREENSHOT") == "1":
        page.locator("#results").screenshot(path=str(REPO / "docs" / "web-learner.png"))
    assert hosts == {urlsplit(live_server).netloc}


def test_career_office_flow(page: Page, live_server: str, api_key: str, artifacts: Path) -> None:
    page.goto(live_server + "/career")
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Learners file")).set_input_files(
        str(REPO / "data" / "demo" / "learners.csv")
    )
    page.get_by_label("Role", exact=True).fill("data analyst")
    page.get_by_role("button", name="Analyse").click()
    expect(page.locator("#cohort-title")).to_contain_text("learner(s) against data analyst")
    expect(page.get_by_role("img", name=re.compile("Coverage distribution"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Most common gaps"))).to_be_visible()
    assert page.locator("table.cohort-gaps tbody tr").count() > 0
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the gap table (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert rows and {"skill_id", "label", "share_missing"} <= set(rows[0])
    page.screenshot(path=str(artifacts / "career-result.png"), full_page=True)
    assert api_key not in page.content() and api_key not in page.url
