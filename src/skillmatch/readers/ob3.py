"""Open Badges 3.0: an ``AchievementCredential`` / ``OpenBadgeCredential`` (or a bare ``Achievement``) to the catalogue.

The achievement is the catalogue item: its ``id`` is the credential id, ``name`` the title, ``criteria`` the
assessment, ``alignment[]`` to ESCO skills the explicit skills (other frameworks are kept as tags). Every
credential is first checked against :data:`OB3_SCHEMA`; each schema error becomes a reject.

:data:`OB3_SCHEMA` is a subset of the 1EdTech "Open Badges Specification v3.0" JSON Schema
``ob_v3p0_achievementcredential_schema.json`` (https://purl.imsglobal.org/spec/ob/v3p0/schema/json/), written
out here by the skillmatch team from the published specification: the required properties and the types of the
properties this reader uses. It is not a copy of the 1EdTech file (no package on PyPI or npm ships that file, and
nothing else can be downloaded here); the full schema also constrains properties skillmatch does not read
(proofs, evidence, endorsements, images...), which this subset leaves unchecked.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft201909Validator

from skillmatch.readers.standard_values import (
    MappedRecord,
    as_list,
    country_code,
    esco_skill_id,
    number,
    text_of,
)

_TYPES = {"type": "array", "minItems": 1, "items": {"type": "string"}}


def _typed(name: str) -> dict[str, Any]:
    """A ``type`` property that is ``name`` or an array containing it (as OB 3.0 allows)."""
    return {"oneOf": [{"const": name}, {**_TYPES, "contains": {"const": name}}]}


_PROFILE = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {
        "id": {"type": "string"},
        "type": _typed("Profile"),
        "name": {"type": "string"},
        "url": {"type": "string"},
        "address": {
            "type": "object",
            "properties": {"addressCountry": {"type": "string"}, "addressCountryCode": {"type": "string"}},
        },
    },
}

#: The checked subset of the OB 3.0 AchievementCredential JSON Schema (see the module docstring).
OB3_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2019-09/schema",
    "title": "AchievementCredential (skillmatch subset of the 1EdTech OB 3.0 schema)",
    "type": "object",
    "required": ["@context", "id", "type", "issuer", "credentialSubject"],
    "anyOf": [{"required": ["validFrom"]}, {"required": ["issuanceDate"]}],
    "properties": {
        "@context": {"type": "array", "minItems": 2},
        "id": {"type": "string"},
        "type": {
            **_TYPES,
            "allOf": [
                {"contains": {"const": "VerifiableCredential"}},
                {"contains": {"enum": ["AchievementCredential", "OpenBadgeCredential"]}},
            ],
        },
        "name": {"type": "string"},
        "issuer": {"$ref": "#/$defs/Profile"},
        "validFrom": {"type": "string"},
        "credentialSubject": {
            "type": "object",
            "required": ["type", "achievement"],
            "properties": {
                "type": _typed("AchievementSubject"),
                "achievement": {"$ref": "#/$defs/Achievement"},
            },
        },
    },
    "$defs": {
        "Profile": _PROFILE,
        "Achievement": {
            "type": "object",
            "required": ["id", "type", "criteria", "description", "name"],
            "properties": {
                "id": {"type": "string"},
                "type": _typed("Achievement"),
                "name": {"type": "string"},
                "description": {"type": "string"},
                "criteria": {
                    "type": "object",
                    "anyOf": [{"required": ["id"]}, {"required": ["narrative"]}],
                    "properties": {"id": {"type": "string"}, "narrative": {"type": "string"}},
                },
                "alignment": {"type": "array", "items": {"$ref": "#/$defs/Alignment"}},
                "creditsAvailable": {"type": "number"},
                "inLanguage": {"type": "string", "pattern": "^[a-zA-Z]{2,4}(-[A-Za-z0-9]{2,8})*$"},
                "tag": {"type": "array", "items": {"type": "string"}},
                "resultDescription": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "type", "name", "resultType"],
                        "properties": {
                            "name": {"type": "string"},
                            "allowedValue": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "creator": {"$ref": "#/$defs/Profile"},
            },
        },
        "Alignment": {
            "type": "object",
            "required": ["type", "targetName", "targetUrl"],
            "properties": {
                "type": _typed("Alignment"),
                "targetName": {"type": "string"},
                "targetUrl": {"type": "string"},
                "targetCode": {"type": "string"},
                "targetFramework": {"type": "string"},
            },
        },
    },
}

_CREDENTIAL_VALIDATOR = Draft201909Validator(OB3_SCHEMA)
_ACHIEVEMENT_VALIDATOR = Draft201909Validator(
    {**OB3_SCHEMA["$defs"]["Achievement"], "$defs": OB3_SCHEMA["$defs"]}
)

_CREDENTIAL_TYPES = {"AchievementCredential", "OpenBadgeCredential"}


def is_ob3(doc: dict[str, Any]) -> bool:
    """Whether a JSON object is an OB 3.0 credential (by ``type`` or the OB 3.0 ``@context``) or Achievement."""
    types = {str(t) for t in as_list(doc.get("type"))}
    if types & _CREDENTIAL_TYPES or "Achievement" in types:
        return True
    return any("purl.imsglobal.org/spec/ob/v3p0" in str(c) for c in as_list(doc.get("@context")))


def schema_problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field path, message)`` of every OB 3.0 schema error of a credential or a bare Achievement."""
    types = {str(t) for t in as_list(doc.get("type"))}
    bare = "Achievement" in types and not types & _CREDENTIAL_TYPES
    validator = _ACHIEVEMENT_VALIDATOR if bare else _CREDENTIAL_VALIDATOR
    out = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(record)"
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        out.append((path, f"OB 3.0 schema: {message}"))
    return out


def map_ob3(doc: dict[str, Any], row: int) -> MappedRecord:
    """Map one OB 3.0 credential (or bare Achievement) to catalogue fields; schema errors become problems."""
    record = MappedRecord(row)
    for where, why in schema_problems(doc):
        record.fail(where, why)
    if record.problems:
        return record
    types = {str(t) for t in as_list(doc.get("type"))}
    if types & _CREDENTIAL_TYPES:
        achievement, base = doc["credentialSubject"]["achievement"], "credentialSubject.achievement"
        issuer: dict[str, Any] | None = doc.get("issuer")
    else:
        achievement, base, issuer = doc, "", None
    at = f"{base}." if base else ""
    record.put("id", achievement.get("id"), f"{at}id")
    record.put("title", text_of(achievement.get("name")), f"{at}name")
    record.put("description", text_of(achievement.get("description")), f"{at}description")
    criteria = achievement.get("criteria") or {}
    results = [
        f"{r.get('name')}" + (f" ({', '.join(r['allowedValue'])})" if r.get("allowedValue") else "")
        for r in as_list(achievement.get("resultDescription"))
    ]
    assessment = "; ".join(
        t
        for t in [
            text_of(criteria.get("narrative")),
            *(["results: " + ", ".join(results)] if results else []),
        ]
        if t
    )
    record.put("assessment", assessment, f"{at}criteria.narrative")
    url = criteria.get("id") if str(criteria.get("id", "")).startswith("http") else None
    record.put("url", url, f"{at}criteria.id")
    record.attempt("credits", f"{at}creditsAvailable", number, achievement.get("creditsAvailable"))
    record.put("language", achievement.get("inLanguage"), f"{at}inLanguage")
    for pos, alignment in enumerate(as_list(achievement.get("alignment"))):
        where = f"{at}alignment.{pos}"
        framework = alignment.get("targetFramework")
        skill = esco_skill_id(alignment.get("targetUrl")) or esco_skill_id(
            alignment.get("targetCode"), framework
        )
        if skill:
            record.extend("skills", [skill], where)
        else:
            label = alignment.get("targetName") or alignment.get("targetUrl")
            record.extend("tags", [f"{framework or alignment.get('targetUrl')}: {label}"], where)
    record.extend("tags", [str(t) for t in as_list(achievement.get("tag"))], f"{at}tag")
    creator = achievement.get("creator") or {}
    record.put("provider", text_of(creator.get("name")), f"{at}creator.name")
    body, body_at = (issuer, "issuer") if issuer else (creator, f"{at}creator")
    record.put("issuer", text_of(body.get("name")), f"{body_at}.name")
    address = body.get("address") or {}
    country = address.get("addressCountryCode") or address.get("addressCountry")
    record.attempt("issuer_country", f"{body_at}.address.addressCountryCode", country_code, country)
    return record
