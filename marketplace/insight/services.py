"""Co-creator insight for seekers: how each need's funnel converts and how fast it answers,
and who the organization's solvers are, what they won and what value they share in.

Who may see it: a need's insight is for the owners, managers and reviewers of its
organization (a need the caller may not see is a 404, one they may see but not judge a 403);
an organization's insight is for its owners and managers. All counts and percentages are
integers (percentages rounded down); money is integer minor units per currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ScalarSelect, distinct, func, select

from marketplace.accounts.models import Organization, User
from marketplace.accounts.services import SLUG, get_organization, require_role
from marketplace.challenges.access import EDITORS, get_visible, require
from marketplace.challenges.models import Challenge, Status, TermsAcceptance
from marketplace.db import transaction
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.insight import solvers
from marketplace.insight.solvers import SolverRow
from marketplace.insight.typology import TYPOLOGY, SolverType
from marketplace.judging.models import Award, Decision
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.proposals.access import READERS, SENT
from marketplace.proposals.models import Proposal

#: The funnel's stages, top to bottom: (key, label). No stage counts drafts: a team's draft is
#: its own, and the seeker may not even learn that it exists.
STAGES: tuple[tuple[str, str], ...] = (
    ("views", "Views of the need page"),
    ("accepted_terms", "Solvers who accepted the terms"),
    ("submitted", "Proposals submitted"),
    ("decided", "Proposals decided"),
    ("awarded", "Proposals awarded"),
)

#: How each stage is counted, in words (the pages show these).
STAGE_RULES: dict[str, str] = {
    "views": "Visitors of the need's page, each counted at most once an hour, not counting "
    "the organization's own members.",
    "accepted_terms": "People who accepted any version of the terms.",
    "submitted": "Proposals sent to the organization, including any withdrawn afterwards.",
    "decided": "Proposals with a decision (award or decline, always with feedback).",
    "awarded": "Proposals that won a prize.",
}


# --- the funnel ---


def percent(part: int, whole: int) -> int | None:
    return part * 100 // whole if whole else None


@dataclass(frozen=True)
class Stage:
    key: str
    label: str
    rule: str
    count: int
    #: Of the stage before (the conversion); None for the first stage or from zero.
    conversion_percent: int | None
    #: Of the funnel's top (the views); None when there were none.
    overall_percent: int | None


@dataclass(frozen=True)
class ResponseTimes:
    """Every input gets an answer: how many, and how fast."""

    received: int  # proposals the organization was sent and that were not withdrawn
    answered: int  # of those, decided
    rate_percent: int | None
    #: The middle decision time; of an even number, the later of the two middle ones (as on the
    #: judging board).
    median_seconds: int | None
    longest_seconds: int | None


@dataclass(frozen=True)
class Funnel:
    challenge: Challenge
    stages: list[Stage]
    responses: ResponseTimes

    @property
    def challenge_id(self) -> int:
        return self.challenge.id

    @property
    def title(self) -> str:
        return self.challenge.title

    @property
    def status(self) -> str:
        return self.challenge.status

    @property
    def widest(self) -> int:
        """The largest stage count: the full width of the funnel's bars."""
        return max((stage.count for stage in self.stages), default=0)


def _count(column, *where) -> ScalarSelect:  # noqa: ANN001
    """How many rows (or distinct ``column`` values) of one need: a correlated subquery."""
    return select(func.count(column)).where(*where).scalar_subquery()


def funnels(challenges: list[Challenge]) -> list[Funnel]:
    """The funnel and response times of each need: two statements whatever their number
    (every count a correlated subquery on the need's index, then the decision times)."""
    ids = [c.id for c in challenges]
    if not ids:
        return []
    need = Challenge.id
    counts_of = {
        "accepted_terms": _count(
            distinct(TermsAcceptance.user_id), TermsAcceptance.challenge_id == need
        ),
        "submitted": _count(
            Proposal.id, Proposal.challenge_id == need, Proposal.submitted_at.is_not(None)
        ),
        "decided": _count(Decision.id, Decision.challenge_id == need),
        "awarded": _count(Award.id, Award.challenge_id == need),
        "received": _count(Proposal.id, Proposal.challenge_id == need, Proposal.status.in_(SENT)),
    }
    rows = db.session.execute(
        select(need, *(column.label(key) for key, column in counts_of.items())).where(need.in_(ids))
    )
    by_need = {row.id: row._mapping for row in rows}
    counted = {
        key: {challenge_id: row[key] for challenge_id, row in by_need.items()}
        for key in counts_of
        if key != "received"
    }
    received = {challenge_id: row["received"] for challenge_id, row in by_need.items()}
    times: dict[int, list[int]] = defaultdict(list)
    for challenge_id, seconds in db.session.execute(
        select(Decision.challenge_id, Decision.response_seconds).where(
            Decision.challenge_id.in_(ids)
        )
    ):
        times[challenge_id].append(seconds)
    result = []
    for challenge in challenges:
        values = {"views": challenge.view_count or 0}
        values.update({key: counts.get(challenge.id, 0) for key, counts in counted.items()})
        stages, previous = [], None
        for key, label in STAGES:
            count = values[key]
            stages.append(
                Stage(
                    key,
                    label,
                    STAGE_RULES[key],
                    count,
                    None if previous is None else percent(count, previous),
                    percent(count, values["views"]),
                )  # fmt: skip
            )
            previous = count
        decided = sorted(times.get(challenge.id, []))
        sent = received.get(challenge.id, 0)
        responses = ResponseTimes(
            received=sent,
            answered=len(decided),
            rate_percent=percent(len(decided), sent),
            median_seconds=decided[len(decided) // 2] if decided else None,
            longest_seconds=decided[-1] if decided else None,
        )
        result.append(Funnel(challenge, stages, responses))
    return result


def need_insight(user: User | None, challenge_id: int) -> Funnel:
    """One need's funnel and response times (its organization's owners, managers, reviewers)."""
    challenge = get_visible(user, challenge_id)
    require(user, challenge, READERS, "see this need's insight")
    return funnels([challenge])[0]


# --- the organization's needs and solvers ---


@dataclass(frozen=True)
class OrganizationInsight:
    """A page of the organization's needs with their funnels, a page of its solvers, and how
    many solvers each type has (over all of them), as computed at ``figures_as_of``."""

    organization: Organization
    needs: KeysetPage[Funnel]
    solver_page: KeysetPage[SolverRow]
    type_counts: dict[str, int]
    figures_as_of: datetime
    typology: tuple[SolverType, ...] = TYPOLOGY

    @property
    def funnels(self) -> list[Funnel]:
        return self.needs.items

    @property
    def solvers(self) -> list[SolverRow]:
        return self.solver_page.items


def organization_insight(
    user: User | None,
    slug: str,
    *,
    needs_cursor: str | None = None,
    solvers_cursor: str | None = None,
    per_page: int = PER_PAGE,
) -> OrganizationInsight:
    """A page of the funnels of the organization's needs (drafts aside, newest first) and a
    page of its solvers (its owners and managers). A bounded number of statements whatever
    the organization's size: the funnels are aggregates in SQL of the page's needs; the
    solvers are read from their facts as last computed (``insight.solvers``), which the
    first view of an organization computes."""
    if not isinstance(slug, str) or len(slug) > 60 or not SLUG.fullmatch(slug):
        raise NotFound("No such organization.")
    organization = get_organization(slug)
    require_role(user, organization, *EDITORS)
    needs = keyset_page(
        select(Challenge).where(
            Challenge.organization_id == organization.id, Challenge.status != Status.DRAFT
        ),
        [Challenge.created_at, Challenge.id],
        cursor=needs_cursor,
        per_page=per_page,
        scalars=True,
    )
    as_of = solvers.computed_at(organization.id)
    if as_of is None:
        with transaction():
            as_of = solvers.refresh(organization.id)
    return OrganizationInsight(
        organization,
        KeysetPage(funnels(needs.items), needs.per_page, needs.next_cursor, needs.has_previous),
        solvers.solvers_page(organization.id, cursor=solvers_cursor, per_page=per_page),
        solvers.type_counts(organization.id),
        as_of,
    )
