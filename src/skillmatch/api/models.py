"""Request and response models of the HTTP API (they make the OpenAPI schema, with examples).

Requests refuse unknown fields (a typo such as ``max_hour`` is a 422, not a silently ignored filter). Size
limits that depend on settings (number of texts, text length, cohort size) are checked by
:mod:`skillmatch.api.limits` and answered with 413. Responses mirror the dicts the library returns (the CLI
prints the same shapes).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from skillmatch.schema import Level, Mode

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Currency = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{3}$")]
Language = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=8)]


class Request(BaseModel):
    """Base of request bodies: unknown fields are errors, and so are NaN and infinite numbers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# --- errors ---------------------------------------------------------------------------------------------------


class ErrorItem(BaseModel):
    """One problem with a request, located by ``loc`` (e.g. ``["body", "texts", 3]``)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every error answer: a message, or a list of located problems (422, 413)."""

    detail: str | list[ErrorItem] | list[dict[str, Any]]


# --- skills -----------------------------------------------------------------------------------------------------


class ExtractRequest(Request):
    """Texts to link to taxonomy skills."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "texts": [
                        "Analyse sales data with SQL and present the results to managers.",
                        "Care for patients and give medication.",
                    ],
                    "top_k": 5,
                }
            ]
        },
    )

    texts: list[str] = Field(min_length=1, description="Texts to link (empty texts give no skills).")
    top_k: int = Field(10, ge=1, le=100, description="Most skills returned per text.")
    min_score: float | None = Field(
        None, ge=-1.0, le=1.0, description="Score threshold (default: the bundle's calibrated one)."
    )


class LinkedSkillOut(BaseModel):
    """A taxonomy skill linked to a text, with the segment and label that matched."""

    id: str
    label: str
    score: float
    evidence: str
    matched_label: str


class ExtractResult(BaseModel):
    """The skills of one input text."""

    text: str
    skills: list[LinkedSkillOut]


class ExtractResponse(BaseModel):
    """One result per input text, in order."""

    results: list[ExtractResult]


# --- roles ------------------------------------------------------------------------------------------------------


class RoleHitOut(BaseModel):
    """A role in the catalogue; ``score`` and ``matched_label`` are set when found by a query.

    ``match`` is the ESCO–O*NET crosswalk's match type (``exactMatch``, ``closeMatch``, ``narrowMatch``,
    ``broadMatch``) of a role found through the crosswalk (the query was an O*NET-SOC code or an ESCO URI of the
    other taxonomy; ``matched_label`` is then that code or URI), else null.
    """

    id: str
    label: str
    source: str | None = None
    postings: int
    score: float | None = None
    matched_label: str | None = None
    match: str | None = None


class RoleSearchResponse(BaseModel):
    """Roles found for a query (best first), or the catalogue by number of postings."""

    query: str | None
    total: int
    roles: list[RoleHitOut]


class RoleSkillOut(BaseModel):
    """One weighted skill of a role profile."""

    skill_id: str
    label: str
    weight: float
    postings: int
    postings_total: int
    share: float
    relation: str | None


class RoleProfileOut(BaseModel):
    """A role and its weighted skill profile (heaviest first)."""

    id: str
    label: str
    source: str | None
    description: str | None
    isco_group: str | None
    postings: int
    skills: list[RoleSkillOut]


# --- credentials ------------------------------------------------------------------------------------------------


class CredentialSummaryOut(BaseModel):
    """A credential in search results; ``match`` says whether its title and/or an outcome matched."""

    id: str
    title: str | None
    provider: str | None
    url: str | None
    level: str | None
    mode: str | None
    language: str | None
    duration_hours: float | None
    cost: float | None
    currency: str | None
    credits: float | None
    credit_system: str | None
    eqf_level: int | None
    score: float | None = None
    match: str | None = None
    evidence: str | None = Field(None, description="The learning outcome that matched best.")


class CredentialSearchResponse(BaseModel):
    """A page of credentials; ``total`` counts every match."""

    total: int
    limit: int
    offset: int
    items: list[CredentialSummaryOut]


class CredentialSkillOut(BaseModel):
    """A taxonomy skill a credential teaches, with the outcome it was linked from."""

    skill_id: str
    label: str
    score: float
    evidence: str


class CredentialDetailOut(BaseModel):
    """Every field of a credential and the skills it is linked to."""

    id: str
    title: str | None
    provider: str | None
    url: str | None
    description: str | None
    learning_outcomes: list[str]
    skills: list[str] = Field(description="Skills as the catalogue states them (free text).")
    level: str | None
    eqf_level: int | None
    nsqf_level: int | None
    mode: str | None
    language: str | None
    duration_hours: float | None
    credits: float | None
    credit_system: str | None
    cost: float | None
    currency: str | None
    assessment: str | None
    quality_assurance: str | None
    prerequisites: list[str]
    stackable_into: list[str]
    issuer: str | None
    issuer_country: str | None
    linked_skills: list[CredentialSkillOut]


# --- learners, gaps and recommendations -------------------------------------------------------------------------


class LearnerIn(Request):
    """What a learner has: skills (free text, optionally "Python: advanced"), CV text, held credential ids."""

    skills: list[str] = Field(
        default_factory=list, description='Skills as free text; a suffix such as ": advanced" sets a level.'
    )
    cv: str | None = Field(None, description="CV or paragraph text.")
    credentials_held: list[str] = Field(default_factory=list, description="Ids of credentials already held.")

    @model_validator(mode="after")
    def _needs_something(self) -> LearnerIn:
        if (
            not any(s.strip() for s in self.skills)
            and not (self.cv or "").strip()
            and not self.credentials_held
        ):
            raise ValueError("tell us what the learner has: skills, cv and/or credentials_held")
        return self


class TargetIn(LearnerIn):
    """A learner and the target role(s)."""

    roles: list[NonBlank] = Field(min_length=1, description="Target roles: ids or names.")
    role_weights: list[Annotated[float, Field(gt=0, le=1e6)]] | None = Field(
        None, description="Weight of each role, relative to the others (default: equal)."
    )

    @model_validator(mode="after")
    def _weights_match(self) -> TargetIn:
        if self.role_weights is not None and len(self.role_weights) != len(self.roles):
            raise ValueError(f"role_weights has {len(self.role_weights)} values for {len(self.roles)} roles")
        return self


class GapsRequest(TargetIn):
    """Gap analysis of a learner against one or more roles."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"roles": ["data analyst"], "skills": ["SQL", "Python: beginner", "Excel"]}]
        },
    )


class GapRoleOut(BaseModel):
    """A target role of the analysis and its share of the combined profile."""

    id: str
    label: str
    weight: float
    postings: int
    skills: int


class GapItemOut(BaseModel):
    """One skill of the role profile: its weight, how far the learner covers it and the gap left."""

    skill_id: str
    label: str
    weight: float
    coverage: float
    status: str = Field(description="covered, partial or missing")
    gap_weight: float
    matched_by: str | None
    match_kind: str | None = Field(description="exact, level, broader, narrower or similar")
    relation: str | None
    learner_level: str | None
    required_level: str | None


class HeldSkillOut(BaseModel):
    """A taxonomy skill the learner has and where it came from."""

    id: str
    label: str
    level: str | None
    confidence: float
    source: str
    evidence: str


class LearnerProfileOut(BaseModel):
    """The learner resolved to taxonomy skills; ``unmatched`` lists skill texts that linked to nothing."""

    id: str
    skills: list[HeldSkillOut]
    credentials_held: list[str]
    unmatched: list[str]


class GapReportOut(BaseModel):
    """A learner against the target role(s)."""

    roles: list[GapRoleOut]
    coverage: float
    counts: dict[str, int]
    skills: list[GapItemOut]
    learner: LearnerProfileOut


class RecommendationsRequest(TargetIn):
    """A pathway of credentials towards the target role(s), within the learner's limits."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "roles": ["data analyst"],
                    "skills": ["SQL", "Excel: advanced"],
                    "max_hours": 120,
                    "max_cost": 500,
                    "currency": "EUR",
                    "languages": ["en"],
                }
            ]
        },
    )

    max_hours: float | None = Field(None, ge=0, description="Most study hours in total.")
    max_cost: float | None = Field(None, ge=0, description="Most cost in total, in `currency`.")
    currency: Currency = Field("EUR", description="Currency of max_cost and of the totals.")
    max_items: int | None = Field(None, ge=1, le=100, description="Most credentials in the pathway.")
    levels: list[Level] = Field(default_factory=list, description="Allowed credential levels.")
    modes: list[Mode] = Field(default_factory=list, description="Allowed delivery modes.")
    languages: list[Language] = Field(default_factory=list, description="Allowed languages (ISO 639-1).")
    exclude_providers: list[str] = Field(default_factory=list, description="Providers to leave out.")


class PathwayCredentialOut(BaseModel):
    """The credential of one pathway step."""

    id: str
    title: str | None
    provider: str | None
    url: str | None
    level: str | None
    mode: str | None
    language: str | None
    duration_hours: float | None
    cost: float | None
    currency: str | None
    credits: float | None
    credit_system: str | None
    stackable_into: list[str] | None


class CoverOut(BaseModel):
    """A gap skill a step covers, how fully, and the learning outcome that shows it."""

    skill_id: str
    label: str
    gap_weight: float
    degree: float
    outcome: str
    taught_skill: str
    match_kind: str


class RequirementOut(BaseModel):
    """A skill a credential requires before it can be taken, and what meets it."""

    skill_id: str
    label: str
    level: Level
    met_by: str


class PathwayStepOut(BaseModel):
    """One credential of the pathway, in study order."""

    step: int
    credential: PathwayCredentialOut
    cost_in_currency: float | None
    gain: float
    covers: list[CoverOut]
    prerequisites: list[str]
    required_by: str | None = Field(description="Set when the step is a prerequisite of that credential.")
    requires: list[RequirementOut] = Field(
        default_factory=list,
        description="The skills this credential requires, at a level, and how each is met: 'learner' when the "
        "learner has it, else the id of the earlier step that teaches it.",
    )


class RemainingGapOut(BaseModel):
    """A gap skill the pathway does not fully close, and why."""

    skill_id: str
    label: str
    gap_weight: float
    remaining: float
    reason: str
    best_candidate: str | None


class TotalsOut(BaseModel):
    """Totals of the pathway."""

    items: int
    hours: float
    cost: float
    currency: str
    cost_unknown: int = Field(
        0, description="Credentials of the pathway whose price is unknown (not in `cost`)."
    )


class RecommendationOut(BaseModel):
    """A pathway of credentials with its coverage gain, explanations and the gap it leaves."""

    roles: list[GapRoleOut]
    coverage_before: float
    coverage_after: float
    gap_total: float
    gap_closed: float
    method: str
    totals: TotalsOut
    pathway: list[PathwayStepOut]
    remaining_gap: list[RemainingGapOut]
    excluded: dict[str, list[str]] = Field(description="Credentials left out by the filters, by reason.")
    learner: LearnerProfileOut


# --- cohorts ------------------------------------------------------------------------------------------------------


class CohortLearnerIn(LearnerIn):
    """One learner of a cohort."""

    id: NonBlank


class CohortRequest(Request):
    """A cohort of learners against target role(s)."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "roles": ["data analyst"],
                    "learners": [
                        {"id": "s1", "skills": ["SQL"]},
                        {"id": "s2", "skills": ["statistics", "Python"]},
                    ],
                }
            ]
        },
    )

    learners: list[CohortLearnerIn] = Field(min_length=1)
    roles: list[NonBlank] = Field(min_length=1, description="Target roles: ids or names.")
    levels: list[Level] = Field(default_factory=list, description="Credential levels considered.")
    modes: list[Mode] = Field(default_factory=list, description="Delivery modes considered.")
    languages: list[Language] = Field(default_factory=list, description="Languages considered.")
    exclude_providers: list[str] = Field(default_factory=list)
    top_credentials: int = Field(10, ge=1, le=100, description="Credentials listed.")

    @model_validator(mode="after")
    def _unique_ids(self) -> CohortRequest:
        counts = Counter(learner.id for learner in self.learners)  # linear: 20,000 ids once took 62 s
        duplicates = sorted(i for i, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate learner ids: {', '.join(duplicates[:10])}")
        return self


class CohortGapOut(BaseModel):
    """One role skill across the cohort."""

    skill_id: str
    label: str
    weight: float
    share_missing: float
    share_partial: float
    mean_gap_weight: float
    learners: int


class CohortCredentialOut(BaseModel):
    """A credential and how much gap it closes across the cohort."""

    id: str
    title: str | None
    provider: str | None
    level: str | None
    duration_hours: float | None
    cost: float | None
    currency: str | None
    total_gap_closed: float
    learners_helped: int
    mean_gap_closed: float


class CohortLearnerOut(BaseModel):
    """One learner's coverage."""

    id: str
    coverage: float
    missing: int
    unmatched_skills: list[str]


class RoleRefOut(BaseModel):
    """A role id and label."""

    id: str
    label: str


class CohortOut(BaseModel):
    """The cohort gap table and the credentials that close the most gap."""

    roles: list[RoleRefOut]
    learners: int
    mean_coverage: float
    gaps: list[CohortGapOut]
    credentials: list[CohortCredentialOut]
    per_learner: list[CohortLearnerOut]


# --- operations -----------------------------------------------------------------------------------------------


class HealthOut(BaseModel):
    """Liveness."""

    status: str = "ok"


class BackendTimingOut(BaseModel):
    """One candidate backend as ``auto`` measured it."""

    backend: str
    phrases_per_s: float | None = Field(
        description="Phrases per second on the probe phrases (null: not timed)."
    )
    ms_per_run: float | None = None
    rounds: int = 0
    min_cosine: float | None = Field(description="Smallest cosine of its vectors with float32's.")
    accepted: bool = Field(description="Whether its vectors agree with float32 (cosine >= 0.998).")
    note: str = ""


class EncoderSelectionOut(BaseModel):
    """What ``auto`` measured (empty when the backend was set explicitly)."""

    workload: str | None = Field(None, description="serving: short runs, as requests send them.")
    threads: int | None = Field(
        None, description="Encoder threads the candidates were timed with (0: all cores)."
    )
    measured_at: str | None = None
    candidates: list[BackendTimingOut] = []


class EncoderProcessOut(BaseModel):
    """The process that encodes short request texts (``api_encoder_process``)."""

    pid: int | None = Field(description="The encoder process's id.")
    state: str = Field(description="running, or stopped: the server process encodes instead (see reason).")
    reason: str | None = Field(None, description="Why the server process took over, while it does.")
    restarts: int = Field(
        0,
        description="Restarts of the encoder process after it ended unasked, counted toward the limit of 3 "
        "within 10 minutes (older ones drop out when it next ends).",
    )
    child_calls: int = Field(description="Calls the encoder process answered since the bundle was loaded.")
    child_texts: int = Field(description="Texts in those calls.")
    parent_calls: int = Field(
        description="Calls the server process encoded itself (long calls, or after a stop)."
    )


class EncoderOut(BaseModel):
    """The encoder of request texts."""

    backend: str = Field(description="e.g. onnx, onnx-int8-block, torch.")
    fingerprint: str = Field(description="The model's fingerprint at this precision.")
    chosen_by: str = Field(
        description='"setting", or how auto chose (measured now, or a cached measurement).'
    )
    selection: EncoderSelectionOut
    cpu: dict[str, str | list[str]] = Field(
        description="The CPU the choice was measured on: model, arch, flags."
    )
    process: EncoderProcessOut | None = Field(
        None,
        description="The process of its own that encodes short request texts; null: the server's own thread.",
    )


class BundleSummaryOut(BaseModel):
    """The served bundle."""

    name: str = Field(description="The bundle's folder name.")
    path: str | None = Field(
        description="The bundle's absolute folder on the server: only for a request with an API key, else null."
    )
    generation: int = Field(description="Increases by one with every bundle swapped in.")
    loaded_at: float = Field(description="Unix time of the load.")
    created: str | None
    taxonomy: dict[str, str]
    model: dict[str, str | int]
    encoder: EncoderOut = Field(description="How request texts are encoded, and why with that backend.")
    counts: dict[str, int]
    skillmatch: str | None


class ReadyOut(BaseModel):
    """Readiness: the bundle is loaded."""

    status: str = "ready"
    bundle: BundleSummaryOut


class ReloadRequest(Request):
    """Which bundle to load (default: the served bundle's folder again, e.g. after a rebuild)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"bundle": "models/bundles/demo"}]}
    )

    bundle: str | None = Field(
        None, min_length=1, max_length=4096, description="Bundle folder on the server."
    )


class ReloadOut(BaseModel):
    """The result of a successful reload."""

    status: str = "reloaded"
    previous: BundleSummaryOut | None
    current: BundleSummaryOut
