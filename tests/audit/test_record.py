"""``record`` writes one row with who, what, which object, from where and with what outcome;
inside a command it commits or rolls back with it; ``apart=True`` outlives a rollback; and on
PostgreSQL the database itself refuses to change or delete a row."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.sessions import start_session
from marketplace.audit.log import WITHHELD, record
from marketplace.db import transaction
from marketplace.extensions import db
from tests.factories import MembershipFactory, UserFactory


def test_a_row_is_written_with_the_request_s_actor_and_address(app: Flask, new_events) -> None:
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.7"}):
        membership = MembershipFactory()
        start_session(membership.user)
        record("membership.change_role", obj=membership, details={"role": "owner"})
        (event,) = new_events("membership.change_role")
        assert event.actor_user_id == membership.user_id
        assert event.ip_address == "203.0.113.7"
        assert (event.object_type, event.object_id) == ("membership", str(membership.id))
        assert event.organization_id == membership.organization_id
        assert event.outcome == "succeeded"
        assert event.details == {"role": "owner"}
        assert event.occurred_at is not None


def test_secrets_in_details_are_withheld(app: Flask, new_events) -> None:
    with app.app_context():
        record("session.sign_in", outcome="refused", details={"password": "hunter2", "n": 1})
        (event,) = new_events("session.sign_in")
        assert event.details == {"password": WITHHELD, "n": 1}
        assert event.actor_user_id is None and event.ip_address is None


def test_an_unknown_outcome_is_a_programming_error(app: Flask, new_events) -> None:
    with app.app_context(), pytest.raises(ValueError):
        record("session.sign_in", outcome="maybe")


def test_an_event_inside_a_command_rolls_back_with_it(app: Flask, new_events) -> None:
    with app.app_context():
        user = UserFactory()
        with pytest.raises(RuntimeError), transaction():
            record("token.create", object_type="api_token", object_id=1, actor=user)
            raise RuntimeError("the command failed")
        assert new_events("token.create") == []
        with transaction():
            record("token.create", object_type="api_token", object_id=2, actor=user)
        assert [e.object_id for e in new_events("token.create")] == ["2"]


def test_a_refusal_recorded_apart_outlives_the_rollback(app: Flask, new_events) -> None:
    with app.app_context():
        user = UserFactory()
        with pytest.raises(PermissionError), transaction():
            record(
                "payout_batch.approve",
                object_type="payout_batch",
                object_id=9,
                actor=user,
                outcome="refused",
                details={"reason": "no fresh second factor"},
                apart=True,
            )
            assert new_events("payout_batch.approve") == []  # written once the command ends
            raise PermissionError
        (event,) = new_events("payout_batch.approve")
        assert (event.outcome, event.actor_user_id) == ("refused", user.id)


def test_apart_outside_a_transaction_writes_at_once(app: Flask, new_events) -> None:
    with app.app_context():
        record("session.sign_in", outcome="refused", apart=True)
        assert len(new_events("session.sign_in")) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'succeeded' WHERE id = :id",
        "UPDATE audit_events SET details = '{}' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
        "TRUNCATE audit_events",
    ],
)
def test_postgresql_refuses_to_change_or_delete_an_event(
    app: Flask, postgres, new_events, statement: str
) -> None:
    with app.app_context():
        record("session.sign_in", outcome="refused", details={"email": "a@example.com"})
        (event,) = new_events("session.sign_in")
        with pytest.raises(IntegrityError, match="append-only"), db.session.begin_nested():
            db.session.execute(text(statement), {"id": event.id} if ":id" in statement else {})
        db.session.expire_all()
        (again,) = new_events("session.sign_in")
        assert (again.outcome, again.details) == ("refused", {"email": "a@example.com"})
