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


@router.post("/gaps", response_model=GapReportOut, responses=errors(400, 404, 413, 422, 503))
def gaps(body: GapsRequest, served: ServedDep, limits: LimitsDep) -> Response:
    """Compare a learner with one or more roles.

    Each skill of the role profile is covered, partly covered or missing, with its weight and the gap it
    leaves.
    """
    check_target(limits, body)
    with library_errors():
        report = served.service.gaps(body.roles, to_learner(body), role_weights=body.role_weights).to_dict()
    return json_response(GapReportOut.model_validate(report), served)


@router.post("/recommendations", response_model=RecommendationOut, responses=errors(400, 404, 413, 422, 503))
def recommendations(body: RecommendationsRequest, served: ServedDep, limits: LimitsDep) -> Response:
    """A pathway of credentials that closes as much of the learner's weighted gap as the limits allow.

    The steps come in study order, with what each step covers (and the learning outcome that shows it), and
    the gap left, with reasons.
    """
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
    return json_response(RecommendationOut.model_validate(result, from_attributes=True), served)
