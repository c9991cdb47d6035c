"""The value sharing API: earnings, an award's contributions and value reports, corrections,
withdrawals and payment, with the same rules as the pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from marketplace.accounts.second_factor import has_second_factor
from marketplace.extensions import db
from marketplace.value import reports
from marketplace.value.models import Contribution, ValueReport
from tests.challenges.conftest import user
from tests.challenges.test_api import bearer, token_for
from tests.factories import UserFactory
from tests.payments.conftest import sandbox_app  # noqa: F401
from tests.second_factors import enrol
from tests.value.test_reports import period

API = "/api/v1"


@pytest.fixture
def keys(app, people, awarded) -> SimpleNamespace:
    """Everyone's token, with every scope: each has a second factor (a money scope needs one),
    so what the value services refuse is seen through the API."""
    emails = {**vars(people), "lead": awarded.lead, "partner": awarded.partner}
    with app.app_context():
        for email in emails.values():
            if not has_second_factor(user(email)):
                enrol(email)
    return SimpleNamespace(
        **{role: bearer(token_for(app, email)) for role, email in emails.items()}
    )


def report_json(awarded, first: int, last: int, amount: object = 1_000_000, **extra) -> dict:
    return {
        "period_start": (awarded.awarded_on + timedelta(days=first)).isoformat(),
        "period_end": (awarded.awarded_on + timedelta(days=last)).isoformat(),
        "value_amount": amount,
        "evidence": "Sales ledger, Q1",
        **extra,
    }


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def test_earnings_and_their_csv(app, client, people, awarded, keys):
    with app.app_context():
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
    response = client.get(f"{API}/me/earnings", headers=keys.lead)
    assert response.status_code == 200
    (usd,) = response.get_json()
    assert (usd["currency"], usd["owed"], usd["pending"], usd["paid"]) == ("USD", 630_000, 0, 0)
    share, prize = usd["lines"]
    assert (share["kind"], share["amount"], share["weight"], share["total_weight"]) == (
        "value_share",
        30_000,
        6000,
        10_000,
    )
    assert (prize["kind"], prize["amount"], prize["share_bp"], prize["terms_version"]) == (
        "award",
        600_000,
        6000,
        1,
    )
    assert prize["proposal_id"] == awarded.proposal_id and prize["prize_rank"] == 1
    response = client.get(f"{API}/me/earnings.csv", headers=keys.lead)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 3 and rows[1][1] == "value_share" and rows[1][6] == "300.00"
    assert client.get(f"{API}/me/earnings", headers=keys.other_solver).get_json() == []
    assert client.get(f"{API}/me/earnings").status_code == 401


@pytest.mark.parametrize(
    "who, status",
    [("lead", 200), ("partner", 200), ("manager", 200), ("reviewer", 200), ("finance", 200),
     ("other_solver", 404), ("rival", 404)],
)  # fmt: skip
def test_an_award_for_its_team_and_the_seeker(app, client, people, awarded, keys, who, status):
    with app.app_context():
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
    response = client.get(f"{API}/awards/{awarded.award_id}", headers=getattr(keys, who))
    assert response.status_code == status
    if status == 404:
        return
    body = response.get_json()
    assert body["value_term"]["share_bp"] == 500
    assert body["value_term"]["first_day"] == awarded.awarded_on.isoformat()
    assert sorted(c["weight"] for c in body["contributions"]) == [4000, 6000]
    (report,) = body["reports"]
    assert (report["value_amount"], report["share_amount"], report["due"]) == (
        1_000_000,
        50_000,
        50_000,
    )
    assert client.get(f"{API}/awards/999999", headers=keys.lead).status_code == 404


def test_recording_and_confirming_a_contribution(app, client, awarded, keys):
    with app.app_context():
        UserFactory(email="helper@example.com", second_factor=True)  # value:write needs one
        db.session.commit()
    helper = bearer(token_for(app, "helper@example.com"))
    body = {"email": "helper@example.com", "weight": 2500, "description": "Scaled it up"}
    url = f"{API}/awards/{awarded.award_id}/contributions"
    assert client.post(url, json=body, headers=keys.lead).status_code == 403
    assert client.post(url, json=body, headers=keys.rival).status_code == 404
    response = client.post(url, json=body, headers=keys.manager)
    assert response.status_code == 201
    created = response.get_json()
    assert (created["kind"], created["weight"], created["confirmed_at"]) == ("later", 2500, None)
    confirm = f"{API}/contributions/{created['id']}/confirm"
    assert client.post(confirm, headers=keys.lead).status_code == 403
    assert client.post(confirm, headers=keys.other_solver).status_code == 404
    response = client.post(confirm, headers=helper)
    assert response.status_code == 200 and response.get_json()["confirmed_at"] is not None


@pytest.mark.parametrize(
    "change, field",
    [
        ({"weight": 2.5}, "weight"),
        ({"weight": "2500"}, "weight"),
        ({"weight": 0}, "weight"),
        ({"email": "not an email"}, "email"),
        ({"email": "nobody@example.com"}, "email"),
        ({"description": ""}, "description"),
        ({"description": "a\x00b"}, "description"),
    ],
)
def test_a_refused_contribution_names_the_field(app, client, awarded, keys, change, field):
    body = {"email": "other@example.com", "weight": 100, "description": "x", **change}
    response = client.post(
        f"{API}/awards/{awarded.award_id}/contributions", json=body, headers=keys.manager
    )
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert count(app, Contribution) == 2


def test_reporting_correcting_withdrawing_and_paying(
    app,
    sandbox_app,  # noqa: F811
    client,
    awarded,
    keys,
):
    url = f"{API}/awards/{awarded.award_id}/value-reports"
    response = client.post(url, json=report_json(awarded, 0, 89, 1_234_567), headers=keys.finance)
    assert response.status_code == 201
    first = response.get_json()
    assert (first["share_amount"], first["status"]) == (61_728, "posted")
    assert sum(first["shares"].values()) == 61_728

    correction = {"reason": "Returns", **report_json(awarded, 0, 89, 800_000)}
    corrected_url = f"{API}/value-reports/{first['id']}/correction"
    assert client.post(corrected_url, json=correction, headers=keys.lead).status_code == 403
    assert client.post(corrected_url, json=correction, headers=keys.rival).status_code == 404
    response = client.post(corrected_url, json=correction, headers=keys.manager)
    assert response.status_code == 201
    second = response.get_json()
    assert (second["corrects_id"], second["share_amount"]) == (first["id"], 40_000)
    response = client.post(corrected_url, json=correction, headers=keys.manager)
    assert response.status_code == 409  # reversed already

    pay = f"{API}/value-reports/{second['id']}/payment"
    assert client.post(pay, headers=keys.lead).status_code == 403
    response = client.post(pay, headers=keys.finance)
    assert response.status_code == 201
    assert (response.get_json()["status"], response.get_json()["amount"]) == ("settled", 40_000)
    assert client.post(pay, headers=keys.finance).status_code == 409

    response = client.post(url, json=report_json(awarded, 100, 120), headers=keys.manager)
    third = response.get_json()["id"]
    reversal = f"{API}/value-reports/{third}/reversal"
    assert client.post(reversal, json={"reason": ""}, headers=keys.manager).status_code == 422
    assert client.post(reversal, json={"reason": " "}, headers=keys.manager).status_code == 422
    response = client.post(reversal, json={"reason": "No sales"}, headers=keys.manager)
    assert response.status_code == 200 and response.get_json()["status"] == "reversed"
    assert client.post(reversal, json={"reason": "again"}, headers=keys.manager).status_code == 409
    assert client.post(f"{API}/value-reports/999999/reversal", json={"reason": "x"},
                       headers=keys.manager).status_code == 404  # fmt: skip

    detail = client.get(f"{API}/awards/{awarded.award_id}", headers=keys.manager).get_json()
    assert [(r["id"], r["status"], r["due"], r["corrected_by"]) for r in detail["reports"]] == [
        (first["id"], "reversed", 0, second["id"]),
        (second["id"], "posted", 0, None),
        (third, "reversed", 0, None),
    ]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"value_amount": 2.5}, "value_amount"),
        ({"value_amount": "12.5"}, "value_amount"),
        ({"value_amount": "1000000"}, "value_amount"),
        ({"value_amount": 0}, "value_amount"),
        ({"value_amount": 10**16}, "value_amount"),
        ({"value_amount": True}, "value_amount"),
        ({"period_start": "2024-02-30"}, "period_start"),
        ({"period_start": None}, "period_start"),
        ({"currency": "EUR"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"evidence": " "}, "evidence"),
        ({"evidence": "\x00"}, "evidence"),
        ({"value_amount": 19}, "value_amount"),  # 5 % of 0.19 is less than a cent
    ],
)
def test_a_refused_report_is_a_problem_with_field_errors(app, client, awarded, keys, change, field):
    response = client.post(
        f"{API}/awards/{awarded.award_id}/value-reports",
        json={**report_json(awarded, 0, 30), **change},
        headers=keys.manager,
    )
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["status"] == 422 and field in problem["errors"]
    assert count(app, ValueReport) == 0


@pytest.mark.parametrize(
    "first, last, message",
    [(80, 120, "overlaps report"), (-10, 5, "The value share runs from"),
     (700, 740, "The value share runs from")],
)  # fmt: skip
def test_periods_overlapping_or_outside_the_term_are_refused(
    app, client, people, awarded, keys, first, last, message
):
    with app.app_context():
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
    response = client.post(
        f"{API}/awards/{awarded.award_id}/value-reports",
        json=report_json(awarded, first, last),
        headers=keys.manager,
    )
    assert response.status_code == 422
    assert message in response.get_json()["errors"]["period_start"][0]
    assert count(app, ValueReport) == 1


@pytest.mark.parametrize(
    "who, status", [("lead", 403), ("reviewer", 403), ("rival", 404), ("other_solver", 404)]
)
def test_only_the_seekers_funders_report_value(app, client, awarded, keys, who, status):
    response = client.post(
        f"{API}/awards/{awarded.award_id}/value-reports",
        json=report_json(awarded, 0, 30),
        headers=getattr(keys, who),
    )
    assert response.status_code == status
    assert count(app, ValueReport) == 0


def test_writes_need_a_bearer_token(app, client, auth, awarded):
    auth.login(awarded.lead)  # a session cookie authenticates reads only
    assert client.get(f"{API}/awards/{awarded.award_id}").status_code == 200
    response = client.post(
        f"{API}/awards/{awarded.award_id}/value-reports", json=report_json(awarded, 0, 30)
    )
    assert response.status_code == 401
