"""An organization's solvers, aggregated in SQL: what each did, won and shares in, their type
in the typology, and how many solvers each type has.

Nothing is read row by row into Python: one statement per solver page (facts, type and order
computed by the database), one for the type counts, and one each for the page's earnings and
value per currency. Award and value-report splits are JSON objects ``{user id: minor units}``;
they are expanded in SQL (``json_each_text`` on PostgreSQL, ``json_each`` on SQLite).

The SQL mirrors the rules of ``typology.TYPOLOGY`` (same order of precedence); the insight
tests check both against the same cast of solvers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    and_,
    case,
    cast,
    distinct,
    func,
    select,
    true,
    union,
)
from sqlalchemy.sql.selectable import Subquery

from marketplace.accounts.models import Organization, User
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.insight.typology import TYPOLOGY, UNCLASSIFIED, SolverType
from marketplace.judging.models import Award
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.proposals.access import SENT
from marketplace.proposals.models import MemberStatus, Proposal, TeamMember
from marketplace.value.models import ReportStatus, ValueReport

TYPES: dict[str, SolverType] = {kind.key: kind for kind in TYPOLOGY}


def money_list(money: dict[str, int]) -> list[dict]:
    """``{"EUR": 5, "USD": 7}`` as ``[{"currency": "EUR", "amount": 5}, ...]``."""
    return [{"currency": currency, "amount": money[currency]} for currency in sorted(money)]


@dataclass
class SolverRow:
    user_id: int
    name: str
    type: SolverType
    proposal_count: int
    need_count: int
    teams_led_count: int
    award_count: int
    earned: dict[str, int] = field(default_factory=dict)
    value_attributed: dict[str, int] = field(default_factory=dict)

    @property
    def earned_money(self) -> list[dict]:
        return money_list(self.earned)

    @property
    def value_money(self) -> list[dict]:
        return money_list(self.value_attributed)


def _shares(column, table) -> Subquery:  # noqa: ANN001
    """``(key, value)`` rows of a JSON split column, as a table joined to its row."""
    name = "json_each_text" if db.session.get_bind().dialect.name == "postgresql" else "json_each"
    return getattr(func, name)(column).table_valued("key", "value").alias(f"{table}_shares")


def _award_parts(organization: Organization) -> Select:
    """(user_id, award id, currency, amount) for each part of the organization's awards."""
    parts = _shares(Award.shares, "award")
    return (
        select(
            cast(parts.c.key, BigInteger).label("user_id"),
            Award.id.label("award_id"),
            Award.currency.label("currency"),
            func.coalesce(cast(parts.c.value, BigInteger), 0).label("amount"),
        )
        .select_from(Award)
        .join(Challenge, Challenge.id == Award.challenge_id)
        .join(parts, true())
        .where(Challenge.organization_id == organization.id)
    )


def _value_parts(organization: Organization) -> Select:
    """(user_id, report id, currency, amount) for each part of its posted value reports."""
    parts = _shares(ValueReport.shares, "report")
    return (
        select(
            cast(parts.c.key, BigInteger).label("user_id"),
            ValueReport.id.label("report_id"),
            ValueReport.currency.label("currency"),
            func.coalesce(cast(parts.c.value, BigInteger), 0).label("amount"),
        )
        .select_from(ValueReport)
        .join(parts, true())
        .where(
            ValueReport.organization_id == organization.id,
            ValueReport.status == ReportStatus.POSTED,
        )
    )


def _facts(organization: Organization) -> Subquery:
    """One row per solver: counts, type rank and name (the page's and the counts' source)."""
    taking_part = (
        select(
            TeamMember.user_id.label("user_id"),
            Proposal.id.label("proposal_id"),
            Proposal.challenge_id.label("challenge_id"),
            Proposal.lead_id.label("lead_id"),
        )
        .join(Proposal, Proposal.id == TeamMember.proposal_id)
        .join(Challenge, Challenge.id == Proposal.challenge_id)
        .where(
            Challenge.organization_id == organization.id,
            Proposal.status.in_(SENT),
            TeamMember.status == MemberStatus.JOINED,
            TeamMember.user_id.is_not(None),
        )
        .cte("taking_part")
    )
    team_size = (
        select(taking_part.c.proposal_id, func.count().label("joined"))
        .group_by(taking_part.c.proposal_id)
        .subquery("team_size")
    )
    led_team = and_(taking_part.c.lead_id == taking_part.c.user_id, team_size.c.joined >= 2)
    part = (
        select(
            taking_part.c.user_id,
            func.count(distinct(taking_part.c.proposal_id)).label("proposals"),
            func.count(distinct(taking_part.c.challenge_id)).label("needs"),
            func.count(distinct(case((led_team, taking_part.c.proposal_id)))).label("led"),
        )
        .join(team_size, team_size.c.proposal_id == taking_part.c.proposal_id)
        .group_by(taking_part.c.user_id)
        .cte("part")
    )
    awards = _award_parts(organization).cte("award_parts")
    won = (
        select(awards.c.user_id, func.count(distinct(awards.c.award_id)).label("awards"))
        .group_by(awards.c.user_id)
        .subquery("won")
    )
    values = _value_parts(organization).cte("value_parts")
    shared = (
        select(values.c.user_id, func.count(distinct(values.c.report_id)).label("reports"))
        .where(values.c.amount > 0)
        .group_by(values.c.user_id)
        .subquery("shared")
    )
    everyone = union(
        select(part.c.user_id), select(awards.c.user_id), select(values.c.user_id)
    ).subquery("everyone")
    proposals = func.coalesce(part.c.proposals, 0)
    needs = func.coalesce(part.c.needs, 0)
    led = func.coalesce(part.c.led, 0)
    award_count = func.coalesce(won.c.awards, 0)
    reports = func.coalesce(shared.c.reports, 0)
    # The rules of typology.TYPOLOGY, in their order (the rank is the type's index).
    rank = case(
        (and_(award_count > 0, reports > 0), 0),
        (led > 0, 1),
        (needs >= 2, 2),
        (needs == 1, 3),
        else_=len(TYPOLOGY),
    )
    return (
        select(
            everyone.c.user_id.label("user_id"),
            func.coalesce(User.name, "").label("name"),
            cast(rank, Integer).label("rank"),
            (-award_count).label("fewer_awards"),
            (-proposals).label("fewer_proposals"),
            func.lower(func.coalesce(User.name, "")).label("sort_name"),
            proposals.label("proposals"),
            needs.label("needs"),
            led.label("led"),
            award_count.label("awards"),
        )
        .select_from(everyone)
        .outerjoin(User, User.id == everyone.c.user_id)
        .outerjoin(part, part.c.user_id == everyone.c.user_id)
        .outerjoin(won, won.c.user_id == everyone.c.user_id)
        .outerjoin(shared, shared.c.user_id == everyone.c.user_id)
        .subquery("facts")
    )


def type_counts(organization: Organization) -> dict[str, int]:
    """How many of the organization's solvers each type has (one statement)."""
    facts = _facts(organization)
    counted = dict(
        db.session.execute(select(facts.c.rank, func.count()).group_by(facts.c.rank)).all()
    )
    counts = {kind.key: counted.get(index, 0) for index, kind in enumerate(TYPOLOGY)}
    if counted.get(len(TYPOLOGY)):
        counts[UNCLASSIFIED.key] = counted[len(TYPOLOGY)]
    return counts


def _money(parts: Select, user_ids: list[int]) -> dict[int, dict]:
    """Per solver of ``user_ids``: currency -> the sum of their parts."""
    rows = parts.subquery()
    statement = (
        select(rows.c.user_id, rows.c.currency, func.sum(rows.c.amount))
        .where(rows.c.user_id.in_(user_ids))
        .group_by(rows.c.user_id, rows.c.currency)
    )
    money: dict[int, dict] = {}
    for user_id, currency, amount in db.session.execute(statement):
        money.setdefault(user_id, {})[currency] = int(amount)
    return money


def solvers_page(
    organization: Organization, *, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[SolverRow]:
    """A page of the organization's solvers: by type (in the typology's order), then most
    awards, most proposals, name and id."""
    facts = _facts(organization)
    order = [facts.c.rank, facts.c.fewer_awards, facts.c.fewer_proposals, facts.c.sort_name,
             facts.c.user_id]  # fmt: skip
    page = keyset_page(select(facts), order, cursor=cursor, per_page=per_page, descending=False)
    ids = [row.user_id for row in page.items]
    earned = _money(_award_parts(organization), ids) if ids else {}
    value = _money(_value_parts(organization), ids) if ids else {}
    rows = [
        SolverRow(
            user_id=row.user_id,
            name=row.name,
            type=TYPOLOGY[row.rank] if row.rank < len(TYPOLOGY) else UNCLASSIFIED,
            proposal_count=row.proposals,
            need_count=row.needs,
            teams_led_count=row.led,
            award_count=row.awards,
            earned=earned.get(row.user_id, {}),
            value_attributed=value.get(row.user_id, {}),
        )
        for row in page.items
    ]
    return KeysetPage(rows, page.per_page, page.next_cursor, page.has_previous)
