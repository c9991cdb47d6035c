"""The audit tests look only at the events written during the test: other tests' committed
sessions (browser, load) may have left events in the shared database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from marketplace.audit.models import AuditEvent
from marketplace.extensions import db
from tests.payments.conftest import sandbox_app, stripe_app, stripe_server  # noqa: F401
from tests.payouts.conftest import finance  # noqa: F401
from tests.proposals.conftest import need, people, submitted  # noqa: F401

Events = Callable[..., list[AuditEvent]]


@pytest.fixture
def new_events(app: Flask) -> Events:
    """``new_events(action=None)``: the events written since the test began, oldest first."""
    with app.app_context():
        start = db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))

    def events(action: str | None = None) -> list[AuditEvent]:
        query = select(AuditEvent).where(AuditEvent.id > start).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(db.session.scalars(query))

    return events
