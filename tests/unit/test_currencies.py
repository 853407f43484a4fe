"""Unit tests for skillmatch.currencies and the build's currency screen."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from skillmatch.build import screen_currencies
from skillmatch.currencies import (
    RateTable,
    UnconvertibleCurrencyError,
    UnknownCurrencyError,
    iso_currency,
    rate_table,
    read_rates,
)
from skillmatch.schema import InputError, Reject


def test_iso_currency_accepts_iso_4217_only() -> None:
    assert iso_currency(" jpy ") == "JPY"
    for bad in ("QQQ", "EURO", "", "12A"):
        with pytest.raises(UnknownCurrencyError, match="not an ISO 4217 code"):
            iso_currency(bad)


def test_packaged_table_is_dated_and_converts_both_ways() -> None:
    table = rate_table()
    assert table.eur_per_unit["EUR"] == 1.0 and "JPY" in table and "XXX" not in table
    assert all(date == "2026-11-29" for date in table.as_of.values())
    assert table.convert(100, "USD", "USD") == 100
    there = table.convert(100, "GBP", "INR")
    assert table.convert(there, "INR", "GBP") == pytest.approx(100)
    with pytest.raises(UnconvertibleCurrencyError, match="XXX has no exchange rate"):
        table.convert(1, "XXX", "EUR")
    with pytest.raises(UnknownCurrencyError):
        table.convert(1, "EUR", "QQQ")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("currency,eur_per_unit\nEUR,1\nQQQ,2\n", "row 3 [currency]: unknown currency 'QQQ'"),
        ("currency,eur_per_unit\nEUR,1\nUSD,-1\n", "row 3 [eur_per_unit]: '-1' is not a positive number"),
        ("currency,eur_per_unit\nEUR,1\nUSD,nan\n", "row 3 [eur_per_unit]"),
        ("currency,eur_per_unit\nEUR,1\nEUR,1\n", "row 3 [currency]: duplicate currency EUR"),
        ("currency,rate\nEUR,1\n", "row 1 [eur_per_unit]: column missing"),
        ("currency,eur_per_unit\nUSD,0.9\n", "needs EUR"),
    ],
)
def test_a_users_rate_file_is_checked_row_by_row(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_rates(write(tmp_path / "rates.csv", body))


def test_a_users_rate_file_replaces_the_table(tmp_path: Path) -> None:
    table = read_rates(
        write(
            tmp_path / "rates.csv",
            "currency,eur_per_unit,as_of,source\nEUR,1,2027-01-01,x\nUSD,0.5,2027-01-01,x\n",
        )
    )
    assert table.convert(10, "USD", "EUR") == 5 and "GBP" not in table and table.as_of["USD"] == "2027-01-01"
    with pytest.raises(InputError, match="not found"):
        read_rates(tmp_path / "missing.csv")


def test_build_rejects_prices_it_cannot_convert() -> None:
    table = pd.DataFrame(
        {
            "id": ["ok", "free", "unpriced", "no-currency", "no-rate"],
            "cost": [10.0, 0.0, None, 5.0, 7.0],
            "currency": ["EUR", "USD", None, None, "XXX"],
        }
    )
    rejects: list[Reject] = []
    kept = screen_currencies(table, RateTable({"EUR": 1.0, "USD": 0.9}, source="t"), "creds.csv", rejects)
    assert kept["id"].tolist() == ["ok", "free", "unpriced"]
    assert [(r.file, r.field) for r in rejects] == [("creds.csv", "currency")] * 2
    assert "'no-currency': a cost of 5.0 needs a currency" in rejects[0].reason
    assert "'no-rate': currency XXX has no exchange rate" in rejects[1].reason
