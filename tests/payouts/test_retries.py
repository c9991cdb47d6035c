"""Payout lines that finish by themselves when Stripe does not answer, against the local fake
Stripe through the real SDK (jobs run inline): a line with no answer stays ``sending`` and is
tried again with the same key; before each retry it is looked up at Stripe; once its key has
expired with no transfer made it is sent under a new key version; when no key brought an
answer it waits for a finance user, who releases it. Time moves by editing the line's
next-try time and key age, not by sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from marketplace.payouts import batches, sending
from marketplace.payouts.models import PayoutBatch, PayoutLine
from tests.challenges.conftest import user
from tests.challenges.test_api import bearer, token_for
from tests.payouts.test_stripe_payouts import onboard_with_stripe, payable
from tests.second_factors import fresh_code

TRANSFERS = "/v1/transfers"
EXPIRED = sending.KEY_LIFETIME + timedelta(minutes=1)


def prepared(app, finance) -> tuple[int, int]:
    """A batch of one line (the lead's 6,000.00), prepared: (batch id, line id)."""
    with app.app_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        line = db.session.scalar(select(PayoutLine).where(PayoutLine.batch_id == batch.id))
        return batch.id, line.id


def approve(app, finance, batch_id: int) -> None:
    with app.app_context(), app.test_request_context():
        # the job runs inline
        batches.approve_batch(user(finance.approver), batch_id, fresh_code(finance.approver))


def make_due(app, line_id: int, key_age: timedelta | None = None) -> None:
    """Move time forward for the line: its next try is due (and its key this old)."""
    with app.app_context():
        line = db.session.get(PayoutLine, line_id)
        line.next_try_at = utcnow() - timedelta(seconds=1)
        if key_age is not None:
            line.sent_at = utcnow() - key_age
        db.session.commit()


def resume(app) -> int:
    with app.app_context(), app.test_request_context():
        return sending.resume_stuck_batches()


def line_and_batch(app, line_id: int) -> tuple[PayoutLine, PayoutBatch]:
    line = db.session.get(PayoutLine, line_id)
    return line, db.session.get(PayoutBatch, line.batch_id)


def posts(stripe_server, key: str) -> list[tuple[int, bool]]:
    return [
        (r.status, r.replayed)
        for r in stripe_server.requests
        if r.method == "POST" and r.path == TRANSFERS and r.idempotency_key == key
    ]


def look_ups(stripe_server) -> int:
    return sum(1 for r in stripe_server.requests if r.method == "GET" and r.path == TRANSFERS)


@pytest.fixture
def one_line(app, client, finance, owed, stripe_app, stripe_server) -> tuple[int, int]:
    onboard_with_stripe(app, client, stripe_server, owed.lead)
    return prepared(app, finance)


def test_a_500_stripe_replays_for_the_key_is_looked_up_and_the_line_ends_paid(
    app, finance, owed, stripe_server, one_line
):
    batch_id, line_id = one_line
    key = f"payout-line-{line_id}"
    stripe_server.payout_fault("saved_500", keys=[key], create=True)  # made, then a 500
    approve(app, finance, batch_id)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.attempts, batch.status) == ("sending", 1, "approved")
        assert utcnow() < line.next_try_at <= utcnow() + timedelta(seconds=30)
        assert "unknown error" in line.error
    assert resume(app) == 0  # not due yet
    make_due(app, line_id)
    assert resume(app) == 1
    [made] = stripe_server.transfers_of(line_id)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.provider_transfer_id, line.attempts) == ("paid", made["id"], 2)
        assert batch.status == "completed"
        assert ledger.verify(db.session) == []
    assert posts(stripe_server, key) == [(500, False), (500, True)]  # found, not sent again
    assert look_ups(stripe_server) == 1


def test_a_line_stripe_never_made_is_sent_under_a_new_key_once_its_key_expired(
    app, finance, owed, stripe_server, one_line
):
    batch_id, line_id = one_line
    key = f"payout-line-{line_id}"
    stripe_server.payout_fault("saved_500", keys=[key])  # nothing made
    approve(app, finance, batch_id)
    make_due(app, line_id)
    resume(app)  # looked up: nothing; sent again with the same key: the saved 500 again
    with app.app_context():
        line, _ = line_and_batch(app, line_id)
        assert (line.status, line.attempts, line.key_version) == ("sending", 2, 1)
        assert line.next_try_at <= line.sent_at + sending.KEY_LIFETIME
    assert stripe_server.transfers == {}
    make_due(app, line_id, key_age=EXPIRED)
    resume(app)
    [made] = stripe_server.transfers_of(line_id)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.key_version, line.provider_transfer_id) == (
            "paid", 2, made["id"],
        )  # fmt: skip
        assert batch.status == "completed"
        assert ledger.verify(db.session) == []
    assert posts(stripe_server, f"{key}-v2") == [(200, False)]
    assert len(stripe_server.transfers) == 1


def test_a_429_is_sent_again_after_its_retry_after_by_the_same_try(
    app, finance, owed, stripe_server, one_line
):
    """A 429 did nothing at Stripe: the same request goes again under the same key, within
    the same claim (no second try counted, no look-up first), and the line is paid once."""
    batch_id, line_id = one_line
    key = f"payout-line-{line_id}"
    stripe_server.payout_fault("rate_limit", keys=[key], times=2, retry_after=1)
    approve(app, finance, batch_id)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.attempts, batch.status) == ("paid", 1, "completed")
    assert [status for status, _ in posts(stripe_server, key)] == [429, 429, 200]
    assert [r for r in stripe_server.requests if r.method == "GET"] == []
    assert len(stripe_server.transfers) == 1
    assert [t["metadata"]["payout_line_id"] for t in stripe_server.transfers.values()] == [
        str(line_id)
    ]


def test_a_429_asking_for_longer_than_the_job_waits_leaves_the_line_for_later(
    app, finance, owed, stripe_server, one_line
):
    """Past ``RATE_LIMIT_PATIENCE`` the line is not waited for in the job: it keeps its claim
    until the Retry-After has passed, then the scheduled resume sends it (looked up first)."""
    batch_id, line_id = one_line
    key = f"payout-line-{line_id}"
    wait = int(sending.RATE_LIMIT_PATIENCE) + 30
    stripe_server.payout_fault("rate_limit", keys=[key], retry_after=wait)
    approve(app, finance, batch_id)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.attempts, batch.status) == ("sending", 1, "approved")
        ahead = (ledger.as_utc(line.next_try_at) - utcnow()).total_seconds()
        assert wait - 10 < ahead <= wait
        assert "Try 1" in line.error
    make_due(app, line_id)
    resume(app)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.attempts, batch.status) == ("paid", 2, "completed")
    assert [status for status, _ in posts(stripe_server, key)] == [429, 200]
    assert len(stripe_server.transfers) == 1


def never_answered(app, finance, stripe_server, batch_id: int, line_id: int) -> None:
    """Stripe answers every key of the line with a saved 500: after both keys expired, the
    line waits for finance."""
    key = f"payout-line-{line_id}"
    stripe_server.payout_fault("saved_500", keys=[key, f"{key}-v2"], times=2)
    approve(app, finance, batch_id)
    make_due(app, line_id, key_age=EXPIRED)
    resume(app)  # key v2, a 500 again
    make_due(app, line_id, key_age=EXPIRED)
    resume(app)  # looked up once more: nothing; no key left


def test_a_line_no_key_brought_an_answer_waits_for_finance_who_releases_it(
    app, client, people, finance, owed, stripe_server, one_line
):
    batch_id, line_id = one_line
    never_answered(app, finance, stripe_server, batch_id, line_id)
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.next_try_at, line.key_version) == ("sending", None, 2)
        assert "release the line" in line.error
        assert batch.status == "approved"
        assert batches.waiting_for_finance(batch) == 1
        assert payable(owed.lead).debits_pending == 600_000
    assert resume(app) == 0  # nothing is tried by itself any more
    assert stripe_server.transfers == {}

    path = f"/api/v1/payout-lines/{line_id}/release"
    for who in (owed.lead, people.finance):  # the line's own solver; Acme's finance member
        refused = client.post(path, json={"reason": "x"}, headers=bearer(token_for(app, who)))
        assert refused.status_code == 403, refused.json
    releaser = bearer(token_for(app, finance.approver))
    blank = client.post(path, json={"reason": " "}, headers=releaser)
    assert blank.status_code == 422 and "reason" in blank.json["errors"]
    released = client.post(path, json={"reason": "Stripe shows no transfer"}, headers=releaser)
    assert released.status_code == 200, released.json
    assert released.json["status"] == "released"
    assert released.json["released_by"]["email"] == finance.approver
    assert released.json["release_reason"] == "Stripe shows no transfer"
    with app.app_context():
        line, batch = line_and_batch(app, line_id)
        assert line.released_by_id == user(finance.approver).id and line.released_at
        assert batch.status == "completed"
        account = payable(owed.lead)
        assert (account.available, account.debits_pending) == (600_000, 0)  # owed again
        told = db.session.scalars(
            select(Notification).where(Notification.user_id == user(owed.lead).id)
        ).all()
        assert any("owed to you again" in n.title for n in told)
        assert ledger.verify(db.session) == []
    again = client.post(path, json={"reason": "twice"}, headers=releaser)
    assert again.status_code == 409 and "owed again already" in again.json["detail"]
    assert stripe_server.transfers == {}


def test_the_release_page_is_for_platform_finance_only(
    app, client, auth, people, finance, owed, stripe_server, one_line
):
    batch_id, line_id = one_line
    never_answered(app, finance, stripe_server, batch_id, line_id)
    path = f"/finance/payouts/lines/{line_id}/release"
    for who in (owed.lead, people.finance):  # the line's own solver; Acme's finance member
        auth.login(who)
        assert client.post(path, data={"reason": "x"}).status_code == 403
        auth.logout()
    auth.login(finance.preparer)
    page = client.get(f"/finance/payouts/{batch_id}").get_data(as_text=True)
    assert 'data-test="waiting-for-finance"' in page and f'data-test="release-{line_id}"' in page
    done = client.post(path, data={"reason": "Checked at Stripe"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and f"Line {line_id} released" in text
    assert f'data-test="released-{line_id}"' in text and "Checked at Stripe" in text
    twice = client.post(path, data={"reason": "again"})
    assert twice.status_code == 409 and "owed again already" in twice.get_data(as_text=True)


def test_a_line_still_retried_or_paid_cannot_be_released(
    app, client, finance, owed, stripe_server, one_line
):
    batch_id, line_id = one_line
    stripe_server.payout_fault("saved_500", keys=[f"payout-line-{line_id}"])
    with app.app_context(), pytest.raises(Conflict, match="still being sent"):
        batches.release_line(user(finance.approver), line_id, "not yet sent")
    approve(app, finance, batch_id)
    releaser = bearer(token_for(app, finance.approver))
    path = f"/api/v1/payout-lines/{line_id}/release"
    retried = client.post(path, json={"reason": "impatient"}, headers=releaser)
    assert retried.status_code == 409 and "still being sent" in retried.json["detail"]
    make_due(app, line_id, key_age=EXPIRED)
    resume(app)
    paid = client.post(path, json={"reason": "too late"}, headers=releaser)
    assert paid.status_code == 409 and "is paid" in paid.json["detail"]
    with app.app_context():
        assert db.session.get(PayoutLine, line_id).status == "paid"
        with pytest.raises(Invalid):
            batches.release_line(user(finance.approver), line_id, "")
        with pytest.raises(Forbidden):
            batches.release_line(user(owed.lead), line_id, "mine")


def test_a_line_stripe_paid_after_all_is_marked_paid_instead_of_released(
    app, finance, owed, stripe_server, one_line
):
    batch_id, line_id = one_line
    never_answered(app, finance, stripe_server, batch_id, line_id)
    with app.app_context():
        line = db.session.get(PayoutLine, line_id)
        made = stripe_server._create_transfer({  # a transfer Stripe shows after all
            "amount": str(line.amount), "currency": "usd",
            "destination": line.payout_account.external_id,
            "metadata": {"payout_line_id": str(line_id)},
            "transfer_group": f"payout-line-{line_id}",
        })  # fmt: skip
        with pytest.raises(Conflict, match="after all"):
            batches.release_line(user(finance.approver), line_id, "no answer")
        line, batch = line_and_batch(app, line_id)
        assert (line.status, line.provider_transfer_id) == ("paid", made["id"])
        assert line.released_by_id is None and batch.status == "completed"
        assert ledger.verify(db.session) == []


def test_a_claimed_line_is_not_claimed_twice(app, finance, owed, stripe_server, one_line):
    _, line_id = one_line
    with app.app_context():
        batch = db.session.get(PayoutBatch, one_line[0])
        batch.status = "approved"
        db.session.commit()
        now = utcnow()
        first = sending.claim(line_id, now)
        assert first is not None and first.request.key == f"payout-line-{line_id}"
        assert sending.claim(line_id, now) is None  # leased to the first
        assert sending.claim(line_id, now + sending.CLAIM) is not None  # the lease lapsed


def test_resume_completes_an_approved_batch_with_nothing_open(app, sandbox_app, finance, owed):
    from tests.payouts.conftest import onboard

    onboard(app, owed.lead)
    with app.app_context():
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        # sandbox: paid inline
        batches.approve_batch(user(finance.approver), batch.id, fresh_code(finance.approver))
        batch.status, batch.completed_at = "approved", None  # as a lost completion left it
        db.session.commit()
        batch_id = batch.id
    assert resume(app) == 0
    with app.app_context():
        assert db.session.get(PayoutBatch, batch_id).status == "completed"
