"""The value sharing pages: my earnings (and its CSV), an award's page and its forms
(contributions, value reports, corrections, withdrawals, paying the share)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.value import reports
from marketplace.value.dues import value_share_due
from marketplace.value.models import Contribution, ValueReport
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.judging.test_pages import as_, flashed
from tests.payments.conftest import sandbox_app  # noqa: F401
from tests.value.test_reports import period


def day(awarded, offset: int) -> str:
    return (awarded.awarded_on + timedelta(days=offset)).isoformat()


def report_form(awarded, first: int, last: int, value: str = "10,000.00", **extra) -> dict:
    return {
        "period_start": day(awarded, first),
        "period_end": day(awarded, last),
        "value": value,
        "evidence": "Sales ledger, Q1",
        **extra,
    }


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def page(client, awarded) -> str:
    response = client.get(f"/awards/{awarded.award_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "who, status",
    [("lead", 200), ("partner", 200), ("manager", 200), ("reviewer", 200), ("finance", 200),
     ("other_solver", 404), ("rival", 404)],
)  # fmt: skip
def test_the_award_page_shows_contributions_and_reports_to_the_team_and_the_seeker(
    app, client, auth, people, awarded, who, status
):
    with app.app_context():
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
    email = getattr(awarded, who, None) or getattr(people, who)
    as_(client, auth, email)
    response = client.get(f"/awards/{awarded.award_id}")
    assert response.status_code == status
    if status == 404:
        return
    text = response.get_data(as_text=True)
    assert text.count('data-test="contribution"') == 2
    assert text.count('data-test="report"') == 1
    assert "5.00 %" in text and "500.00 USD" in text  # 5 % of 10,000.00
    seeker_funder = who in ("manager", "finance")
    assert ('data-test="report-form"' in text) is seeker_funder
    assert ('data-test="record-form"' in text) is (who == "manager")
    assert ('data-test="pay-' in text) is seeker_funder


def test_the_proposal_page_links_the_award_page_and_the_nav_my_earnings(app, client, auth, awarded):
    as_(client, auth, awarded.lead)
    text = client.get(f"/proposals/{awarded.proposal_id}").get_data(as_text=True)
    assert f'href="/awards/{awarded.award_id}"' in text
    assert 'href="/me/earnings"' in text


def test_recording_and_confirming_a_contribution(app, client, auth, people, awarded):
    with app.app_context():
        UserFactory(email="helper@example.com", name="Hana Helper")
    as_(client, auth, people.manager)
    form = {"email": "helper@example.com", "weight": "2,500", "description": "Scaled it up"}
    response = client.post(f"/awards/{awarded.award_id}/contributions", data=form)
    assert response.status_code == 302
    assert "Hana Helper" in flashed(client, "success")
    with app.app_context():
        later = db.session.scalar(select(Contribution).where(Contribution.kind == "later"))
        assert (later.weight, later.confirmed_at) == (2500, None)
    assert "waiting for them" in page(client, awarded)

    as_(client, auth, awarded.lead)  # someone else's: refused
    assert client.post(f"/contributions/{later.id}/confirm").status_code == 403
    as_(client, auth, people.other_solver)
    assert client.post(f"/contributions/{later.id}/confirm").status_code == 404

    as_(client, auth, "helper@example.com")
    notified = client.get("/notifications").get_data(as_text=True)
    link = re.search(r'href="([^"]+)">Confirm your contribution', notified).group(1)
    assert f'data-test="confirm-{later.id}"' in client.get(link).get_data(as_text=True)
    earnings_page = client.get("/me/earnings").get_data(as_text=True)
    assert f'data-test="confirm-{later.id}"' in earnings_page
    response = client.post(f"/contributions/{later.id}/confirm")
    assert response.status_code == 302 and response.location.endswith("/me/earnings")
    assert "confirmed" in flashed(client, "success")
    with app.app_context():
        assert db.session.get(Contribution, later.id).confirmed_at is not None
    assert 'data-test="to-confirm"' not in client.get("/me/earnings").get_data(as_text=True)
    assert page(client, awarded).count('data-test="confirmed"') == 3


@pytest.mark.parametrize(
    "form, field",
    [
        ({"email": "nobody@example.com", "weight": "100", "description": "x"}, "email"),
        ({"email": "other@example.com", "weight": "ten", "description": "x"}, "weight"),
        ({"email": "other@example.com", "weight": "0", "description": "x"}, "weight"),
        ({"email": "other@example.com", "weight": "100", "description": " "}, "description"),
    ],
)
def test_a_refused_contribution_shows_its_error_and_writes_nothing(
    app, client, auth, people, awarded, form, field
):
    as_(client, auth, people.manager)
    response = client.post(f"/awards/{awarded.award_id}/contributions", data=form)
    assert response.status_code == 422
    assert f'data-test="error-{field}"' in response.get_data(as_text=True)
    with app.app_context():
        assert count(Contribution) == 2


def test_only_the_seekers_owners_and_managers_record_contributions(
    app, client, auth, people, awarded
):
    form = {"email": "other@example.com", "weight": "bad", "description": "x"}
    for email, status in ((awarded.lead, 403), (people.rival, 404), (people.other_solver, 404)):
        as_(client, auth, email)
        response = client.post(f"/awards/{awarded.award_id}/contributions", data=form)
        assert response.status_code == status
    with app.app_context():
        assert count(Contribution) == 2


def test_reporting_value_typed_in_major_units_is_exact(app, client, auth, people, awarded):
    as_(client, auth, people.finance)
    response = client.post(
        f"/awards/{awarded.award_id}/value-reports",
        data=report_form(awarded, 0, 89, "12,345.67"),
    )
    assert response.status_code == 302
    assert "617.28 USD is now owed" in flashed(client, "success")
    with app.app_context():
        filed = db.session.scalar(select(ValueReport))
        assert (filed.value_amount, filed.share_amount) == (1_234_567, 61_728)
        assert filed.reported_by_id == user(people.finance).id
    text = page(client, awarded)
    assert "12,345.67 USD" in text and "617.28 USD" in text


@pytest.mark.parametrize(
    "form_args, field, message",
    [
        ((80, 120), "period_start", "overlaps report"),
        ((-10, 5), "period_start", "The value share runs from"),
        ((700, 740), "period_start", "The value share runs from"),
        ((100, 90), "period_end", "ends before it starts"),
        ((100, 120, "12.345"), "value_amount", "at most 2 decimal places"),
        ((100, 120, "-5"), "value_amount", "positive amount"),
        ((100, 120, "1e5"), "value_amount", "like 12,345.67"),
        ((100, 120, "99999999999999999999999"), "value_amount", "positive amount"),
    ],
)
def test_a_refused_report_shows_a_clear_error_and_writes_nothing(
    app, client, auth, people, awarded, form_args, field, message
):
    with app.app_context():
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
    as_(client, auth, people.manager)
    response = client.post(
        f"/awards/{awarded.award_id}/value-reports", data=report_form(awarded, *form_args)
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert f'data-test="error-{field}"' in text and message in text
    assert f'value="{day(awarded, form_args[0])}"' in text  # what was typed comes back
    with app.app_context():
        assert count(ValueReport) == 1


@pytest.mark.parametrize(
    "form",
    [
        {"period_start": "yesterday", "period_end": "", "value": "", "evidence": ""},
        {},
        {"period_start": "2024-02-30", "period_end": "99999-01-01", "value": "1.5.2"},
    ],
)
def test_unreadable_report_input_is_a_field_error(app, client, auth, people, awarded, form):
    as_(client, auth, people.manager)
    response = client.post(f"/awards/{awarded.award_id}/value-reports", data=form)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'data-test="error-period_start"' in text
    assert 'data-test="error-value_amount"' in text
    with app.app_context():
        assert count(ValueReport) == 0


def test_only_the_seekers_funders_report_value(app, client, auth, people, awarded):
    for email, status in (
        (awarded.lead, 403), (people.reviewer, 403), (people.rival, 404),
        (people.other_solver, 404),
    ):  # fmt: skip
        as_(client, auth, email)
        for form in (report_form(awarded, 0, 30), {"value": "x"}):
            response = client.post(f"/awards/{awarded.award_id}/value-reports", data=form)
            assert response.status_code == status, (email, form)
    with app.app_context():
        assert count(ValueReport) == 0


def test_correcting_and_withdrawing_a_report_through_the_page(app, client, auth, people, awarded):
    with app.app_context():
        first = reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 0, 89)
        ).id
    as_(client, auth, people.manager)
    bad = {"reason": "", **report_form(awarded, 0, 89, "8,000.00")}
    response = client.post(f"/value-reports/{first}/correction", data=bad)
    assert response.status_code == 422
    assert 'data-test="error-reason"' in response.get_data(as_text=True)

    good = {"reason": "Returns were not deducted", **report_form(awarded, 0, 89, "8,000.00")}
    response = client.post(f"/value-reports/{first}/correction", data=good)
    assert response.status_code == 302
    assert "400.00 USD owed" in flashed(client, "success")
    with app.app_context():
        db.session.expire_all()
        assert db.session.get(ValueReport, first).status == "reversed"
        second = db.session.scalar(select(ValueReport).where(ValueReport.corrects_id == first))
        assert second.share_amount == 40_000
        second = second.id
    text = page(client, awarded)
    assert "Returns were not deducted" in text and "replaced by" in text
    assert 'data-test="corrects"' in text

    response = client.post(f"/value-reports/{first}/reversal", data={"reason": "again"})
    assert response.status_code == 302
    assert "already reversed" in flashed(client, "error")

    response = client.post(f"/value-reports/{second}/reversal", data={"reason": " "})
    assert response.status_code == 422
    response = client.post(f"/value-reports/{second}/reversal", data={"reason": "No sales"})
    assert response.status_code == 302
    assert "withdrawn" in flashed(client, "success")
    with app.app_context():
        third = reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 100, 120)
        ).id
    for email, status in ((awarded.lead, 403), (people.rival, 404)):
        as_(client, auth, email)
        reversal = client.post(f"/value-reports/{third}/reversal", data={"reason": "x"})
        assert reversal.status_code == status
        assert client.post(f"/value-reports/{third}/correction", data=bad).status_code == status
    assert client.post("/value-reports/999999/reversal", data={"reason": "x"}).status_code == 404
    with app.app_context():
        assert db.session.get(ValueReport, third).status == "posted"


def test_paying_the_value_share_in_the_sandbox(app, sandbox_app, client, auth, people, awarded):  # noqa: F811
    with app.app_context():
        filed = reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 0, 89)
        ).id
    as_(client, auth, people.finance)
    assert "Pay the value share (500.00 USD)" in page(client, awarded)
    response = client.post(f"/value-reports/{filed}/payment")
    assert response.status_code == 302
    assert "Paid 500.00 USD" in flashed(client, "success")
    with app.app_context():
        assert value_share_due(filed) == 0
    text = page(client, awarded)
    assert f'data-test="pay-{filed}"' not in text
    response = client.post(f"/value-reports/{filed}/payment")
    assert "Nothing is due" in flashed(client, "error")
    as_(client, auth, awarded.lead)
    assert client.post(f"/value-reports/{filed}/payment").status_code == 403


def test_my_earnings_page_and_its_csv(app, client, auth, people, awarded):
    with app.app_context():
        first = reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89))
        reports.reverse_report(user(people.manager), first.id, "Counted twice")
        reports.report_value(
            user(people.manager), awarded.award_id, period(awarded, 0, 89, 2_000_000)
        )
    as_(client, auth, awarded.lead)
    text = client.get("/me/earnings").get_data(as_text=True)
    assert 'data-test="owed">6,600.00 USD' in text  # 6,000.00 prize + 60 % of 1,000.00
    assert 'data-test="pending">0.00 USD' in text and 'data-test="paid">0.00 USD' in text
    assert text.count('data-test="line-value_share"') == 2
    assert text.count('data-test="line-value_share_reversal"') == 1
    assert text.count('data-test="line-award"') == 1
    assert "-300.00 USD" in text and "Counted twice" in text
    assert 'href="/me/earnings.csv"' in text
    assert 'action="/me/payout-account"' in text and "Not set up" in text
    response = client.get("/me/earnings.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["date", "kind", "description"] and len(rows) == 1 + 4
    assert sum(int(row[5]) for row in rows[1:]) == 660_000
    auth.logout()
    assert client.get("/me/earnings").status_code == 302  # to the sign-in page
