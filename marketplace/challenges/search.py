"""Browse and search needs: full text on PostgreSQL, a word-by-word match on SQLite.

Every query starts from ``visible_to(user)``, so a need someone may not see never appears in
results or counts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, literal, literal_column, or_, select
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import Organization, User
from marketplace.challenges.access import visible_to
from marketplace.challenges.models import Challenge, Status
from marketplace.extensions import db

#: The stored tsvector of migration 0015 (a generated column under a GIN index, PostgreSQL
#: only): matching and ranking read it instead of rebuilding the document for every row.
SEARCH_DOCUMENT = "challenges.search_vector"
#: Results are counted up to this many ("1,000+"): an exact count walks every match.
COUNT_CAP = 1000


@dataclass(frozen=True)
class Page:
    items: list[Challenge]
    #: The number of results, at most ``COUNT_CAP`` (then ``capped`` is true: "1,000+").
    total: int
    page: int
    per_page: int
    capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _text_match(statement: Select, q: str) -> tuple[Select, Any]:
    """Add the full-text condition; returns the statement and a relevance expression."""
    if db.session.get_bind().dialect.name == "postgresql":
        query = func.websearch_to_tsquery("english", q)
        document = literal_column(SEARCH_DOCUMENT)
        return statement.where(document.op("@@")(query)), func.ts_rank(document, query)
    words = [w for w in re.findall(r"\w+", q.lower()) if w]
    columns = (Challenge.title, Challenge.summary, Challenge.background, Challenge.tags_text)
    for word in words:
        pattern = f"%{word}%"
        statement = statement.where(or_(*(func.lower(c).like(pattern) for c in columns)))
    title_hits = [case((func.instr(func.lower(Challenge.title), w) > 0, 1), else_=0) for w in words]
    return statement, sum(title_hits, literal(0))


def search(user: User | None, query: dict[str, Any]) -> Page:
    statement = select(Challenge).where(visible_to(user))
    status = query.get("status") or "open"
    if status != "any":
        statement = statement.where(Challenge.status == Status(status))
    if query.get("category"):
        statement = statement.where(func.lower(Challenge.category) == query["category"].lower())
    if query.get("maturity"):
        statement = statement.where(Challenge.maturity == query["maturity"])
    if query.get("organization"):
        statement = statement.join(Organization).where(Organization.slug == query["organization"])
    if query.get("min_reward") is not None:
        statement = statement.where(Challenge.prize_total >= query["min_reward"])
    if query.get("max_reward") is not None:
        statement = statement.where(Challenge.prize_total <= query["max_reward"])
    if query.get("deadline_after"):
        statement = statement.where(Challenge.deadline >= query["deadline_after"])
    if query.get("deadline_before"):
        statement = statement.where(Challenge.deadline <= query["deadline_before"])
    relevance = None
    if query.get("q", "").strip():
        statement, relevance = _text_match(statement, query["q"].strip())
    counted = statement.with_only_columns(Challenge.id).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted))
    capped = total > COUNT_CAP
    total = min(total, COUNT_CAP)
    order = {
        "deadline": [Challenge.deadline.asc()],
        "newest": [Challenge.created_at.desc()],
        "reward": [Challenge.prize_total.desc()],
        "relevance": [relevance.desc()] if relevance is not None else [],
    }[query.get("sort", "deadline")]
    page, per_page = query.get("page", 1), query.get("per_page", 20)
    if (page - 1) * per_page >= COUNT_CAP:
        # Past the counted results an OFFSET would walk every row before the page: narrow
        # the search instead.
        return Page([], total, page, per_page, capped)
    items = db.session.scalars(
        statement.options(joinedload(Challenge.organization))
        .order_by(*order, Challenge.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(items), total, page, per_page, capped)


def categories() -> list[str]:
    return list(
        db.session.scalars(select(Challenge.category).distinct().order_by(Challenge.category))
    )
