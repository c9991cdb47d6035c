"""A need's journey in a real Chromium, all through the pages.

Acme's owner writes a need (with confidential details), funds its escrow in the sandbox and
opens it; a solver finds it by searching, does not see the confidential details, accepts the
terms and then does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer, Mailbox, watched_context

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
WORD = "Photocatalytic"
TITLE = f"{WORD} coating that cleans hospital air"
CONFIDENTIAL = "Pilot budget: 2M EUR"


@pytest.fixture
def solver_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A second browser context (its own cookies): the solver's, beside the manager's."""
    with watched_context(browser, live_server.url) as context:
        yield context.new_page()


def flash(page: Page):  # noqa: ANN201
    return page.get_by_role("status")


def register(page: Page, mailbox: Mailbox, name: str, email: str) -> None:
    """Register, then open the confirmation link from the email, which signs the person in."""
    page.goto("/")
    page.locator("header").get_by_role("link", name="Create account", exact=True).click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.goto(mailbox.link(email, "/verify-email/"))
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.locator("[data-test=account-link]")).to_have_text(name)


def sign_out(page: Page) -> None:
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(flash(page)).to_have_text("You are signed out.")


def set_up_second_factor(page: Page) -> None:
    """Scan (read) the key, type the app's first code, and see the recovery codes once."""
    page.get_by_role("button", name="Set up a second factor").click()
    expect(page.locator("[data-test=qr-code] svg")).to_be_visible()
    secret = page.locator("[data-test=totp-secret]").inner_text()
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn it on").click()
    expect(page.locator("[data-test=recovery-codes] li")).to_have_count(10)
    expect(page.locator("[data-test=second-factor-on]")).to_be_visible()


def sign_in(page: Page, name: str, email: str) -> None:
    page.locator("header").get_by_role("link", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-test=account-link]")).to_have_text(name)


def create_organization(page: Page, name: str, slug: str) -> None:
    page.goto("/organizations/new")
    expect(page.get_by_role("heading", name="Create an organization")).to_be_visible()
    page.get_by_label("Organization name").fill(name)
    page.get_by_label("Address").fill(slug)
    page.get_by_role("button", name="Create").click()
    expect(flash(page)).to_have_text(f"{name} is created; you are its owner.")


def write_need(page: Page) -> None:
    """Fill "Write a need" and save the draft; the browser ends on the need's page."""
    page.locator("header").get_by_role("link", name="Needs", exact=True).click()
    page.get_by_role("link", name="Write a need").click()
    expect(page.get_by_role("heading", name="Write a need")).to_be_visible()
    deadline = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT17:00")

    page.get_by_label("Organization", exact=True).select_option(label="Acme")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Need summary").fill(
        "A coating for ventilation ducts that breaks down airborne pathogens under LED light."
    )
    page.get_by_label("What we are looking for").fill(
        "Kills 99% of airborne bacteria in one pass\nSafe around patients\nLasts five years"
    )
    page.get_by_label("Solution maturity sought").select_option("prototype")
    page.get_by_label("Category").fill("Materials")
    page.get_by_label("Tags").fill("coatings, air quality, hospitals")
    page.get_by_label("Confidential details").fill(f"{CONFIDENTIAL}\n\nSites: three wards.")
    page.get_by_label("Prizes by rank").fill("10,000.00, 2,500.00")
    page.get_by_label("Judging criteria").fill("Performance: 60\nCost: 40")
    page.get_by_label("Deadline").fill(deadline)
    page.get_by_role("button", name="Save draft").click()

    expect(flash(page)).to_have_text("Draft saved. Fund the prize pool, then open it.")
    expect(page.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(page.locator("[data-test=status]")).to_have_text("Draft")


def test_manager_writes_funds_and_opens_a_need_and_a_solver_accepts_its_terms(
    page: Page, solver_page: Page, artifacts: Path, mailbox: Mailbox
) -> None:
    tag = uuid.uuid4().hex[:8]
    manager_email, solver_email = f"manager-{tag}@example.com", f"solver-{tag}@example.com"

    # Both accounts, through the pages; the solver's in a browser context of its own.
    register(page, mailbox, "Mia Manager", manager_email)
    create_organization(page, "Acme", "acme")
    sign_out(page)
    register(solver_page, mailbox, "Sol Solver", solver_email)
    sign_out(solver_page)

    # The manager signs in, writes the need, funds the escrow and opens the need.
    sign_in(page, "Mia Manager", manager_email)
    write_need(page)
    staff = page.locator("[data-test=staff-panel]")
    expect(staff.locator("[data-test=escrow]")).to_have_text("0.00 USD")
    need_url = page.url
    staff.locator("[data-test=fund]").click()
    # Funding needs a second factor: the owner is sent to set one up, then funds.
    expect(flash(page)).to_contain_text("before you fund a need")
    set_up_second_factor(page)
    page.goto(need_url)
    staff.locator("[data-test=fund]").click()
    expect(flash(page)).to_have_text("Sandbox payment settled: the escrow is funded.")
    # Prizes 12,500.00 plus the default 10% platform fee.
    expect(staff.locator("[data-test=escrow]")).to_have_text("13,750.00 USD")
    staff.locator("[data-test=open]").click()
    expect(flash(page)).to_have_text("The need is open: solvers can find it now.")
    expect(page.locator("[data-test=status]")).to_have_text("Open")
    expect(staff.locator("[data-test=open]")).to_have_count(0)
    page.screenshot(path=str(artifacts / "need-journey-manager-opened.png"), full_page=True)

    # The solver signs in, finds the need by its distinctive word and opens it.
    solver = solver_page
    sign_in(solver, "Sol Solver", solver_email)
    solver.locator("header").get_by_role("link", name="Needs", exact=True).click()
    expect(solver.get_by_role("heading", name="Needs", level=1)).to_be_visible()
    solver.get_by_role("searchbox", name="Search").fill(WORD.lower())
    solver.get_by_role("search").get_by_role("button", name="Search").click()
    expect(solver.locator("[data-test=result-count]")).to_have_text("1 need")
    card = solver.locator("[data-test=need-card]").filter(has_text=TITLE)
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Acme")
    card.get_by_role("link", name=TITLE).click()

    # Before accepting: no confidential details anywhere on the page.
    expect(solver.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    expect(solver.locator("[data-test=status]")).to_have_text("Open")
    expect(solver.locator("[data-test=staff-panel]")).to_have_count(0)
    expect(solver.locator("[data-test=confidential]")).to_have_count(0)
    expect(solver.locator("#confidential")).to_contain_text("Shown once you accept the terms.")
    expect(solver.locator("body")).not_to_contain_text(CONFIDENTIAL)
    expect(solver.locator("[data-test=accepted]")).to_have_count(0)

    # Accept the terms: now the confidential details show, with the accepted notice.
    accept = solver.locator("[data-test=accept]")
    expect(accept).to_have_text("Accept terms version 1")
    accept.click()
    expect(flash(solver)).to_contain_text("You accepted terms version 1")
    expect(solver.locator("[data-test=accepted]")).to_have_text(
        "You accepted these terms (version 1)."
    )
    expect(solver.locator("[data-test=confidential]")).to_contain_text(CONFIDENTIAL)
    expect(solver.locator("[data-test=accept]")).to_have_count(0)
    solver.screenshot(path=str(artifacts / "need-journey-solver-accepted.png"), full_page=True)
