"""``/v1/cohorts``: a cohort of learners against target roles (API key required)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from skillmatch.api.deps import ApiKey, LimitsDep, ServedDep, library_errors
from skillmatch.api.models import CohortOut, CohortRequest
from skillmatch.api.routers import API_PREFIX, errors, json_response
from skillmatch.api.routers.learners import request_limits, to_learner
from skillmatch.matching.cohort import cohort_gaps

router = APIRouter(prefix=f"{API_PREFIX}/cohorts", tags=["cohorts"], dependencies=[ApiKey])


@router.post("/gaps", response_model=CohortOut, responses=errors(400, 401, 404, 413, 422, 503))
def cohort(body: CohortRequest, served: ServedDep, limits: LimitsDep) -> Response:
    """The cohort's gap table and the credentials that close the most gap across the cohort.

    The gap table gives, per role skill, the share of learners missing it or partly covering it and the mean
    gap.
    """
    limits.count(("body", "learners"), body.learners, limits.max_cohort, "learners")
    limits.roles(("body", "roles"), body.roles)
    for i, learner in enumerate(body.learners):
        limits.learner(("body", "learners", i), learner)
    matcher = served.matcher
    with library_errors():
        role_ids = served.service.resolve_roles(body.roles)
        result = cohort_gaps(
            matcher,
            [to_learner(learner, learner.id) for learner in body.learners],
            role_ids,
            limits=request_limits(body),
            top_credentials=body.top_credentials,
        )
    return json_response(CohortOut.model_validate(result), served)
