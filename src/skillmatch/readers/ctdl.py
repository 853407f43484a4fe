"""Credential Transparency Description Language (CTDL JSON-LD) to the catalogue.

Reads ``ceterms:`` credentials (``ceterms:Credential`` and its subclasses such as ``ceterms:Certificate`` or
``ceterms:MicroCredential``), ``ceterms:Course``, ``ceterms:LearningProgram`` and
``ceterms:LearningOpportunityProfile``: a single object, or a registry graph (``@graph``) whose other nodes
(organisations, competencies, blank-node profiles) are looked up when a record refers to them by ``@id``.
A record's id is its ``ceterms:ctid`` (else its ``@id``); references to other records become their ctid, so
``requires`` (prerequisites) and ``isPartOf`` / ``isPreparationFor`` / ``isRequiredFor`` (stacking) point at
catalogue ids. docs/data-formats.md has the field-by-field table.
"""

from __future__ import annotations

import re
from typing import Any

from skillmatch.readers.standard_values import (
    MappedRecord,
    as_list,
    country_code,
    currency_code,
    esco_skill_id,
    iso_hours,
    language_code,
    number,
    text_of,
)

CREDENTIAL_TYPES = frozenset(
    "ceterms:" + name
    for name in (
        "Credential",
        "Certificate",
        "Certification",
        "CertificateOfCompletion",
        "Badge",
        "DigitalBadge",
        "OpenBadge",
        "MicroCredential",
        "Diploma",
        "Degree",
        "AssociateDegree",
        "BachelorDegree",
        "MasterDegree",
        "DoctoralDegree",
        "ApprenticeshipCertificate",
        "JourneymanCertificate",
        "MasterCertificate",
        "License",
        "ProfessionalDoctorate",
        "ResearchDoctorate",
    )
)
LEARNING_TYPES = frozenset(
    {"ceterms:Course", "ceterms:LearningProgram", "ceterms:LearningOpportunityProfile"}
)

#: ``ceterms:deliveryType`` concepts -> catalogue modes.
DELIVERY = {
    "deliverytype:inperson": "physical",
    "deliverytype:onlineonly": "online",
    "deliverytype:blendeddelivery": "hybrid",
}
#: ``ceterms:audienceLevelType`` concepts -> catalogue levels (other audience levels are kept as tags).
AUDIENCE = {
    "audlevel:beginnerlevel": "beginner",
    "audlevel:intermediatelevel": "intermediate",
    "audlevel:advancedlevel": "advanced",
}
_CTID = re.compile(r"(ce-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.IGNORECASE)


def is_ctdl(doc: dict[str, Any]) -> bool:
    """Whether a JSON object is CTDL (a ``ceterms:`` type or keys, or the Credential Registry context)."""
    if any(str(t).startswith("ceterms:") for t in as_list(doc.get("@type"))):
        return True
    if any(str(k).startswith("ceterms:") for k in doc):
        return True
    return "@graph" in doc and any("credreg.net" in str(c) for c in as_list(doc.get("@context")))


def _texts(value: Any) -> list[str]:
    """Every text of a list-valued field: a list, or a language map of lists (``{"en-US": ["a", "b"]}``)."""
    if isinstance(value, dict) and "@value" not in value:
        lowered = {str(k).lower(): v for k, v in value.items()}
        chosen: Any = next(
            (lowered[t] for t in ("en", "en-us", "en-gb") if t in lowered), next(iter(value.values()), [])
        )
        return [t for t in (text_of(v) for v in as_list(chosen)) if t]
    return [t for t in (text_of(v) for v in as_list(value)) if t]


def _type(node: dict[str, Any]) -> str:
    types = [str(t) for t in as_list(node.get("@type"))]
    return types[0] if types else ""


def _is_supporting(node: dict[str, Any]) -> bool:
    """Graph nodes that records refer to: blank nodes, organisations, competencies and frameworks."""
    kind = _type(node)
    return str(node.get("@id", "")).startswith("_:") or "Organization" in kind or kind.startswith("ceasn:")


class _Graph:
    """The nodes of one CTDL document, to resolve references by ``@id``."""

    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = {str(n["@id"]): n for n in nodes if isinstance(n, dict) and n.get("@id")}

    def resolve(self, ref: Any) -> dict[str, Any] | None:
        if isinstance(ref, dict):
            return self.nodes.get(str(ref.get("@id")), ref) if set(ref) <= {"@id"} else ref
        return self.nodes.get(str(ref)) if isinstance(ref, str) else None

    def ref_id(self, ref: Any) -> str | None:
        """The catalogue id a reference points at: the target's ctid where known, else the reference."""
        node = self.resolve(ref)
        if node is not None and node.get("ceterms:ctid"):
            return str(node["ceterms:ctid"])
        text = ref.get("@id") if isinstance(ref, dict) else ref
        if not isinstance(text, str) or not text.strip():
            return None
        match = _CTID.search(text.strip())
        return match.group(1).lower() if match else text.strip()

    def name(self, ref: Any) -> str | None:
        node = self.resolve(ref)
        if node is not None:
            return text_of(node.get("ceterms:name")) or text_of(node.get("@id"))
        return text_of(ref)


def records_of(doc: dict[str, Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]], _Graph]:
    """The credential/learning records of a CTDL document with their record numbers, the unusable nodes, the graph.

    A single object is record 1; in a ``@graph`` a record's number is its 1-based position in the graph.
    Nodes of an unknown ``ceterms:`` type (not a record and not a supporting node) are returned as problems.
    """
    nodes = doc["@graph"] if isinstance(doc.get("@graph"), list) else [doc]
    graph = _Graph(nodes)
    found: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    for pos, node in enumerate(nodes, start=1):
        if not isinstance(node, dict):
            problems.append((pos, f"expected a JSON object, got {type(node).__name__}"))
        elif _type(node) in CREDENTIAL_TYPES | LEARNING_TYPES:
            found.append((pos, node))
        elif len(nodes) == 1 or not _is_supporting(node):
            problems.append(
                (
                    pos,
                    f"CTDL type {_type(node) or '(none)'!r} is not a credential, course or learning program",
                )
            )
    return found, problems, graph


def _alignment_key(item: Any) -> str:
    return (
        str(item.get("ceterms:targetNode", "")).strip().lower()
        if isinstance(item, dict)
        else str(item).lower()
    )


def _competency(graph: _Graph, item: Any) -> str | None:
    """A skill for the catalogue from a CredentialAlignmentObject or competency: ESCO URI, else its name."""
    node = graph.resolve(item) or {}
    target = node.get("ceterms:targetNode") or node.get("@id") or (item if isinstance(item, str) else None)
    framework = text_of(node.get("ceterms:frameworkName")) or str(node.get("ceterms:framework", ""))
    uri = esco_skill_id(target, framework) or esco_skill_id(node.get("ceterms:targetNodeName"), framework)
    if uri:
        return uri
    target_node = graph.resolve(target) if isinstance(target, str) else None
    return (
        text_of(node.get("ceterms:targetNodeName"))
        or text_of(node.get("ceasn:competencyLabel"))
        or text_of(node.get("ceasn:competencyText"))
        or (text_of(target_node.get("ceasn:competencyText")) if target_node else None)
        or (target if isinstance(target, str) else None)  # an id of another framework: resolves or is refused
    )


def _duration(record: MappedRecord, profiles: list[Any]) -> None:
    if not profiles:
        return
    profile = profiles[0] if isinstance(profiles[0], dict) else {}
    for key in ("ceterms:exactDuration", "ceterms:maximumDuration", "ceterms:minimumDuration"):
        if profile.get(key) is not None:
            record.attempt("duration_hours", f"ceterms:estimatedDuration.{key}", iso_hours, profile[key])
            return


def _cost(record: MappedRecord, graph: _Graph, profiles: list[Any]) -> None:
    if not profiles:
        return
    profile = graph.resolve(profiles[0]) or {}
    prices = [p for p in as_list(profile.get("ceterms:price")) if p is not None]
    if not prices:
        return
    at = "ceterms:estimatedCost.ceterms:price"
    try:
        record.put("cost", sum(number(p) for p in prices), at)
    except ValueError as exc:
        record.fail(at, str(exc))
    if profile.get("ceterms:currency") is None:
        record.fail("ceterms:estimatedCost.ceterms:currency", "a price needs its ISO 4217 currency")
    else:
        record.attempt(
            "currency", "ceterms:estimatedCost.ceterms:currency", currency_code, profile["ceterms:currency"]
        )


def _organisation(record: MappedRecord, graph: _Graph, node: dict[str, Any]) -> None:
    offered = as_list(node.get("ceterms:offeredBy"))
    owned = as_list(node.get("ceterms:ownedBy"))
    if offered:
        record.put("provider", graph.name(offered[0]), "ceterms:offeredBy")
    elif owned:
        record.put("provider", graph.name(owned[0]), "ceterms:ownedBy")
    body_ref, at = (
        (owned[0], "ceterms:ownedBy")
        if owned
        else (offered[0], "ceterms:offeredBy")
        if offered
        else (None, "")
    )
    if body_ref is None:
        return
    record.put("issuer", graph.name(body_ref), at)
    body = graph.resolve(body_ref) or {}
    for address in as_list(body.get("ceterms:address")):
        country = address.get("ceterms:addressCountry") if isinstance(address, dict) else None
        if country:
            record.attempt(
                "issuer_country",
                f"{at}.ceterms:address.ceterms:addressCountry",
                country_code,
                text_of(country),
            )
            return


def _conditions(record: MappedRecord, graph: _Graph, node: dict[str, Any], learning: bool) -> None:
    """``requires`` (prerequisites) and the stacking links."""
    for key in ("ceterms:requires", "ceterms:prerequisite"):
        for condition in as_list(node.get(key)):
            condition = graph.resolve(condition) or {}
            targets = [
                *as_list(condition.get("ceterms:targetCredential")),
                *as_list(condition.get("ceterms:targetLearningOpportunity")),
            ]
            record.extend("prerequisites", [graph.ref_id(t) or "" for t in targets], key)
            skills = [_competency(graph, c) or "" for c in as_list(condition.get("ceterms:targetCompetency"))]
            record.extend(
                "prerequisite_skills" if learning else "skills", skills, f"{key}.ceterms:targetCompetency"
            )
            text = text_of(condition.get("ceterms:description"))
            if text:
                field = "entry_requirements" if learning else "assessment"
                record.put(
                    field,
                    "; ".join(filter(None, [record.data.get(field), text])),
                    f"{key}.ceterms:description",
                )
    record.extend(
        "stackable_into",
        [graph.ref_id(t) or "" for t in as_list(node.get("ceterms:isPartOf"))],
        "ceterms:isPartOf",
    )
    for key in ("ceterms:isPreparationFor", "ceterms:isRequiredFor"):
        for condition in as_list(node.get(key)):
            condition = graph.resolve(condition) or {}
            targets = [
                *as_list(condition.get("ceterms:targetCredential")),
                *as_list(condition.get("ceterms:targetLearningOpportunity")),
            ]
            record.extend("stackable_into", [graph.ref_id(t) or "" for t in targets], key)


def map_ctdl(node: dict[str, Any], row: int, graph: _Graph) -> MappedRecord:
    """Map one CTDL credential, course or learning program to catalogue fields."""
    record = MappedRecord(row)
    learning = _type(node) in LEARNING_TYPES
    record.put("id", node.get("ceterms:ctid") or node.get("@id"), "ceterms:ctid")
    record.put("title", text_of(node.get("ceterms:name")), "ceterms:name")
    record.put("description", text_of(node.get("ceterms:description")), "ceterms:description")
    record.put("url", text_of(node.get("ceterms:subjectWebpage")), "ceterms:subjectWebpage")
    record.extend(
        "skills",
        [_competency(graph, c) or "" for c in as_list(node.get("ceterms:teaches"))],
        "ceterms:teaches",
    )
    _duration(record, as_list(node.get("ceterms:estimatedDuration")))
    _cost(record, graph, as_list(node.get("ceterms:estimatedCost")))
    levels = [AUDIENCE.get(_alignment_key(a)) for a in as_list(node.get("ceterms:audienceLevelType"))]
    known = sorted({lv for lv in levels if lv}, key=["beginner", "intermediate", "advanced"].index)
    record.put("level", known[0] if known else None, "ceterms:audienceLevelType")
    for item, level in zip(as_list(node.get("ceterms:audienceLevelType")), levels, strict=True):
        if level is None:
            name = text_of(item.get("ceterms:targetNodeName")) if isinstance(item, dict) else None
            record.extend("tags", [f"audience: {name or _alignment_key(item)}"], "ceterms:audienceLevelType")
    deliveries = as_list(node.get("ceterms:deliveryType"))
    modes = set()
    for item in deliveries:
        mode = DELIVERY.get(_alignment_key(item))
        if mode is None:
            record.fail(
                "ceterms:deliveryType",
                f"unknown delivery type {_alignment_key(item)!r}; expected deliveryType:InPerson, OnlineOnly or BlendedDelivery",
            )
        modes.add(mode)
    if modes and None not in modes:
        record.put("mode", modes.pop() if len(modes) == 1 else "hybrid", "ceterms:deliveryType")
    languages = [str(x) for x in as_list(node.get("ceterms:inLanguage"))]
    if languages:
        record.attempt("language", "ceterms:inLanguage", language_code, languages[0])
        record.extend("tags", [f"language: {x}" for x in languages[1:]], "ceterms:inLanguage")
    credits = as_list(node.get("ceterms:creditValue"))
    if credits and isinstance(credits[0], dict):
        value = credits[0].get("schema:value", credits[0].get("qdata:value"))
        record.attempt("credits", "ceterms:creditValue", number, value)
        units = [
            text_of(u.get("ceterms:targetNodeName")) or _alignment_key(u)
            for u in as_list(credits[0].get("ceterms:creditUnitType"))
            if isinstance(u, dict)
        ]
        record.put("credit_system", units[0] if units else None, "ceterms:creditValue.ceterms:creditUnitType")
    quality = [f"accredited by {graph.name(r)}" for r in as_list(node.get("ceterms:accreditedBy"))]
    quality += [f"approved by {graph.name(r)}" for r in as_list(node.get("ceterms:approvedBy"))]
    record.put("quality_assurance", "; ".join(quality), "ceterms:accreditedBy")
    record.extend("tags", _texts(node.get("ceterms:keyword")), "ceterms:keyword")
    _conditions(record, graph, node, learning)
    _organisation(record, graph, node)
    return record
