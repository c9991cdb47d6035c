"""Escrow takes no more than the terms need, unless the funding is an explicit top-up for an
open need's amendment (named by its prize total); the same rule and message on the page and
in the API. The terms of these needs require 1,650,000 (prizes 1,500,000 and a 10 % fee)."""

from __future__ import annotations

import html

from flask import Flask
from sqlalchemy import func, select

from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.payments.models import Payment
from marketplace.payments.services import escrow_available
from tests.challenges.conftest import draft, opened, people  # noqa: F401  (fixtures)
from tests.challenges.test_api import bearer, terms_json, token_for

API = "/api/v1"
REQUIRED = 1_650_000


def payment_count(app: Flask, need: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Payment.id)).where(Payment.challenge_id == need))


def escrow(app: Flask, need: int) -> int:
    with app.app_context():
        return escrow_available(db.session.get(Challenge, need))


def test_the_api_refuses_funding_beyond_what_the_terms_need(app, client, people, draft):  # noqa: F811
    manager = bearer(token_for(app, people.manager))
    url = f"{API}/challenges/{draft}/fundings"
    too_much = client.post(url, json={"amount": REQUIRED + 1}, headers=manager)
    assert too_much.status_code == 422
    assert too_much.json["errors"] == {
        "amount": [
            "Escrow needs at most 16,500.00 USD more for the current terms (payments on the "
            "way count)."
        ]
    }
    assert client.post(url, json={"amount": 650_000}, headers=manager).status_code == 201
    beyond = client.post(url, json={"amount": 1_000_001}, headers=manager)
    assert beyond.status_code == 422 and "10,000.00 USD" in beyond.json["errors"]["amount"][0]
    assert client.post(url, json={"amount": 1_000_000}, headers=manager).status_code == 201
    assert client.post(url, json={"amount": 1}, headers=manager).status_code == 422
    assert client.post(url, json={}, headers=manager).status_code == 409  # nothing is missing
    assert escrow(app, draft) == REQUIRED and payment_count(app, draft) == 2
    # A draft changes its terms without money: no top-up for it.
    top_up = client.post(
        url, json={"amount": 1, "amendment_prize_total": 2_000_000}, headers=manager
    )
    assert top_up.status_code == 422 and set(top_up.json["errors"]) == {"amendment_prize_total"}


def test_an_explicit_top_up_funds_a_pending_amendment(app, client, people, opened):  # noqa: F811
    manager = bearer(token_for(app, people.manager))
    fundings = f"{API}/challenges/{opened}/fundings"
    richer = {**terms_json(prizes=[1_500_000, 500_000]), "change_note": "Bigger first prize"}
    amend = f"{API}/challenges/{opened}/terms"
    refused = client.post(amend, json=richer, headers=manager)
    assert refused.status_code == 422
    assert refused.json["errors"] == {
        "prizes": ["Escrow is 550000 minor units short of the new prizes."]
    }

    plain = client.post(fundings, json={"amount": 550_000}, headers=manager)
    assert plain.status_code == 422
    assert "give its prize total" in plain.json["errors"]["amount"][0]
    not_richer = client.post(
        fundings, json={"amount": 1, "amendment_prize_total": 1_500_000}, headers=manager
    )
    assert not_richer.status_code == 422
    [message] = not_richer.json["errors"]["amendment_prize_total"]
    assert "above the current 15,000.00 USD" in message
    # The amendment needs 2,000,000 + 10 % = 2,200,000: 550,000 more than escrow holds.
    beyond = client.post(
        fundings, json={"amount": 550_001, "amendment_prize_total": 2_000_000}, headers=manager
    )
    assert beyond.status_code == 422
    assert "The amendment needs at most 5,500.00 USD more" in beyond.json["errors"]["amount"][0]
    others = bearer(token_for(app, people.reviewer))
    assert client.post(
        fundings, json={"amendment_prize_total": 2_000_000}, headers=others
    ).status_code == 403
    assert payment_count(app, opened) == 1

    top_up = client.post(fundings, json={"amendment_prize_total": 2_000_000}, headers=manager)
    assert top_up.status_code == 201 and top_up.json["amount"] == 550_000
    assert escrow(app, opened) == 2_200_000
    published = client.post(amend, json=richer, headers=manager)
    assert published.status_code == 201, published.json
    again = client.post(fundings, json={"amount": 1}, headers=manager)
    assert again.status_code == 422  # the amended terms are fully funded now


def test_the_page_gives_the_same_rule_and_message(app, client, auth, people, opened):  # noqa: F811
    auth.login(people.manager)
    page = client.get(f"/challenges/{opened}")
    assert b'name="amendment_prize_total"' in page.data
    refused = client.post(
        f"/challenges/{opened}/fund", data={"amount": "5,500.00"}, follow_redirects=True
    )
    assert "Escrow needs at most 0.00 USD more for the current terms" in html.unescape(
        refused.get_data(as_text=True)
    )
    assert payment_count(app, opened) == 1
    not_a_number = client.post(
        f"/challenges/{opened}/fund",
        data={"amendment_prize_total": "lots"},
        follow_redirects=True,
    )
    assert "Enter the amendment's prize total as an amount." in html.unescape(
        not_a_number.get_data(as_text=True)
    )
    topped_up = client.post(
        f"/challenges/{opened}/fund",
        data={"amendment_prize_total": "20,000.00", "amount": ""},
        follow_redirects=True,
    )
    assert topped_up.status_code == 200
    assert escrow(app, opened) == 2_200_000 and payment_count(app, opened) == 2
