"""European Learning Model v3 / Europass EDC JSON-LD to the catalogue.

Reads a ``EuropeanDigitalCredential`` (each claim of ``credentialSubject.hasClaim`` with its specification,
``specifiedBy``, becomes one catalogue item) and bare specifications or learning opportunities
(``Qualification``, ``LearningAchievementSpecification``, ``LearningOpportunity``). Texts come from ELM
language maps (English preferred); concepts (mode, language, EQF level, credit framework, country) from their
EU vocabulary URI or English label. docs/data-formats.md has the field-by-field table.
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

_SPEC_TYPES = {"Qualification", "LearningAchievementSpecification", "LearningOpportunity"}
_ECTS = "http://data.europa.eu/snb/education-credit/6fcec5c5af"


def is_elm(doc: dict[str, Any]) -> bool:
    """Whether a JSON object is an ELM/EDC credential or specification (by ``type`` or the EDC ``@context``)."""
    types = {str(t) for t in as_list(doc.get("type"))}
    if "EuropeanDigitalCredential" in types or types & _SPEC_TYPES:
        return True
    return any("data.europa.eu/snb" in str(c) for c in as_list(doc.get("@context")))


def _label(concept: Any) -> str | None:
    return text_of(concept.get("prefLabel")) if isinstance(concept, dict) else text_of(concept)


def _eqf(concept: Any) -> int:
    """EQF level from ``http://data.europa.eu/snb/eqf/6`` or a label such as "Level 6"."""
    for text in (concept.get("id") if isinstance(concept, dict) else None, _label(concept)):
        match = re.search(r"(?:/eqf/|level\s*)(\d+)\s*$", str(text or ""), re.IGNORECASE)
        if match:
            return int(match.group(1))
    raise ValueError(f"not an EQF level concept: {concept!r}")


def _credit_system(framework: Any) -> str | None:
    label = _label(framework) or ""
    if (isinstance(framework, dict) and framework.get("id") == _ECTS) or re.search(
        r"\bECTS\b|European Credit Transfer", label, re.IGNORECASE
    ):
        return "ECTS"
    return label or None


def _organisation(record: MappedRecord, body: dict[str, Any], at: str) -> None:
    """Provider/issuer name and country from an ELM Organisation (address country, else registration)."""
    name = text_of(body.get("legalName")) or text_of(body.get("prefLabel")) or text_of(body.get("altLabel"))
    record.put("provider", name, f"{at}.legalName")
    record.put("issuer", name, f"{at}.legalName")
    locations = as_list(body.get("location"))
    country = next(
        (
            loc["address"]["countryCode"]
            for loc in locations
            if isinstance(loc, dict)
            and isinstance(loc.get("address"), dict)
            and loc["address"].get("countryCode")
        ),
        None,
    )
    where = f"{at}.location.address.countryCode"
    if country is None:
        registration = body.get("registration") or body.get("eIDASIdentifier") or {}
        country, where = (
            (registration.get("spatial") if isinstance(registration, dict) else None),
            f"{at}.registration.spatial",
        )
    record.attempt("issuer_country", where, country_code, country)


def _price(record: MappedRecord, node: dict[str, Any], at: str) -> None:
    """``priceDetail`` (amount and currency) of a learning opportunity, where present."""
    details = as_list(node.get("priceDetail"))
    if not details:
        return
    detail = details[0]
    record.attempt("cost", f"{at}.priceDetail.amount", number, detail.get("amount"))
    record.attempt("currency", f"{at}.priceDetail.currency", currency_code, detail.get("currency"))


def _map_spec(record: MappedRecord, spec: dict[str, Any], at: str) -> None:
    """The fields a specification (Qualification, LearningAchievementSpecification...) carries."""
    record.put("title", text_of(spec.get("title")), f"{at}.title")
    record.put("description", text_of(spec.get("description")), f"{at}.description")
    for pos, outcome in enumerate(as_list(spec.get("learningOutcome"))):
        where = f"{at}.learningOutcome.{pos}"
        if not isinstance(outcome, dict):
            record.fail(where, f"expected a LearningOutcome object, got {type(outcome).__name__}")
            continue
        record.extend("learning_outcomes", [text_of(outcome.get("title")) or ""], f"{at}.learningOutcome")
        for skill in as_list(outcome.get("relatedESCOSkill")):
            uri = esco_skill_id(skill.get("id")) if isinstance(skill, dict) else esco_skill_id(skill)
            label = _label(skill) if isinstance(skill, dict) else None
            if uri or label:
                record.extend("skills", [uri or label or ""], f"{where}.relatedESCOSkill")
            else:
                record.fail(
                    f"{where}.relatedESCOSkill",
                    f"an ESCO skill with neither an ESCO URI nor a label: {skill!r}",
                )
        for skill in as_list(outcome.get("relatedSkill")):
            label = _label(skill) if isinstance(skill, dict) else text_of(skill)
            record.extend("tags", [f"skill: {label}"] if label else [], f"{where}.relatedSkill")
    if spec.get("eqfLevel") is not None:
        record.attempt("eqf_level", f"{at}.eqfLevel", _eqf, spec["eqfLevel"])
    for nqf in as_list(spec.get("nqfLevel")):
        record.extend("tags", [f"NQF: {_label(nqf)}"] if _label(nqf) else [], f"{at}.nqfLevel")
    credits = as_list(spec.get("creditPoint"))
    if credits:
        chosen = next((c for c in credits if _credit_system(c.get("framework")) == "ECTS"), credits[0])
        record.attempt("credits", f"{at}.creditPoint.point", number, chosen.get("point"))
        record.put("credit_system", _credit_system(chosen.get("framework")), f"{at}.creditPoint.framework")
    if spec.get("volumeOfLearning") is not None:
        record.attempt("duration_hours", f"{at}.volumeOfLearning", iso_hours, spec["volumeOfLearning"])
    modes = [m for m in (_label(x) for x in as_list(spec.get("mode"))) if m]
    record.put("mode", modes[0] if len(set(modes)) == 1 else ("hybrid" if modes else None), f"{at}.mode")
    languages = as_list(spec.get("language"))
    if languages:
        record.attempt("language", f"{at}.language", language_code, languages[0])
        for extra in languages[1:]:
            record.extend("tags", [f"language: {_label(extra)}"], f"{at}.language")
    record.put("entry_requirements", text_of(spec.get("entryRequirement")), f"{at}.entryRequirement")
    for area in as_list(spec.get("thematicArea")):
        record.extend("tags", [f"ISCED-F: {_label(area)}"] if _label(area) else [], f"{at}.thematicArea")
    accreditations = [
        text_of(a.get("title")) or _label(a.get("dcType")) or text_of(a.get("id"))
        for a in as_list(spec.get("accreditation"))
        if isinstance(a, dict)
    ]
    record.put("quality_assurance", "; ".join(a for a in accreditations if a), f"{at}.accreditation")
    homepage = next((h.get("contentURL") for h in as_list(spec.get("homepage")) if isinstance(h, dict)), None)
    record.put("url", homepage, f"{at}.homepage")
    _price(record, spec, at)


def _assessment(claim: dict[str, Any]) -> str | None:
    parts: list[str] = []
    for assessment in as_list(claim.get("provenBy")):
        if not isinstance(assessment, dict):
            continue
        found = assessment.get("specifiedBy")
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        for text in (
            text_of(assessment.get("title")) or text_of(spec.get("title")),
            _label(spec.get("dcType")),
            _label(assessment.get("idVerification")),
        ):
            if text and text not in parts:
                parts.append(text)
    return "; ".join(parts) or None


def map_elm(doc: dict[str, Any], row: int) -> list[MappedRecord]:
    """Map an ELM credential (one record per claim) or a bare specification to catalogue fields."""
    types = {str(t) for t in as_list(doc.get("type"))}
    if "EuropeanDigitalCredential" not in types and types & _SPEC_TYPES:
        record = MappedRecord(row)
        record.put("id", doc.get("id"), "id")
        _map_spec(record, doc, type_name(types))
        for body in as_list(doc.get("awardingBody")):
            if isinstance(body, dict):
                _organisation(record, body, "awardingBody")
                break
        return [record]
    subject = doc.get("credentialSubject")
    claims = as_list(subject.get("hasClaim")) if isinstance(subject, dict) else []
    if not claims:
        record = MappedRecord(row)
        record.fail("credentialSubject.hasClaim", "an ELM credential without a claim (nothing to catalogue)")
        return [record]
    out = []
    for pos, claim in enumerate(claims):
        record = MappedRecord(row)
        at = "credentialSubject.hasClaim" + (f".{pos}" if len(claims) > 1 else "")
        if not isinstance(claim, dict):
            record.fail(at, f"expected a claim object, got {type(claim).__name__}")
            out.append(record)
            continue
        base_id = doc.get("id")
        record.put("id", f"{base_id}#{pos + 1}" if len(claims) > 1 and base_id else base_id, "id")
        spec = claim.get("specifiedBy")
        if isinstance(spec, list):
            spec = spec[0] if spec else None
        if isinstance(spec, dict):
            _map_spec(record, spec, f"{at}.specifiedBy")
        if "title" not in record.data:
            record.put("title", text_of(claim.get("title")), f"{at}.title")
        if "description" not in record.data:
            record.put("description", text_of(claim.get("description")), f"{at}.description")
        record.put("assessment", _assessment(claim), f"{at}.provenBy")
        if "quality_assurance" not in record.data:
            accreditations = [
                text_of(a.get("title")) for a in as_list(claim.get("accreditation")) if isinstance(a, dict)
            ]
            record.put("quality_assurance", "; ".join(a for a in accreditations if a), f"{at}.accreditation")
        process = claim.get("awardedBy")
        awarded: dict[str, Any] = process if isinstance(process, dict) else {}
        body = awarded.get("awardingBody")
        body = body[0] if isinstance(body, list) and body else body
        if isinstance(body, dict):
            _organisation(record, body, f"{at}.awardedBy.awardingBody")
        out.append(record)
    return out


def type_name(types: set[str]) -> str:
    """The ELM specification type of a bare record, used as the field prefix in rejects."""
    return next(iter(sorted(types & _SPEC_TYPES)), "record")
