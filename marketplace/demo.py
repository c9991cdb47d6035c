"""Demo data for `flask demo`: two organizations with branded portals, their people, solvers,
finance staff, needs in every visibility and state (funded through the sandbox provider), terms
accepted, questions answered, an amendment, and a book of money flows on those needs' escrow.

Awards and payouts arrive with the proposals feature; until then the demo posts those journals
to the ledger directly, on the real escrow accounts of the needs, so the book reads as it will.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select, update

import ledger
from ledger import NewTransfer, utcnow
from marketplace.accounts.models import Membership, Organization, OrganizationDomain, OrgRole, User
from marketplace.accounts.passwords import hash_password
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.challenges.terms import Criterion, Terms
from marketplace.dialogue import services as dialogue
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payments.services import start_funding

DEMO_PASSWORD = "demo-password"

PEOPLE = [
    # email, name, platform finance, admin, country
    ("ada@acme.example", "Ada Lovelace", False, False, "GB"),
    ("max@acme.example", "Max Planck", False, False, "DE"),
    ("rita@acme.example", "Rita Levi-Montalcini", False, False, "IT"),
    ("finn@acme.example", "Finn Larsen", False, False, "DK"),
    ("tomas@acme.example", "Tomás Ortega", False, False, "ES"),
    ("nora@northwind.example", "Nora Ephron", False, False, "US"),
    ("omar@northwind.example", "Omar Khayyam", False, False, "US"),
    ("sam@solver.example", "Sam Okafor", False, False, "NG"),
    ("sofia@solver.example", "Sofia Kovalevskaya", False, False, "SE"),
    ("li@solver.example", "Li Wei", False, False, "SG"),
    ("fiona@platform.example", "Fiona Finance", True, False, "NL"),
    ("felix@platform.example", "Felix Finance", True, False, "NL"),
    ("admin@platform.example", "Platform Admin", False, True, "NL"),
]

ORGANIZATIONS = [
    ("Acme Consumer Goods", "acme", "Better everyday products, made with you.", "#b4232a",
     ["acme.example"], [("ada@acme.example", OrgRole.OWNER),
                        ("max@acme.example", OrgRole.MANAGER),
                        ("rita@acme.example", OrgRole.REVIEWER),
                        ("finn@acme.example", OrgRole.FINANCE)]),
    ("Northwind Materials", "northwind", "Materials for the next hundred years.", "#0f5e7a",
     ["northwind.example"], [("nora@northwind.example", OrgRole.OWNER),
                             ("omar@northwind.example", OrgRole.MANAGER)]),
]  # fmt: skip


def _terms(prizes: tuple[int, ...], days: int, **changes: object) -> Terms:
    base = Terms(
        currency="USD", prizes=prizes, partial_awards=True, value_share_bp=300,
        value_share_months=36, platform_fee_bp=1000, ip_terms="non_exclusive_licence",
        excluded_countries=(), exclude_org_members=True,
        criteria=(Criterion("Technical merit", 50), Criterion("Cost at scale", 30),
                  Criterion("Time to market", 20)),
        max_team_size=4, deadline=(utcnow() + timedelta(days=days)).replace(microsecond=0),
        confidentiality="Confidential details may not be shared outside your team.",
    )  # fmt: skip
    return replace(base, **changes)


NEEDS = [
    # organization, manager, visibility, final state, need text, prizes (cents), days to deadline
    ("acme", "max@acme.example", "public", "open", {
        "title": "Home-compostable coffee capsule liner",
        "summary": "We need a liner that keeps ground coffee fresh for 12 months and composts in a "
                   "home bin, so our capsules can leave aluminium behind.",
        "background": "Our capsules use an **aluminium** liner today. Consumers ask for a capsule "
                      "they can put in the food bin.",
        "looking_for": ["Oxygen transmission under 0.5 cc/m²/day",
                        "Certified home-compostable (EN 13432)",
                        "Runs on existing form-fill-seal lines"],
        "not_looking_for": "Aluminium, multilayer plastics, or industrial-only compostability.",
        "possible_approaches": "Cellulose films, bio-based barrier coatings, mineral layers.",
        "maturity": "prototype", "deliverables": "Samples for a 3-month shelf test, and data.",
        "category": "Packaging", "tags": ["compostable", "barrier", "coffee"],
        "confidential_details": "Target cost: 0.4 US cents per capsule; 2 billion capsules a year.",
    }, (800_000, 200_000), 45),
    ("acme", "max@acme.example", "public", "open", {
        "title": "Low-sodium cheese without bitterness",
        "summary": "Cut sodium in processed cheese by 30 % with no bitter aftertaste and no loss "
                   "of melt.",
        "looking_for": ["30 % less sodium", "No bitterness in a trained panel",
                        "Same melt and stretch"],
        "maturity": "proof_of_concept", "category": "Food", "tags": ["sodium", "dairy", "taste"],
        "confidential_details": "Current formulation sheet is in the data room (folder F-12).",
    }, (500_000,), 60),
    ("acme", "max@acme.example", "internal", "open", {
        "title": "Predictive maintenance for filling lines",
        "summary": "Predict capper failures 24 hours ahead from vibration data we already log.",
        "looking_for": ["Precision above 80 % at 24 h", "Runs at the edge"],
        "maturity": "prototype", "category": "Manufacturing", "tags": ["iot", "machine learning"],
        "confidential_details": "Two years of anonymised logs are available on request.",
    }, (300_000,), 30),
    ("acme", "max@acme.example", "public", "draft", {
        "title": "Recyclable toothpaste tube",
        "summary": "A mono-material tube that recycles with HDPE bottles.",
        "looking_for": ["Recyclable in the HDPE stream", "Same barrier as today"],
        "maturity": "ready_to_license", "category": "Packaging", "tags": ["recycling", "hdpe"],
    }, (400_000,), 90),
    ("northwind", "omar@northwind.example", "public", "judging", {
        "title": "Self-healing concrete for bridge decks",
        "summary": "Concrete that seals its own cracks up to 0.5 mm, so water stays out of the "
                   "rebar.",
        "looking_for": ["Seals 0.5 mm cracks within 28 days", "No loss of compressive strength"],
        "maturity": "proof_of_concept", "category": "Materials", "tags": ["concrete", "bacteria"],
        "confidential_details": "Pilot budget: 2 million USD on the Route 9 bridge.",
    }, (1_000_000, 250_000), 20),
    ("northwind", "omar@northwind.example", "invite_only", "open", {
        "title": "Low-carbon cement binder",
        "summary": "A binder with 60 % less CO2 than Portland cement, for precast partners.",
        "looking_for": ["60 % less embodied CO2", "Meets EN 197-1 strength classes"],
        "maturity": "prototype", "category": "Materials", "tags": ["cement", "co2"],
        "confidential_details": "Kiln data from the Rotterdam plant.",
    }, (600_000,), 75),
    ("northwind", "omar@northwind.example", "public", "cancelled", {
        "title": "Corrosion sensor for buried pipelines",
        "summary": "A passive sensor that reports corrosion rate without digging.",
        "looking_for": ["10-year battery life", "Reads through 2 m of soil"],
        "maturity": "idea", "category": "Sensors", "tags": ["corrosion", "pipelines"],
    }, (200_000,), 40),
]  # fmt: skip


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id)))


def _people() -> dict[str, User]:
    password_hash = hash_password(DEMO_PASSWORD)
    users = {}
    for email, name, finance, admin, country in PEOPLE:
        user = User(
            email=email, name=name, password_hash=password_hash, country=country,
            is_platform_finance=finance, is_admin=admin, email_verified_at=utcnow(),
        )  # fmt: skip
        db.session.add(user)
        users[email] = user
    for name, slug, tagline, colour, domains, members in ORGANIZATIONS:
        organization = Organization(name=name, slug=slug, tagline=tagline, primary_color=colour,
                                    about=f"**{name}** works with solvers worldwide.")  # fmt: skip
        organization.domains = [OrganizationDomain(domain=d) for d in domains]
        db.session.add(organization)
        for email, role in members:
            db.session.add(Membership(organization=organization, user=users[email], role=role))
    db.session.commit()
    return users


def _needs(users: dict[str, User]) -> list[Challenge]:
    made = []
    for slug, manager_email, visibility, state, text, prizes, days in NEEDS:
        manager = users[manager_email]
        organization = db.session.scalar(select(Organization).where(Organization.slug == slug))
        need = {"background": "", "nice_to_have": "", "not_looking_for": "",
                "possible_approaches": "", "deliverables": "", "confidential_details": "",
                **text, "visibility": visibility}  # fmt: skip
        challenge = needs.create_challenge(manager, organization, need, _terms(prizes, days))
        if state != "draft":
            start_funding(manager, challenge)
            needs.open_challenge(manager, challenge)
        made.append(challenge)
    return made


def _activity(users: dict[str, User], made: list[Challenge]) -> None:
    capsule, cheese, maintenance, _tube, concrete, cement, sensor = made
    solver = {name: users[f"{name}@solver.example"] for name in ("sam", "sofia", "li")}
    for who in ("sam", "sofia", "li"):
        needs.accept_terms(solver[who], capsule.id)
    needs.accept_terms(solver["sam"], cheese.id)
    needs.accept_terms(users["tomas@acme.example"], maintenance.id)
    question = dialogue.ask(solver["sofia"], capsule.id, "Is a PLA-based coating acceptable?")
    dialogue.answer(users["max@acme.example"], question.id,
                    "Yes, if the whole liner is certified home-compostable.")  # fmt: skip
    dialogue.ask(solver["li"], capsule.id, "Can we get samples of the current capsule?")
    dialogue.post_update(users["max@acme.example"], capsule.id, "Judging panel named",
                         "Our packaging and sustainability leads will judge.")  # fmt: skip
    later = replace(capsule.current_terms.terms, max_team_size=6,
                    deadline=capsule.current_terms.terms.deadline + timedelta(days=14))  # fmt: skip
    needs.amend_terms(users["max@acme.example"], capsule, later, "Two more weeks; bigger teams")
    for who in ("sam", "sofia"):
        needs.accept_terms(solver[who], concrete.id)
    _, token = needs.invite_partner(users["omar@northwind.example"], cement, "li@solver.example",
                                    "Li Wei")  # fmt: skip
    needs.redeem_invitation(solver["li"], token)
    needs.accept_terms(solver["li"], cement.id)
    needs.cancel_challenge(users["omar@northwind.example"], sensor)
    db.session.execute(update(Challenge).where(Challenge.id == concrete.id)
                       .values(deadline=utcnow() - timedelta(days=1)))  # fmt: skip
    db.session.commit()
    needs.advance_deadlines()


def _book(users: dict[str, User], made: list[Challenge]) -> int:
    """Awards, fees, payouts and a corrected mistake on the needs' escrow; returns journals."""
    s, cur, by = db.session, "USD", "demo"
    concrete, cheese = made[4], made[1]
    fees, cash = chart.fees(s, cur), chart.cash(s, cur)
    escrow = chart.escrow(s, concrete.id, cur)
    sam, sofia, li = (users[f"{n}@solver.example"] for n in ("sam", "sofia", "li"))
    payable = {u.id: chart.payable(s, u.id, cur) for u in (sam, sofia, li)}
    journals = 0

    def post(key: str, batch: list[NewTransfer], description: str) -> ledger.PostedJournal:
        nonlocal journals
        journals += 1
        return ledger.post_journal(s, batch, key=f"demo:{key}", recorded_by=by,
                                   description=description)  # fmt: skip

    # First prize of the concrete need to Sam and Sofia, split 60/40, plus the 10 % fee.
    split = ledger.allocate(1_000_000, {sam.id: 6000, sofia.id: 4000})
    award = [NewTransfer(escrow.id, payable[u].id, part, "AWARD", "demo-award:1")
             for u, part in split.items()]  # fmt: skip
    award.append(NewTransfer(escrow.id, fees.id, 100_000, "FEE", "demo-award:1"))
    post("award:1", award, "First prize of the concrete need to a two-person team")
    # A partial second prize to Li.
    post("award:2", [NewTransfer(escrow.id, payable[li.id].id, 125_000, "AWARD", "demo-award:2"),
                     NewTransfer(escrow.id, fees.id, 12_500, "FEE", "demo-award:2")],
         "Partial second prize of the concrete need")  # fmt: skip
    # A payout batch: Sam is paid, Sofia's transfer is in flight, Li's was refused by the bank.
    paid = post("payout:sam", [NewTransfer(payable[sam.id].id, cash.id, split[sam.id], "PAYOUT",
                "demo-payout:1", pending=True)], "Payout to Sam")  # fmt: skip
    ledger.post_pending(s, paid.transfer_id)
    post("payout:sofia", [NewTransfer(payable[sofia.id].id, cash.id, split[sofia.id], "PAYOUT",
         "demo-payout:1", pending=True)], "Payout to Sofia")  # fmt: skip
    refused = post("payout:li", [NewTransfer(payable[li.id].id, cash.id, 125_000, "PAYOUT",
                   "demo-payout:1", pending=True)], "Payout to Li")  # fmt: skip
    ledger.void_pending(s, refused.transfer_id)
    # A fee charged by mistake on the cheese need, corrected by a reversal that points at it.
    wrong = post("fee:mistake", [NewTransfer(chart.escrow(s, cheese.id, cur).id, fees.id, 5_000,
                 "FEE", f"challenge:{cheese.id}")], "Fee posted by mistake")  # fmt: skip
    ledger.reverse_transfer(s, wrong.transfer_id, key="demo:fee:mistake:reversal",
                            recorded_by=by, reason="Fee charged before any award")  # fmt: skip
    s.commit()
    return journals + 1


def load_demo() -> str:
    """Load everything; returns a one-line summary."""
    users = _people()
    made = _needs(users)
    _activity(users, made)
    journals = _book(users, made)
    return (
        f"Demo loaded: {len(PEOPLE)} people, {len(ORGANIZATIONS)} organizations, {len(made)} "
        f"needs, and {journals} award/payout journals besides funding and refunds."
    )
