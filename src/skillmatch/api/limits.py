"""Size limits on request contents (configurable in settings); breaking one is a 413 naming the field."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, status
from pydantic import BaseModel

from skillmatch.api.models import LearnerIn
from skillmatch.config import Settings

Loc = tuple[str | int, ...]


def too_large(loc: Loc, msg: str) -> HTTPException:
    """A 413 whose detail locates the oversized field like a validation error does."""
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=[{"loc": list(loc), "msg": msg, "type": "payload_too_large"}],
    )


@dataclass(frozen=True)
class PayloadLimits:
    """The limits of one app (from :class:`~skillmatch.config.Settings`)."""

    max_text_chars: int
    max_texts: int
    max_skills: int
    max_roles: int
    max_cohort: int
    max_request_chars: int = 5_000

    @classmethod
    def from_settings(cls, settings: Settings) -> PayloadLimits:
        """The limits configured in ``settings`` (``SKILLMATCH_API_MAX_*``)."""
        return cls(
            max_text_chars=settings.api_max_text_chars,
            max_texts=settings.api_max_texts,
            max_skills=settings.api_max_skills,
            max_roles=settings.api_max_roles,
            max_cohort=settings.api_max_cohort,
            max_request_chars=settings.api_max_request_chars,
        )

    def request_chars(self, loc: Loc, body: BaseModel) -> None:
        """Refuse a request whose texts add up to more than ``max_request_chars`` characters.

        Every string of the body counts (texts, skills, CV, roles, held credentials): the encoder's work grows
        with the characters a request carries, and this bounds it (docs/reliability.md).
        """
        self.text_budget(loc, _strings(body.model_dump()))

    def text_budget(self, loc: Loc, texts: Iterable[str]) -> None:
        """Refuse ``texts`` that add up to more than ``max_request_chars`` characters (see :meth:`request_chars`)."""
        total = sum(len(text) for text in texts)
        if total > self.max_request_chars:
            raise too_large(
                loc,
                f"request text too long: {total} characters in all, the limit is {self.max_request_chars}; "
                "split the work over several requests",
            )

    def count(self, loc: Loc, values: Sequence[object], limit: int, what: str) -> None:
        """Refuse more than ``limit`` items."""
        if len(values) > limit:
            raise too_large(loc, f"too many {what}: {len(values)} given, the limit is {limit}")

    def text(self, loc: Loc, value: str | None) -> None:
        """Refuse a text longer than ``max_text_chars``."""
        if value is not None and len(value) > self.max_text_chars:
            raise too_large(
                loc, f"text too long: {len(value)} characters, the limit is {self.max_text_chars}"
            )

    def texts(self, loc: Loc, values: Sequence[str], limit: int, what: str) -> None:
        """Refuse too many texts or any text that is too long."""
        self.count(loc, values, limit, what)
        for i, value in enumerate(values):
            self.text((*loc, i), value)

    def roles(self, loc: Loc, values: Sequence[str]) -> None:
        """Refuse too many roles (or an overlong role name)."""
        self.texts(loc, values, self.max_roles, "roles")

    def learner(self, loc: Loc, learner: LearnerIn) -> None:
        """Refuse a learner with too many or too long skills, too long a CV or too many held credentials."""
        self.texts((*loc, "skills"), learner.skills, self.max_skills, "skills")
        self.text((*loc, "cv"), learner.cv)
        self.texts((*loc, "credentials_held"), learner.credentials_held, self.max_skills, "credentials")


def document_limits(spec: dict[str, Any], limits: PayloadLimits) -> dict[str, Any]:
    """Write ``limits`` into an OpenAPI ``spec`` (in place; returned): ``maxItems`` and ``maxLength``.

    The limits are settings, so the models cannot carry them; the routes enforce them (413) and the schema states
    them: request body fields and query parameters named ``texts``, ``roles``, ``skills``, ``credentials_held``,
    ``exclude_providers``, ``learners``, ``cv`` and ``q``. Bodies that carry text also say the request-wide limit.
    """
    counts = {
        "texts": limits.max_texts,
        "roles": limits.max_roles,
        "skills": limits.max_skills,
        "credentials_held": limits.max_skills,
        "exclude_providers": limits.max_skills,
        "learners": limits.max_cohort,
    }
    total = (
        f"At most {limits.max_request_chars} characters of text in all strings of the request together "
        "(413 beyond)."
    )
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        properties = schema.get("properties", {})
        for field, prop in properties.items():
            _limit(prop, counts.get(field), limits.max_text_chars if field in _TEXT_FIELDS else None)
        if name.endswith("Request") and ({"texts", "cv", "skills"} & set(properties)):
            schema["description"] = f"{schema.get('description', '').rstrip()}\n\n{total}".strip()
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                field = parameter.get("name")
                if parameter.get("in") == "query" and field in _TEXT_FIELDS:
                    _limit(parameter.get("schema", {}), counts.get(field), limits.max_text_chars)
    return spec


#: Fields whose strings are limited to ``max_text_chars`` each.
_TEXT_FIELDS = frozenset({"texts", "roles", "skills", "credentials_held", "exclude_providers", "cv", "q"})


def _limit(prop: dict[str, Any], max_items: int | None, max_length: int | None) -> None:
    """Set ``maxItems`` on the array and ``maxLength`` on the strings of one property schema (also in anyOf)."""
    for variant in [prop, *prop.get("anyOf", [])]:
        if variant.get("type") == "array" and max_items is not None:
            variant["maxItems"] = max_items
            items = variant.get("items", {})
            if max_length is not None and items.get("type") == "string":
                items["maxLength"] = max_length
        elif variant.get("type") == "string" and max_length is not None:
            variant["maxLength"] = max_length


def _strings(value: object) -> Iterator[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
