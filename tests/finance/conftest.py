"""A small book: Acme's funded need with an award, a rival organization's funded need, and
helpers to post value shares and payouts straight to the ledger."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import select

import ledger
from marketplace.accounts.models import Organization
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.judging import decisions
from marketplace.payments.services import start_funding
from tests.challenges.conftest import user
from tests.factories import UserFactory, make_need, make_terms
from tests.proposals.conftest import need, people, submitted  # noqa: F401


def org_id(slug: str) -> int:
    return db.session.scalar(select(Organization.id).where(Organization.slug == slug))


def post(
    app, debit: str, credit: str, amount: int, code: str, key: str, *,
    when: datetime | None = None, pending: bool = False, reference: str = "",
) -> int:  # fmt: skip
    """Post one USD transfer between two existing accounts (by code); returns its id."""
    with app.app_context():
        posted = ledger.post_transfer(
            db.session, debit=ledger.find_account(db.session, debit).id,
            credit=ledger.find_account(db.session, credit).id, amount=amount, code=code,
            key=key, recorded_by="test", reference=reference, pending=pending,
            effective_at=when, description=f"{code} in a test",
        )  # fmt: skip
        db.session.commit()
        return posted.transfer_ids[0]


@pytest.fixture
def book(app, people, submitted):  # noqa: F811
    """Acme's need funded (15,000.00 USD) and prize 1 (10,000.00) awarded, split 60/40, with
    a 10 % fee; the rival organization's need funded too; finance people of every kind."""
    with app.app_context(), app.test_request_context():
        decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Brilliant")
        rival = db.session.get(Organization, org_id("rival"))
        manager = user(people.rival)
        challenge = needs.create_challenge(manager, rival, make_need(), make_terms())
        start_funding(manager, challenge)
        needs.open_challenge(manager, challenge)
        for org in (org_id("acme"), rival.id):
            chart.receivable(db.session, org, "USD")
        db.session.commit()
        staff = UserFactory(
            email="fiona@platform.example", is_platform_finance=True, second_factor=True
        )
        return SimpleNamespace(
            people=people, acme=org_id("acme"), rival=rival.id, acme_need=submitted.challenge_id,
            rival_need=challenge.id, proposal_id=submitted.proposal_id, staff=staff.email,
            lead_id=user(submitted.lead).id, partner_id=user(submitted.partner).id,
            rival_escrow=f"liability:escrow:challenge:{challenge.id}",
            acme_escrow=f"liability:escrow:challenge:{submitted.challenge_id}",
        )  # fmt: skip


def escrow_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Challenge.id).order_by(Challenge.id)))
