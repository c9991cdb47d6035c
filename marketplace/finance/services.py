"""Finance rules: who may read the platform's book, and what they read."""

from __future__ import annotations

from datetime import datetime

import ledger
from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_finance
from marketplace.extensions import db


def trial_balance(actor: User, as_of: datetime | None = None) -> list[ledger.TrialBalanceLine]:
    """Every account's posted debits and credits, now or as of a moment. Finance staff only."""
    require_platform_finance(actor)
    return ledger.trial_balance(db.session, as_of)


def totals_by_currency(lines: list[ledger.TrialBalanceLine]) -> dict[str, tuple[int, int]]:
    """(debits, credits) per currency: the two always agree when the book is right."""
    totals: dict[str, tuple[int, int]] = {}
    for line in lines:
        debits, credits = totals.get(line.currency, (0, 0))
        totals[line.currency] = (debits + line.debits, credits + line.credits)
    return totals
