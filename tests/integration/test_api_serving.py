"""The API on a real bundle with the real encoder, loaded the way the server loads it: request texts are encoded
with the backend ``auto`` measured fastest for short runs on this machine (block-wise int8 or float32), against the
label vectors the bundle was built with (float32 or block-wise int8: the same vector family)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from skillmatch.api import create_app
from skillmatch.build import demo_paths
from skillmatch.config import Settings
from skillmatch.cpu import cpu_info
from skillmatch.encoding.models import vector_family
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service

pytest.importorskip("onnxruntime", reason="the served encoder needs onnxruntime (pip install onnxruntime)")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(demo_bundle_path: Path, integration_settings: Settings) -> Iterator[TestClient]:
    settings = Settings(
        bundle=demo_bundle_path,
        cache_dir=integration_settings.cache_dir,
        api_gc_freeze=False,
        api_sighup_reload=False,
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def float32_bundle(demo_bundle_path: Path, integration_settings: Settings) -> Skillmatch:
    """The bundle with the encoder that built it (float32), as the CLI loads it."""
    return load_service(demo_bundle_path, settings=integration_settings)


@pytest.fixture(scope="module")
def posting_texts() -> list[str]:
    postings = pd.read_csv(demo_paths()[2])
    return postings["description"].head(12).tolist()


def test_the_server_encodes_with_the_backend_it_measured_fastest(
    client: TestClient, float32_bundle: Skillmatch
) -> None:
    ready = client.get("/ready")
    assert ready.status_code == 200
    encoder = ready.json()["bundle"]["encoder"]
    assert encoder["chosen_by"].startswith("auto")
    selection = encoder["selection"]
    assert selection["workload"] == "serving" and selection["threads"] == 1
    assert {c["backend"] for c in selection["candidates"]} == {"onnx", "onnx-int8-block", "torch"}
    timed = [c for c in selection["candidates"] if c["phrases_per_s"]]
    assert all(c["accepted"] and c["min_cosine"] >= 0.998 for c in timed)
    assert encoder["backend"] == max(timed, key=lambda c: c["phrases_per_s"])["backend"]
    assert encoder["cpu"]["arch"] and isinstance(encoder["cpu"]["flags"], list)
    built_with = float32_bundle.bundle.manifest["model"]["fingerprint"]
    assert vector_family(encoder["fingerprint"]) == vector_family(built_with)


def test_served_extraction_ranks_like_the_float32_linker(
    client: TestClient, float32_bundle: Skillmatch, posting_texts: list[str]
) -> None:
    # one posting per request: 12 postings in one exceed the request's text limit (docs/reliability.md)
    served = []
    for text in posting_texts:
        response = client.post("/v1/skills/extract", json={"texts": [text], "top_k": 5})
        assert response.status_code == 200, response.text
        served += [{s["id"]: s["score"] for s in r["skills"]} for r in response.json()["results"]]
    reference = [{s.id: s.score for s in f} for f in float32_bundle.linker.link(posting_texts, top_k=5)]
    assert all(served) and len(served) == len(reference) == 12
    # the best skill of every posting is the same, most of the top 5 too, and shared skills score alike
    assert [max(s, key=s.get) for s in served] == [max(r, key=r.get) for r in reference]
    overlap = sum(len(s.keys() & r.keys()) for s, r in zip(served, reference, strict=True))
    assert overlap >= 0.9 * sum(len(r) for r in reference)
    diffs = [abs(s[k] - r[k]) for s, r in zip(served, reference, strict=True) for k in s.keys() & r.keys()]
    assert max(diffs) < 0.02


def test_served_recommendations_work_end_to_end(client: TestClient) -> None:
    role = client.get("/v1/roles", params={"q": "data analyst", "limit": 1}).json()["roles"][0]
    assert "data analyst" in role["label"]
    skills = ["hands-on SQL", "experience with Excel", "presenting results"]
    response = client.post("/v1/recommendations", json={"roles": [role["id"]], "skills": skills})
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (
        0 < plan["coverage_before"] < plan["coverage_after"]
    )  # the phrases were recognised, the pathway helps
    assert plan["pathway"]


def test_request_texts_are_encoded_in_a_process_of_their_own_on_two_cores(client: TestClient) -> None:
    if cpu_info()["usable_cpus"] < 2:
        pytest.skip("one usable CPU: the server encodes in its own process (api_encoder_process=auto)")
    role = client.get("/v1/roles", params={"q": "data analyst", "limit": 1}).json()["roles"][0]
    skills = ["hands-on SQL reporting", "experience with Excel dashboards"]
    assert (
        client.post("/v1/recommendations", json={"roles": [role["id"]], "skills": skills}).status_code == 200
    )
    process = client.get("/ready").json()["bundle"]["encoder"]["process"]
    assert process["state"] == "running" and process["child_calls"] >= 1 and process["child_texts"] >= 2
    assert "skillmatch_encoder_process_up 1.0" in client.get("/metrics").text
