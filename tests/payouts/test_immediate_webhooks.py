"""Stripe-like immediate webhooks on PostgreSQL: while the fake Stripe answers the worker's
transfer request, it posts the signed ``transfer.created`` for that transfer to the app, served
over real HTTP (werkzeug in a thread). Both settle the same line at once, each locking the line,
then the accounts, then the batch. For a 30-line batch sent by a real worker: no job dies,
every webhook is answered 200, the batch completes, and PostgreSQL counts no deadlock in a
database of the test's own (``pg_stat_database.deadlocks``), nor does its log name one."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select
from werkzeug.serving import make_server

import ledger
from marketplace.config import normalise_database_url
from marketplace.extensions import db
from marketplace.outbox import JobStatus, OutboxJob
from marketplace.payments.models import ProviderDiscrepancy
from marketplace.payouts.models import PayoutBatch, PayoutLine
from tests.conftest import migrate_to_head, need_service
from tests.payouts.worlds import WEBHOOK_SECRET, approve, payout_world, run_workers

LINES = 30
POSTGRES_LOG = Path("/var/log/postgresql/postgresql-15-main.log")


@contextmanager
def own_database(base_url: str) -> Iterator[tuple[str, str]]:
    """A new PostgreSQL database, migrated, so its deadlock counter is this test's alone."""
    name = f"payouts_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(normalise_database_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate_to_head(url)
        yield name, url
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def deadlocks(base_url: str, name: str) -> int:
    engine = sa.create_engine(normalise_database_url(base_url))
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return connection.execute(
                sa.text("SELECT deadlocks FROM pg_stat_database WHERE datname = :name"),
                {"name": name},
            ).scalar_one()
    finally:
        engine.dispose()


def logged_deadlocks(name: str) -> list[str]:
    """Lines of the PostgreSQL log that name a deadlock in our database (if it is readable)."""
    try:
        text = POSTGRES_LOG.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if f"@{name} " in line and "deadlock" in line]


@contextmanager
def serving(app) -> Iterator[str]:
    """The app over real HTTP on 127.0.0.1, a thread per request; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_webhooks_arriving_with_the_api_answer_never_deadlock_the_worker(postgres, stripe_server):
    base_url = need_service("TEST_DATABASE_URL", "the immediate webhooks test")
    redis_url = need_service("TEST_REDIS_URL", "the immediate webhooks test")
    with own_database(base_url) as (name, url):
        with (
            payout_world(url, stripe_server, LINES, REDIS_URL=redis_url) as world,
            serving(world.app) as app_url,
        ):
            before = deadlocks(base_url, name)
            stripe_server.send_webhooks(f"{app_url}/webhooks/stripe", WEBHOOK_SECRET)
            approve(world)
            [output] = run_workers(world)
            answers = stripe_server.wait_for_webhooks()
            with world.app.app_context():
                lines = db.session.scalars(
                    select(PayoutLine).where(PayoutLine.batch_id == world.batch_id)
                ).all()
                assert {line.status for line in lines} == {"paid"} and len(lines) == LINES
                assert db.session.get(PayoutBatch, world.batch_id).status == "completed"
                jobs = db.session.scalars(select(OutboxJob)).all()
                assert [(j.function, j.status, j.last_error) for j in jobs] == [
                    ("send_payout_batch", JobStatus.DONE, "")
                ]
                assert db.session.scalar(select(func.count(ProviderDiscrepancy.id))) == 0
                assert ledger.verify(db.session) == []
                db.session.remove()
                db.engine.dispose()
        assert answers == [200] * LINES
        made = {t["id"] for t in stripe_server.transfers.values()}
        assert made == {line.provider_transfer_id for line in lines} and len(made) == LINES
        assert "deadlock" not in output.lower() and "Traceback" not in output
        assert deadlocks(base_url, name) == before == 0
        assert logged_deadlocks(name) == []
