"""Settling payout lines from what the provider says, whichever path says it first: the
sending job's answer, a webhook, or the scheduled resume. Every path calls these functions, so
the rules live in one place:

- One lock order everywhere: the payout line's row (SELECT ... FOR UPDATE) first, then the
  ledger accounts (posting locks them in id order), then the batch row (to complete it).
- A line paid at the provider ends ``paid``, whoever says so first; a later answer is a no-op.
- ``transfer.reversed`` wins over ``transfer.created`` and over the API answer: a line whose
  transfer the provider reversed ends ``reversed`` (owed again) whatever arrives after. A line
  still reserved when the reversal arrives is posted and then reversed, so the book ends the
  same whatever the order: the PAYOUT transfer posted, a REVERSAL pointing at it.
- A webhook is applied only when it matches what we sent: the line is in an approved (or
  completed) batch, the transfer is the line's (its recorded id, or the line's idempotency
  key / transfer group ``payout-line-<id>``), and amount and currency agree. Anything else is
  recorded as a ``ProviderDiscrepancy`` for finance and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace.db import command
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.payments.discrepancies import record_discrepancy
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutBatch, PayoutLine

log = logging.getLogger(__name__)
OPEN = (LineStatus.RESERVED, LineStatus.SENDING)
#: Batches whose lines the provider may pay: anything else was never sent.
SENT_BATCHES = (BatchStatus.APPROVED, BatchStatus.COMPLETED)
#: Settled lines whose transfer the provider made (any other settled line is owed again).
PAID_AT_PROVIDER = (LineStatus.PAID, LineStatus.REVERSED)

Payload = Mapping[str, Any]


def line_group(line_id: int) -> str:
    """The line's transfer group at the provider, and the stem of its idempotency keys."""
    return f"payout-line-{line_id}"


def lock_line(line: PayoutLine | int) -> PayoutLine | None:
    """The line's row, locked for this transaction and read afresh (another transaction may
    have settled it while we waited)."""
    line_id = line if isinstance(line, int) else line.id
    return db.session.get(PayoutLine, line_id, with_for_update=True, populate_existing=True)


@command
def mark_paid(line: PayoutLine | int, provider_transfer_id: str) -> bool:
    """The provider made the transfer: post the reservation. True when this call posted it;
    False when the line was settled already (paid, or reversed: the reversal wins)."""
    locked = lock_line(line)
    if locked is None:
        return False
    if locked.status in OPEN:
        _post(locked, provider_transfer_id)
        complete_if_done(locked.batch_id)
        return True
    if locked.status not in PAID_AT_PROVIDER or (
        locked.provider_transfer_id not in (None, provider_transfer_id)
    ):
        held = locked.provider_transfer_id
        _record(
            "paid_but_settled_otherwise",
            f"The provider paid transfer {provider_transfer_id} for payout line {locked.id}, "
            f"which the book has {locked.status}{f' with transfer {held}' if held else ''}: "
            "check it at the provider.",
            line=locked,
            object_id=provider_transfer_id,
        )
    return False


@command
def mark_failed(line: PayoutLine | int, reason: str) -> bool:
    """The provider refused: void the reservation, the solver is owed again. True when this
    call voided it (tell the solver then: ``tell_failed``); False when already settled."""
    locked = lock_line(line)
    if locked is None or locked.status not in OPEN:
        return False
    ledger.void_pending(db.session, locked.transfer_id)
    locked.status = LineStatus.FAILED
    locked.error = reason[:2000]
    locked.resolved_at = utcnow()
    complete_if_done(locked.batch_id)
    return True


def complete_if_done(batch: PayoutBatch | int) -> bool:
    """Mark an approved batch completed once none of its lines is open. The batch row is
    locked (after the line and the accounts), so of two lines settled at once the second to
    get here sees the first committed and completes the batch."""
    batch_id = batch if isinstance(batch, int) else batch.id
    locked = db.session.get(PayoutBatch, batch_id, with_for_update=True, populate_existing=True)
    if locked is None or locked.status != BatchStatus.APPROVED:
        return False
    still_open = db.session.scalar(
        select(PayoutLine.id)
        .where(PayoutLine.batch_id == batch_id, PayoutLine.status.in_(OPEN))
        .limit(1)
    )
    if still_open is not None:
        return False
    locked.status = BatchStatus.COMPLETED
    locked.completed_at = utcnow()
    return True


def tell_failed(line: PayoutLine) -> None:
    notify(
        [line.user_id],
        kind="payout_failed",
        title="A payout to you failed; the amount is owed to you again",
        body=line.error,
        link="/me/earnings",
    )


def _post(line: PayoutLine, provider_transfer_id: str) -> None:
    ledger.post_pending(db.session, line.transfer_id)
    line.status = LineStatus.PAID
    line.provider_transfer_id = provider_transfer_id
    line.resolved_at = utcnow()


def _reverse(line: PayoutLine, provider_transfer_id: str) -> None:
    ledger.reverse_transfer(
        db.session,
        line.transfer_id,
        key=f"reversal:payout-line:{line.id}",
        recorded_by="stripe",
        reason=f"Stripe reversed transfer {provider_transfer_id} of payout line {line.id}",
    )
    line.status = LineStatus.REVERSED
    line.resolved_at = utcnow()


# -- webhooks ---------------------------------------------------------------------------------


def _record(kind: str, message: str, line: PayoutLine | None = None, **named: Any) -> None:
    if line is not None:
        named["payout_line_id"] = line.id
    record_discrepancy(kind, message, **named)


def _named_line_id(transfer: Payload) -> int | None:
    raw = (transfer.get("metadata") or {}).get("payout_line_id")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**63 else None


def _is_lines(key: Any, line_id: int) -> bool:
    """``key`` is the line's idempotency key (any version of it) or its transfer group."""
    stem = line_group(line_id)
    return isinstance(key, str) and (key == stem or key.startswith(stem + "-"))


def _mismatch(line: PayoutLine, transfer: Payload, event: Payload) -> str | None:
    """Why the event does not describe the transfer we sent for ``line`` (None: it does)."""
    batch_status = db.session.scalar(
        select(PayoutBatch.status).where(PayoutBatch.id == line.batch_id)
    )
    if batch_status not in SENT_BATCHES:
        return f"its batch {line.batch_id} is {batch_status}: nobody approved sending it"
    transfer_id = transfer.get("id")
    if line.provider_transfer_id is not None:
        if transfer_id != line.provider_transfer_id:
            return f"the line was paid by transfer {line.provider_transfer_id}"
    elif not (
        _is_lines(transfer.get("transfer_group"), line.id)
        or _is_lines((event.get("request") or {}).get("idempotency_key"), line.id)
    ):
        return "the transfer carries neither the line's idempotency key nor its transfer group"
    amount, currency = transfer.get("amount"), transfer.get("currency")
    if amount != line.amount:
        return f"it is for {amount} minor units, the line for {line.amount}"
    if not isinstance(currency, str) or currency.upper() != line.currency:
        return f"it is in {currency}, the line in {line.currency}"
    destination = transfer.get("destination")
    if destination is not None and destination != line.payout_account.external_id:
        return f"it went to {destination}, the line's account is another"
    return None


def _checked_line(transfer: Payload, event: Payload) -> PayoutLine | None:
    """The locked line the event's transfer pays, if the event matches what we sent; else
    the event is recorded for finance and None is returned."""
    line_id = _named_line_id(transfer)
    what = f"{event.get('type', 'event')} {event.get('id', '')} for transfer {transfer.get('id')}"
    if line_id is None:
        _record("unknown_transfer", f"{what} names no payout line.", event=event, obj=transfer)
        return None
    line = lock_line(line_id)
    if line is None:
        _record(
            "unknown_transfer", f"{what} names payout line {line_id}, which does not exist.",
            event=event, obj=transfer, payout_line_id=line_id,
        )  # fmt: skip
        return None
    reason = _mismatch(line, transfer, event)
    if reason is not None:
        _record(
            "not_as_sent", f"{what} names payout line {line.id}, but {reason}; not applied.",
            line=line, event=event, obj=transfer,
        )  # fmt: skip
        return None
    return line


@command
def transfer_created(transfer: Payload, event: Payload) -> None:
    """Stripe's ``transfer.created``: the line is paid (before or after the API answer)."""
    line = _checked_line(transfer, event)
    if line is None:
        return
    if line.status in OPEN:
        _post(line, str(transfer["id"]))
        complete_if_done(line.batch_id)
    elif line.status not in PAID_AT_PROVIDER:
        _record(
            "paid_but_settled_otherwise",
            f"Stripe created transfer {transfer['id']} for payout line {line.id}, which the "
            f"book has {line.status} (its amount is owed again): check it at Stripe.",
            line=line, event=event, obj=transfer,
        )  # fmt: skip


@command
def transfer_reversed(transfer: Payload, event: Payload) -> None:
    """Stripe's ``transfer.reversed``: the money came back in full, so the solver is owed it
    again, whatever arrived before or arrives after. A partial reversal (Stripe sends the same
    event) is recorded for finance: making the whole line owed again would pay the rest twice;
    the line is paid (the transfer was made)."""
    line = _checked_line(transfer, event)
    if line is None:
        return
    transfer_id = str(transfer["id"])
    in_full = transfer.get("reversed") is True
    was_open = line.status in OPEN
    if was_open:
        _post(line, transfer_id)  # the transfer was made: post it, then undo it below
    if not in_full:
        _record(
            "partial_reversal",
            f"Stripe reversed {transfer.get('amount_reversed')} of transfer {transfer_id} "
            f"({line.amount} minor units) for payout line {line.id}; reconcile it by hand.",
            line=line, event=event, obj=transfer,
        )  # fmt: skip
    elif line.status == LineStatus.PAID:
        _reverse(line, transfer_id)
    elif line.status != LineStatus.REVERSED:
        _record(
            "reversed_but_settled_otherwise",
            f"Stripe reversed transfer {transfer_id} of payout line {line.id}, which the book "
            f"has {line.status}; nothing to undo in the book.",
            line=line, event=event, obj=transfer,
        )  # fmt: skip
    if was_open:
        complete_if_done(line.batch_id)
