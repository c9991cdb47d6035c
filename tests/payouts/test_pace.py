"""The payout pace is shared: two processes sending through one Redis bucket together keep to
PAYOUT_RATE_PER_SECOND, as the fake Stripe counts the requests it receives in any one-second
window (counted, not timed: the assertion is on requests per window). The fake answers 429
with Retry-After above its own limit, per endpoint, as Stripe does."""

from __future__ import annotations

import multiprocessing
import urllib.error
import urllib.request
import uuid

import pytest

from marketplace import create_app
from marketplace.payments.provider import PayoutRequest
from marketplace.payments.registry import current_provider
from marketplace.payouts import rate, sending
from tests.conftest import need_service, test_config
from tests.payments.stripe_server import FakeStripe

RATE = 8
EACH = 16  # look-ups per process (two requests each): four seconds of the shared pace


def _request(n: int) -> PayoutRequest:
    return PayoutRequest(
        key=f"payout-line-{n}", amount=100, currency="USD", destination="acct_x",
        description="pace test", metadata={"payout_line_id": str(n)}, group=f"payout-line-{n}",
    )  # fmt: skip


def _send_through_the_pace(settings: dict, first: int, start: multiprocessing.Event) -> None:
    """One process: its own app (its own Redis client), EACH look-ups at the shared pace."""
    app = create_app(settings)
    with app.app_context():
        provider = current_provider()
        start.wait(30)
        for n in range(first, first + EACH):
            sending.paced(provider.find_payout, _request(n), sending.LOOKUP_REQUESTS)


def busiest_window(fake: FakeStripe, seconds: float) -> int:
    """The most requests to /v1/transfers the fake received within any ``seconds``."""
    moments = sorted(r.received_at for r in fake.requests if r.path == "/v1/transfers")
    most, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_two_processes_share_one_pace_through_redis(database, stripe_server):
    redis_url = need_service("TEST_REDIS_URL", "the shared payout pace")
    settings = test_config(
        database.url,
        REDIS_URL=redis_url,
        QUEUE_PREFIX=f"test-{uuid.uuid4().hex[:8]}:",
        PAYOUT_RATE_PER_SECOND=RATE,
        STRIPE_SECRET_KEY="sk_test_pace",
        STRIPE_API_BASE=stripe_server.url,
    )
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    workers = [
        spawn.Process(target=_send_through_the_pace, args=(settings, first, start))
        for first in (1, 1000)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    seen = [r for r in stripe_server.requests if r.path == "/v1/transfers"]
    # find_payout asks by transfer group, then by destination: two requests a look-up.
    assert len(seen) == 2 * 2 * EACH and all(r.status == 200 for r in seen)
    # One bucket for both: never the two processes' paces added up (2 * RATE a second).
    # Two-second windows, so that a request held up on a busy machine and arriving together
    # with the next one does not count as the pace broken.
    assert busiest_window(stripe_server, 2.0) <= 2 * RATE + 3


def test_a_429_pauses_the_local_pace_for_every_thread():
    bucket = rate.LocalBucket(RATE)
    assert bucket.reserve() == 0  # the one token of a rested bucket
    bucket.pause(3)
    waits = [bucket.reserve() for _ in range(3)]
    assert waits[0] >= 3  # nobody goes before the Retry-After
    assert waits[1] - waits[0] == pytest.approx(1 / RATE, abs=0.01)  # then the pace again
    assert waits[2] - waits[1] == pytest.approx(1 / RATE, abs=0.01)


def _call(url: str, method: str = "GET") -> tuple[int, str | None]:
    request = urllib.request.Request(
        url, method=method, data=b"type=express" if method == "POST" else None,
        headers={"Authorization": "Bearer sk_test_fake"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After")


def test_the_fake_answers_429_with_retry_after_above_its_limit_per_endpoint(stripe_server):
    stripe_server.rate_limit(3)
    transfers = [_call(f"{stripe_server.url}/v1/transfers") for _ in range(10)]
    assert transfers[:3] == [(200, None)] * 3  # the burst the bucket holds
    assert (429, "1") in transfers[3:]
    assert _call(f"{stripe_server.url}/v1/accounts", "POST") == (200, None)  # its own limit
    stripe_server.rate_limit(None)
    assert _call(f"{stripe_server.url}/v1/transfers") == (200, None)
