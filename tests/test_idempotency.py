"""``Idempotency-Key`` on the API's writes (marketplace.idempotency), with Stripe's rules.

The first part sends requests through the test client, inside the test's rolled-back
transaction. The second serves the app with a real threaded HTTP server on a fresh database
of each kind (the requests commit): ten parallel identical fundings under one key make one
payment, and a request that fails with a 5xx leaves its key free.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from ledger import utcnow
from marketplace import create_app
from marketplace.accounts.models import OrgRole
from marketplace.audit.models import AuditEvent
from marketplace.challenges import services as needs
from marketplace.extensions import db
from marketplace.idempotency import keys
from marketplace.idempotency.models import IdempotencyKey
from marketplace.jobs import purge_idempotency_keys
from marketplace.payments.models import Payment
from tests.challenges.conftest import draft, people, user  # noqa: F401  (fixtures)
from tests.conftest import migrated_database, test_config
from tests.factories import MembershipFactory, make_need, make_terms, make_token

API = "/api/v1"
KEY = "5f0c2a1e-7d3b-4c55-9a57-0d1f6e2b8c44"


def bearer(app: Flask, email: str) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(user(email))[1]}"}


@pytest.fixture
def manager(app: Flask, people) -> dict[str, str]:  # noqa: F811
    return bearer(app, people.manager)


def fund(client: FlaskClient, need: int, headers: dict, key: str | None = KEY, **body):
    sent = {**headers, **({"Idempotency-Key": key} if key is not None else {})}
    return client.post(f"{API}/challenges/{need}/fundings", json=body, headers=sent)


def payments(app: Flask, need: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Payment.id)).where(Payment.challenge_id == need))


def stored_keys(app: Flask) -> list[IdempotencyKey]:
    with app.app_context():
        rows = list(db.session.scalars(select(IdempotencyKey).order_by(IdempotencyKey.id)))
        db.session.expunge_all()
        return rows


def test_the_same_request_under_the_same_key_is_answered_again_not_done_again(
    app, client, draft, manager  # noqa: F811
):
    first = fund(client, draft, manager, amount=1_000)
    again = fund(client, draft, manager, amount=1_000)

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Idempotency-Key"] == KEY
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.get_data() == first.get_data()
    assert payments(app, draft) == 1
    without_key = fund(client, draft, manager, key=None, amount=1_000)
    assert without_key.status_code == 201 and "Idempotent-Replayed" not in without_key.headers
    assert payments(app, draft) == 2


def test_another_request_under_a_used_key_is_a_422_and_does_nothing(
    app, client, draft, manager  # noqa: F811
):
    assert fund(client, draft, manager, amount=1_000).status_code == 201

    other_body = fund(client, draft, manager, amount=2_000)
    other_path = client.post(
        f"{API}/challenges/{draft}/open", headers={**manager, "Idempotency-Key": KEY}
    )
    for answer in (other_body, other_path):
        assert answer.status_code == 422, answer.json
        assert "another request" in answer.json["detail"]
        assert set(answer.json["errors"]) == {"Idempotency-Key"}
        assert "Idempotent-Replayed" not in answer.headers
    assert payments(app, draft) == 1
    with app.app_context():
        refused = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "idempotency_key.reuse")
        ).all()
        assert [event.outcome for event in refused] == ["refused", "refused"]


def test_keys_are_per_user(app, client, people, draft, manager):  # noqa: F811
    finance = bearer(app, people.finance)
    mine = fund(client, draft, manager, amount=1_000)
    theirs = fund(client, draft, finance, amount=1_000)
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json["id"] != theirs.json["id"]
    assert payments(app, draft) == 2
    # A user with no right to fund gets their own refusal, not the manager's stored payment.
    reviewer = fund(client, draft, bearer(app, people.reviewer), amount=1_000)
    assert reviewer.status_code == 403 and "Idempotent-Replayed" not in reviewer.headers


def test_a_refusal_after_the_endpoint_ran_is_stored_and_replayed(
    app, client, draft, manager  # noqa: F811
):
    """A 422 from the service (more than escrow needs) is the answer to that request, as
    Stripe stores its 4xx answers: the retry gets it again, whatever changed since."""
    too_much = fund(client, draft, manager, amount=1_650_001)
    assert too_much.status_code == 422
    assert "at most 16,500.00 USD" in too_much.json["errors"]["amount"][0]
    again = fund(client, draft, manager, amount=1_650_001)
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == too_much.json
    assert payments(app, draft) == 0


def test_input_the_schema_refuses_is_not_stored(app, client, draft, manager):  # noqa: F811
    """Stripe: results are saved only once the endpoint began; a request whose parameters
    fail validation may be sent again, corrected, under the same key."""
    for wrong in ({"amount": "1000"}, {"amount": 0}):
        refused = fund(client, draft, manager, **wrong)
        assert refused.status_code == 422 and "amount" in refused.json["errors"]
        assert stored_keys(app) == []
    bad_json = client.post(
        f"{API}/challenges/{draft}/fundings",
        data="{not json",
        content_type="application/json",
        headers={**manager, "Idempotency-Key": KEY},
    )
    assert bad_json.status_code in (400, 422)
    assert stored_keys(app) == []
    corrected = fund(client, draft, manager, amount=1_000)
    assert corrected.status_code == 201 and "Idempotent-Replayed" not in corrected.headers


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tinside", "naïve"])
def test_a_malformed_key_is_a_400_problem(app, client, draft, manager, key):  # noqa: F811
    answer = client.post(
        f"{API}/challenges/{draft}/fundings",
        json={"amount": 1_000},
        headers={**manager, "Idempotency-Key": key.encode().decode("latin-1")},
    )
    assert answer.status_code == 400, answer.json
    assert set(answer.json["errors"]) == {"Idempotency-Key"}
    assert payments(app, draft) == 0


def test_the_longest_key_is_accepted(app, client, draft, manager):  # noqa: F811
    key = "~" * 255
    assert fund(client, draft, manager, key=key, amount=1_000).status_code == 201
    assert fund(client, draft, manager, key=key, amount=1_000).headers["Idempotent-Replayed"]


def test_a_key_held_by_a_running_or_killed_request_is_a_409_until_its_hold_lapses(
    app, client, people, draft, manager, monkeypatch  # noqa: F811
):
    """A request claims its key before it runs; one killed mid-request never answers or
    releases it. Retries get 409 until IDEMPOTENCY_LOCK_SECONDS have passed, then one runs."""
    monkeypatch.setitem(app.config, "IDEMPOTENCY_LOCK_SECONDS", 2)
    with app.test_request_context(
        f"{API}/challenges/{draft}/fundings",
        method="POST",
        json={"amount": 1_000},
        headers={"Idempotency-Key": KEY},
    ):
        from marketplace.idempotency.hooks import fingerprint

        held = keys.claim(user(people.manager).id, KEY, fingerprint(), timedelta(seconds=2))
    assert isinstance(held, keys.Held)

    busy = fund(client, draft, manager, amount=1_000)
    assert busy.status_code == 409 and "still being processed" in busy.json["detail"]
    assert payments(app, draft) == 0
    with app.app_context():  # the hold lapses (as if two seconds had passed)
        db.session.execute(
            sa.update(IdempotencyKey).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    retried = fund(client, draft, manager, amount=1_000)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert payments(app, draft) == 1
    with app.app_context():  # the dead request's hold is gone: it cannot answer now
        assert keys.answer(held, 500, b"", []) is False
    assert fund(client, draft, manager, amount=1_000).headers["Idempotent-Replayed"] == "true"


def test_a_worker_killed_after_its_work_committed_never_runs_the_key_again(
    app, client, draft, manager, monkeypatch  # noqa: F811
):
    """The endpoint's commit marks the key in the same transaction. If the worker dies before
    storing the answer (here: storing it fails), a retry after the hold lapses gets 409 and
    the payment is not made twice."""

    def worker_dies(*_args: object) -> bool:
        raise RuntimeError("the worker was killed before it stored the answer")

    monkeypatch.setattr(keys, "answer", worker_dies)
    first = fund(client, draft, manager, amount=1_000)
    assert first.status_code == 201  # the client may never see this answer
    monkeypatch.undo()
    assert payments(app, draft) == 1
    (row,) = stored_keys(app)
    assert row.work_committed_at is not None and row.status_code is None
    with app.app_context():  # the dead worker's hold lapses
        db.session.execute(
            sa.update(IdempotencyKey).values(locked_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    retried = fund(client, draft, manager, amount=1_000)
    assert retried.status_code == 409 and "was carried out" in retried.json["detail"]
    assert payments(app, draft) == 1


def test_keys_older_than_24_hours_are_purged_and_then_new(
    app, client, draft, manager  # noqa: F811
):
    assert fund(client, draft, manager, amount=1_000).status_code == 201
    assert fund(client, draft, manager, key="recent", amount=2_000).status_code == 201
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.key == KEY)
            .values(created_at=utcnow() - keys.KEEP_FOR - timedelta(minutes=1))
        )
        db.session.commit()
    # Expired but not purged yet: the key starts afresh (another body is no conflict now).
    assert fund(client, draft, manager, amount=3_000).status_code == 201
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25))
        )
        db.session.execute(
            sa.update(IdempotencyKey)
            .where(IdempotencyKey.key == "recent")
            .values(created_at=utcnow() - timedelta(hours=23))
        )
        db.session.commit()
        assert purge_idempotency_keys() == 1
    assert [row.key for row in stored_keys(app)] == ["recent"]
    assert payments(app, draft) == 3


def test_reads_and_pages_ignore_the_header(app, client, draft, manager):  # noqa: F811
    headers = {**manager, "Idempotency-Key": KEY}
    assert client.get(f"{API}/challenges/{draft}", headers=headers).status_code == 200
    assert client.get(f"{API}/challenges/{draft}", headers=headers).status_code == 200
    assert stored_keys(app) == []


def test_the_openapi_document_declares_the_header_on_every_write(client) -> None:
    document = client.get("/api/openapi.json").json
    writes = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(writes) > 40
    for path, method, operation in writes:
        [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header" and header["schema"]["maxLength"] == 255, path
        assert {"400", "409", "422"} <= set(operation["responses"]), (path, method)
    for item in document["paths"].values():
        if "get" in item:
            assert "Idempotency-Key" not in str(item["get"].get("parameters", []))


# --- A real HTTP server on a fresh database ------------------------------------------------

PARALLEL = 10


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args: object) -> None:
        """Not a line per request."""


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The app behind a threaded HTTP server on a fresh database: a draft need of Acme's
    and bearer headers for its manager."""
    with migrated_database(request.param, tmp_path) as database:
        app = create_app(test_config(database.url))
        with app.app_context():
            manager = MembershipFactory(role=OrgRole.MANAGER, user__second_factor=True).user
            need = needs.create_challenge(
                manager, manager.memberships[0].organization, make_need(), make_terms()
            )
            secret = make_token(manager, "idempotency test")[1]
            found = SimpleNamespace(app=app, need=need.id, kind=database.kind)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        found.url = f"http://127.0.0.1:{server.port}"
        found.headers = {"Authorization": f"Bearer {secret}"}
        try:
            yield found
        finally:
            server.shutdown()
            thread.join()
            with app.app_context():
                db.engine.dispose()


def post_funding(site: SimpleNamespace, key: str, amount: int) -> requests.Response:
    return requests.post(
        f"{site.url}{API}/challenges/{site.need}/fundings",
        json={"amount": amount},
        headers={**site.headers, "Idempotency-Key": key},
        timeout=60,
    )


def test_ten_parallel_identical_requests_under_one_key_make_one_payment(site) -> None:
    barrier = threading.Barrier(PARALLEL)
    answers: list[requests.Response] = []

    def send() -> None:
        barrier.wait()
        answers.append(post_funding(site, KEY, 1_000))

    threads = [threading.Thread(target=send) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == PARALLEL

    with site.app.app_context():
        [payment] = db.session.scalars(select(Payment)).all()
    done = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    replayed = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    busy = [a for a in answers if a.status_code == 409]
    print(f"\n{site.kind}: 1 done, {len(replayed)} replayed, {len(busy)} busy (409)")
    assert len(done) == 1 and done[0].json()["id"] == payment.id
    assert len(done) + len(replayed) + len(busy) == PARALLEL, [a.status_code for a in answers]
    assert all(a.status_code == 201 and a.json() == done[0].json() for a in replayed)
    assert all("still being processed" in a.json()["detail"] for a in busy)

    after = post_funding(site, KEY, 1_000)  # once the first has answered, always its answer
    assert after.status_code == 201 and after.headers["Idempotent-Replayed"] == "true"
    assert after.json() == done[0].json()
    other = post_funding(site, KEY, 2_000)
    assert other.status_code == 422
    with site.app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 1


def test_a_server_error_stores_nothing_and_the_key_can_be_retried(site) -> None:
    with site.app.app_context():  # payments cannot be written: the endpoint fails (500)
        db.session.execute(sa.text("ALTER TABLE payments RENAME TO payments_away"))
        db.session.commit()
    failed = post_funding(site, KEY, 1_000)
    assert failed.status_code == 500 and "Idempotent-Replayed" not in failed.headers
    with site.app.app_context():
        assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 0
        db.session.execute(sa.text("ALTER TABLE payments_away RENAME TO payments"))
        db.session.commit()
    retried = post_funding(site, KEY, 1_000)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert post_funding(site, KEY, 1_000).headers["Idempotent-Replayed"] == "true"
