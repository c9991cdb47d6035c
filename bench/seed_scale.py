"""A marketplace at the sizes of issue 10, on PostgreSQL, for bench/pages.py and the others.

    python bench/seed_scale.py --scale S|L [--schema NAME] [--url URL]

S: 2,000 needs, 10,000 users, 20,000 proposals, 100,000 ledger transfers.
L: 20,000 needs, 100,000 users, 200,000 proposals, 1,000,000 transfers (and ~220,000 value
reports, about 11 per award, so that preparing a payout batch has real work to do).

The schema (default ``scale_s`` / ``scale_l``) is built as ``<schema>_loading``, migrated to
head, and renamed ``<schema>`` once verified (replacing the previous one, which stays usable
until then); it is left in place. Rows are generated in memory (bench/scale_world.py,
bench/scale_book.py) and loaded with COPY, with the ids the services would have given them in
time order; the book is consistent (``ledger.verify`` is run and printed at the end). The
people pages.py signs in as are in the table ``bench_people`` of the schema (email, user id, an
API token) with the ids of the needs, organization and accounts it measures; everyone's
password is ``scale-password``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import pyotp  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import ledger  # noqa: E402
from bench.ledger_bench import DEFAULT_URL, migrate_to_head, psycopg_url  # noqa: E402
from bench.scale_book import Book, can_receive, simulate  # noqa: E402
from bench.scale_copy import Clock, Tables, as_json  # noqa: E402
from bench.scale_world import ROLES, World, build  # noqa: E402
from marketplace.accounts.scopes import ALL_SCOPES  # noqa: E402

PASSWORD = "scale-password"
SEARCH_TERM = "packaging film"
#: Per account, the version after the row's last write and its moment (migration 0011).
WRITE_ORDER = ("debit_version", "credit_version", "written_at")
TRANSFER_COLUMNS = (
    "id", "journal_id", "key", "debit_account_id", "credit_account_id", "currency", "amount",
    "code", "reference", "status", "two_phase", "recorded_by", "effective_at", "recorded_at",
    "posted_at", "resolved_at", "debit_balance_after", "credit_balance_after", *WRITE_ORDER,
)  # fmt: skip


def schema_url(base_url: str, schema: str) -> str:
    """A SQLAlchemy URL (psycopg 3) whose search_path is ``schema``."""
    url = sa.make_url(psycopg_url(base_url)).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    return url.render_as_string(hide_password=False)


def fresh_schema(base_url: str, schema: str) -> str:
    admin = sa.create_engine(psycopg_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    url = schema_url(base_url, schema)
    migrate_to_head(url)
    return url


def _people(tables: Tables, world: World, password_hash: str) -> None:
    platform = {world.finance[0]: "Finance Ada", world.finance[1]: "Finance Ben",
                world.admin: "Admin Ida"}  # fmt: skip
    start = world.now - timedelta(days=800)

    def users():
        for uid in range(1, world.users + 1):
            name = platform.get(uid, f"Person {uid}")
            yield (uid, world.email(uid), name, password_hash, uid in world.finance,
                   uid == world.admin, True, start, "GB", "UTC", start)  # fmt: skip

    tables.copy(
        "users",
        ("id", "email", "name", "password_hash", "is_platform_finance", "is_admin", "active",
         "email_verified_at", "country", "timezone", "created_at"),
        users(),
    )  # fmt: skip
    staff = [*world.finance, world.admin]  # platform staff need a second factor
    tables.copy(
        "second_factors",
        ("id", "user_id", "secret", "created_at", "confirmed_at"),
        ((n, uid, pyotp.random_base32(), start, start) for n, uid in enumerate(staff, 1)),
    )  # fmt: skip
    tables.copy(
        "organizations",
        ("id", "name", "slug", "tagline", "about", "primary_color", "accent_color", "created_at"),
        ((org, f"Organization {org}", f"org-{org}", "We look for partners", "", "#2456d6",
          "#1d2433", start) for org in range(1, world.orgs + 1)),
    )  # fmt: skip
    tables.copy(
        "memberships",
        ("id", "organization_id", "user_id", "role", "created_at"),
        ((world.staff(org, role), org, world.staff(org, role), role, start)
         for org in range(1, world.orgs + 1) for role in ROLES),
    )  # fmt: skip


def _needs(tables: Tables, world: World) -> None:
    def challenges():
        for need in world.needs:
            manager = world.staff(need.org, "manager")
            yield (need.id, need.org, manager, need.title,
                   f"{need.title}: we want partners who can deliver it at scale.",
                   "Background of the need. " * 5, as_json(need.tags), need.maturity,
                   need.category, as_json(need.tags), " ".join(need.tags), need.status,
                   need.visibility, "USD", sum(need.prizes), need.deadline, 1,
                   need.view_count, need.created_at, need.created_at, need.opened_at,
                   need.closed_at, "", "", "", "", "")  # fmt: skip

    tables.copy(
        "challenges",
        ("id", "organization_id", "created_by_id", "title", "summary", "background",
         "looking_for", "maturity", "category", "tags", "tags_text", "status", "visibility",
         "currency", "prize_total", "deadline", "terms_version", "view_count", "created_at",
         "updated_at", "opened_at", "closed_at", "nice_to_have", "not_looking_for",
         "possible_approaches", "deliverables", "confidential_details"),
        challenges(),
    )  # fmt: skip
    tables.copy(
        "terms_versions",
        ("id", "challenge_id", "version", "content", "sha256", "change_note", "created_by_id",
         "created_at"),
        ((n.id, n.id, 1, as_json(n.terms.to_json()), n.terms.sha256(), "",
          world.staff(n.org, "manager"), n.created_at) for n in world.needs),
    )  # fmt: skip


def _proposals(tables: Tables, world: World) -> None:
    proposals = world.proposals
    tables.copy(
        "proposals",
        ("id", "challenge_id", "lead_id", "title", "summary", "description", "approach",
         "status", "terms_version_id", "split_version", "split_locked_at", "shortlisted",
         "created_at", "updated_at", "submitted_at", "withdrawn_at"),
        ((p.id, p.need.id, p.lead, f"Answer {p.id} to {p.need.title}"[:200],
          "A short public summary.", "What we propose. " * 8, "How we would do it. " * 4,
          p.status, p.need.id, 1, p.submitted_at, p.shortlisted, p.created_at,
          p.submitted_at or p.created_at, p.submitted_at,
          p.submitted_at if p.status == "withdrawn" else None) for p in proposals),
    )  # fmt: skip

    def members():
        serial = 0
        for p in proposals:
            for index, (uid, share) in enumerate(p.members):
                serial += 1
                yield (serial, p.id, uid, world.email(uid), index == 0, "joined", share, 1,
                       p.created_at, p.created_at, p.created_at)  # fmt: skip

    tables.copy(
        "proposal_members",
        ("id", "proposal_id", "user_id", "email", "is_lead", "status", "share_bp",
         "confirmed_version", "confirmed_at", "invited_at", "joined_at"),
        members(),
    )  # fmt: skip
    tables.copy(
        "terms_acceptances",
        ("id", "user_id", "challenge_id", "terms_version_id", "sha256", "accepted_at"),
        ((p.id, p.lead, p.need.id, p.need.id, p.need.terms.sha256(), p.created_at)
         for p in proposals),
    )  # fmt: skip


def _judging(tables: Tables, world: World) -> None:
    judged = [p for p in world.proposals
              if p.submitted_at and p.need.status in ("judging", "closed")]  # fmt: skip
    tables.copy(
        "review_assignments",
        ("id", "proposal_id", "reviewer_id", "assigned_by_id", "assigned_at"),
        ((n, p.id, world.staff(p.need.org, "reviewer"), world.staff(p.need.org, "manager"),
          p.submitted_at) for n, p in enumerate(judged, 1)),
    )  # fmt: skip

    def reviews():
        for n, p in enumerate(judged, 1):
            if p.id % 10 < 7:
                marks = [(c.name, c.weight, (p.id * (i + 3)) % 11)
                         for i, c in enumerate(p.need.terms.criteria)]  # fmt: skip
                scores = [{"criterion": name, "weight": weight, "score": score,
                           "comment": "Solid reasoning."}
                          for name, weight, score in marks]  # fmt: skip
                centi = sum(w * s for _, w, s in marks) * 100 // sum(w for _, w, _ in marks)
                yield (n, p.id, world.staff(p.need.org, "reviewer"), as_json(scores), centi,
                       p.submitted_at, p.submitted_at)  # fmt: skip

    tables.copy(
        "reviews",
        ("id", "proposal_id", "reviewer_id", "scores", "weighted_centi", "created_at",
         "updated_at"),
        reviews(),
    )  # fmt: skip
    tables.copy(
        "decisions",
        ("id", "proposal_id", "challenge_id", "outcome", "feedback", "decided_by_id",
         "decided_at", "response_seconds"),
        ((d.id, d.proposal.id, d.proposal.need.id, d.outcome, "Thank you: here is why. " * 3,
          world.staff(d.proposal.need.org, "manager"), d.decided_at,
          int((d.decided_at - d.proposal.submitted_at).total_seconds()))
         for d in world.decisions),
    )  # fmt: skip


def _ledger(tables: Tables, book: Book) -> None:
    tables.copy(
        "ledger_accounts",
        ("id", "code", "type", "currency", "name", "debits_posted", "credits_posted",
         "debits_pending", "credits_pending", "version", "debits_must_not_exceed_credits",
         "credits_must_not_exceed_debits", "created_at"),
        ((a.id, a.code, a.type, "USD", a.name, a.dp, a.cp, a.dpend, a.cpend, a.version,
          a.guarded, False, a.created_at) for a in book.accounts.values()),
    )  # fmt: skip
    tables.copy(
        "ledger_journals",
        ("id", "key", "payload_sha256", "description", "recorded_by", "recorded_at"),
        book.journals,
    )
    columns = TRANSFER_COLUMNS
    if "written_at" not in tables.columns("ledger_transfers"):  # before migration 0011
        columns = columns[: -len(WRITE_ORDER)]
    tables.copy("ledger_transfers", columns, (row[: len(columns)] for row in book.transfers))


def _money(tables: Tables, world: World, book: Book) -> None:
    tables.copy(
        "awards",
        ("id", "decision_id", "proposal_id", "challenge_id", "prize_rank", "amount", "fee",
         "currency", "shares", "journal_id", "ip_terms", "ip_status", "awarded_at"),
        ((a.id, a.decision.id, a.decision.proposal.id, a.decision.proposal.need.id, a.rank,
          a.amount, a.fee, "USD", as_json({str(k): v for k, v in a.shares.items()}),
          a.journal_id, a.decision.proposal.need.terms.ip_terms,
          "retained" if a.decision.proposal.need.terms.ip_terms == "solver_keeps"
          else "pending_transfer", a.decision.decided_at) for a in world.awards),
    )  # fmt: skip

    def contributions():
        serial = 0
        for a in world.awards:
            manager = world.staff(a.decision.proposal.need.org, "manager")
            for uid, weight in a.weights.items():
                serial += 1
                kind = "split" if uid in a.shares else "later"
                at = a.decision.decided_at + timedelta(days=0 if kind == "split" else 1)
                yield (serial, a.id, uid, kind, weight, "", manager, at, at)

    tables.copy(
        "contributions",
        (
            "id",
            "award_id",
            "user_id",
            "kind",
            "weight",
            "description",
            "recorded_by_id",
            "recorded_at",
            "confirmed_at",
        ),
        contributions(),
    )
    tables.copy(
        "value_reports",
        ("id", "award_id", "organization_id", "period_start", "period_end", "value_amount",
         "currency", "share_bp", "share_amount", "shares", "weights", "evidence", "journal_id",
         "status", "reported_by_id", "reported_at", "reversal_reason"),
        ((r.id, r.award.id, r.award.decision.proposal.need.org, r.start, r.end, r.value, "USD",
          500, r.share, as_json({str(k): v for k, v in r.shares.items()}),
          as_json({str(k): v for k, v in r.award.weights.items()}), "Sales ledger extract",
          r.journal_id, "posted", world.staff(r.award.decision.proposal.need.org, "finance"),
          r.reported_at, "") for r in world.reports),
    )  # fmt: skip
    tables.copy(
        "payments",
        ("id", "kind", "challenge_id", "amount", "currency", "provider", "status",
         "external_id", "value_report_id", "created_at", "settled_at"),
        book.payments,
    )  # fmt: skip
    _payouts(tables, world, book)


def _payouts(tables: Tables, world: World, book: Book) -> None:
    receivers = {uid: n for n, uid in enumerate(book.owed_users, 1)}
    start = world.now - timedelta(days=720)
    tables.copy(
        "payout_accounts",
        ("id", "user_id", "provider", "external_id", "payouts_enabled", "details_submitted",
         "created_at", "updated_at"),
        ((n, uid, "sandbox", f"acct_scale_{uid}", can_receive(uid), True, start, start)
         for uid, n in receivers.items()),
    )  # fmt: skip
    finance_a, finance_b = world.finance
    tables.copy(
        "payout_batches",
        ("id", "currency", "minimum", "status", "total", "line_count", "journal_id",
         "prepared_by_id", "prepared_at", "approved_by_id", "approved_at", "rejection_reason",
         "completed_at"),
        ((n, "USD", 1_000, status, total, count, journal, finance_a, at,
          finance_b if status == "completed" else None,
          at + timedelta(hours=2) if status == "completed" else None, "",
          at + timedelta(hours=3) if status == "completed" else None)
         for n, status, journal, at, total, count in book.batches),
    )  # fmt: skip
    tables.copy(
        "payout_lines",
        ("id", "batch_id", "user_id", "payout_account_id", "amount", "currency", "transfer_id",
         "status", "provider_transfer_id", "error", "sent_at", "resolved_at", "key_version",
         "attempts", "release_reason"),
        ((n, batch, uid, receivers[uid], amount, "USD", transfer, status,
          f"tr_scale_{n}" if status == "paid" else None, "",
          at + timedelta(hours=2) if status == "paid" else None,
          at + timedelta(hours=3) if status == "paid" else None, 1,
          1 if status == "paid" else 0, "")
         for n, batch, uid, amount, transfer, status, at in book.lines),
    )  # fmt: skip


def _notifications(tables: Tables, world: World) -> None:
    old = world.now - timedelta(days=30)

    def rows():
        serial = 0
        for d in world.decisions:
            serial += 1
            at = d.decided_at
            yield (serial, d.proposal.lead, "decision", "Your proposal has an answer", "",
                   f"/proposals/{d.proposal.id}", at, at if at < old else None, at)  # fmt: skip
        for r in world.reports:
            for uid in r.shares:
                serial += 1
                at = r.reported_at
                yield (serial, uid, "value_share", "A value share was reported for your "
                       "solution", f"{r.share} USD shared", "/me/earnings", at,
                       at if at < old else None, at)  # fmt: skip

    tables.copy(
        "notifications",
        ("id", "user_id", "kind", "title", "body", "link", "created_at", "read_at", "emailed_at"),
        rows(),
    )
    hour = int(world.now.timestamp() // 3600)
    tables.copy(
        "need_visits",
        ("challenge_id", "visitor", "hour"),
        ((need, f"user:{v}", hour) for need in range(1, 51) for v in range(100, 110)),
    )


def _bench_people(tables: Tables, world: World, book: Book) -> dict[str, dict]:
    """Who pages.py signs in as, their API tokens, and what it looks at."""
    touched = sorted(book.accounts.values(), key=lambda a: -a.touched)
    payable = next(a for a in touched if a.code.startswith("liability:"))
    people = {
        "finance": (world.finance[0], ""),
        "finance_b": (world.finance[1], ""),
        "manager": (world.staff(1, "manager"), "org-1"),
        "heavy_solver": (world.heavy_solver, ""),
        "busy": (world.busy, ""),
        "busiest_account": (0, touched[0].code),
        "busiest_liability": (0, payable.code),
        "judging_need": (1, ""),
        "need_page": (
            next(n.id for n in world.needs if n.status == "open" and n.visibility == "public"),
            "",
        ),  # fmt: skip
        "search": (0, SEARCH_TERM),
    }
    connection = tables.connection
    connection.execute(
        "CREATE TABLE bench_people (role text PRIMARY KEY, user_id bigint, email text, "
        "token text, detail text)"
    )
    found: dict[str, dict] = {}
    token_id = 0
    for role, (ident, detail) in people.items():
        is_user = role in ("finance", "finance_b", "manager", "heavy_solver", "busy")
        token = ""
        if is_user:
            token_id += 1
            token = "cct_" + secrets.token_urlsafe(32)
            connection.execute(
                "INSERT INTO api_tokens (id, user_id, name, prefix, token_sha256, created_at, "
                "scopes, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (token_id, ident, "scale bench", token[:12],
                 hashlib.sha256(token.encode()).hexdigest(), world.now,
                 " ".join(ALL_SCOPES), max(world.now, ledger.utcnow()) + timedelta(days=365)),
            )  # fmt: skip
        email = world.email(ident) if is_user else ""
        connection.execute(
            "INSERT INTO bench_people VALUES (%s, %s, %s, %s, %s)",
            (role, ident, email, token, detail),
        )
        found[role] = {"id": ident, "email": email, "detail": detail}
    return found


def swap_in(base_url: str, loading: str, schema: str) -> None:
    """Replace ``schema`` by the finished ``loading`` one in one transaction: other benches
    reading ``schema`` meanwhile see the old data set, then the new one, never half of one."""
    admin = sa.create_engine(psycopg_url(base_url))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"ALTER SCHEMA {loading} RENAME TO {schema}")
    admin.dispose()


def seed(scale: str, target: str, base_url: str) -> None:
    clock = Clock()
    schema = f"{target}_loading"
    print(f"seed_scale {scale} into schema {schema}, renamed {target} when done", flush=True)
    url = fresh_schema(base_url, schema)
    clock.step("schema dropped, created, migrated to head")
    from marketplace.accounts.passwords import hash_password

    world = build(scale)
    clock.step(
        f"world: {len(world.needs):,} needs, {len(world.proposals):,} proposals, "
        f"{len(world.awards):,} awards, {len(world.reports):,} reports"
    )
    book = simulate(world)
    clock.step(f"book: {len(book.transfers):,} transfers, {len(book.journals):,} journals")
    plain = sa.make_url(base_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(plain, options=f"-csearch_path={schema}") as connection:
        tables = Tables(connection, schema)
        tables.without_triggers()
        _people(tables, world, hash_password(PASSWORD))
        clock.step("users, organizations, memberships")
        _needs(tables, world)
        clock.step("needs and terms")
        _proposals(tables, world)
        clock.step("proposals, teams, acceptances")
        _judging(tables, world)
        clock.step("reviews and decisions")
        _ledger(tables, book)
        clock.step("ledger accounts, journals, transfers")
        _money(tables, world, book)
        clock.step("awards, contributions, value reports, payments, payouts")
        _notifications(tables, world)
        clock.step("notifications and need visits")
        people = _bench_people(tables, world, book)
        broken = tables.check_foreign_keys()
        clock.step(f"foreign keys checked: {len(broken)} broken")
        if broken:
            raise SystemExit("\n".join(broken))
        tables.reset_sequences()
        connection.commit()
        connection.autocommit = True
        tables.vacuum()
        clock.step("sequences, bench_people, VACUUM ANALYZE")
    for table, count in sorted(tables.counts.items()):
        print(f"    {table:<24} {count:>10,}")
    for role, found in people.items():
        print(f"    {role:<18} {found['id']:>8} {found['email'] or found['detail']}")
    for account in sorted(book.accounts.values(), key=lambda a: -a.touched)[:3]:
        share = account.touched / len(book.transfers)
        print(f"    busiest: {account.code} in {account.touched:,} transfers ({share:.1%})")
    engine = sa.create_engine(url)
    with Session(engine) as session:
        problems = ledger.verify(session)
    engine.dispose()
    clock.step(f"ledger.verify: {len(problems)} problems")
    for problem in problems[:20]:
        print(f"    {problem}")
    if problems:
        raise SystemExit(f"seed_scale {scale}: the book is wrong; {target} left as it was")
    swap_in(base_url, schema, target)
    clock.step(f"schema {schema} renamed {target}")
    print(f"seed_scale {scale}: {clock.total:.1f} s in all", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("S", "L"), required=True)
    parser.add_argument("--schema", help="default scale_s or scale_l")
    parser.add_argument("--url", help="default BENCH_DATABASE_URL or the local test database")
    args = parser.parse_args()
    base_url = args.url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    seed(args.scale, args.schema or f"scale_{args.scale.lower()}", base_url)


if __name__ == "__main__":
    main()
