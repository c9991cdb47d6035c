"""Currencies are current ISO 4217 codes the payment provider takes, with ISO's minor units
(from Babel, with CLDR's cash-digit exceptions put back): "ZZZ" is refused with a field error
in the API and on the page, and CLF and UYW count four decimals."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger import format_minor
from ledger.currencies import current_codes, exponent, is_current
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.payments.currencies import MINOR_UNITS_DIFFER, STRIPE_CURRENCIES, supported
from tests.challenges.conftest import people  # noqa: F401
from tests.challenges.test_api import bearer, need_json, terms_json, token_for
from tests.challenges.test_pages import FORM


@pytest.mark.parametrize(
    ("code", "digits"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0), ("KWD", 3), ("BHD", 3),
     ("IQD", 3), ("CLF", 4), ("UYW", 4), ("HUF", 2), ("IDR", 2), ("COP", 2), ("MGA", 2)],
)  # fmt: skip
def test_minor_units_are_iso_4217s(code: str, digits: int) -> None:
    assert exponent(code) == digits


def test_amounts_are_formatted_with_those_minor_units() -> None:
    assert format_minor(12_345, "CLF") == "1.2345"
    assert format_minor(12_345, "UYW", grouped=True) == "1.2345"
    assert format_minor(12_345, "HUF") == "123.45"
    assert format_minor(12_345, "KWD") == "12.345"


def test_the_supported_list_is_stripes_current_iso_codes_in_the_books_minor_units() -> None:
    assert not is_current("ZZZ") and not is_current("STD") and is_current("STN")
    assert STRIPE_CURRENCIES - current_codes() <= {"ANG", "BGN", "STD"}  # withdrawn since
    assert supported() <= STRIPE_CURRENCIES & current_codes()
    assert not supported() & MINOR_UNITS_DIFFER
    assert {"USD", "EUR", "JPY", "KWD", "HUF"} <= supported()
    assert "CLF" not in supported() and "STD" not in supported()


@pytest.mark.parametrize(
    ("code", "message"),
    [("ZZZ", "not a current ISO 4217 currency code"), ("DEM", "not a current ISO 4217"),
     ("CLF", "not a currency the payment provider accepts"),
     ("ISK", "not a currency the payment provider accepts"), ("usd", "String does not match")],
)  # fmt: skip
def test_a_currency_outside_the_list_is_a_field_error_in_the_api(
    app, client, people, code, message  # noqa: F811
) -> None:
    headers = bearer(token_for(app, people.manager))
    body = need_json(terms=terms_json(currency=code))
    response = client.post("/api/v1/challenges", json=body, headers=headers)
    assert response.status_code == 422
    assert message in " ".join(response.get_json()["errors"]["terms"]["currency"])
    with app.app_context():
        assert db.session.scalar(select(func.count(Challenge.id))) == 0
    body = need_json(terms=terms_json(currency="JPY", prizes=[1_000_000]))
    assert client.post("/api/v1/challenges", json=body, headers=headers).status_code == 201


def test_zzz_is_refused_on_the_page_too(app, client, auth, people) -> None:  # noqa: F811
    auth.login(people.manager)
    response = client.post("/challenges/new", data={**FORM, "currency": "zzz"})
    assert response.status_code == 422
    assert "not a current ISO 4217 currency code" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Challenge.id))) == 0
