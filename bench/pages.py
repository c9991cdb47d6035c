"""Every page and API list of issue 10, timed as the person who uses it, on a scale schema.

    python bench/pages.py --schema scale_s|scale_l [--requests N] [--timeout S] [--json]

Build the schema first with bench/seed_scale.py. The app is served by gunicorn (4 sync
workers) on that schema (DATABASE_URL with its search_path; no REDIS_URL). Each page is asked
once to warm up (its status and size are taken from that answer), then ``--requests`` times
in a row by one client (3 times if the warm-up took over 5 s): p50 and p95 of those. SQL
statements are counted with one more request to the same app run in this process, with a
``before_cursor_execute`` listener. Payout Prepare writes, so it is asked once; the batch it
prepares is rejected right after by the second finance user (its reservations are voided, the
schema is left as it was for the other benches).

Throughput: wrk with 8 connections for ``--seconds`` on a Flask "hello" served by the same
gunicorn settings, then on /challenges (signed in), in the same run.

Targets (issue 10): p95 <= 150 ms, <= 30 statements (the same at S and L), <= 300 KB, and
/challenges at >= 10 % of the hello requests/s. A page that answers an error or times out is
reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.ledger_bench import DEFAULT_URL  # noqa: E402
from bench.pages_serve import csrf_token, gunicorn, requests_per_second, sign_in  # noqa: E402
from bench.seed_scale import PASSWORD, schema_url  # noqa: E402

P95_MS = 150
MAX_STATEMENTS = 30
MAX_BYTES = 300 * 1024
MIN_RATIO = 0.10
SLOW_S = 5.0
REJECTION = "bench/pages.py: measured, not paid"

#: (name, who, method, path). ``who`` is a bench_people role; ``:token`` uses its API token.
PAGES = (
    ("payout batch preview", "finance", "GET", "/finance/payouts?currency=USD&minimum=1000"),
    ("payout batch Prepare", "finance", "POST", "/finance/payouts"),
    ("finance dashboard", "finance", "GET", "/finance/"),
    ("statement, busiest account", "finance", "GET",
     "/finance/statement?account={busiest_account}"),
    ("statement, busiest payable", "finance", "GET",
     "/finance/statement?account={busiest_liability}"),
    ("reconciliation", "finance", "GET", "/finance/reconciliation"),
    ("trial balance", "finance", "GET", "/finance/trial-balance"),
    ("journal browser", "finance", "GET", "/finance/journal"),
    ("API transfers", "finance:token", "GET", "/api/v1/finance/transfers"),
    ("organization insight", "manager", "GET", "/o/{manager}/insight"),
    ("judging board", "manager", "GET", "/challenges/{judging_need}/judging"),
    ("/me/proposals", "heavy_solver", "GET", "/me/proposals"),
    ("API /me/proposals", "heavy_solver:token", "GET", "/api/v1/me/proposals"),
    ("API a need's proposals", "manager:token", "GET",
     "/api/v1/challenges/{judging_need}/proposals"),
    ("search by relevance", "heavy_solver", "GET", "/challenges?q={search}&sort=relevance"),
    ("/challenges", "heavy_solver", "GET", "/challenges"),
    ("need page", "heavy_solver", "GET", "/challenges/{need_page}"),
)  # fmt: skip
SIGNED_IN = ("finance", "finance_b", "manager", "heavy_solver")


@dataclass
class Result:
    name: str
    who: str
    path: str
    method: str = "GET"
    status: str = ""
    p50_ms: float | None = None
    p95_ms: float | None = None
    statements: int | None = None
    bytes: int | None = None
    samples: list[float] = field(default_factory=list)
    #: The statement count of the same page in another run (``--against``), e.g. at S.
    other_statements: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("200", "302")

    def marks(self) -> list[str]:
        if not self.ok:
            return [f"FAILS ({self.status})"]
        marks = []
        if self.p95_ms is not None and self.p95_ms > P95_MS:
            marks.append("p95")
        if self.statements is not None and self.statements > MAX_STATEMENTS:
            marks.append("statements")
        other = self.other_statements
        if other is not None and self.statements is not None and other != self.statements:
            marks.append(f"statements {other} -> {self.statements}")
        if self.bytes is not None and self.bytes > MAX_BYTES:
            marks.append("size")
        return marks


def load_people(url: str) -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT role, user_id, email, token, detail FROM bench_people"
        ).all()
    engine.dispose()
    return {role: {"id": uid, "email": email, "token": token, "detail": detail}
            for role, uid, email, token, detail in rows}  # fmt: skip


def fill(path: str, people: dict[str, dict[str, Any]]) -> str:
    values = {role: (p["detail"] or p["id"]) for role, p in people.items()}
    values["search"] = values["search"].replace(" ", "+")
    return path.format(**values)


def _ask(client: requests.Session, method: str, url: str, timeout: float, **kw) -> tuple:
    """(status text, seconds, bytes); status is 'timeout' or 'error: ...' on failure."""
    start = time.perf_counter()
    try:
        answer = client.request(method, url, timeout=timeout, allow_redirects=False, **kw)
    except requests.Timeout:
        return "timeout", time.perf_counter() - start, None
    except requests.RequestException as error:
        return f"error: {type(error).__name__}", time.perf_counter() - start, None
    return str(answer.status_code), time.perf_counter() - start, len(answer.content)


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def time_page(result: Result, client: requests.Session, url: str, args: argparse.Namespace,
              headers: dict[str, str]) -> None:  # fmt: skip
    status, seconds, size = _ask(client, "GET", url, args.timeout, headers=headers)
    result.status, result.bytes = status, size
    if status != "200":
        return
    count = args.requests if seconds < SLOW_S else 3
    samples = [seconds]
    if count > 1:
        samples = []
        for _ in range(count):
            status, seconds, _ = _ask(client, "GET", url, args.timeout, headers=headers)
            if status != "200":
                result.status = status
                break
            samples.append(seconds)
    result.samples = [round(s * 1000, 1) for s in samples]
    result.p50_ms = round(statistics.median(samples) * 1000, 1)
    result.p95_ms = round(_percentile(samples, 0.95) * 1000, 1)


def prepare_once(result: Result, base: str, sessions: dict, args: argparse.Namespace) -> None:
    """POST Prepare once; reject the batch it made as the second finance user."""
    finance = sessions["finance"]
    token = csrf_token(finance, base + "/finance/payouts", args.timeout)
    status, seconds, size = _ask(
        finance, "POST", base + result.path, args.timeout,
        data={"currency": "USD", "minimum": "1000", "csrf_token": token},
    )  # fmt: skip
    result.status, result.bytes = status, size
    if status in ("200", "302"):
        result.p50_ms = result.p95_ms = round(seconds * 1000, 1)
        result.samples = [result.p50_ms]


def reject_over_http(base: str, url: str, sessions: dict, since: int, timeout: float) -> None:
    """The second finance user rejects every batch this run prepared (its reservations are
    voided), through the served app: the in-process one may not even import mid-edit."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        ids = (
            connection.exec_driver_sql(
                f"SELECT id FROM payout_batches WHERE id > {int(since)} AND status = 'prepared'"
            )
            .scalars()
            .all()
        )
    engine.dispose()
    second = sessions.get("finance_b")
    for batch_id in ids if second else ():
        page = f"{base}/finance/payouts/{batch_id}"
        try:
            token = csrf_token(second, page, timeout)
            form = {"reason": REJECTION, "csrf_token": token}
            second.post(page + "/reject", data=form, timeout=timeout, allow_redirects=False)
        except (RuntimeError, requests.RequestException) as error:
            print(f"  could not reject batch {batch_id}: {error}", flush=True)


def count_statements(app: Any, people: dict, results: list[Result]) -> None:
    """One more request per page in this process, counting the SQL statements it runs."""
    from sqlalchemy import event

    from marketplace.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def note(*_args: Any) -> None:
        seen.append(_args[2])

    clients = {}
    for role in SIGNED_IN:
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(people[role]["id"])
            session["_fresh"] = True
        clients[role] = client
    for result in results:
        if not result.ok or result.method != "GET":
            continue
        role, _, token = result.who.partition(":")
        headers = {"Authorization": f"Bearer {people[role]['token']}"} if token else {}
        client = app.test_client() if token else clients[role]
        event.listen(engine, "before_cursor_execute", note)
        try:
            seen.clear()
            client.get(result.path, headers=headers)
            result.statements = len(seen)
        finally:
            event.remove(engine, "before_cursor_execute", note)


def reject_new_batches(app: Any, people: dict, since: int) -> int:
    """Reject every batch prepared by this run (id above ``since``): nothing stays reserved."""
    from sqlalchemy import select

    from marketplace.accounts.models import User
    from marketplace.extensions import db
    from marketplace.payouts import batches
    from marketplace.payouts.models import PayoutBatch

    with app.app_context():
        actor = db.session.get(User, people["finance_b"]["id"])
        ids = db.session.scalars(
            select(PayoutBatch.id).where(PayoutBatch.id > since, PayoutBatch.status == "prepared")
        ).all()
        for batch_id in ids:
            batches.reject_batch(actor, batch_id, REJECTION)
    return len(ids)


def prepare_statements(app: Any, people: dict, result: Result) -> None:
    """Prepare once more in this process to count its statements (the batch is rejected)."""
    from sqlalchemy import event

    from marketplace.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def note(*_args: Any) -> None:
        seen.append(_args[2])

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(people["finance"]["id"])
        session["_fresh"] = True
    event.listen(engine, "before_cursor_execute", note)
    try:
        client.post(result.path, data={"currency": "USD", "minimum": "1000"})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    result.statements = len(seen)


def in_process_app(url: str) -> Any:
    from marketplace import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-pages",
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "WTF_CSRF_ENABLED": False,
        }
    )


def in_process(url: str, people: dict, results: list[Result], since: int) -> None:
    """Reject what Prepare reserved, then count each page's statements in this process."""
    app = in_process_app(url)
    reject_new_batches(app, people, since)
    count_statements(app, people, results)
    prepare = next((r for r in results if r.method == "POST"), None)
    if prepare and prepare.ok and prepare.p50_ms is not None and prepare.p50_ms < 2 * SLOW_S * 1000:
        prepare_statements(app, people, prepare)
        reject_new_batches(app, people, since)


def last_batch(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM payout_batches")
        last = found.scalar_one()
    engine.dispose()
    return last


def signed_in(base: str, people: dict) -> dict[str, requests.Session]:
    """A signed-in session per person; one that cannot sign in is reported and left out."""
    sessions = {}
    for role in SIGNED_IN:
        try:
            sessions[role] = sign_in(base, people[role]["email"], PASSWORD)
        except (RuntimeError, requests.RequestException) as error:
            print(f"  cannot sign in as {role}: {error}", flush=True)
    return sessions


def revision() -> str:
    """The commit the app ran from, with ``+changes`` when the working tree differs."""
    import subprocess

    def git(*words: str) -> str:
        return subprocess.run(("git", *words), cwd=ROOT, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def log_of(base: str) -> str:
    """Where gunicorn wrote (tracebacks of pages that answered 500)."""
    return f"/tmp/bench-pages-{base.rsplit(':', 1)[1]}.log"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    base_url = args.url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    url = schema_url(base_url, args.schema)
    people = load_people(url)
    results = [Result(name, who, fill(path, people), method)
               for name, who, method, path in PAGES
               if not args.only or args.only.lower() in name.lower()]  # fmt: skip
    since = last_batch(url)
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-pages",
        "REDIS_URL": "",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        "API_RATE_LIMIT": "1000000 per minute",
        "API_WRITE_RATE_LIMIT": "1000000 per minute",
    }
    print(f"pages on {args.schema}: gunicorn, {args.requests} requests a page", flush=True)
    with (
        gunicorn("bench.hello_wsgi:app", {}, 30) as hello,
        gunicorn("wsgi:app", env, int(args.timeout) + 5, ready="/healthz") as base,
    ):
        sessions = signed_in(base, people)
        solver = sessions.get("heavy_solver")
        cookie = "; ".join(f"{k}={v}" for k, v in solver.cookies.items()) if solver else ""
        hello_rps = requests_per_second(hello + "/", args.seconds)
        list_rps = requests_per_second(base + "/challenges", args.seconds, cookie)
        for result in results:
            role, _, token = result.who.partition(":")
            if not token and role not in sessions:
                result.status = "no sign-in"
            elif result.method == "POST":
                try:
                    prepare_once(result, base, sessions, args)
                except (RuntimeError, requests.RequestException) as error:
                    result.status = f"error: {error}"[:60]
                reject_over_http(base, url, sessions, since, args.timeout)
            else:
                headers = {"Authorization": f"Bearer {people[role]['token']}"} if token else {}
                client = requests.Session() if token else sessions[role]
                time_page(result, client, base + result.path, args, headers)
            print(f"  {result.name:<28} {result.status:>7} p50 {result.p50_ms} ms", flush=True)
    try:
        in_process(url, people, results, since)
    except Exception as error:  # noqa: BLE001 (the timings above are still worth printing)
        print(f"  statements not counted: the app fails in process: {error!r}", flush=True)
    ratio = list_rps / hello_rps if hello_rps and list_rps else None
    return {
        "schema": args.schema,
        "code": revision(),
        "server_log": log_of(base),
        "requests": args.requests,
        "hello_rps": hello_rps,
        "challenges_rps": list_rps,
        "ratio": round(ratio, 4) if ratio is not None else None,
        "pages": [asdict(r) for r in results],
        "_results": results,
    }


def _cell(value: float | int | None, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def report(figures: dict[str, Any]) -> None:
    results: list[Result] = figures.pop("_results")
    print()
    print(f"{'page':<28} {'as':<18} {'status':>7} {'p50 ms':>9} {'p95 ms':>9} "
          f"{'SQL':>5} {'KB':>9}  over target")  # fmt: skip
    for r in results:
        kb = None if r.bytes is None else r.bytes / 1024
        print(f"{r.name:<28} {r.who:<18} {r.status:>7} {_cell(r.p50_ms, ',.1f'):>9} "
              f"{_cell(r.p95_ms, ',.1f'):>9} {_cell(r.statements):>5} {_cell(kb, ',.1f'):>9}  "
              f"{', '.join(r.marks()) or 'ok'}")  # fmt: skip
    hello, listed, ratio = figures["hello_rps"], figures["challenges_rps"], figures["ratio"]
    verdict = "-" if ratio is None else ("ok" if ratio >= MIN_RATIO else "under 10 %")
    print(f"\nhello {_cell(hello, ',.0f')} requests/s, /challenges {_cell(listed, ',.0f')} "
          f"requests/s (8 connections): ratio {_cell(ratio, '.1%')}  {verdict}")  # fmt: skip
    print(f"code {figures['code']}; server log {figures['server_log']}")
    failing = sum(1 for r in results if r.marks())
    print(
        f"targets: p95 <= {P95_MS} ms, <= {MAX_STATEMENTS} statements (same at S and L), "
        f"<= {MAX_BYTES // 1024} KB; {failing} of {len(results)} pages miss one"
    )


def _other_counts(path: Path) -> dict[str, int | None]:
    """{page: statements} from the last JSON line in ``path``."""
    line = [text for text in path.read_text().splitlines() if text.startswith("{")][-1]
    return {page["name"]: page["statements"] for page in json.loads(line)["pages"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schema", required=True, help="scale_s or scale_l (seed_scale.py)")
    parser.add_argument("--url", help="default BENCH_DATABASE_URL or the local test database")
    parser.add_argument("--requests", type=int, default=20, help="timed requests a page")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before giving up")
    parser.add_argument("--seconds", type=int, default=10, help="of wrk load for requests/s")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("--only", help="measure only the pages whose name contains this")
    parser.add_argument("--against", help="a --json line of another run (e.g. at S): "
                        "marks pages whose statement count differs")  # fmt: skip
    args = parser.parse_args()
    figures = measure(args)
    results = figures["_results"]
    if args.against:
        other = _other_counts(Path(args.against))
        for result in results:
            result.other_statements = other.get(result.name)
    report(figures)
    if args.json:
        for page, result in zip(figures["pages"], results, strict=True):
            page.pop("samples")
            page["other_statements"] = result.other_statements
            page["over_target"] = result.marks()
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
