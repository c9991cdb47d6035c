from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

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
