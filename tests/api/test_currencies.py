"""Currencies at the API: unknown or unconvertible codes are a 422 naming the code, never prices of 0."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

BODY = {"roles": ["data analyst"], "skills": ["SQL"]}


@pytest.mark.parametrize(
    ("currency", "message"),
    [("QQQ", "not an ISO 4217 code"), ("XXX", "has no exchange rate")],
)
def test_recommendations_refuse_a_currency_they_cannot_convert(
    client: TestClient, currency: str, message: str
) -> None:
    response = client.post("/v1/recommendations", json={**BODY, "currency": currency})
    assert response.status_code == 422, response.text
    assert message in response.text and currency in response.text


def test_recommendations_in_a_newly_supported_currency_have_real_prices(client: TestClient) -> None:
    eur = client.post("/v1/recommendations", json={**BODY, "currency": "EUR"}).json()
    jpy = client.post("/v1/recommendations", json={**BODY, "currency": "JPY"}).json()
    assert jpy["totals"]["currency"] == "JPY"
    assert eur["totals"]["cost"] > 0
    # same pathway, costs converted (1 JPY is worth far less than 1 EUR), never 0
    assert [s["credential"]["id"] for s in jpy["pathway"]] == [s["credential"]["id"] for s in eur["pathway"]]
    assert jpy["totals"]["cost"] > 50 * eur["totals"]["cost"]
    for step in jpy["pathway"]:
        assert (
            step["cost_in_currency"] is None
            or step["cost_in_currency"] > 0
            or step["credential"]["cost"] == 0
        )


def test_credential_search_refuses_an_unconvertible_budget_currency(client: TestClient) -> None:
    response = client.get("/v1/credentials", params={"max_cost": 1_000_000, "currency": "XXX"})
    assert response.status_code == 422, response.text
    assert "has no exchange rate" in response.text
    fine = client.get("/v1/credentials", params={"max_cost": 1_000_000, "currency": "JPY"})
    assert fine.status_code == 200 and fine.json()["total"] > 0
