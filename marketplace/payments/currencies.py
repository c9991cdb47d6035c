"""Which currencies a need may be funded in: current ISO 4217 codes (``ledger.currencies``,
from Babel) that the payment provider takes, in the same minor units as the book."""

from __future__ import annotations

import marshmallow as ma

from ledger.currencies import is_current

#: Stripe's presentment currencies ("Supported presentment currencies" at
#: https://docs.stripe.com/currencies): compare with that page when Stripe adds or drops one.
STRIPE_CURRENCIES = frozenset({
    "USD", "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
    "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL",
    "HTG", "HUF", "IDR", "ILS", "INR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "STD", "SZL",
    "THB", "TJS", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "UYU", "UZS", "VND",
    "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
})  # fmt: skip
#: Taken by Stripe in other minor units than ISO 4217's, which the book keeps: ISK is
#: two-decimal in Stripe's API (ISO: none), MGA zero-decimal (ISO: two), and UGX is one of
#: Stripe's special cases. Amounts would be off by a factor of 100, so they are not offered.
MINOR_UNITS_DIFFER = frozenset({"ISK", "MGA", "UGX"})


def supported() -> frozenset[str]:
    """The currencies a need may use (withdrawn codes such as STD drop out by themselves)."""
    return frozenset(c for c in STRIPE_CURRENCIES - MINOR_UNITS_DIFFER if is_current(c))


def currency_problem(code: str) -> str | None:
    """Why ``code`` cannot be a need's currency, or None."""
    if not is_current(code):
        return f"{code!r} is not a current ISO 4217 currency code (like USD or EUR)."
    if code not in supported():
        return f"{code} is not a currency the payment provider accepts here."
    return None


def validate_currency(code: str) -> None:
    """A marshmallow validator for a need's currency."""
    problem = currency_problem(code)
    if problem:
        raise ma.ValidationError(problem)
