"""An organization's solvers: what each did, won and shares in, their type in the typology,
and how many solvers each type has.

Why the facts are materialised. Computing them live (``live_facts``) aggregates every sent
proposal, award and posted value report of the organization: about 0.9 s at size L (16,000
solvers), and the page needs it twice (its page and the type counts). So they are kept per
organization in ``organization_solver_facts`` (counts, type rank, sort key) and
``organization_solver_money`` (earned and value per currency), and the page reads an index:
one statement for the page, one for the type counts, one for the page's money.

How they stay right. ``refresh(organization_id)`` recomputes one organization set-based in one
transaction (DELETE, then INSERT ... SELECT from ``live_facts``, the very query the page used
to run), so the figures are exactly the live computation as of ``computed_at``. The commands
that change a fact (a proposal submitted or withdrawn, a team member joining or removed, an
award, a value report filed, reversed or corrected) enqueue the ``refresh_solver_facts`` job
in their own transaction with ``enqueue_once``: a burst of writes leaves one pending refresh
per organization. Counters kept in each write's transaction were the alternative; they were
not chosen because the type depends on several facts at once (team sizes, distinct needs,
reports with a positive part), which the writes would each have to re-derive, while one
refresh reuses the single definition. The page says when its figures were computed; an
organization never refreshed is refreshed in the request that first shows it (once, the cost
of the live computation), so no figure is ever read from facts that were never computed.

``refresh`` takes a lock on the organization's ``organization_solver_facts_refreshes`` row
first, so two refreshes of one organization run one after the other. A solver's new name
shows (and sorts) from the next refresh of each organization.

Award and value-report splits are JSON objects ``{user id: minor units}``; they are expanded in
SQL (``json_each_text`` on PostgreSQL, ``json_each`` on SQLite). The SQL mirrors the rules of
``typology.TYPOLOGY`` (same order of precedence); the insight tests check both against the
same cast of solvers, and the materialised facts against ``live_facts`` after writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    and_,
    case,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import Subquery

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.insight.models import SolverFacts, SolverFactsRefresh, SolverMoney
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


def _award_parts(organization_id: int) -> Select:
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
        .where(Challenge.organization_id == organization_id)
    )


def _value_parts(organization_id: int) -> Select:
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
            ValueReport.organization_id == organization_id,
            ValueReport.status == ReportStatus.POSTED,
        )
    )


def live_facts(organization_id: int) -> Subquery:
    """One row per solver, computed now: counts, type rank and name (what ``refresh``
    stores)."""
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
            Challenge.organization_id == organization_id,
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
    awards = _award_parts(organization_id).cte("award_parts")
    won = (
        select(awards.c.user_id, func.count(distinct(awards.c.award_id)).label("awards"))
        .group_by(awards.c.user_id)
        .subquery("won")
    )
    values = _value_parts(organization_id).cte("value_parts")
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


def live_money(organization_id: int) -> Select:
    """(user_id, currency, earned, value) per solver and currency, computed now; None where
    the solver has no part of that kind in that currency."""
    awards = _award_parts(organization_id).subquery()
    values = _value_parts(organization_id).subquery()
    parts = union_all(
        select(awards.c.user_id, awards.c.currency, awards.c.amount, literal(1).label("won")),
        select(values.c.user_id, values.c.currency, values.c.amount, literal(0).label("won")),
    ).subquery("parts")
    return select(
        parts.c.user_id,
        parts.c.currency,
        func.sum(case((parts.c.won == 1, parts.c.amount))).label("earned"),
        func.sum(case((parts.c.won == 0, parts.c.amount))).label("value"),
    ).group_by(parts.c.user_id, parts.c.currency)


def _lock(organization_id: int) -> None:
    """Take the organization's refresh row (made if missing) for this transaction."""
    dialect = db.session.get_bind().dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        maker(SolverFactsRefresh)
        .values(organization_id=organization_id, computed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )
    db.session.execute(
        select(SolverFactsRefresh.organization_id)
        .where(SolverFactsRefresh.organization_id == organization_id)
        .with_for_update()
    )


def refresh(organization_id: int) -> datetime:
    """Recompute the organization's solver facts and money from ``live_facts`` and
    ``live_money`` (call inside a transaction); returns when they were computed."""
    _lock(organization_id)
    computed_at = utcnow()
    db.session.execute(delete(SolverFacts).where(SolverFacts.organization_id == organization_id))
    db.session.execute(delete(SolverMoney).where(SolverMoney.organization_id == organization_id))
    facts = live_facts(organization_id)
    columns = ["user_id", "name", "sort_name", "rank", "fewer_awards", "fewer_proposals",
               "proposals", "needs", "led", "awards"]  # fmt: skip
    db.session.execute(
        insert(SolverFacts).from_select(
            ["organization_id", *columns],
            select(literal(organization_id, BigInteger), *(facts.c[name] for name in columns)),
        )
    )
    money = live_money(organization_id).subquery()
    db.session.execute(
        insert(SolverMoney).from_select(
            ["organization_id", "user_id", "currency", "earned", "value"],
            select(
                literal(organization_id, BigInteger),
                money.c.user_id,
                money.c.currency,
                money.c.earned,
                money.c.value,
            ),
        )  # fmt: skip
    )
    db.session.execute(
        SolverFactsRefresh.__table__.update()
        .where(SolverFactsRefresh.organization_id == organization_id)
        .values(computed_at=computed_at)
    )
    return computed_at


def computed_at(organization_id: int) -> datetime | None:
    """When the organization's facts were last computed; None if never."""
    return db.session.scalar(
        select(SolverFactsRefresh.computed_at).where(
            SolverFactsRefresh.organization_id == organization_id
        )
    )


def type_counts(organization_id: int) -> dict[str, int]:
    """How many of the organization's solvers each type has (one statement)."""
    counted = dict(
        db.session.execute(
            select(SolverFacts.rank, func.count())
            .where(SolverFacts.organization_id == organization_id)
            .group_by(SolverFacts.rank)
        ).all()
    )
    counts = {kind.key: counted.get(index, 0) for index, kind in enumerate(TYPOLOGY)}
    if counted.get(len(TYPOLOGY)):
        counts[UNCLASSIFIED.key] = counted[len(TYPOLOGY)]
    return counts


def _money(organization_id: int, user_ids: list[int]) -> tuple[dict[int, dict], dict[int, dict]]:
    """Per solver of ``user_ids``: (currency -> earned, currency -> value)."""
    earned: dict[int, dict] = {}
    value: dict[int, dict] = {}
    statement = select(SolverMoney).where(
        SolverMoney.organization_id == organization_id, SolverMoney.user_id.in_(user_ids)
    )
    for row in db.session.scalars(statement):
        if row.earned is not None:
            earned.setdefault(row.user_id, {})[row.currency] = int(row.earned)
        if row.value is not None:
            value.setdefault(row.user_id, {})[row.currency] = int(row.value)
    return earned, value


def solvers_page(
    organization_id: int, *, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[SolverRow]:
    """A page of the organization's solvers as last computed: by type (in the typology's
    order), then most awards, most proposals, name and id."""
    facts = SolverFacts
    order = [facts.rank, facts.fewer_awards, facts.fewer_proposals, facts.sort_name,
             facts.user_id]  # fmt: skip
    query = select(facts).where(facts.organization_id == organization_id)
    page = keyset_page(query, order, cursor=cursor, per_page=per_page, descending=False,
                       scalars=True)  # fmt: skip
    ids = [row.user_id for row in page.items]
    earned, value = _money(organization_id, ids) if ids else ({}, {})
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
