"""Property-based run against the OpenAPI schema (schemathesis): whatever the input, no 5xx, and answers
conform to the documented status codes, content types and response schemas.

Besides what schemathesis derives from the schema, the strategies put hostile values in: in JSON bodies, strings
with lone surrogates (``\\ud800``; as JSON escapes, which a parser accepts but UTF-8 cannot encode) and extreme
numbers (huge integers, ``1e308``, ``-0.0``, ``5e-324``, and the ``NaN``/``Infinity`` literals that Python's JSON
parser accepts although JSON has none), also as object keys; in query parameters, the same numbers as text.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import schemathesis
from api_world import API_KEY, api_settings
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from skillmatch.api import create_app
from skillmatch.facade import Skillmatch

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

#: Numbers at the edges: beyond 64 bits, the largest and smallest doubles, a negative zero, and the literals
#: JSON does not have but Python's parser reads.
EXTREME_NUMBERS: list[int | float] = [
    2**63,
    -(2**63) - 1,
    10**40,
    1e308,
    -1e308,
    5e-324,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
]

#: Text no UTF-8 encoder takes: lone high and low surrogates, alone and inside ordinary text.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.one_of(
    surrogates,
    st.builds(lambda s, c: s[: len(s) // 2] + c + s[len(s) // 2 :], st.text(max_size=8), surrogates),
    st.text(alphabet=st.one_of(surrogates, st.characters(codec="utf-8")), min_size=1, max_size=6),
)

numbers = st.sampled_from(EXTREME_NUMBERS)


def hostile(value: Any) -> st.SearchStrategy[Any]:
    """``value`` with some of its strings, numbers and keys swapped for hostile ones (see the module's text)."""
    if isinstance(value, bool) or value is None:
        return st.just(value)
    if isinstance(value, int | float):
        return st.one_of(st.just(value), numbers)
    if isinstance(value, str):
        return st.one_of(st.just(value), hostile_text, st.builds(lambda c: value + c, surrogates))
    if isinstance(value, list):
        return st.tuples(*(hostile(v) for v in value)).map(list) if value else st.just(value)
    if isinstance(value, dict):
        mutated = st.fixed_dictionaries({k: hostile(v) for k, v in value.items()})
        if not value:
            return st.one_of(st.just(value), st.builds(lambda k, n: {k: n}, hostile_text, numbers))
        keys = list(value)
        return st.one_of(
            mutated,
            # an extreme number where anything else was expected
            st.tuples(mutated, st.sampled_from(keys), numbers).map(lambda t: {**t[0], t[1]: t[2]}),
            # a key no UTF-8 encoder takes
            st.tuples(mutated, hostile_text).map(lambda t: {**t[0], t[1]: t[0][keys[0]]}),
        )
    return st.just(value)


def as_json_bytes(value: Any) -> bytes:
    """``value`` as the bytes of a JSON body: surrogates as ``\\uXXXX`` escapes, NaN and infinities as literals."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode("ascii")


def hostile_body(_context: Any, body: Any) -> st.SearchStrategy[Any]:
    """The generated body, or a hostile variant of it sent as raw JSON bytes."""
    if isinstance(body, bytes) or not isinstance(body, dict | list):
        return st.just(body)
    return st.one_of(st.just(body), hostile(body).map(as_json_bytes))


def hostile_query(_context: Any, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """The generated query, or one with values replaced by extreme numbers written as text."""
    if not query:
        return st.just(query)
    numbers = st.sampled_from([*(repr(n) for n in EXTREME_NUMBERS), "NaN", "Infinity", "1e999", "-0"])
    return st.one_of(
        st.just(query),
        st.fixed_dictionaries({k: st.one_of(st.just(v), numbers) for k, v in query.items()}),
    )


@pytest.fixture(scope="module")
def schema_app(bundle_v1: Skillmatch) -> FastAPI:
    return create_app(api_settings(), bundle_v1)


@pytest.fixture(scope="module")
def api_schema(schema_app: FastAPI) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", schema_app)
    loaded.hook("flatmap_body")(hostile_body)
    loaded.hook("flatmap_query")(hostile_query)
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"X-API-Key": API_KEY}, checks=CHECKS)


def test_the_hostile_strategies_produce_what_they_promise() -> None:
    """The values above reach the wire as intended (else the run above would test less than it says)."""
    seen: list[bytes] = []

    @settings(max_examples=300, database=None, suppress_health_check=list(HealthCheck))
    @given(hostile({"texts": ["SQL", "python"], "top_k": 5, "min_score": 0.5}).map(as_json_bytes))
    def collect(body: bytes) -> None:
        seen.append(body)

    collect()
    text = b"\n".join(seen)
    for needle in (b"\\ud8", b"\\udc", b"NaN", b"Infinity", b"1e+308", b"-0.0", b"9223372036854775808"):
        assert needle in text, needle
