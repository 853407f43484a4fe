"""The web pages: a learner page (``/``) and a career-office page (``/career``), served by the API app.

Server-rendered Jinja2 templates (``api/templates/``) with htmx (vendored in ``api/static/vendor/``) for type-ahead
and partial updates; every page also works as plain HTML forms without JavaScript. The pages call the same
library functions as the JSON API (:class:`~skillmatch.facade.Skillmatch`,
:func:`~skillmatch.matching.cohort.cohort_gaps`); this module only turns form fields into library calls and
results into what the templates show (view models with chart geometry), so templates hold no logic.

The whole learner query lives in the URL (``role``, ``skill``, ``held`` and the filters), so a result page can be
shared and reloaded. CV text is sent by POST and never put into a URL; skills found in it become ordinary
``skill`` values once the learner confirms them. The career-office page needs an API key, entered once: it is
checked against ``SKILLMATCH_API_KEY_HASHES`` and never stored; the browser gets an opaque session cookie
(``HttpOnly``, ``SameSite=Strict``) and each form a CSRF token bound to that session. Nothing a learner types is
logged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2_fragments.fastapi import Jinja2Blocks

from skillmatch.api.deps import ServedDep
from skillmatch.api.limits import PayloadLimits
from skillmatch.api.security import key_matches
from skillmatch.api.state import Served
from skillmatch.matching.cohort import cohort_gaps, gap_table
from skillmatch.matching.gaps import (
    GapItem,
    GapReport,
    UnknownCredentialError,
    learners_from_table,
    make_learner,
)
from skillmatch.matching.recommend import Limits, Recommendation
from skillmatch.matching.roles import UnknownRoleError
from skillmatch.readers.learners import read_learners
from skillmatch.schema import LEVEL_RANK, InputError, Level, Mode, split_skill_level

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: The levels a learner can give a skill, in order.
LEVELS = [str(level) for level in Level]
#: Human words for the reasons a gap skill stays open (see docs/matching.md).
REASONS = {
    "not_taught": "no credential in the catalogue teaches it",
    "over_budget": "a credential teaches it, but it does not fit within your limits",
    "prerequisites_unavailable": "the credentials that teach it need prerequisites your filters leave out",
    "partly_covered_only": "the catalogue teaches it only in part",
    "taught_only_off_target": "only credentials mostly about something else teach it",
    "excluded_by_filters": "the credentials that teach it are left out by your filters",
}
STATUS_TEXT = {"covered": "covered", "partial": "partly covered", "missing": "missing"}
STATUS_MARK = {"covered": "✓", "partial": "◐", "missing": "✗"}
#: Most suggestions a type-ahead shows.
SUGGESTIONS = 8
#: Gap-chart rows (the table lists every skill).
CHART_ROWS = 20
SESSION_COOKIE = "skillmatch_career"
SESSION_TTL_S = 8 * 3600
MAX_SESSIONS = 1000

templates = Jinja2Blocks(directory=str(TEMPLATES))
router = APIRouter(include_in_schema=False)

#: Security headers of every page: nothing is loaded from another host, no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def static_files() -> StaticFiles:
    """The static files of the pages (stylesheets, the page script, vendored htmx), mounted at ``/static``."""
    return StaticFiles(directory=str(STATIC))


# --- the learner query -----------------------------------------------------------------------------------------


class QueryError(ValueError):
    """A form field that cannot be used (shown on the page, next to the form)."""


def _number(raw: str | None, name: str) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw.replace(",", "."))
    except ValueError as exc:
        raise QueryError(f"{name} must be a number, got {raw!r}") from exc
    if not math.isfinite(value) or value < 0:
        raise QueryError(f"{name} must be a number of 0 or more, got {raw!r}")
    return value


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


@dataclass
class LearnerQuery:
    """Everything the learner page asks: roles, skills (``"SQL: beginner"``), held credentials, filters."""

    roles: list[str] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    max_hours: float | None = None
    max_cost: float | None = None
    currency: str = "EUR"
    levels: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    exclude_providers: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, fields: Mapping[str, list[str]]) -> tuple[LearnerQuery, list[str]]:
        """The query in form fields (a GET query string or a POSTed form) and the problems found in it.

        Besides the query's own fields, ``remove_role``/``remove_skill`` drop a value and ``add_skill`` with
        ``add_level`` adds a skill (the buttons of the page without JavaScript).
        """
        problems: list[str] = []

        def one(name: str) -> str | None:
            values = fields.get(name) or []
            return values[-1] if values else None

        def number(name: str, label: str) -> float | None:
            try:
                return _number(one(name), label)
            except QueryError as exc:
                problems.append(str(exc))
                return None

        skills = _unique(fields.get("skill", []))
        added = (one("add_skill") or "").strip()
        if added:
            level = (one("add_level") or "").strip().lower()
            skills.append(f"{added}: {level}" if level in LEVELS else added)
        removed_skills = set(fields.get("remove_skill", []))
        skills = [s for s in _unique(skills) if split_skill_level(s)[0] not in removed_skills]
        roles = [r for r in _unique(fields.get("role", [])) if r not in set(fields.get("remove_role", []))]
        currency = (one("currency") or "EUR").strip().upper() or "EUR"
        if len(currency) != 3 or not currency.isalpha():
            problems.append(f"currency must be a three-letter code such as EUR, got {currency!r}")
            currency = "EUR"
        query = cls(
            roles=roles,
            skills=skills,
            held=_unique(fields.get("held", [])),
            max_hours=number("max_hours", "max hours"),
            max_cost=number("max_cost", "max cost"),
            currency=currency,
            levels=[v for v in _unique(fields.get("level", [])) if v in LEVELS],
            modes=[v for v in _unique(fields.get("mode", [])) if v in {m.value for m in Mode}],
            languages=_unique(fields.get("language", [])),
            exclude_providers=_unique(fields.get("exclude_provider", [])),
        )
        return query, problems

    def params(self) -> list[tuple[str, str]]:
        """The query as URL parameters (what :meth:`parse` reads back)."""
        out: list[tuple[str, str]] = [("role", r) for r in self.roles]
        out += [("skill", s) for s in self.skills]
        out += [("held", h) for h in self.held]
        for name, value in (("max_hours", self.max_hours), ("max_cost", self.max_cost)):
            if value is not None:
                out.append((name, f"{value:g}"))
        out.append(("currency", self.currency))
        out += [("level", v) for v in self.levels]
        out += [("mode", v) for v in self.modes]
        out += [("language", v) for v in self.languages]
        out += [("exclude_provider", v) for v in self.exclude_providers]
        return out

    def url(self, path: str = "/") -> str:
        """``path`` with the query string of this query."""
        return f"{path}?{urlencode(self.params())}"

    def limits(self) -> Limits:
        """The recommender's limits and filters."""
        return Limits(
            max_hours=self.max_hours,
            max_cost=self.max_cost,
            currency=self.currency,
            levels=self.levels,
            modes=self.modes,
            languages=self.languages,
            exclude_providers=self.exclude_providers,
        )

    @property
    def complete(self) -> bool:
        """Whether there is something to analyse: a role and something the learner has."""
        return bool(self.roles) and bool(self.skills or self.held)


def _fields(pairs: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def check_sizes(limits: PayloadLimits, query: LearnerQuery) -> None:
    """Apply the API's size limits to a learner query (413 naming the field, as the API does)."""
    limits.roles(("query", "role"), query.roles)
    limits.texts(("query", "skill"), query.skills, limits.max_skills, "skills")
    limits.texts(("query", "held"), query.held, limits.max_skills, "credentials")
    limits.texts(("query", "exclude_provider"), query.exclude_providers, limits.max_skills, "providers")
    limits.text_budget(("query",), [*query.roles, *query.skills, *query.held])


# --- view models ----------------------------------------------------------------------------------------------


def _level_name(rank: float) -> str:
    names = {0: "none", **{r: str(level) for level, r in LEVEL_RANK.items()}}
    return names.get(round(rank), "none")


@dataclass(frozen=True)
class GapRow:
    """One role skill in the gap table and chart."""

    label: str
    essential: bool
    required_level: str
    learner_level: str
    coverage_pct: int
    status: str
    status_text: str
    mark: str
    matched_by: str | None
    gap_weight: float


@dataclass(frozen=True)
class ChartBar:
    """One row of a horizontal bar chart (SVG units)."""

    label: str
    y: float
    value_width: float
    target_width: float
    text: str
    mark: str
    status: str


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart drawn on the server as SVG (the page shows a table with the same numbers)."""

    title: str
    width: int
    height: int
    label_width: int
    plot_width: int
    bars: list[ChartBar]
    ticks: list[tuple[float, str]]
    legend: tuple[str, str]


def gap_rows(report: GapReport) -> list[GapRow]:
    """The gap table of a report: every role skill, largest gap first."""
    required = str(Level.INTERMEDIATE)
    rows = []
    for item in report.items:
        rows.append(
            GapRow(
                label=item.label,
                essential=item.relation != "optional",
                required_level=item.required_level or required,
                learner_level=item.learner_level or _current_level(item, required),
                coverage_pct=round(item.coverage * 100),
                status=item.status,
                status_text=STATUS_TEXT.get(item.status, item.status),
                mark=STATUS_MARK.get(item.status, "?"),
                matched_by=item.matched_by,
                gap_weight=item.gap_weight,
            )
        )
    return rows


def _current_level(item: GapItem, required: str) -> str:
    if item.coverage <= 0:
        return "none"
    if item.learner_level:
        return item.learner_level
    return f"{_level_name(item.coverage * LEVEL_RANK[Level(required)])} (level not given)"


def gap_chart(report: GapReport, title: str) -> Chart:
    """Required against current level per role skill (the largest gaps), as chart geometry.

    The current level is the coverage on the level scale: a skill held at beginner level against an
    intermediate requirement reaches half-way; a related skill earns partial credit.
    """
    items = report.items[:CHART_ROWS]
    label_width, plot_width, row = 230, 420, 26
    scale = plot_width / max(LEVEL_RANK.values())
    required_rank = LEVEL_RANK[Level.INTERMEDIATE]
    bars = [
        ChartBar(
            label=item.label,
            y=30 + i * row,
            value_width=round(item.coverage * required_rank * scale, 1),
            target_width=round(required_rank * scale, 1),
            text=f"{item.label}: {STATUS_TEXT.get(item.status, item.status)}, {round(item.coverage * 100)}%",
            mark=STATUS_MARK.get(item.status, "?"),
            status=item.status,
        )
        for i, item in enumerate(items)
    ]
    ticks = [(round(rank * scale, 1), _level_name(rank)) for rank in range(max(LEVEL_RANK.values()) + 1)]
    return Chart(
        title, label_width + plot_width + 40, 40 + len(bars) * row, label_width, plot_width, bars, ticks,
        ("your level", "required level"),
    )  # fmt: skip


@dataclass(frozen=True)
class RoleSummary:
    """How many of a role's skills are covered ("x of y"), split into essential and optional."""

    label: str
    covered: int
    total: int
    essential_covered: int
    essential_total: int
    optional_covered: int
    optional_total: int
    coverage_pct: int


def role_summary(report: GapReport) -> RoleSummary:
    """How many of a role's skills the learner covers."""
    essential = [i for i in report.items if i.relation != "optional"]
    optional = [i for i in report.items if i.relation == "optional"]
    return RoleSummary(
        label=" + ".join(str(r["label"]) for r in report.roles),
        covered=report.counts["covered"],
        total=len(report.items),
        essential_covered=sum(i.status == "covered" for i in essential),
        essential_total=len(essential),
        optional_covered=sum(i.status == "covered" for i in optional),
        optional_total=len(optional),
        coverage_pct=round(report.coverage * 100),
    )


def pathway_rows(served: Served, rec: Recommendation) -> list[dict[str, Any]]:
    """The pathway steps with running totals and the titles of prerequisites and stacked qualifications."""
    known = served.matcher.credentials_by_id
    hours = cost = 0.0
    out = []
    for step in rec.pathway:
        c = step.credential
        hours += float(c.get("duration_hours") or 0.0)
        cost += float(step.cost_in_currency or 0.0)
        out.append(
            {
                "step": step,
                "c": c,
                "hours_total": round(hours, 1),
                "cost_total": round(cost, 2),
                "prerequisites": [(p, str(known.get(p, {}).get("title") or p)) for p in step.prerequisites],
                "stacks_into": [
                    (s, str(known.get(s, {}).get("title") or s)) for s in (c.get("stackable_into") or [])
                ],
            }
        )
    return out


def pathway_csv(served: Served, rec: Recommendation) -> str:
    """The pathway as CSV: one row per step with running totals and what it covers."""
    frame = rec.to_frame()
    rows = pathway_rows(served, rec)
    frame["hours_total"] = [r["hours_total"] for r in rows]
    frame["cost_total"] = [r["cost_total"] for r in rows]
    frame["prerequisites"] = ["; ".join(p for p, _ in r["prerequisites"]) for r in rows]
    return frame.to_csv(index=False)


@dataclass
class LearnerResult:
    """What the learner page shows for a complete query."""

    summaries: list[RoleSummary]
    report: GapReport
    rows: list[GapRow]
    chart: Chart
    rec: Recommendation
    steps: list[dict[str, Any]]
    remaining: list[tuple[str, str]]


def analyse(served: Served, query: LearnerQuery) -> LearnerResult:
    """The gap report and the pathway of a complete query (the library calls of ``/v1/gaps`` and recommendations).

    Raises:
        UnknownRoleError, UnknownCredentialError, ValueError: as the library raises them.
    """
    service = served.service
    learner = make_learner(query.skills, None, query.held)
    report = service.gaps(query.roles, learner)
    summaries = [role_summary(report)]
    if len(query.roles) > 1:
        summaries += [role_summary(service.gaps(role, learner)) for role in query.roles]
    rec = service.recommend(query.roles, learner, limits=query.limits())
    return LearnerResult(
        summaries=summaries,
        report=report,
        rows=gap_rows(report),
        chart=gap_chart(report, f"Gap chart: required and current level per skill ({summaries[0].label})"),
        rec=rec,
        steps=pathway_rows(served, rec),
        remaining=[(r.label, REASONS.get(r.reason, r.reason)) for r in rec.remaining_gap],
    )


def facets(served: Served) -> dict[str, Any]:
    """The choices of the filters and of held credentials, from the served catalogue."""
    creds = served.matcher.credentials_by_id
    return {
        "levels": LEVELS,
        "modes": [m.value for m in Mode],
        "languages": sorted({str(c.get("language")) for c in creds.values() if c.get("language")}),
        "providers": sorted({str(c.get("provider")) for c in creds.values() if c.get("provider")}),
        "currencies": sorted(served.matcher.fx),
        "credentials": sorted(
            ((cid, str(c.get("title") or cid)) for cid, c in creds.items()), key=lambda x: x[1]
        ),
    }


# --- learner page ---------------------------------------------------------------------------------------------


def _block(request: Request) -> str | None:
    """The template block an htmx request asks for (by its target), or None for a whole page."""
    if request.headers.get("HX-Request") != "true":
        return None
    return "results" if request.headers.get("HX-Target") == "results" else "app"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, HTTPException) and isinstance(exc.detail, list):
        return "; ".join(str(d.get("msg", d)) for d in exc.detail if isinstance(d, dict))
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def render_learner(
    request: Request,
    served: Served,
    query: LearnerQuery,
    problems: list[str],
    *,
    found: Sequence[dict[str, Any]] = (),
    cv_note: str | None = None,
    matched: Sequence[tuple[str, str, str]] = (),
    code: int = status.HTTP_200_OK,
) -> Response:
    """The learner page (or the block an htmx request targets) for a query, answered with ``code``."""
    result = None
    try:
        check_sizes(request.app.state.limits, query)
    except HTTPException as exc:
        problems.append(_error_text(exc))
        code = exc.status_code
    if not problems and query.complete:
        try:
            result = analyse(served, query)
        except (UnknownRoleError, UnknownCredentialError, ValueError) as exc:
            problems.append(_error_text(exc))
            code = status.HTTP_422_UNPROCESSABLE_CONTENT
    share = query.url("/")
    context = {
        "q": query,
        "problems": problems,
        "result": result,
        "facets": facets(served),
        "share_url": share,
        "csv_url": query.url("/learner/pathway.csv"),
        "json_url": query.url("/learner/pathway.json"),
        "found": list(found),
        "cv_note": cv_note,
        "matched": list(matched),
        "levels": LEVELS,
        "split_level": split_skill_level,
    }
    headers = dict(PAGE_HEADERS)
    block = _block(request)
    if block:
        headers["HX-Push-Url"] = share
    return templates.TemplateResponse(
        request, "learner.html", context, status_code=code, headers=headers, block_name=block
    )


def _resolve_typed_role(served: Served, typed: str) -> tuple[str | None, str | None]:
    """The role label for a typed title and the title it matched (None, reason when nothing matches)."""
    hits = served.service.roles(typed, top_k=1).hits[0]
    if not hits:
        return None, f"no role matches {typed!r}"
    return hits[0].label, hits[0].matched_label


def _with_typed_role(
    served: Served, query: LearnerQuery, fields: Mapping[str, list[str]], problems: list[str]
) -> list[tuple[str, str, str]]:
    typed = ((fields.get("role_q") or [""])[-1]).strip()
    if not typed:
        return []
    try:
        request_limits = PayloadLimits(
            max_text_chars=200, max_texts=1, max_skills=1, max_roles=1, max_cohort=1
        )
        request_limits.text(("query", "role_q"), typed)
        label, matched = _resolve_typed_role(served, typed)
    except (HTTPException, ValueError) as exc:
        problems.append(_error_text(exc))
        return []
    if label is None:
        problems.append(str(matched))
        return []
    if label not in query.roles:
        query.roles.append(label)
    return [(typed, label, matched or label)]


@router.get("/")
def learner_page(request: Request, served: ServedDep) -> Response:
    """The learner page; its query string is the whole query (shareable)."""
    fields = _fields(request.query_params.multi_items())
    query, problems = LearnerQuery.parse(fields)
    matched = _with_typed_role(served, query, fields, problems)
    return render_learner(request, served, query, problems, matched=matched)


@router.post("/learner/cv")
async def learner_cv(request: Request, served: ServedDep) -> Response:
    """Find skills in pasted CV text; the page lists them, each with its evidence, to confirm or drop."""
    form = await request.form()
    fields = _fields(form.multi_items())
    query, problems = LearnerQuery.parse(fields)
    cv = (fields.get("cv") or [""])[-1]
    found: list[dict[str, Any]] = []
    note = None
    code = status.HTTP_200_OK
    try:
        request.app.state.limits.text(("form", "cv"), cv)
        request.app.state.limits.text_budget(("form", "cv"), [cv])
    except HTTPException as exc:
        problems.append(_error_text(exc))
        code = exc.status_code
        cv = ""
    if cv.strip():
        have = {split_skill_level(s)[0].lower() for s in query.skills}
        [skills] = served.service.extract([cv]).skills
        found = [s.to_dict() for s in skills if s.label.lower() not in have]
        note = f"{len(found)} skill(s) found in your text." if found else "No new skills found in your text."
    elif not problems:
        problems.append("paste some text (a CV, a profile) to find skills in it")
    return render_learner(request, served, query, problems, found=found, cv_note=note, code=code)


def _learner_download(request: Request, served: Served) -> tuple[LearnerQuery, LearnerResult]:
    query, problems = LearnerQuery.parse(_fields(request.query_params.multi_items()))
    check_sizes(request.app.state.limits, query)
    if problems or not query.complete:
        detail = problems or ["give at least one role and one skill or held credential"]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="; ".join(detail))
    try:
        return query, analyse(served, query)
    except (UnknownRoleError, UnknownCredentialError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


@router.get("/learner/pathway.csv")
def learner_csv(request: Request, served: ServedDep) -> Response:
    """The pathway of the query as CSV (one row per step, with running totals)."""
    _query, result = _learner_download(request, served)
    return Response(
        pathway_csv(served, result.rec),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="pathway.csv"', "Cache-Control": "no-store"},
    )


@router.get("/learner/pathway.json")
def learner_json(request: Request, served: ServedDep) -> Response:
    """The query, its gap report and its pathway as JSON (the shapes of ``/v1/gaps`` and recommendations)."""
    query, result = _learner_download(request, served)
    body = {
        "query": dict(query.params()) | {k: v for k, v in vars(query).items() if isinstance(v, list)},
        "gaps": result.report.to_dict(),
        "recommendation": result.rec.to_dict(),
    }
    return Response(
        json.dumps(body, indent=2, default=str),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="pathway.json"', "Cache-Control": "no-store"},
    )


@router.get("/web/suggest/roles")
def suggest_roles(request: Request, served: ServedDep, role_q: str = "") -> Response:
    """Type-ahead options for the role picker: roles whose label or alternative title matches."""
    hits = []
    if role_q.strip() and len(role_q) <= 200:
        hits = [
            {"value": h.label, "label": h.label, "matched": h.matched_label}
            for h in served.service.roles(role_q, top_k=SUGGESTIONS).hits[0]
        ]
    return templates.TemplateResponse(
        request, "_options.html", {"options": hits, "prefix": "role-opt"}, headers=PAGE_HEADERS
    )


def skill_suggestions(served: Served, typed: str, limit: int = SUGGESTIONS) -> list[dict[str, str]]:
    """Taxonomy skills whose preferred or alternative label contains the typed text (prefix matches first)."""
    text = typed.strip().lower()
    if not text:
        return []
    labels = served.bundle.labels
    names = served.matcher.concept_labels
    scored: dict[str, tuple[int, str]] = {}
    for cid, label in zip(labels["concept_id"], labels["text"], strict=True):
        low = str(label).lower()
        pos = low.find(text)
        if pos < 0 or cid not in names:
            continue
        rank = 0 if low == text else (1 if pos == 0 else 2)
        if cid not in scored or rank < scored[cid][0]:
            scored[cid] = (rank, str(label))
    best = sorted(scored.items(), key=lambda kv: (kv[1][0], len(names[kv[0]]), names[kv[0]]))[:limit]
    return [{"value": names[cid], "label": names[cid], "matched": matched} for cid, (_r, matched) in best]


@router.get("/web/suggest/skills")
def suggest_skills(request: Request, served: ServedDep, add_skill: str = "") -> Response:
    """Type-ahead options for the skill chips: taxonomy labels (preferred and alternative)."""
    options = skill_suggestions(served, add_skill) if len(add_skill) <= 200 else []
    return templates.TemplateResponse(
        request, "_options.html", {"options": options, "prefix": "skill-opt"}, headers=PAGE_HEADERS
    )


# --- career office ----------------------------------------------------------------------------------------------


@dataclass
class CareerSession:
    """A career-office session: its CSRF token, expiry and last cohort result (the key itself is not kept)."""

    csrf: str
    expires: float
    result: dict[str, Any] | None = None


class CareerSessions:
    """Sessions of the career-office page, in memory (one process; a restart signs everyone out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, CareerSession] = {}

    def create(self) -> tuple[str, CareerSession]:
        """A new session and its token (the oldest sessions are dropped beyond :data:`MAX_SESSIONS`)."""
        token = secrets.token_urlsafe(32)
        session = CareerSession(secrets.token_urlsafe(32), time.time() + SESSION_TTL_S)
        with self._lock:
            now = time.time()
            self._items = {k: v for k, v in self._items.items() if v.expires > now}
            while len(self._items) >= MAX_SESSIONS:
                self._items.pop(next(iter(self._items)))
            self._items[token] = session
        return token, session

    def get(self, token: str | None) -> CareerSession | None:
        """The live session of a token (None when unknown or expired)."""
        if not token:
            return None
        with self._lock:
            session = self._items.get(token)
            if session is not None and session.expires <= time.time():
                del self._items[token]
                return None
            return session

    def drop(self, token: str | None) -> None:
        """End a session."""
        with self._lock:
            self._items.pop(token or "", None)


_sessions_lock = threading.Lock()


def career_sessions(request: Request) -> CareerSessions:
    """The app's career-office sessions (made on first use)."""
    state = request.app.state
    with _sessions_lock:
        if not isinstance(getattr(state, "career_sessions", None), CareerSessions):
            state.career_sessions = CareerSessions()
        return state.career_sessions


SessionsDep = Annotated[CareerSessions, Depends(career_sessions)]


def _career_page(
    request: Request,
    session: CareerSession | None,
    *,
    problems: Sequence[str] = (),
    code: int = status.HTTP_200_OK,
    served: Served | None = None,
) -> Response:
    result = session.result if session else None
    context: dict[str, Any] = {
        "signed_in": session is not None,
        "csrf": session.csrf if session else "",
        "problems": list(problems),
        "result": result,
        "charts": _cohort_charts(result) if result else None,
        "roles": _role_choices(served) if served else [],
    }
    return templates.TemplateResponse(request, "career.html", context, status_code=code, headers=PAGE_HEADERS)


def _role_choices(served: Served) -> list[str]:
    roles = served.matcher.roles.roles
    ordered = roles.sort_values(["postings", "label"], ascending=[False, True])
    return list(dict.fromkeys(str(label) for label in ordered["label"]))


def _cohort_charts(result: dict[str, Any]) -> dict[str, Any]:
    """Coverage distribution (learners per 20-point band) and the most common gaps, as charts and tables."""
    bands = [(i * 20, (i + 1) * 20) for i in range(5)]
    counts = [0] * len(bands)
    for row in result["per_learner"]:
        counts[min(int(row["coverage"] * 100) // 20, len(bands) - 1)] += 1
    n = max(result["learners"], 1)
    label_width, plot_width, row_h = 230, 420, 26
    dist = [
        ChartBar(
            label=f"{lo}–{hi}%",
            y=30 + i * row_h,
            value_width=round(plot_width * count / n, 1),
            target_width=plot_width,
            text=f"{count} learner(s) with {lo}–{hi}% coverage",
            mark=str(count),
            status="band",
        )
        for i, ((lo, hi), count) in enumerate(zip(bands, counts, strict=True))
    ]
    common = sorted(result["gaps"], key=lambda r: (-(r["share_missing"] + r["share_partial"]), r["label"]))[
        :15
    ]
    gaps = [
        ChartBar(
            label=str(r["label"]),
            y=30 + i * row_h,
            value_width=round(plot_width * r["share_missing"], 1),
            target_width=round(plot_width * (r["share_missing"] + r["share_partial"]), 1),
            text=f"{r['label']}: {round(r['share_missing'] * 100)}% missing, {round(r['share_partial'] * 100)}% partly",
            mark=f"{round(r['share_missing'] * 100)}%",
            status="missing",
        )
        for i, r in enumerate(common)
    ]
    ticks = [(round(plot_width * f, 1), f"{round(f * 100)}%") for f in (0, 0.25, 0.5, 0.75, 1.0)]
    size = label_width + plot_width + 60
    return {
        "distribution": Chart(
            "Coverage distribution: share of learners per coverage band", size, 40 + len(dist) * row_h,
            label_width, plot_width, dist, ticks, ("share of learners", "all learners"),
        ),
        "bands": [(f"{lo}–{hi}%", c) for (lo, hi), c in zip(bands, counts, strict=True)],
        "gaps": Chart(
            "Most common gaps: share of learners missing (and partly covering) each skill", size,
            40 + len(gaps) * row_h, label_width, plot_width, gaps, ticks, ("missing", "missing or partly"),
        ),
        "common": common,
    }  # fmt: skip


@router.get("/career")
def career_page(request: Request, sessions: SessionsDep, served: ServedDep) -> Response:
    """The career-office page: the API-key form, or the cohort upload and its result."""
    return _career_page(request, sessions.get(request.cookies.get(SESSION_COOKIE)), served=served)


@router.post("/career/login")
def career_login(
    request: Request, sessions: SessionsDep, api_key: Annotated[str, Form(max_length=512)] = ""
) -> Response:
    """Check the API key once and start a session (the key is not stored, and never sent back)."""
    if not key_matches(api_key, request.app.state.api_key_hashes):
        problem = (
            "invalid API key"
            if request.app.state.api_key_hashes
            else "no API key is configured on this server (set SKILLMATCH_API_KEY_HASHES)"
        )
        return _career_page(request, None, problems=[problem], code=status.HTTP_401_UNAUTHORIZED)
    token, _session = sessions.create()
    response = RedirectResponse("/career", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL_S,
        path="/career",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _session_or_401(request: Request, sessions: CareerSessions, csrf: str | None) -> CareerSession:
    session = sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="sign in with an API key first")
    if csrf is not None and not secrets.compare_digest(csrf.encode(), session.csrf.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="invalid or missing CSRF token; reload the page"
        )
    return session


@router.post("/career/logout")
def career_logout(
    request: Request, sessions: SessionsDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """End the session."""
    _session_or_401(request, sessions, csrf_token)
    sessions.drop(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/career", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/career")
    return response


@router.post("/career/cohort")
async def career_cohort(
    request: Request,
    sessions: SessionsDep,
    served: ServedDep,
    learners: Annotated[UploadFile, File(description="learners CSV (the format of `skillmatch cohort`)")],
    role: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Upload a learners CSV, pick a role: the cohort's coverage distribution and most common gaps."""
    session = _session_or_401(request, sessions, csrf_token)
    limits: PayloadLimits = request.app.state.limits
    raw = await learners.read(request.app.state.settings.api_max_body_bytes + 1)
    problems: list[str] = []
    if not role.strip():
        problems.append("pick a role")
    if not raw.strip():
        problems.append("the learners file is empty")
    if problems:
        return _career_page(request, session, problems=problems, code=422, served=served)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "learners.csv"
        path.write_bytes(raw)
        try:
            read = read_learners(path)
        except (InputError, ValueError, UnicodeDecodeError) as exc:
            return _career_page(
                request, session, problems=[f"cannot read the file: {exc}"], code=422, served=served
            )
    cohort = learners_from_table(read.table)
    try:
        limits.count(("form", "learners"), cohort, limits.max_cohort, "learners")
        for i, learner in enumerate(cohort):
            limits.texts(("form", "learners", i, "skills"), learner.skills, limits.max_skills, "skills")
            limits.text(("form", "learners", i, "cv"), learner.cv)
        result = cohort_gaps(served.matcher, cohort, served.service.resolve_roles([role]))
    except HTTPException as exc:
        return _career_page(
            request, session, problems=[_error_text(exc)], code=exc.status_code, served=served
        )
    except (UnknownRoleError, UnknownCredentialError, ValueError) as exc:
        return _career_page(request, session, problems=[_error_text(exc)], code=422, served=served)
    result["rejected_rows"] = [str(r) for r in read.rejects]
    session.result = result
    return _career_page(request, session, served=served)


@router.get("/career/cohort.csv")
def career_csv(request: Request, sessions: SessionsDep) -> Response:
    """The gap table of the session's last cohort as CSV (the ``skillmatch cohort --format csv`` columns)."""
    session = _session_or_401(request, sessions, None)
    if session.result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no cohort analysed in this session yet")
    buffer = io.StringIO()
    gap_table(session.result).to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="cohort-gaps.csv"',
            "Cache-Control": "no-store",
        },
    )
