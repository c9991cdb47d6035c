"""An awarded 60/40 proposal whose terms share 5 % of realised value for 24 months, awarded
400 days ago (so past periods can be reported)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from ledger import utcnow
from marketplace.extensions import db
from marketplace.judging import decisions
from marketplace.judging.models import Award
from marketplace.value.models import Contribution
from tests.challenges.conftest import user
from tests.proposals.conftest import need, people, submitted  # noqa: F401

AWARDED_DAYS_AGO = 400


@pytest.fixture
def awarded(app, people, submitted) -> SimpleNamespace:  # noqa: F811
    with app.app_context():
        award = decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
        moved = utcnow() - timedelta(days=AWARDED_DAYS_AGO)
        award.awarded_at = moved
        for contribution in db.session.scalars(
            db.select(Contribution).where(Contribution.award_id == award.id)
        ):
            contribution.recorded_at = contribution.confirmed_at = moved
        db.session.commit()
        return SimpleNamespace(award_id=award.id, awarded_on=moved.date(), **vars(submitted))


def award(award_id: int) -> Award:
    return db.session.get(Award, award_id)
