"""The marketplace side of the scale data set: people, needs, proposals, judging, awards,
contributions and value reports, generated in memory with a seeded random generator.

The money side (fundings, award journals, value share journals and payments, payout batches)
is written by bench/scale_book.py from what this module decides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ledger import allocate
from marketplace.challenges.terms import Criterion, Terms

WORDS = [
    "biodegradable",
    "packaging",
    "film",
    "barrier",
    "coating",
    "recyclable",
    "polymer",
    "enzyme",
    "detergent",
    "low-temperature",
    "cleaning",
    "sensor",
    "moisture",
    "fragrance",
    "encapsulation",
    "water-free",
    "shampoo",
    "compostable",
    "closure",
    "lightweight",
    "bottle",
    "solar",
    "drying",
    "catalyst",
    "plant-based",
    "protein",
    "texture",
    "emulsion",
    "stabiliser",
    "antimicrobial",
    "surface",
    "odour",
    "control",
    "paper-based",
    "laminate",
    "refill",
    "dosing",
    "smart",
    "label",
    "freshness",
    "indicator",
    "cold-chain",
    "logistics",
    "battery",
    "recycling",
    "carbon",
    "capture",
    "fermentation",
    "yeast",
    "fibre",
    "bleach",
    "alternative",
    "printable",
    "electronics",
    "microplastic",
    "filter",
    "grease",
    "removal",
    "dishwashing",
    "tablet",
    "sugar",
    "reduction",
    "natural",
    "colour",
]
CATEGORIES = (
    "packaging", "materials", "chemistry", "sensors", "food", "personal-care", "home-care",
    "logistics", "energy", "digital", "manufacturing", "biotech",
)  # fmt: skip
MATURITIES = ("idea", "proof_of_concept", "prototype", "ready_to_license", "commercial_product")
CRITERIA = (Criterion("Feasibility", 50), Criterion("Novelty", 30), Criterion("Cost", 20))
FEE_BP = 1_000
VALUE_SHARE_BP = 500
VALUE_SHARE_MONTHS = 36
ROLES = ("owner", "manager", "reviewer", "finance")


@dataclass(frozen=True)
class Size:
    needs: int
    users: int
    proposals: int
    transfers: int
    heavy_need: int  # proposals on the judging board's need
    heavy_solver: int  # proposals led by the heavy solver
    reports_per_award: int


SIZES = {
    "S": Size(2_000, 10_000, 20_000, 100_000, 250, 165, 11),
    "L": Size(20_000, 100_000, 200_000, 1_000_000, 415, 165, 11),
}


@dataclass(slots=True)
class Need:
    id: int
    org: int
    status: str
    visibility: str
    title: str
    category: str
    tags: list[str]
    maturity: str
    prizes: list[int]
    created_at: datetime
    opened_at: datetime | None
    deadline: datetime
    closed_at: datetime | None
    terms: Terms
    view_count: int = 0

    @property
    def escrow_required(self) -> int:
        return self.terms.escrow_required


@dataclass(slots=True)
class Proposal:
    id: int
    need: Need
    lead: int
    status: str
    members: list[tuple[int, int]]  # (user id, share in basis points), the lead first
    created_at: datetime
    submitted_at: datetime | None
    shortlisted: bool = False


@dataclass(slots=True)
class Decision:
    id: int
    proposal: Proposal
    outcome: str
    decided_at: datetime


@dataclass(slots=True)
class Award:
    id: int
    decision: Decision
    rank: int
    amount: int
    fee: int
    shares: dict[int, int]
    weights: dict[int, int]  # confirmed contribution weights (split and later)
    journal_id: int = 0


@dataclass(slots=True)
class Report:
    id: int
    award: Award
    start: date
    end: date
    value: int
    share: int
    shares: dict[int, int]
    reported_at: datetime
    paid_at: datetime | None
    journal_id: int = 0


@dataclass
class World:
    size: Size
    now: datetime
    orgs: int
    users: int
    finance: tuple[int, int]
    admin: int
    heavy_solver: int
    busy: int  # the co-creator on a quarter of the awards: the busiest payable
    needs: list[Need] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    awards: list[Award] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)

    def staff(self, org: int, role: str) -> int:
        return 4 * (org - 1) + ROLES.index(role) + 1

    def email(self, user: int) -> str:
        return f"user{user}@scale.example"


def _title(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 4)).capitalize()


def _needs(world: World, rng: random.Random) -> None:
    size, now = world.size, world.now
    big_org_needs = size.needs // 20
    for n in range(1, size.needs + 1):
        org = 1 if n <= big_org_needs else 2 + (n % (world.orgs - 1))
        status = rng.choices(("draft", "open", "judging", "closed"), (10, 40, 20, 30))[0]
        if n == 1:
            status = "judging"  # the judging board's need
        created = now - timedelta(days=rng.uniform(40, 730))
        opened = created + timedelta(days=2) if status != "draft" else None
        if status == "open":
            deadline = now + timedelta(days=rng.uniform(5, 90))
        elif status == "draft":
            deadline = now + timedelta(days=rng.uniform(30, 120))
        else:
            deadline = min(created + timedelta(days=rng.uniform(20, 60)), now - timedelta(days=2))
        closed = None
        if status == "closed":
            closed = min(deadline + timedelta(days=rng.uniform(3, 20)), now - timedelta(days=1))
        first = rng.randrange(5_000, 100_000) * 100
        prizes = [first, first // 2, first // 4]
        terms = Terms(
            currency="USD", prizes=tuple(prizes), partial_awards=True,
            value_share_bp=VALUE_SHARE_BP, value_share_months=VALUE_SHARE_MONTHS,
            platform_fee_bp=FEE_BP, ip_terms=rng.choice(("solver_keeps", "non_exclusive_licence")),
            excluded_countries=(), exclude_org_members=False, criteria=CRITERIA,
            max_team_size=5, deadline=deadline.replace(microsecond=0),
        )  # fmt: skip
        visibility = rng.choices(("public", "internal", "invite_only"), (90, 7, 3))[0]
        world.needs.append(
            Need(
                n, org, status, "public" if n == 1 else visibility, _title(rng),
                rng.choice(CATEGORIES), rng.sample(WORDS, 3), rng.choice(MATURITIES), prizes,
                created, opened, deadline, closed, terms, rng.randrange(0, 5_000),
            )
        )  # fmt: skip


def _team(world: World, rng: random.Random, lead: int) -> list[tuple[int, int]]:
    extra = rng.choices((0, 1, 2, 3), (25, 35, 28, 12))[0]
    people = [lead]
    while len(people) < extra + 1:
        other = rng.randrange(world.busy + 1, world.users + 1)
        if other not in people:
            people.append(other)
    each = 10_000 // len(people)
    return [(uid, each + (10_000 - each * len(people) if i == 0 else 0))
            for i, uid in enumerate(people)]  # fmt: skip


def _proposal_status(rng: random.Random, need: Need) -> str:
    if need.status == "open":
        return rng.choices(("draft", "submitted", "withdrawn"), (40, 57, 3))[0]
    return rng.choices(("draft", "submitted", "withdrawn"), (8, 89, 3))[0]


def _proposals(world: World, rng: random.Random) -> None:
    size = world.size
    live = [need for need in world.needs[1:] if need.status != "draft"]
    plan: list[tuple[Need, int]] = [(world.needs[0], 0)] * size.heavy_need
    plan += [(need, world.heavy_solver) for need in rng.sample(live, size.heavy_solver)]
    while len(plan) < size.proposals:
        plan.append((rng.choice(live), 0))
    taken: set[tuple[int, int]] = set()
    for need, lead in plan:
        while not lead or (need.id, lead) in taken:
            lead = rng.randrange(world.busy + 1, world.users + 1)
        taken.add((need.id, lead))
        status = "submitted" if need.id == 1 else _proposal_status(rng, need)
        start = need.opened_at or need.created_at
        end = min(need.deadline, world.now)
        created = start + (end - start) * rng.random() * 0.9
        submitted = created + (end - created) * rng.random() if status != "draft" else None
        proposal = Proposal(
            len(world.proposals) + 1, need, lead, status, _team(world, rng, lead), created,
            submitted, need.id == 1 and rng.random() < 0.1,
        )  # fmt: skip
        world.proposals.append(proposal)


def _decide(world: World, rng: random.Random) -> None:
    """Judging needs have some answers (rolling), closed needs answer every submission."""
    by_need: dict[int, list[Proposal]] = {}
    for proposal in world.proposals:
        if proposal.status == "submitted" and proposal.need.status in ("judging", "closed"):
            by_need.setdefault(proposal.need.id, []).append(proposal)
    for need_id, submitted in by_need.items():
        need = submitted[0].need
        rng.shuffle(submitted)
        if need.status == "closed":
            winners, answered = rng.randint(2, 3), len(submitted)
        elif need_id == 1:
            winners, answered = 0, len(submitted) // 10
        else:
            winners, answered = rng.randint(1, 2), len(submitted) // 3
        last = need.closed_at or world.now - timedelta(hours=1)
        for position, proposal in enumerate(submitted[: max(answered, winners)]):
            outcome = "award" if position < min(winners, len(need.prizes)) else "decline"
            span = last - max(proposal.submitted_at, need.deadline)
            decided = max(proposal.submitted_at, need.deadline) + span * rng.uniform(0.1, 0.9)
            decision = Decision(len(world.decisions) + 1, proposal, outcome, decided)
            world.decisions.append(decision)
            proposal.status = "awarded" if outcome == "award" else "declined"
            if outcome == "award":
                _award(world, rng, decision, position + 1)


def _award(world: World, rng: random.Random, decision: Decision, rank: int) -> None:
    need = decision.proposal.need
    amount = need.prizes[rank - 1]
    fee = amount * FEE_BP // 10_000
    split = dict(decision.proposal.members)
    shares = allocate(amount, split)
    weights = dict(split)
    if rng.random() < 0.27:
        weights[world.busy] = 2_000
    award = Award(len(world.awards) + 1, decision, rank, amount, fee, shares, weights)
    world.awards.append(award)
    _reports(world, rng, award)


def _reports(world: World, rng: random.Random, award: Award) -> None:
    """Up to ``reports_per_award`` consecutive periods after the award that have ended."""
    first = award.decision.decided_at.date() + timedelta(days=1)
    yesterday = world.now.date() - timedelta(days=1)
    days = (yesterday - first).days + 1
    wanted = world.size.reports_per_award
    length = max(1, min(30, days // wanted))
    for index in range(min(wanted, days // length)):
        start = first + timedelta(days=index * length)
        end = start + timedelta(days=length - 1)
        value = rng.randrange(1_000, 50_000) * 100
        share = value * VALUE_SHARE_BP // 10_000
        reported = min(
            datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=rng.uniform(1, 5)),
            world.now - timedelta(minutes=30),
        )
        paid = reported + timedelta(days=rng.uniform(1, 20))
        world.reports.append(
            Report(
                len(world.reports) + 1, award, start, end, value, share,
                allocate(share, award.weights), reported,
                paid if paid < world.now and rng.random() < 0.7 else None,
            )
        )  # fmt: skip


def build(scale: str, seed: int = 10) -> World:
    """Every need, proposal, decision, award and report of the data set at ``scale``."""
    size = SIZES[scale]
    rng = random.Random(seed)
    orgs = max(2, size.needs // 20)
    platform = 4 * orgs
    world = World(
        size=size, now=datetime.now(UTC).replace(microsecond=0), orgs=orgs, users=size.users,
        finance=(platform + 1, platform + 2), admin=platform + 3, heavy_solver=platform + 4,
        busy=platform + 5,
    )  # fmt: skip
    _needs(world, rng)
    _proposals(world, rng)
    _decide(world, rng)
    return world
