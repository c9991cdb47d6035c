"""What the payment provider said that the book does not match, kept for finance.

A webhook that does not match what we sent (a transfer for a batch nobody approved, another
amount, a checkout that took another sum ...) is recorded here and not applied; the
reconciliation page and API list these rows with the differences it finds itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.pagination import KeysetPage, keyset_page
from marketplace.payments.models import ProviderDiscrepancy

log = logging.getLogger(__name__)

Payload = Mapping[str, Any]


def record_discrepancy(
    kind: str,
    message: str,
    *,
    event: Payload | None = None,
    obj: Payload | None = None,
    object_id: str | None = None,
    payout_line_id: int | None = None,
    provider: str = "stripe",
) -> ProviderDiscrepancy:
    """Keep ``message`` for finance, with what the event and its object name."""
    obj, event = obj or {}, event or {}
    log.warning("provider discrepancy (%s): %s", kind, message)
    amount, currency = obj.get("amount", obj.get("amount_total")), obj.get("currency")
    found = ProviderDiscrepancy(
        provider=provider,
        kind=kind,
        message=message[:4000],
        event_id=_text(event.get("id")),
        event_type=str(event.get("type") or "")[:100],
        object_id=object_id or _text(obj.get("id")),
        payout_line_id=payout_line_id,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=currency.upper()[:3] if isinstance(currency, str) else None,
    )
    db.session.add(found)
    db.session.flush()
    return found


def _text(value: Any) -> str | None:
    return str(value)[:255] if value is not None else None


def recent_discrepancies(limit: int = 20) -> list[ProviderDiscrepancy]:
    """The newest recorded discrepancies first (the first page of ``discrepancy_page``)."""
    return discrepancy_page(None, limit).items


def discrepancy_page(cursor: str | None, per_page: int) -> KeysetPage[ProviderDiscrepancy]:
    """Every recorded discrepancy, newest first by (recorded_at, id), a keyset page at a time."""
    return keyset_page(
        select(ProviderDiscrepancy),
        [ProviderDiscrepancy.recorded_at, ProviderDiscrepancy.id],
        cursor=cursor,
        per_page=per_page,
        scalars=True,
    )
