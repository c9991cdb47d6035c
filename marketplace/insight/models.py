from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger import BigId, UTCDateTime
from marketplace.extensions import db


class NeedVisit(db.Model):
    """A visitor counted as one view of a need page in one clock hour.

    Only the current hour's rows are needed (to count each visitor once an hour); older ones
    are removed when the need's next view is counted. The total lives in
    ``Challenge.view_count``.
    """

    __tablename__ = "need_visits"

    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"), primary_key=True)
    #: "user:<id>" for a signed-in visitor; "anon:<keyed hash of address and browser>" else.
    visitor: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: Whole hours since the Unix epoch (UTC).
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)


class SolverFactsRefresh(db.Model):
    """When an organization's solver facts were last computed (a row per organization once
    its facts exist; no row: never computed, so nothing may be read from the facts yet)."""

    __tablename__ = "organization_solver_facts_refreshes"

    organization_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organizations.id"), primary_key=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SolverFacts(db.Model):
    """One solver of an organization as ``insight.solvers.live_facts`` computes them: the
    counts, the type's rank in the typology and the sort key of the solvers' list.

    ``fewer_awards`` and ``fewer_proposals`` are the negated counts, so the list's order
    (type, most awards, most proposals, name, id) is one ascending index scan.
    """

    __tablename__ = "organization_solver_facts"

    organization_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organizations.id"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    sort_name: Mapped[str] = mapped_column(String(200), default="")
    rank: Mapped[int] = mapped_column(Integer)
    fewer_awards: Mapped[int] = mapped_column(Integer)
    fewer_proposals: Mapped[int] = mapped_column(Integer)
    proposals: Mapped[int] = mapped_column(Integer)
    needs: Mapped[int] = mapped_column(Integer)
    led: Mapped[int] = mapped_column(Integer)
    awards: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index(
            "ix_organization_solver_facts_order",
            "organization_id",
            "rank",
            "fewer_awards",
            "fewer_proposals",
            "sort_name",
            "user_id",
        ),  # fmt: skip
    )


class SolverMoney(db.Model):
    """What a solver of an organization earned in its awards and shares in its posted value
    reports, per currency (None: no part in that currency)."""

    __tablename__ = "organization_solver_money"

    organization_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organizations.id"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    earned: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[int | None] = mapped_column(BigInteger)
