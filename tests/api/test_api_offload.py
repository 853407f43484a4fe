"""Where learner routes run their library call: the event loop for small calls that encode nothing, else the pool.

The counts come from ``/metrics`` (``skillmatch_library_calls``); the answers must not depend on where the call
ran.
"""

from __future__ import annotations

import re
from pathlib import Path

from api_world import api_settings
from fakes import CountingEncoder, HashingEncoder
from fastapi.testclient import TestClient

from skillmatch.api import create_app
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service


def _calls(client: TestClient) -> dict[str, float]:
    text = client.get("/metrics").text
    return {
        m[0]: float(m[1]) for m in re.findall(r'skillmatch_library_calls_total\{ran="(\w+)"\} (\S+)', text)
    }


def test_a_repeated_learner_runs_on_the_event_loop_with_the_same_answer(bundle_v1: Skillmatch) -> None:
    body = {
        "roles": ["data analyst"],
        "skills": ["writing SQL reports", "Python: beginner"],
        "max_hours": 100,
    }
    gaps = {"roles": ["data analyst"], "skills": ["statistics for surveys", "SQL"]}
    with TestClient(create_app(api_settings(), bundle_v1)) as client:
        first = client.post("/v1/recommendations", json=body)
        assert _calls(client) == {"thread_would_wait": 1.0}  # a new phrase: tried, then encoded in the pool
        again = client.post("/v1/recommendations", json=body)
        assert _calls(client) == {"thread_would_wait": 1.0, "event_loop": 1.0}
        by_get = client.get("/v1/recommendations", params=body)
        gap_first = client.post("/v1/gaps", json=gaps)
        gap_again = client.post("/v1/gaps", json=gaps)
        assert _calls(client) == {"thread_would_wait": 2.0, "event_loop": 3.0}
    assert first.status_code == again.status_code == by_get.status_code == 200
    assert first.content == again.content == by_get.content
    assert gap_first.status_code == 200 and gap_first.content == gap_again.content
    with TestClient(create_app(api_settings(api_inline_max_skills=0), bundle_v1)) as client:
        pooled = client.post("/v1/recommendations", json=body)
        assert _calls(client) == {"thread": 1.0}
    assert pooled.content == first.content


def test_large_learners_and_cv_text_go_to_the_thread_pool_without_a_try(bundle_v1: Skillmatch) -> None:
    with TestClient(create_app(api_settings(api_inline_max_skills=2), bundle_v1)) as client:
        three = client.post(
            "/v1/gaps", json={"roles": ["data analyst"], "skills": ["SQL", "Python", "statistics"]}
        )
        cv = client.post("/v1/gaps", json={"roles": ["data analyst"], "cv": "I write SQL every day."})
        assert three.status_code == cv.status_code == 200
        assert _calls(client) == {"thread": 2.0}


def test_errors_answer_the_same_from_the_event_loop(bundle_v1: Skillmatch) -> None:
    body = {"roles": ["data analyst"], "skills": ["SQL"], "credentials_held": ["C-NO-SUCH"]}
    answers = []
    for inline in (25, 0):
        with TestClient(create_app(api_settings(api_inline_max_skills=inline), bundle_v1)) as client:
            answers.append(client.post("/v1/recommendations", json=body))
            assert _calls(client) == {"event_loop" if inline else "thread": 1.0}
    assert answers[0].status_code == answers[1].status_code == 404
    assert "C-NO-SUCH" in answers[0].json()["detail"]
    assert answers[0].json()["detail"] == answers[1].json()["detail"]


def test_with_a_server_encoder_new_phrases_are_encoded_ahead_and_answered_from_the_loop(
    bundle_paths: dict[str, Path], bundle_v1: Skillmatch
) -> None:
    """As served: coalescing over a memory cache. A new phrase is encoded without blocking the event loop, then
    the call runs there; the answer is the one the thread pool gives."""
    backend = CountingEncoder(HashingEncoder())
    served = load_service(
        bundle_paths["v1"],
        settings=api_settings(),
        encoder=CachedEncoder(backend, memory_cache=1000),
        coalesce_texts=10,
    )
    body = {
        "roles": ["data analyst"],
        "skills": ["writing SQL reports", "Python: beginner"],
        "max_hours": 100,
    }
    with TestClient(create_app(api_settings(), served)) as client:
        ahead = client.post("/v1/recommendations", json=body)
        assert _calls(client) == {"event_loop_after_encoding": 1.0}
        again = client.post("/v1/recommendations", json=body)
        assert _calls(client) == {"event_loop_after_encoding": 1.0, "event_loop": 1.0}
    assert backend.batches == [["writing SQL reports"]]  # encoded once, ahead
    with TestClient(create_app(api_settings(api_inline_max_skills=0), bundle_v1)) as client:
        pooled = client.post("/v1/recommendations", json=body)
    assert ahead.status_code == 200 and ahead.content == again.content == pooled.content
