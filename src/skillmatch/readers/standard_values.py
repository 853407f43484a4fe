"""Shared pieces of the credential-standard readers (Open Badges 3.0, ELM/EDC, CTDL).

Each standard reader maps one JSON(-LD) record to the catalogue fields of
:data:`~skillmatch.schema.CREDENTIAL_COLUMNS` as a :class:`MappedRecord`; :func:`catalogue_table` then runs the
same row model as the CSV reader (:class:`~skillmatch.readers.credentials.CredentialRow`) over them, so a
credential from a standard is validated, normalised and rejected exactly like a catalogue row. Rejects name the
file, the record (its position: 1 for a single document, else the position in the array or graph), the field as
written in the standard (``credentialSubject.achievement.name``) and the reason.

The value helpers read what the standards share: language maps (``{"en": "..."}``), ISO 8601 durations
(``PT60H``), ISO country/language/currency codes written as codes, names or EU authority URIs
(``http://publications.europa.eu/resource/authority/country/IRL``) and ESCO skill URIs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import isodate
import pandas as pd
import pycountry

from skillmatch.readers.credentials import CredentialRow, normalise_language
from skillmatch.readers.tables import sort_rejects, validate_rows
from skillmatch.schema import CREDENTIAL_COLUMNS, ReadResult, Reject

#: ESCO skill URIs (the id form every skillmatch ESCO bundle uses).
ESCO_SKILL = re.compile(r"^https?://data\.europa\.eu/esco/skill/([0-9a-f-]{36})$", re.IGNORECASE)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)

#: Language tags preferred when a text is given in several languages.
PREFERRED_LANGUAGES = ("en", "en-gb", "en-us")


@dataclass
class MappedRecord:
    """One credential of a standard, mapped to catalogue fields.

    Attributes:
        row: the record number used in rejects (1-based position in the document).
        data: catalogue field -> value (as the CSV reader would receive it).
        source: catalogue field -> the field path in the standard, used to name the field in rejects.
        problems: ``(source field, reason)`` of values that could not be mapped; any problem rejects the record.
    """

    row: int
    data: dict[str, Any] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def put(self, name: str, value: Any, source: str) -> None:
        """Set catalogue field ``name`` from the standard's field ``source``.

        An absent value sets nothing but remembers ``source`` (unless one is known), so that a missing required
        field is reported under the standard's name for it.
        """
        if value is None or value == [] or (isinstance(value, str) and not value.strip()):
            self.source.setdefault(name, source)
            return
        self.data[name] = value
        self.source[name] = source

    def extend(self, name: str, values: Iterable[str], source: str) -> None:
        """Append items to the list field ``name`` (first source kept for reject messages)."""
        items = [v for v in values if v and v.strip()]
        if not items:
            return
        self.data.setdefault(name, []).extend(items)
        self.source.setdefault(name, source)

    def fail(self, source: str, reason: str) -> None:
        """Record a value that cannot be mapped (the record becomes a reject)."""
        self.problems.append((source, reason))

    def attempt(self, name: str, source: str, convert: Any, value: Any) -> None:
        """Set ``name`` to ``convert(value)``; a ValueError becomes a problem of ``source``."""
        if value is None:
            return
        try:
            self.put(name, convert(value), source)
        except ValueError as exc:
            self.fail(source, str(exc))


# --- value helpers -----------------------------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    """``value`` as a list: a list stays, None is ``[]``, anything else is a one-item list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def text_of(value: Any) -> str | None:
    """Plain text from a string, a language map (``{"en": "..."}``), a JSON-LD value object or a list of these.

    English is preferred in a language map, else the first language given.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        texts = [t for t in (text_of(v) for v in value) if t]
        return texts[0] if texts else None
    if isinstance(value, dict):
        if "@value" in value:
            return text_of(value["@value"])
        if "noteLiteral" in value:  # ELM Note
            return text_of(value["noteLiteral"])
        lowered = {str(k).lower(): v for k, v in value.items()}
        for tag in PREFERRED_LANGUAGES:
            if tag in lowered and text_of(lowered[tag]):
                return text_of(lowered[tag])
        for key, item in value.items():
            if not str(key).startswith("@") and isinstance(item, str | list) and text_of(item):
                return text_of(item)
    return None


def iso_hours(value: Any) -> float:
    """Hours of an ISO 8601 duration of learning time (``PT60H`` -> 60.0, ``PT90M`` -> 1.5, ``P2DT4H`` -> 52.0).

    Raises:
        ValueError: not an ISO 8601 duration, or one in weeks, months or years, which are calendar time and
            cannot be read as learning hours.
    """
    text = str(value).strip()
    try:
        duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError):
        raise ValueError(f"not an ISO 8601 duration such as PT60H (got {text!r})") from None
    if not isinstance(duration, timedelta) or "W" in text.upper().split("T")[0]:
        raise ValueError(
            f"duration {text!r} is in weeks, months or years (calendar time), not hours of learning; "
            "write it as hours (PT60H)"
        )
    hours = duration.total_seconds() / 3600
    if hours < 0 or not math.isfinite(hours):
        raise ValueError(f"negative duration {text!r}")
    return round(hours, 4)


def _authority_code(value: str) -> str:
    """The last path segment of an EU authority URI (``.../country/IRL`` -> ``IRL``), else the value."""
    text = value.strip()
    return text.rstrip("/").rsplit("/", 1)[-1] if text.lower().startswith(("http://", "https://")) else text


def country_code(value: Any) -> str:
    """ISO 3166-1 alpha-2 code of a country given as alpha-2, alpha-3, name or EU authority URI.

    Raises:
        ValueError: not a known country.
    """
    if isinstance(value, dict):
        value = value.get("id") or value.get("@id") or text_of(value.get("prefLabel"))
    text = _authority_code(str(value or ""))
    found = None
    if len(text) == 2:
        found = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3:
        found = pycountry.countries.get(alpha_3=text.upper())
    if found is None and text:
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            found = None
    if found is None:
        raise ValueError(f"unknown country {value!r}; use an ISO 3166-1 code such as IE or IRL")
    return str(found.alpha_2)


def language_code(value: Any) -> str:
    """ISO 639-1 code of a language given as a code, locale tag, name or EU authority URI (``.../ENG``).

    Raises:
        ValueError: not a known language (or one without a two-letter code).
    """
    if isinstance(value, dict):
        value = value.get("id") or value.get("@id") or text_of(value.get("prefLabel"))
    text = _authority_code(str(value or ""))
    if len(text) == 3 and text.isalpha():
        found = pycountry.languages.get(alpha_3=text.lower())
        if found is not None and getattr(found, "alpha_2", None):
            return str(found.alpha_2)
    return normalise_language(text)


def currency_code(value: Any) -> str:
    """ISO 4217 code of a currency given as a code or EU authority URI (``.../currency/EUR``).

    Raises:
        ValueError: not an ISO 4217 currency.
    """
    if isinstance(value, dict):
        value = value.get("id") or value.get("@id")
    text = _authority_code(str(value or "")).upper()
    if pycountry.currencies.get(alpha_3=text) is None:
        raise ValueError(f"unknown currency {value!r}; use an ISO 4217 code such as EUR, USD or GBP")
    return text


def esco_skill_id(value: Any, framework: str | None = None) -> str | None:
    """The ESCO skill URI named by ``value`` (a URI, or a bare UUID when ``framework`` is ESCO), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = ESCO_SKILL.match(text)
    if match:
        return f"http://data.europa.eu/esco/skill/{match.group(1).lower()}"
    if framework and "esco" in framework.lower() and _UUID.match(text):
        return f"http://data.europa.eu/esco/skill/{text.lower()}"
    return None


def number(value: Any) -> float:
    """A number from a JSON number or numeric text.

    Raises:
        ValueError: not a finite number.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"expected a finite number, got {value!r}")
    return out


# --- records to the catalogue --------------------------------------------------------------------------------


def catalogue_table(file: str, records: list[MappedRecord], rejects: Iterable[Reject] = ()) -> ReadResult:
    """Validate mapped records with the catalogue's row model and build the catalogue table.

    A record with mapping problems is rejected (one reject per problem) before validation; the validation's
    rejects name the standard's field (``credentialSubject.achievement.name``) rather than the catalogue's.

    Args:
        file: the file name used in rejects.
        records: the mapped records of the file, in order.
        rejects: rejects found earlier (unreadable records), merged into the result.

    Returns:
        The credentials with exactly :data:`~skillmatch.schema.CREDENTIAL_COLUMNS` and all rejects.
    """
    out: list[Reject] = list(rejects)
    good: list[MappedRecord] = []
    for record in records:
        if record.problems:
            out.extend(Reject(file, record.row, where, why) for where, why in record.problems)
        else:
            good.append(record)
    frame = pd.DataFrame(
        [r.data for r in good],
        columns=CREDENTIAL_COLUMNS,
        index=pd.Index([r.row for r in good], dtype="int64"),
        dtype=object,
    )
    frame = frame.astype(object).where(frame.notna(), None)
    result = validate_rows(frame, CredentialRow, file, CREDENTIAL_COLUMNS)
    sources = {r.row: r.source for r in good}
    for reject in result.rejects:
        if reject.row in sources and reject.field:
            reject.field = sources[reject.row].get(reject.field, reject.field)
    return ReadResult(table=result.table, rejects=sort_rejects([*out, *result.rejects]))
