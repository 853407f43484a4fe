"""Currencies: ISO 4217 codes (from ``pycountry``) and a dated exchange-rate table that a user can replace.

Prices of credentials are compared across currencies with :class:`RateTable`: the value of one unit of each currency
in euros, with the date and source of each rate. The table shipped in ``skillmatch/data/fx_rates.csv`` holds
approximate rates for comparing prices, not for payment; set ``SKILLMATCH_FX_RATES_FILE`` to a CSV of your own with
the same columns (``currency, eur_per_unit, as_of, source``). A currency that is not ISO 4217 is an error; one that
the table has no rate for cannot be converted (:class:`UnconvertibleCurrencyError`), and no price is ever shown as 0
because of it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pycountry

from skillmatch.schema import InputError

#: The table shipped with the package.
DEFAULT_RATES = "fx_rates.csv"
RATE_COLUMNS = ("currency", "eur_per_unit", "as_of", "source")


class UnknownCurrencyError(ValueError):
    """A code that is not an ISO 4217 currency."""


class UnconvertibleCurrencyError(ValueError):
    """An ISO 4217 currency that the rate table has no rate for."""


def iso_currency(code: str) -> str:
    """``code`` as an upper-case ISO 4217 alphabetic code.

    Raises:
        UnknownCurrencyError: Not an ISO 4217 currency (the message names the code).
    """
    text = str(code).strip().upper()
    if len(text) != 3 or not text.isalpha() or pycountry.currencies.get(alpha_3=text) is None:
        raise UnknownCurrencyError(f"unknown currency {code!r}: not an ISO 4217 code such as EUR, USD or INR")
    return text


@dataclass(frozen=True)
class RateTable:
    """Exchange rates as the value of one unit in euros, with where they came from.

    Attributes:
        eur_per_unit: Currency code -> value of one unit in EUR.
        as_of: Currency code -> the date of its rate.
        source: The file the table was read from.
    """

    eur_per_unit: dict[str, float]
    as_of: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def __contains__(self, code: object) -> bool:
        """Whether the table can convert ``code``."""
        return isinstance(code, str) and code.upper() in self.eur_per_unit

    def check(self, code: str) -> str:
        """``code`` as ISO 4217, if the table can convert it.

        Raises:
            UnknownCurrencyError: Not ISO 4217.
            UnconvertibleCurrencyError: No rate for it in this table.
        """
        iso = iso_currency(code)
        if iso not in self.eur_per_unit:
            raise UnconvertibleCurrencyError(
                f"currency {iso} has no exchange rate in {self.source or 'the rate table'}; "
                f"known: {', '.join(sorted(self.eur_per_unit))} (set SKILLMATCH_FX_RATES_FILE to a table with it)"
            )
        return iso

    def convert(self, amount: float, source: str, target: str) -> float:
        """``amount`` in ``source`` currency expressed in ``target`` currency.

        Raises:
            UnknownCurrencyError: A code is not ISO 4217.
            UnconvertibleCurrencyError: The table has no rate for a code.
        """
        src, dst = self.check(source), self.check(target)
        if src == dst:
            return float(amount)
        return float(amount) * self.eur_per_unit[src] / self.eur_per_unit[dst]

    def pairs(self) -> tuple[tuple[str, float], ...]:
        """The rates as sorted ``(code, eur_per_unit)`` pairs."""
        return tuple(sorted(self.eur_per_unit.items()))


def read_rates(path: str | Path | None = None) -> RateTable:
    """Read a rate table: ``currency, eur_per_unit, as_of, source`` (the packaged table when ``path`` is None).

    Raises:
        InputError: The file is missing, a column is missing, or a row has an unknown currency, a duplicate
            currency or a rate that is not a positive finite number (the message names file, row and field).
    """
    if path is None:
        ref = resources.files("skillmatch") / "data" / DEFAULT_RATES
        text, where = ref.read_text(encoding="utf-8"), f"skillmatch/data/{DEFAULT_RATES}"
    else:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{file}: exchange-rate file not found")
        text, where = file.read_text(encoding="utf-8-sig"), str(file)
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in RATE_COLUMNS[:2] if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{where}, row 1 [{missing[0]}]: column missing (need {', '.join(RATE_COLUMNS)})")
    rates: dict[str, float] = {}
    dates: dict[str, str] = {}
    for row_number, row in enumerate(reader, start=2):
        try:
            code = iso_currency(row.get("currency") or "")
        except UnknownCurrencyError as exc:
            raise InputError(f"{where}, row {row_number} [currency]: {exc}") from None
        if code in rates:
            raise InputError(f"{where}, row {row_number} [currency]: duplicate currency {code}")
        try:
            rate = float(row.get("eur_per_unit") or "")
        except ValueError:
            rate = math.nan
        if not math.isfinite(rate) or rate <= 0:
            raise InputError(
                f"{where}, row {row_number} [eur_per_unit]: {row.get('eur_per_unit')!r} is not a positive number"
            )
        rates[code] = rate
        dates[code] = (row.get("as_of") or "").strip()
    if "EUR" not in rates:
        raise InputError(f"{where}, row 1 [currency]: the table needs EUR (the reference currency, 1.0)")
    return RateTable(rates, dates, where)


@lru_cache(maxsize=8)
def rate_table(path: str | None = None) -> RateTable:
    """:func:`read_rates`, cached per path (tables are read once per process)."""
    return read_rates(path)
