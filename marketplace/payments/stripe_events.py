"""What a verified Stripe webhook event does. Each event id is handled once.

The event's id is inserted into ``stripe_events`` (insert-or-ignore, in a savepoint) in the
same transaction as its effect: a replay, even one racing the first delivery, finds the row and
writes nothing (on PostgreSQL the racing insert waits for the first transaction and then does
nothing; if that one rolled back, it goes ahead). An event that fails is rolled back with its
row, so Stripe's retry handles it again. Each handler gets the event's object and the event
itself (its id, ``created`` and request, to check it and to order it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ledger import utcnow
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.discrepancies import record_discrepancy
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, StripeEvent
from marketplace.payouts.accounts import account_updated
from marketplace.payouts.settlement import transfer_created, transfer_reversed

log = logging.getLogger(__name__)

Event = Mapping[str, Any]


def _record(event_id: str, event_type: str) -> bool:
    """Insert the event's row unless it is there already; True when this call inserted it."""
    table = StripeEvent.__table__
    dialect = db.session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    statement = (
        insert(table)
        .values(id=event_id, type=event_type[:100], received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table.c.id)  # rowcount is -1 here on psycopg 3: ask for the row instead
    )
    return db.session.execute(statement).scalar_one_or_none() is not None


def _funding_payment(session: Mapping[str, Any]) -> Payment | None:
    """The funding payment a Checkout Session's metadata names, or None (not one of ours)."""
    raw = (session.get("metadata") or {}).get("payment_id")
    try:
        payment_id = int(raw)
    except (TypeError, ValueError):
        log.warning("Stripe checkout session %s names no payment", session.get("id"))
        return None
    payment = db.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    takes_money = (PaymentKind.FUNDING, PaymentKind.VALUE_SHARE)
    if payment is None or payment.kind not in takes_money or payment.provider != "stripe":
        log.warning("Stripe checkout session %s names unknown payment %s", session.get("id"), raw)
        return None
    return payment


def _settle(session: Mapping[str, Any], event: Event) -> None:
    payment = _funding_payment(session)
    if payment is None:
        return
    amount, currency = session.get("amount_total"), session.get("currency")
    if (amount is not None and amount != payment.amount) or (
        currency is not None and currency.upper() != payment.currency
    ):
        record_discrepancy(
            "not_as_sent",
            f"Stripe checkout session {session.get('id')} took {amount} {currency} for payment "
            f"{payment.id} of {payment.amount} {payment.currency}: not settled.",
            event=event,
            obj=session,
        )
        return
    payment_intent = session.get("payment_intent")
    if isinstance(payment_intent, Mapping):
        payment_intent = payment_intent.get("id")
    services.settle_funding(payment.id, payment_intent)


def checkout_completed(session: Mapping[str, Any], event: Event) -> None:
    """Paid at once (cards): settle. Delayed methods settle on async_payment_succeeded."""
    if session.get("payment_status") in ("paid", "no_payment_required"):
        _settle(session, event)


def checkout_failed(session: Mapping[str, Any], event: Event) -> None:
    """The session expired unpaid, or a delayed payment failed: the payment failed."""
    payment = _funding_payment(session)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.FAILED


HANDLERS: dict[str, Callable[[Mapping[str, Any], Event], None]] = {
    "account.updated": account_updated,
    "transfer.created": transfer_created,
    "transfer.reversed": transfer_reversed,
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": _settle,
    "checkout.session.async_payment_failed": checkout_failed,
    "checkout.session.expired": checkout_failed,
}


def handle_stripe_event(event: Event) -> bool:
    """Apply a verified event once. True: handled now; False: a replay, nothing written.

    Event types without a handler are recorded and otherwise ignored.
    """
    event_id, event_type = event["id"], event["type"]
    with transaction():
        try:
            with db.session.begin_nested():
                inserted = _record(event_id, event_type)
        except IntegrityError:  # a concurrent delivery of the same event won the insert
            if db.session.scalar(select(exists().where(StripeEvent.id == event_id))):
                return False
            raise
        if not inserted:
            return False
        handler = HANDLERS.get(event_type)
        if handler is not None:
            handler(event.get("data", {}).get("object") or {}, event)
    return True
