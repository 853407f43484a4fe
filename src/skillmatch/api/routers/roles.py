"""``/v1/roles``: find roles and read their weighted skill profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from skillmatch.api.deps import LimitsDep, ServedDep, library_errors
from skillmatch.api.models import RoleHitOut, RoleProfileOut, RoleSearchResponse, RoleSkillOut
from skillmatch.api.routers import API_PREFIX, errors

router = APIRouter(prefix=f"{API_PREFIX}/roles", tags=["roles"])


@router.get("", response_model=RoleSearchResponse, responses=errors(413, 422, 503))
def search_roles(
    served: ServedDep,
    limits: LimitsDep,
    q: Annotated[
        str | None,
        Query(
            description="Job title or role name, or a role of the other taxonomy (an O*NET-SOC code on an "
            "ESCO bundle, an ESCO occupation URI on an O*NET bundle); omit to list roles."
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Most roles returned.")] = 10,
) -> RoleSearchResponse:
    """Roles matching a job title, best first; without ``q``, the roles with the most postings.

    Roles are taxonomy occupations and roles grouped from postings. A query that the ESCO–O*NET crosswalk
    knows returns the roles it maps to first, with the crosswalk's ``match`` type.
    """
    catalog = served.matcher.roles
    if q is not None and q.strip():
        limits.text(("query", "q"), q)
        with library_errors():
            [hits] = catalog.search([q], top_k=limit)
        sources = catalog.roles["source"]
        roles = [
            RoleHitOut(
                id=h.id,
                label=h.label,
                source=str(sources.get(h.id)) if h.id in sources.index else None,
                postings=h.postings,
                score=h.score,
                matched_label=h.matched_label,
                match=h.match,
            )
            for h in hits
        ]
        return RoleSearchResponse(query=q, total=len(roles), roles=roles)
    records = sorted(
        catalog.roles.to_dict("records"), key=lambda r: (-int(r["postings"]), str(r["label"]), str(r["id"]))
    )
    roles = [
        RoleHitOut(
            id=str(r["id"]), label=str(r["label"]), source=str(r["source"]), postings=int(r["postings"])
        )
        for r in records[:limit]
    ]
    return RoleSearchResponse(query=None, total=len(records), roles=roles)


@router.get("/{role_id:path}", response_model=RoleProfileOut, responses=errors(404, 503))
def role_profile(role_id: str, served: ServedDep) -> RoleProfileOut:
    """A role and its weighted skill profile.

    Role ids are URIs: URL-encode them (``/v1/roles/http%3A%2F%2Fdata.europa.eu%2Fesco%2Foccupation%2F...``).
    """
    matcher = served.matcher
    with library_errors():
        info = matcher.roles.info(role_id)
        profile = matcher.roles.profile(role_id)
    skills = [
        RoleSkillOut(
            skill_id=str(r["skill_id"]),
            label=matcher.concept_labels.get(str(r["skill_id"]), str(r["skill_id"])),
            weight=float(r["weight"]),
            postings=int(r["postings"]),
            postings_total=int(r["postings_total"]),
            share=float(r["share"]),
            relation=r["relation"] if isinstance(r["relation"], str) else None,
        )
        for r in profile.to_dict("records")
    ]

    def text(key: str) -> str | None:
        value = info.get(key)
        return str(value) if value is not None and str(value) not in {"", "nan", "None"} else None

    return RoleProfileOut(
        id=role_id,
        label=str(info["label"]),
        source=text("source"),
        description=text("description"),
        isco_group=text("isco_group"),
        postings=int(info["postings"]),
        skills=skills,
    )
