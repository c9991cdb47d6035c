"""Demo data for `flask demo`: two organizations, their people, solvers, finance staff, and a
book of challenge money flows (funding, awards split by agreed shares, fees, payouts, a refund).

Challenges themselves arrive with the need-statement feature; until then the demo's ledger
accounts name challenge numbers 1 to 4.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

import ledger
from ledger import NewTransfer
from marketplace.accounts.models import Membership, Organization, OrgRole, User
from marketplace.accounts.passwords import hash_password
from marketplace.extensions import db
from marketplace.finance import chart

DEMO_PASSWORD = "demo-password"

PEOPLE = [
    # email, name, platform finance, admin
    ("ada@acme.example", "Ada Lovelace", False, False),
    ("max@acme.example", "Max Planck", False, False),
    ("rita@acme.example", "Rita Levi-Montalcini", False, False),
    ("finn@acme.example", "Finn Larsen", False, False),
    ("nora@northwind.example", "Nora Ephron", False, False),
    ("omar@northwind.example", "Omar Khayyam", False, False),
    ("sam@solver.example", "Sam Okafor", False, False),
    ("sofia@solver.example", "Sofia Kovalevskaya", False, False),
    ("li@solver.example", "Li Wei", False, False),
    ("fiona@platform.example", "Fiona Finance", True, False),
    ("felix@platform.example", "Felix Finance", True, False),
    ("admin@platform.example", "Platform Admin", False, True),
]

ORGANIZATIONS = [
    (
        "Acme Consumer Goods",
        "acme",
        [
            ("ada@acme.example", OrgRole.OWNER),
            ("max@acme.example", OrgRole.MANAGER),
            ("rita@acme.example", OrgRole.REVIEWER),
            ("finn@acme.example", OrgRole.FINANCE),
        ],
    ),
    (
        "Northwind Materials",
        "northwind",
        [
            ("nora@northwind.example", OrgRole.OWNER),
            ("omar@northwind.example", OrgRole.MANAGER),
        ],
    ),
]


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id)))


def _people() -> dict[str, User]:
    password_hash = hash_password(DEMO_PASSWORD)
    users = {}
    for email, name, finance, admin in PEOPLE:
        user = User(
            email=email,
            name=name,
            password_hash=password_hash,
            is_platform_finance=finance,
            is_admin=admin,
        )
        db.session.add(user)
        users[email] = user
    for name, slug, members in ORGANIZATIONS:
        organization = Organization(name=name, slug=slug)
        db.session.add(organization)
        for email, role in members:
            db.session.add(Membership(organization=organization, user=users[email], role=role))
    db.session.flush()
    return users


def _book(users: dict[str, User]) -> int:
    """Post the demo money flows; returns the number of journals."""
    s, cur, by = db.session, "USD", "demo"
    cash, fees = chart.cash(s, cur), chart.fees(s, cur)
    escrows = {n: chart.escrow(s, n, cur) for n in (1, 2, 3, 4)}
    sam, sofia, li = (users[f"{n}@solver.example"] for n in ("sam", "sofia", "li"))
    payable = {u.id: chart.payable(s, u.id, cur) for u in (sam, sofia, li)}
    start = ledger.utcnow() - timedelta(days=90)
    journals = 0

    def post(
        key: str, batch: list[NewTransfer], days: int, description: str
    ) -> ledger.PostedJournal:
        nonlocal journals
        journals += 1
        return ledger.post_journal(
            s,
            batch,
            key=f"demo:{key}",
            recorded_by=by,
            description=description,
            effective_at=start + timedelta(days=days),
        )

    for number, amount, day in (
        (1, 1_100_000, 0),
        (2, 550_000, 10),
        (3, 330_000, 20),
        (4, 220_000, 30),
    ):
        post(
            f"fund:{number}",
            [
                NewTransfer(
                    cash.id, escrows[number].id, amount, "FUND_ESCROW", f"challenge:{number}"
                )
            ],
            day,
            f"Seeker funds challenge {number}",
        )

    # Challenge 1: first prize 10,000.00 to Sam and Sofia, split 60/40, plus a 10% fee.
    prize = 1_000_000
    split = ledger.allocate(prize, {sam.id: 6000, sofia.id: 4000})
    award = [
        NewTransfer(escrows[1].id, payable[u].id, part, "AWARD", "award:1")
        for u, part in split.items()
    ]
    award.append(NewTransfer(escrows[1].id, fees.id, 100_000, "FEE", "award:1"))
    post("award:1", award, 45, "First prize of challenge 1 to a two-person team")

    # Challenge 3: a partial award of 2,500.00 to Li, 10% fee.
    post(
        "award:2",
        [
            NewTransfer(escrows[3].id, payable[li.id].id, 250_000, "AWARD", "award:2"),
            NewTransfer(escrows[3].id, fees.id, 25_000, "FEE", "award:2"),
        ],
        50,
        "Partial award on challenge 3",
    )
    post(
        "refund:3",
        [NewTransfer(escrows[3].id, cash.id, 55_000, "REFUND", "challenge:3")],
        52,
        "Unspent escrow of challenge 3 returned",
    )

    # Challenge 4 was cancelled with no award: its escrow goes back.
    post(
        "refund:4",
        [NewTransfer(escrows[4].id, cash.id, 220_000, "REFUND", "challenge:4")],
        55,
        "Challenge 4 cancelled; escrow returned",
    )

    # A payout batch: Sam is paid, Sofia's transfer is still in flight, Li's was refused.
    paid = post(
        "payout:1:sam",
        [
            NewTransfer(
                payable[sam.id].id, cash.id, split[sam.id], "PAYOUT", "payout:1", pending=True
            )
        ],
        60,
        "Payout to Sam",
    )
    ledger.post_pending(s, paid.transfer_id, at=start + timedelta(days=61))
    post(
        "payout:1:sofia",
        [
            NewTransfer(
                payable[sofia.id].id, cash.id, split[sofia.id], "PAYOUT", "payout:1", pending=True
            )
        ],
        60,
        "Payout to Sofia",
    )
    refused = post(
        "payout:1:li",
        [NewTransfer(payable[li.id].id, cash.id, 250_000, "PAYOUT", "payout:1", pending=True)],
        60,
        "Payout to Li",
    )
    ledger.void_pending(s, refused.transfer_id, at=start + timedelta(days=61))

    # A fee charged twice by mistake, corrected by a reversal that points at it.
    wrong = post(
        "fee:2:mistake",
        [NewTransfer(escrows[2].id, fees.id, 5_000, "FEE", "challenge:2")],
        70,
        "Fee posted by mistake",
    )
    ledger.reverse_transfer(
        s,
        wrong.transfer_id,
        key="demo:fee:2:mistake:reversal",
        recorded_by=by,
        reason="Fee charged before any award",
    )
    return journals + 1


def load_demo() -> str:
    """Load everything in one transaction; returns a one-line summary."""
    users = _people()
    journals = _book(users)
    db.session.commit()
    return (
        f"Demo loaded: {len(PEOPLE)} people, {len(ORGANIZATIONS)} organizations, "
        f"{journals} journals in the ledger."
    )
