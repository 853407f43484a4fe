"""``/v1/credentials``: search, filter and read the credential catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from skillmatch.api.deps import LimitsDep, ServedDep, library_errors
from skillmatch.api.models import CredentialDetailOut, CredentialSearchResponse, CredentialSummaryOut
from skillmatch.api.routers import API_PREFIX, errors
from skillmatch.matching.catalogue import CredentialFilter
from skillmatch.schema import Level, Mode

router = APIRouter(prefix=f"{API_PREFIX}/credentials", tags=["credentials"])


@router.get("", response_model=CredentialSearchResponse, responses=errors(413, 422, 503))
def search_credentials(
    served: ServedDep,
    limits: LimitsDep,
    q: Annotated[
        str | None, Query(description="Free text: searched in learning outcomes (semantic) and titles.")
    ] = None,
    level: Annotated[list[Level] | None, Query(description="Allowed levels (repeatable).")] = None,
    mode: Annotated[list[Mode] | None, Query(description="Allowed delivery modes (repeatable).")] = None,
    language: Annotated[
        list[str] | None, Query(description="Allowed languages, ISO 639-1 (repeatable).", max_length=20)
    ] = None,
    max_hours: Annotated[
        float | None, Query(ge=0, allow_inf_nan=False, description="Longest duration in hours.")
    ] = None,
    max_cost: Annotated[
        float | None, Query(ge=0, allow_inf_nan=False, description="Highest cost, in `currency`.")
    ] = None,
    currency: Annotated[str, Query(pattern=r"^[A-Za-z]{3}$", description="Currency of max_cost.")] = "EUR",
    min_score: Annotated[
        float, Query(ge=-1.0, le=1.0, description="Semantic hits below this are dropped.")
    ] = 0.35,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> CredentialSearchResponse:
    """Credentials matching ``q`` (best first) or the whole catalogue (by title), filtered and paginated.

    With ``max_cost``/``max_hours``, credentials of unknown cost/duration are left out.
    """
    if q is not None:
        limits.text(("query", "q"), q)
    with library_errors():
        flt = CredentialFilter(
            levels=[lv.value for lv in level or []],
            modes=[m.value for m in mode or []],
            languages=list(language or []),
            max_hours=max_hours,
            max_cost=max_cost,
            currency=currency,
        )
        result = served.catalogue.search(q, flt, limit=limit, offset=offset, min_score=min_score)
    return CredentialSearchResponse(
        total=result.total,
        limit=limit,
        offset=offset,
        items=[CredentialSummaryOut(**hit.to_dict()) for hit in result.items],
    )


@router.get("/{credential_id:path}", response_model=CredentialDetailOut, responses=errors(404, 503))
def get_credential(credential_id: str, served: ServedDep) -> CredentialDetailOut:
    """Every field of one credential and the taxonomy skills it is linked to (best first)."""
    with library_errors():
        record = served.catalogue.get(credential_id)
    return CredentialDetailOut(**record)
