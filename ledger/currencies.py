"""ISO 4217 currencies and their minor units, from Babel's copy of the Unicode CLDR data.

Amounts in the book are integers in ISO 4217 minor units (what payment providers take).
CLDR's ``digits`` (Babel's ``get_currency_precision``) are the minor units too, except for a
few currencies where CLDR gives the digits people use in cash instead (no fillér is written
for HUF, yet ISO 4217 and Stripe count HUF in hundredths): ``ISO_WHERE_CLDR_DIFFERS`` puts
ISO's value back for those, so that 1 HUF stays 100 minor units. CLF and UYW have 4 decimals.
"""

from __future__ import annotations

from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision

#: ISO 4217 minor units (List One) where CLDR's digits differ (CLDR 47, Babel 2.19).
ISO_WHERE_CLDR_DIFFERS = {
    "AFN": 2, "ALL": 2, "COP": 2, "HUF": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2, "LAK": 2,
    "LBP": 2, "MGA": 2, "MMK": 2, "SOS": 2, "SYP": 2, "YER": 2,
}  # fmt: skip


@cache
def current_codes() -> frozenset[str]:
    """ISO 4217 codes in use today in some territory (CLDR's territory currencies with no
    end date): withdrawn codes (DEM, STD) and made-up ones (ZZZ) are not among them."""
    return frozenset(
        code
        for currencies in get_global("territory_currencies").values()
        for code, _start, end, _tender in currencies
        if end is None
    )


def is_current(code: str) -> bool:
    return isinstance(code, str) and code in current_codes()


@cache
def exponent(code: str) -> int:
    """The ISO 4217 minor unit of ``code``: 2 for USD, 0 for JPY, 3 for KWD, 4 for CLF."""
    if code in ISO_WHERE_CLDR_DIFFERS:
        return ISO_WHERE_CLDR_DIFFERS[code]
    return get_currency_precision(code)
