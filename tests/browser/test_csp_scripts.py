"""The page scripts still run under the Content-Security-Policy, in Chromium, with no violation:
a form's confirmation question (app.js, no inline handler) and the two progress polls (inline
scripts with the request's nonce). The demo crawl seldom meets the polls: they show only
while an export or a payout batch is under way, so these tests put one in that state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import delete, select, update

from marketplace.accounts.models import User
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.finance.models import BookExport
from marketplace.payouts.models import PayoutBatch
from tests.browser.conftest import LiveServer, watched_context
from tests.browser.test_demo_crawl import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser, demo_server: LiveServer) -> Iterator[Page]:
    """A page on the demo, whose violations fail the test (none is allowed)."""
    with watched_context(browser, demo_server.url) as context:
        yield context.new_page()


def test_a_confirmation_question_comes_from_the_script_file(
    page: Page, demo_server: LiveServer
) -> None:
    with demo_server.app.app_context():
        need = db.session.scalar(
            select(Challenge.id).where(Challenge.title == "Low-sodium cheese without bitterness")
        )
    sign_in(page, "max@acme.example")
    page.goto(f"/challenges/{need}")
    asked: list[str] = []

    def dismiss(dialog) -> None:  # noqa: ANN001
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Cancel the need").click()
    expect(page.locator("[data-test=status]")).to_have_text("Open")
    assert asked == ["Cancel this need and return its escrow?"]
    with demo_server.app.app_context():
        assert db.session.get(Challenge, need).status == "open"


def test_a_payout_batch_under_way_polls_its_progress(page: Page, demo_server: LiveServer) -> None:
    with demo_server.app.app_context():
        batch = db.session.scalar(select(PayoutBatch).where(PayoutBatch.status == "completed"))
        batch_id = batch.id
        db.session.execute(
            update(PayoutBatch).where(PayoutBatch.id == batch_id).values(status="approved")
        )
        db.session.commit()
    try:
        sign_in(page, "felix@platform.example")
        with page.expect_request(f"**/api/v1/payout-batches/{batch_id}/progress") as polled:
            page.goto(f"/finance/payouts/{batch_id}")
        assert polled.value.response().status == 200
    finally:
        with demo_server.app.app_context():
            db.session.execute(
                update(PayoutBatch).where(PayoutBatch.id == batch_id).values(status="completed")
            )
            db.session.commit()


def test_a_running_export_polls_its_progress(page: Page, demo_server: LiveServer) -> None:
    with demo_server.app.app_context():
        fiona = db.session.scalar(select(User).where(User.email == "fiona@platform.example"))
        export = BookExport(format="csv", requested_by_id=fiona.id, status="running", total=10)
        db.session.add(export)
        db.session.commit()
        export_id = export.id
    try:
        sign_in(page, "fiona@platform.example")
        with page.expect_request("**/api/v1/finance/exports") as polled:
            page.goto("/finance/exports")
        assert polled.value.response().status == 200
        expect(page.locator(f"[data-test=progress-{export_id}]")).to_have_text("0 / 10")
    finally:
        with demo_server.app.app_context():
            db.session.execute(delete(BookExport).where(BookExport.id == export_id))
            db.session.commit()
