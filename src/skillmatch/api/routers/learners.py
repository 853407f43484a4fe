"""``/v1/gaps`` and ``/v1/recommendations``: one learner against target roles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import Field

from skillmatch.api.deps import LimitsDep, RunnerDep, ServedDep, library_errors
from skillmatch.api.formats import PATHWAY_RESPONSES, PathwayFormat, negotiate, pathway_response
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
from skillmatch.matching.gaps import Learner, make_learner
from skillmatch.matching.recommend import Limits

router = APIRouter(prefix=API_PREFIX, tags=["learners"])


def to_learner(body: LearnerIn, learner_id: str = "learner") -> Learner:
    """The library's learner from a request body."""
    return make_learner(body.skills, body.cv, body.credentials_held, learner_id)


def request_limits(body: RecommendationsRequest | CohortRequest, **budget: Any) -> Limits:
    """The recommender's limits: the request's catalogue filters plus ``budget``.

    The filters are levels, modes, languages and excluded providers; ``budget`` holds hours, cost, currency
    and items.
    """
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
    limits.request_chars(("body",), body)


@router.post("/gaps", response_model=GapReportOut, responses=errors(400, 404, 413, 422, 503))
async def gaps(body: GapsRequest, served: ServedDep, limits: LimitsDep, runner: RunnerDep) -> Response:
    """Compare a learner with one or more roles.

    Each skill of the role profile is covered, partly covered or missing, with its weight and the gap it
    leaves.
    """
    return await runner.run(
        lambda: _gaps(body, served, limits),
        inline=runner.small(body, body.roles),
        encoder=served.service.encoder,
    )


def _gaps(body: GapsRequest, served: ServedDep, limits: LimitsDep) -> Response:
    check_target(limits, body)
    with library_errors():
        report = served.service.gaps(body.roles, to_learner(body), role_weights=body.role_weights).to_dict()
    return json_response(GapReportOut.model_validate(report), served)


class RecommendationsQuery(RecommendationsRequest):
    """The query parameters of ``GET /v1/recommendations``: the fields of the POST body, plus ``format``."""

    format: PathwayFormat | None = Field(None, description="json (default), csv or ob3; overrides Accept.")


FormatQuery = Annotated[
    PathwayFormat | None,
    Query(description="json (default), csv or ob3 (Open Badges 3.0 achievements); overrides Accept."),
]
AcceptHeader = Annotated[str | None, Header(include_in_schema=False)]


@router.post(
    "/recommendations",
    response_model=RecommendationOut,
    responses={**PATHWAY_RESPONSES, **errors(400, 404, 413, 422, 503)},
)
async def recommendations(
    body: RecommendationsRequest,
    served: ServedDep,
    limits: LimitsDep,
    runner: RunnerDep,
    format: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Response:
    """A pathway of credentials that closes as much of the learner's weighted gap as the limits allow.

    The steps come in study order, with what each step covers (and the learning outcome that shows it), and
    the gap left, with reasons. ``format`` (or the ``Accept`` header) asks for CSV or Open Badges 3.0 instead.
    """
    fmt = negotiate(format, accept)
    return await runner.run(
        lambda: _recommend(body, served, limits, fmt),
        inline=runner.small(body, body.roles),
        encoder=served.service.encoder,
    )


@router.get(
    "/recommendations",
    response_model=RecommendationOut,
    responses={**PATHWAY_RESPONSES, **errors(404, 413, 422, 503)},
)
async def recommendations_get(
    params: Annotated[RecommendationsQuery, Query()],
    served: ServedDep,
    limits: LimitsDep,
    runner: RunnerDep,
    accept: AcceptHeader = None,
) -> Response:
    """The same as ``POST /v1/recommendations``, with the body's fields as query parameters (lists repeated)."""
    fmt = negotiate(params.format, accept)
    return await runner.run(
        lambda: _recommend(params, served, limits, fmt),
        inline=runner.small(params, params.roles),
        encoder=served.service.encoder,
    )


def _recommend(
    body: RecommendationsRequest, served: ServedDep, limits: LimitsDep, fmt: PathwayFormat
) -> Response:
    check_target(limits, body)
    limits.texts(("body", "exclude_providers"), body.exclude_providers, limits.max_skills, "providers")
    with library_errors():
        result = served.service.recommend(
            body.roles,
            to_learner(body),
            limits=request_limits(
                body,
                max_hours=body.max_hours,
                max_cost=body.max_cost,
                currency=body.currency,
                max_items=body.max_items,
            ),
            role_weights=body.role_weights,
        )
    return pathway_response(result, fmt, served)
