"""Each kind of event the issue lists gets its row, written by the service where the rule
lives: sign-ins (and failed ones), role and membership changes, tokens, needs and proposals,
confidential downloads, money actions and back-office actions."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from marketplace.accounts import services as accounts
from marketplace.accounts import tokens
from marketplace.accounts.models import Organization
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.finance import exports
from marketplace.judging import decisions
from marketplace.payouts import batches
from marketplace.proposals import attachments
from marketplace.proposals import services as proposals
from marketplace.value import reports
from tests.challenges.conftest import create, user
from tests.factories import UserFactory, make_terms, make_token
from tests.payouts.conftest import onboard
from tests.second_factors import fresh_code
from tests.value.test_reports import period

TEXT = b"Pilot line trials in Q3.\n"


def kinds(events: list) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in events]


def test_sign_ins_and_failed_sign_ins(app: Flask, client: FlaskClient, auth, new_events) -> None:
    with app.app_context():
        person_id = UserFactory(email="ann@example.com").id
    auth.login("ann@example.com", "wrong password!")
    auth.login("nobody@example.com", "wrong password!")
    auth.login("ann@example.com")
    with app.app_context():
        failed, unknown, ok = new_events("session.sign_in")
        assert (failed.outcome, failed.actor_user_id) == ("refused", person_id)
        assert failed.details == {"email": "ann@example.com"}
        assert (unknown.outcome, unknown.actor_user_id) == ("refused", None)
        assert (ok.outcome, ok.actor_user_id) == ("succeeded", person_id)
        assert ok.ip_address == "127.0.0.1"


def test_membership_and_role_changes_and_refusals(app: Flask, people, new_events) -> None:
    with app.app_context():
        acme = db.session.scalar(db.select(Organization).where(Organization.slug == "acme"))
        owner, newcomer = user(people.owner), UserFactory(email="new@example.com")
        accounts.set_member(owner, acme, newcomer.email, "reviewer")
        accounts.set_member(owner, acme, newcomer.email, "finance")
        accounts.remove_member(owner, acme, newcomer.id)
        with pytest.raises(Forbidden):
            accounts.set_member(user(people.manager), acme, newcomer.email, "owner")
        events = new_events()
        assert kinds(events) == [
            ("membership.add", "succeeded"),
            ("membership.change_role", "succeeded"),
            ("membership.remove", "succeeded"),
            ("membership.set", "refused"),
        ]
        assert {e.organization_id for e in events} == {acme.id}
        assert events[1].details == {"user_id": newcomer.id, "from": "reviewer", "to": "finance"}
        assert events[3].actor_user_id == user(people.manager).id


def test_token_creation_and_revocation(app: Flask, new_events) -> None:
    with app.app_context():
        person = UserFactory()
        token, secret = make_token(person, "laptop")
        tokens.revoke_token(person, token.id)
        created, revoked = new_events()
        assert (created.action, created.object_id) == ("token.create", str(token.id))
        assert secret not in str(created.details)
        assert created.details == {
            "name": "laptop",
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat(),
        }
        assert (revoked.action, revoked.actor_user_id) == ("token.revoke", person.id)


def test_need_edits(app: Flask, people, new_events) -> None:
    challenge_id = create(app, people)
    with app.app_context(), app.test_request_context():
        manager, challenge = user(people.manager), db.session.get(Challenge, challenge_id)
        needs.update_need(manager, challenge, {"title": "A better liner"})
        needs.amend_terms(manager, challenge, make_terms(prizes=(2_000_000, 500_000)))
        from marketplace.payments.services import start_funding

        start_funding(manager, challenge)
        needs.open_challenge(manager, challenge)
        assert kinds(new_events()) == [
            ("need.create", "succeeded"),
            ("need.edit", "succeeded"),
            ("need.amend", "succeeded"),
            ("need.fund", "succeeded"),
            ("payment.settle", "succeeded"),
            ("need.publish", "succeeded"),
        ]
        assert {e.organization_id for e in new_events()} == {challenge.organization_id}


def test_proposal_edits_and_confidential_downloads(
    app: Flask, people, need, new_events, tmp_path
) -> None:
    app.config["UPLOAD_FOLDER"], previous = str(tmp_path), app.config["UPLOAD_FOLDER"]
    try:
        with app.app_context():
            solver = user(people.solver)
            proposal_id = proposals.create_proposal(solver, need, {"title": "Liner"}).id
            proposals.update_proposal(solver, proposal_id, {"summary": "Wood pulp."})
            file = attachments.add_attachment(solver, proposal_id, "notes.txt", io.BytesIO(TEXT))
            file_id = file.id
        with app.test_request_context():
            attachments.download(user(people.solver), proposal_id, file_id)
            events = new_events()
            assert kinds(events) == [
                ("proposal.create", "succeeded"),
                ("proposal.edit", "succeeded"),
                ("attachment.add", "succeeded"),
                ("attachment.download", "succeeded"),
            ]
            # A draft is the team's own: nothing of it shows on the seeker's audit page.
            assert {e.organization_id for e in events} == {None}
    finally:
        app.config["UPLOAD_FOLDER"] = previous


def test_a_submission_is_the_seeker_s_to_see(app: Flask, new_events, people, submitted) -> None:
    with app.app_context():
        (event,) = new_events("proposal.submit")
        challenge = db.session.get(Challenge, submitted.challenge_id)
        assert event.organization_id == challenge.organization_id


def test_money_and_back_office_actions(
    app: Flask, sandbox_app, people, submitted, finance, new_events
) -> None:
    with app.app_context():
        award = decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
        award.awarded_at = award.awarded_at.replace(year=award.awarded_at.year - 2)
        db.session.commit()
        awarded = type("Awarded", (), {"awarded_on": award.awarded_at.date()})
        reports.report_value(user(people.manager), award.id, period(awarded, 0, 89))
    onboard(app, submitted.lead, submitted.partner)
    with app.app_context(), app.test_request_context():
        preparer, approver = user(finance.preparer), user(finance.approver)
        first = batches.prepare_batch(preparer, "USD", 100)
        batches.reject_batch(approver, first.id, "Wrong minimum")
        second = batches.prepare_batch(preparer, "USD", 100)
        with pytest.raises(Forbidden):
            batches.approve_batch(preparer, second.id, "000000")  # four eyes
        # jobs run inline: it sends
        batches.approve_batch(approver, second.id, fresh_code(approver))
        with pytest.raises(Forbidden):
            exports.request_export(user(people.owner), "csv")
        exports.request_export(preparer, "csv")
        events = [e for e in new_events() if not e.action.startswith("payout_account")]
        assert kinds(events) == [
            ("award.grant", "succeeded"),
            ("value_report.create", "succeeded"),
            ("payout_batch.prepare", "succeeded"),
            ("payout_batch.reject", "succeeded"),
            ("payout_batch.prepare", "succeeded"),
            ("payout_batch.approve", "refused"),
            ("payout_batch.step_up", "succeeded"),
            ("payout_batch.approve", "succeeded"),
            ("payout_batch.send", "succeeded"),
            ("book_export.request", "refused"),
            ("book_export.request", "succeeded"),
        ]
        assert events[0].details == {"amount": 1_000_000, "fee": 100_000, "currency": "USD"}
        assert events[5].actor_user_id == preparer.id
        assert "Four eyes" in events[5].details["reason"]
        assert events[8].details == {"paid": 2}
        assert [e.action for e in new_events("payout_account.open")] == ["payout_account.open"] * 2


def test_an_api_request_records_its_token(app: Flask, client: FlaskClient, new_events) -> None:
    with app.app_context():
        person = UserFactory()
        used, secret = make_token(person, "script")
        other, _ = make_token(person, "old laptop")
        ids = (person.id, used.id, other.id)
    response = client.delete(
        f"/api/v1/me/tokens/{ids[2]}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 204, response.get_json()
    with app.app_context():
        (event,) = new_events("token.revoke")
        assert (event.actor_user_id, event.api_token_id, event.object_id) == (
            ids[0], ids[1], str(ids[2])
        )  # fmt: skip
