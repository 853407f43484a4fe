"""``/v1/gaps`` and ``/v1/recommendations``: one learner against target roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from skillmatch.api.deps import LimitsDep, ServedDep, library_errors
from skillmatch.api.limits import PayloadLimits
from skillmatch.api.models import (
    CohortRequest,
    GapReportOut,
    GapsRequest,
    LearnerIn,
    RecommendationOut,
    RecommendationsRequest,
    TargetIn,
)
from skillmatch.api.routers import API_PREFIX, errors, json_response
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import Learner, analyse_gap, resolve_learner
from skillmatch.matching.recommend import Limits, recommend

router = APIRouter(prefix=API_PREFIX, tags=["learners"])


def to_learner(body: LearnerIn, learner_id: str = "learner") -> Learner:
    """The library's learner from a request body."""
    return Learner(
        id=learner_id,
        skills=[s for s in body.skills if s.strip()],
        cv=body.cv if body.cv and body.cv.strip() else None,
        credentials_held=list(body.credentials_held),
    )


def request_limits(body: RecommendationsRequest | CohortRequest, **budget: Any) -> Limits:
    """The recommender's limits: the request's catalogue filters (levels, modes, languages, excluded providers)
    plus ``budget`` (hours, cost, currency, items)."""
    return Limits(
        levels=[lv.value for lv in body.levels],
        modes=[m.value for m in body.modes],
        languages=list(body.languages),
        exclude_providers=list(body.exclude_providers),
        **budget,
    )


def check_target(limits: PayloadLimits, body: TargetIn) -> None:
    """Apply the size limits to a learner and its target roles (413)."""
    limits.roles(("body", "roles"), body.roles)
    limits.learner(("body",), body)


def resolve_roles(matcher: MatchContext, roles: list[str]) -> list[str]:
    """Role ids from ids or names (unknown -> 404 through :func:`library_errors`)."""
    return [matcher.roles.resolve(r) for r in roles]


@router.post("/gaps", response_model=GapReportOut, responses=errors(400, 404, 413, 422, 503))
def gaps(body: GapsRequest, served: ServedDep, limits: LimitsDep) -> Response:
    """Compare a learner with one or more roles: each skill of the role profile is covered, partly covered or
    missing, with its weight and the gap it leaves."""
    check_target(limits, body)
    matcher = served.matcher
    with library_errors():
        role_ids = resolve_roles(matcher, body.roles)
        profile = resolve_learner(matcher, to_learner(body))
        report = analyse_gap(matcher, profile, role_ids, body.role_weights).to_dict()
    return json_response(GapReportOut.model_validate(report), served)


@router.post("/recommendations", response_model=RecommendationOut, responses=errors(400, 404, 413, 422, 503))
def recommendations(body: RecommendationsRequest, served: ServedDep, limits: LimitsDep) -> Response:
    """A pathway of credentials that closes as much of the learner's weighted gap as the limits allow, in study
    order, with what each step covers (and the learning outcome that shows it) and the gap left, with reasons."""
    check_target(limits, body)
    limits.texts(("body", "exclude_providers"), body.exclude_providers, limits.max_skills, "providers")
    matcher = served.matcher
    with library_errors():
        role_ids = resolve_roles(matcher, body.roles)
        result = recommend(
            matcher,
            to_learner(body),
            role_ids,
            request_limits(
                body,
                max_hours=body.max_hours,
                max_cost=body.max_cost,
                currency=body.currency,
                max_items=body.max_items,
            ),
            role_weights=body.role_weights,
        )
    return json_response(RecommendationOut.model_validate(result), served)
