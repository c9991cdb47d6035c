"""Demo data for `flask demo`: two organizations with branded portals, their people, solvers,
finance staff, needs in every visibility and state (funded through the sandbox provider), terms
accepted, questions answered, an amendment, proposals judged, value shared and solvers paid, all
through the real services (nothing is posted to the ledger directly).

- Open needs hold draft and submitted proposals: Sam and Sofia's two-person team (60/40,
  confirmed), Li's three-person team (33.34/33.33/33.33), a solo proposal and a solo draft,
  with private messages between teams and the seeker.
- "Self-healing concrete" is being judged: reviewers scored its proposals, two are
  shortlisted, Sam and Sofia's team won the first prize (a real award journal), one was
  declined with feedback, and Li's still waits for its decision.
- "Refill pouch" was judged by Acme (Rita and Ada reviewing): Li won the first prize, Alan was
  declined with feedback, and the need was closed out, its unspent escrow refunded.
- Value sharing on the pouch (3 % of realised value for 36 months). Value can only be reported
  for periods that have ended inside the term, which starts on the award's day, so the demo
  dates that award (and its split's contribution records) 14 months back. Acme's finance
  member Finn reports the first quarter; Max records a later contribution by Grace (the base
  ring's moulding tool), which she confirms; the second quarter is reported, then corrected
  (its journal reversed, a new report filed); Acme pays the first quarter's share (sandbox).
- Second factor: platform staff and the organizations' owners, managers and finance members
  have one, all with the authenticator key DEMO_TOTP_SECRET (`flask demo` prints it).
- Payouts: Sam, Li and Grace onboard payout accounts (Sofia has not: she is owed but cannot be
  paid yet); Fiona prepares a batch and Felix approves it, paid at once by the sandbox (with
  REDIS_URL set, the worker sends it). Acme then reports a third quarter, and Fiona's second
  batch (Li and Grace) waits for another finance user's approval.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pyotp
from sqlalchemy import func, select, update

from ledger import format_minor, utcnow
from marketplace.accounts import second_factor
from marketplace.accounts.models import Membership, Organization, OrganizationDomain, OrgRole, User
from marketplace.accounts.passwords import hash_password
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.challenges.terms import Criterion, Terms
from marketplace.db import transaction
from marketplace.dialogue import services as dialogue
from marketplace.extensions import db
from marketplace.judging import closing, decisions, reviews
from marketplace.judging.models import Award, Decision, Review
from marketplace.payments.services import start_funding
from marketplace.payouts import batches
from marketplace.payouts.accounts import start_onboarding
from marketplace.payouts.models import PayoutAccount, PayoutBatch
from marketplace.proposals import messages, team
from marketplace.proposals import services as proposals
from marketplace.proposals.models import Proposal
from marketplace.value import contributions, reports
from marketplace.value.models import Contribution, ValueReport
from marketplace.value.periods import add_months
from marketplace.value.share_payments import pay_value_share

DEMO_PASSWORD = "cocreate-demo-2026"
#: The authenticator key of every demo account with a second factor (platform staff, and the
#: organizations' owners, managers and finance members, who fund, award and report value).
#: Known to anyone who reads this, like the password: demo data only.
DEMO_TOTP_SECRET = "DEMOCOCREATEDEMOCOCREATEDEMOCOCR"
MINIMUM = 1_000  # a payout batch pays everyone owed 10.00 USD or more
ONE_DAY = timedelta(days=1)

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
    ("grace@solver.example", "Grace Hopper", False, False, "US"),
    ("alan@solver.example", "Alan Turing", False, False, "GB"),
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
    ("acme", "max@acme.example", "public", "closed", {
        "title": "Refill pouch that stands up when empty",
        "summary": "A mono-material refill pouch for hand soap that stands on the shelf, pours "
                   "cleanly and recycles with PE film.",
        "looking_for": ["Stands when empty", "Mono-material PE", "Drop test from 1.2 m"],
        "maturity": "prototype", "category": "Packaging", "tags": ["refill", "pouch", "pe"],
        "confidential_details": "Volumes: 40 million pouches a year across Europe.",
    }, (300_000, 100_000), 25),
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
    db.session.flush()
    for email in second_factor_people():
        second_factor.enrol(users[email], DEMO_TOTP_SECRET)
    return users


def second_factor_people() -> list[str]:
    """The demo accounts with a second factor: platform staff, and the organizations' members
    who may fund, award or report value."""
    staff = [email for email, _, finance, admin, _ in PEOPLE if finance or admin]
    money = [email for *_, members in ORGANIZATIONS for email, role in members
             if role != OrgRole.REVIEWER]  # fmt: skip
    return staff + money


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
    """Terms accepted, questions answered, an amendment, an invitation, a cancellation."""
    capsule, cheese, maintenance, _tube, concrete, cement, sensor, pouch = made
    solver = {name: users[f"{name}@solver.example"] for name in SOLVERS}
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
    # The amendment is a new terms version: whoever writes a proposal accepts it.
    writers = {capsule: SOLVERS, cheese: ("alan",), concrete: ("sam", "sofia", "li", "grace"),
               pouch: ("li", "alan")}  # fmt: skip
    for need, names in writers.items():
        for name in names:
            needs.accept_terms(solver[name], need.id)
    _, token = needs.invite_partner(users["omar@northwind.example"], cement, "li@solver.example",
                                    "Li Wei")  # fmt: skip
    needs.redeem_invitation(solver["li"], token)
    needs.accept_terms(solver["li"], cement.id)
    needs.cancel_challenge(users["omar@northwind.example"], sensor)


SOLVERS = ("sam", "sofia", "li", "grace", "alan")
CRITERIA = ("Technical merit", "Cost at scale", "Time to market")

PROPOSALS = [
    # need index, lead, team with shares in basis points (lead first), submit, title, summary
    (0, "sam", {"sam": 6000, "sofia": 4000}, True,
     "Cellulose liner with a chitosan barrier coat",
     "A wood-pulp cellulose film coated with chitosan and a thin wax layer: oxygen "
     "transmission of 0.3 cc/m²/day in our lab, home-compostable in 10 weeks."),
    (0, "li", {"li": 3334, "grace": 3333, "alan": 3333}, True,
     "Clay-mineral barrier printed on paper",
     "Montmorillonite platelets printed onto paper in two passes give a tortuous path for "
     "oxygen; the liner is paper and clay, nothing else."),
    (1, "sam", {"sam": 10_000}, True,
     "Potassium lactate with a yeast-extract masker",
     "Replace a third of the sodium chloride with potassium lactate and mask its bitterness "
     "with a yeast extract already approved for dairy."),
    (1, "alan", {"alan": 10_000}, False,
     "Salt crystals sized for faster release",
     "Smaller salt crystals on the surface taste saltier, so less salt does the same job."),
    (4, "sam", {"sam": 6000, "sofia": 4000}, True,
     "Bacterial spores in expanded-clay capsules",
     "Bacillus spores and calcium lactate in expanded-clay capsules: cracks let water in, "
     "the spores wake and seal them with calcite. Sealed 0.6 mm cracks in 21 days."),
    (4, "li", {"li": 10_000}, True,
     "Sodium silicate microcapsules",
     "Polymer microcapsules of sodium silicate break when a crack passes and seal it with "
     "calcium silicate hydrate; no living organisms in the mix."),
    (4, "grace", {"grace": 10_000}, True,
     "Shape-memory polymer fibres",
     "Fibres that shrink when warmed pull cracks closed; a heating mat is laid on the deck "
     "once a year."),
    (7, "li", {"li": 10_000}, True,
     "Gusseted PE pouch with a moulded base",
     "A mono-material PE pouch with a thicker moulded base ring that keeps it standing to the "
     "last drop; passes a 1.2 m drop test."),
    (7, "alan", {"alan": 10_000}, True,
     "Folded-bottom pouch with a paper label",
     "A folded bottom and a stiff paper label keep the pouch upright."),
]  # fmt: skip


REVIEWS = [
    # proposal index, reviewer, scores and comments per criterion (CRITERIA order)
    (7, "rita@acme.example", (9, 7, 8), ("Stood to the last drop in our test.",
     "A thicker base costs 0.3 cents more.", "Runs on our current pouch line.")),
    (7, "ada@acme.example", (8, 7, 9), ("Convincing drop test.", "Acceptable at our volumes.",
     "Could launch this autumn.")),
    (8, "rita@acme.example", (5, 8, 6), ("Fell over when half empty.", "Cheap to make.",
     "Needs a new folding station.")),
    (4, "omar@northwind.example", (9, 7, 8), ("Sealed cracks wider than we asked.",
     "Capsules add 8 % to the mix cost.", "Ready for the Route 9 pilot.")),
    (4, "nora@northwind.example", (9, 8, 7), ("Strong data from three labs.",
     "Cost falls at volume.", "Needs a winter season first.")),
    (5, "omar@northwind.example", (8, 8, 6), ("No living organisms: easier to approve.",
     "Cheap ingredients.", "Freeze-thaw data still missing.")),
    (6, "omar@northwind.example", (6, 4, 3), ("Works on thin cracks only.",
     "The heating mat is costly on a bridge.", "Years from a pilot.")),
]  # fmt: skip


def _proposal(users: dict[str, User], need: Challenge, lead_name: str, shares: dict[str, int],
              submit: bool, title: str, summary: str) -> Proposal:  # fmt: skip
    """A proposal written, staffed, split, confirmed and (maybe) submitted by its team."""
    lead = users[f"{lead_name}@solver.example"]
    text = {"title": title, "summary": summary,
            "description": f"{summary}\n\nWe have lab data and can ship samples in six weeks.",
            "approach": "Lab trials first, then a pilot run on the seeker's line."}  # fmt: skip
    proposal = proposals.create_proposal(lead, need.id, text)
    team_of = {users[f"{name}@solver.example"]: bp for name, bp in shares.items()}
    for member in team_of:
        if member is not lead:
            _, token = team.invite_member(lead, proposal.id, member.email)
            team.join_team(member, token)
    if len(team_of) > 1:
        bp_of = {u.id: bp for u, bp in team_of.items()}
        team.set_split(lead, proposal.id, {m.id: bp_of[m.user_id] for m in proposal.members})
        for member in team_of:
            if member is not lead:
                team.confirm_split(member, proposal.id, proposal.split_version)
    if submit:
        proposals.submit_proposal(lead, proposal.id)
    return proposal


def _reviews(users: dict[str, User], written: list[Proposal], need: Challenge) -> None:
    """The reviews of ``need``'s proposals, by the reviewers assigned to them."""
    for index, email, scores, comments in REVIEWS:
        if written[index].challenge_id == need.id:
            entries = [
                {"criterion": c, "score": score, "comment": comment}
                for c, score, comment in zip(CRITERIA, scores, comments, strict=True)
            ]
            reviews.submit_review(users[email], written[index].id, entries)


def _pass_deadline(need: Challenge) -> None:
    with transaction():
        db.session.execute(update(Challenge).where(Challenge.id == need.id)
                           .values(deadline=utcnow() - timedelta(days=1)))  # fmt: skip
    db.session.refresh(need)


def _proposals(users: dict[str, User], made: list[Challenge]) -> list[Proposal]:
    """Every proposal of the demo, then the private threads between teams and seekers."""
    written = [_proposal(users, made[index], lead, shares, submit, title, summary)
               for index, lead, shares, submit, title, summary in PROPOSALS]  # fmt: skip
    liner, _clay, _salt, _crystals, spores, silicate, *_ = written
    max_, omar = users["max@acme.example"], users["omar@northwind.example"]
    sam, li = users["sam@solver.example"], users["li@solver.example"]
    messages.post_message(max_, liner.id, "Could you send two hundred liners for our "
                          "form-fill-seal line trial in March?")  # fmt: skip
    messages.post_message(sam, liner.id, "Yes: Sofia can have them ready in four weeks.")
    messages.post_message(omar, spores.id, "Do the spores survive the mixer at 40 °C?")
    messages.post_message(sam, spores.id, "They do; we tested 45 minutes at 50 °C.")
    messages.post_message(li, silicate.id, "We can add freeze-thaw results next week.")
    return written


def _judging(users: dict[str, User], made: list[Challenge], written: list[Proposal]) -> None:
    """Acme judges and closes the refill pouch; Northwind judges the concrete need."""
    concrete, pouch = made[4], made[7]
    *_, spores, silicate, fibres, moulded, folded = written
    ada, max_, rita = (users[f"{n}@acme.example"] for n in ("ada", "max", "rita"))
    nora, omar = users["nora@northwind.example"], users["omar@northwind.example"]

    # The pouch: deadline passed, Acme decided on every proposal and closed the need out.
    _pass_deadline(pouch)
    for proposal in (moulded, folded):
        for reviewer in (rita, ada):
            reviews.assign_reviewer(max_, proposal.id, reviewer.id)
    _reviews(users, written, pouch)
    reviews.set_shortlisted(max_, moulded.id, True)
    decisions.award_prize(max_, moulded.id, 1, "The panel was unanimous: it stands, pours and "
                          "recycles. We will start a line trial with you.")  # fmt: skip
    decisions.decline_proposal(max_, folded.id, "A good low-cost idea, but the pouch did not "
                               "stay upright once half empty: the core need.")  # fmt: skip
    closing.close_challenge(max_, pouch.id)

    # The concrete: judging; one award, one decline, one shortlisted and waiting.
    _pass_deadline(concrete)
    needs.advance_deadlines()
    for proposal in (spores, silicate, fibres):
        for reviewer in (omar, nora):
            reviews.assign_reviewer(omar, proposal.id, reviewer.id)
    _reviews(users, written, concrete)
    for proposal in (spores, silicate):
        reviews.set_shortlisted(omar, proposal.id, True)
    decisions.award_prize(omar, spores.id, 1, "Best sealing results and a credible path to "
                          "our Route 9 pilot. Congratulations to the team.")  # fmt: skip
    decisions.decline_proposal(omar, fibres.id, "An original idea, but heating a whole deck "
                               "every year does not fit our maintenance budget.")  # fmt: skip
    db.session.refresh(concrete)


AWARD_MONTHS_AGO = 14

# Acme's reports on the refill pouch: quarter (0 = the first after the award), realised value
# (minor units), evidence. The second is corrected later; the third comes after the first batch.
VALUE = [
    (0, 4_800_000, "Q1 sales ledger, refill pouch line: savings on film and freight"),
    (1, 6_125_000, "Q2 sales ledger, refill pouch line"),
    (2, 7_040_000, "Q3 sales ledger, refill pouch line, net of returns"),
]  # fmt: skip


def _quarter(award: Award, index: int, amount: int, evidence: str) -> dict[str, object]:
    first = award.awarded_at.date()
    start = add_months(first, 3 * index)
    return {"period_start": start, "period_end": add_months(first, 3 * index + 3) - ONE_DAY,
            "value_amount": amount, "currency": award.currency, "evidence": evidence}  # fmt: skip


def _date_back(award: Award) -> None:
    """The award (and its split's contribution records) moved AWARD_MONTHS_AGO months back,
    so that whole quarters of its value share term have ended and can be reported."""
    today = utcnow().date()
    shift = today - add_months(today, -AWARD_MONTHS_AGO)
    with transaction():
        award.awarded_at -= shift
        for record in db.session.scalars(
            select(Contribution).where(Contribution.award_id == award.id)
        ):
            record.recorded_at -= shift
            if record.confirmed_at is not None:
                record.confirmed_at -= shift


def _value(users: dict[str, User], pouch: Challenge) -> None:
    """Value sharing on the refill pouch (3 % for 36 months): a quarter reported, a later
    contribution recorded and confirmed, a second quarter reported and then corrected, and the
    shares of the first two quarters paid by Acme (payouts wait for the seeker's money)."""
    award = db.session.scalar(select(Award).where(Award.challenge_id == pouch.id))
    _date_back(award)
    max_, finn = users["max@acme.example"], users["finn@acme.example"]
    first, second, _third = (_quarter(award, *line) for line in VALUE)
    q1 = reports.report_value(finn, award.id, first)
    later = contributions.record_contribution(
        max_, award.id, "grace@solver.example", 2500,
        "Co-developed the moulding tool for the base ring on Acme's second pouch line.",
    )  # fmt: skip
    contributions.confirm_contribution(users["grace@solver.example"], later.id)
    q2 = reports.report_value(finn, award.id, second)
    corrected = reports.correct_report(
        finn, q2.id, "Returned pouches were counted as sales.",
        {**second, "value_amount": 5_625_000,
         "evidence": "Q2 sales ledger, refill pouch line, net of returns"},
    )  # fmt: skip
    pay_value_share(finn, q1.id)
    pay_value_share(finn, corrected.id)


def _payouts(users: dict[str, User], pouch: Challenge) -> tuple[PayoutBatch, PayoutBatch]:
    """Solvers onboard (Sofia has not yet: she is owed but cannot be paid); Fiona prepares a
    batch and Felix approves it (paid at once in the sandbox); then Acme reports a third quarter
    and the next batch waits for a second pair of eyes."""
    for name in ("sam", "li", "grace"):
        start_onboarding(users[f"{name}@solver.example"])
    fiona, felix = users["fiona@platform.example"], users["felix@platform.example"]
    prepared = batches.prepare_batch(fiona, "USD", MINIMUM)
    paid = batches.approve_batch(felix, prepared.id, pyotp.TOTP(DEMO_TOTP_SECRET).now())
    award = db.session.scalar(select(Award).where(Award.challenge_id == pouch.id))
    q3 = reports.report_value(users["finn@acme.example"], award.id, _quarter(award, *VALUE[2]))
    pay_value_share(users["finn@acme.example"], q3.id)  # payouts wait for the seeker's money
    waiting = batches.prepare_batch(fiona, "USD", MINIMUM)
    db.session.expire_all()
    return paid, waiting


def _usd(amount: int) -> str:
    return f"{format_minor(amount, 'USD', grouped=True)} USD"


def load_demo() -> str:
    """Load everything through the services (each call its own command); returns a one-line
    summary."""
    with transaction():
        users = _people()
    made = _needs(users)
    _activity(users, made)
    written = _proposals(users, made)
    _judging(users, made, written)
    pouch = made[7]
    _value(users, pouch)
    paid, waiting = _payouts(users, pouch)
    count = db.session.scalar
    reversed_ = count(select(func.count(ValueReport.id)).where(ValueReport.status == "reversed"))
    return (
        f"Demo loaded: {len(PEOPLE)} people, {len(ORGANIZATIONS)} organizations, {len(made)} "
        f"needs, {len(written)} proposals, {count(select(func.count(Review.id)))} reviews, "
        f"{count(select(func.count(Decision.id)))} decisions "
        f"({count(select(func.count(Award.id)))} awards), "
        f"{count(select(func.count(ValueReport.id)))} value reports ({reversed_} corrected), "
        f"{count(select(func.count(PayoutAccount.id)))} payout accounts, a payout batch "
        f"{paid.status} ({paid.line_count} payouts, {_usd(paid.total)}) and one "
        f"{waiting.status} for approval ({_usd(waiting.total)})."
    )
