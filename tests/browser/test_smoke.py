"""Smoke test in a real Chromium: create an account and confirm it from the email, sign out,
fail and succeed to sign in, and reset a forgotten password."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from marketplace.accounts.services import register_user
from tests.browser.conftest import LiveServer, Mailbox

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


def signed_in_as(page: Page):  # noqa: ANN201
    return page.locator("[data-test=signed-in-as]")


def expect_signed_out(page: Page) -> None:
    header = page.locator("header")
    expect(header.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(header.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(signed_in_as(page)).to_have_count(0)


def expect_signed_in_on_front_page(page: Page, live_server: LiveServer, email: str) -> None:
    expect(page).to_have_url(live_server.url + "/")
    expect(signed_in_as(page)).to_have_text(email)
    expect(page.locator("header").get_by_role("button", name="Sign out")).to_be_visible()


def sign_in(page: Page, email: str, password: str) -> None:
    page.locator("header").get_by_role("link", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.locator("main").get_by_role("button", name="Sign in").click()


def test_register_sign_out_and_sign_in_again(
    page: Page, live_server: LiveServer, artifacts: Path, mailbox: Mailbox
) -> None:
    email = f"smoke-{uuid.uuid4().hex[:8]}@example.com"

    page.goto("/")
    expect(page).to_have_title(re.compile("Co-create"))
    expect_signed_out(page)

    # Register through the header's "Create account" link.
    page.locator("header").get_by_role("link", name="Create account", exact=True).click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Name").fill("Smoke Tester")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect_signed_out(page)

    # The link in the email shows a button; pressing it confirms the address and signs in.
    page.goto(mailbox.link(email, "/verify-email/"))
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    expect_signed_out(page)
    page.get_by_role("button", name="Confirm my address").click()
    expect_signed_in_on_front_page(page, live_server, email)
    expect(page.get_by_role("status")).to_have_text(
        f"Welcome! {email} is confirmed and you are signed in."
    )

    # Sign out with the header's button (a POST form with its CSRF token).
    page.locator("header").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect_signed_out(page)

    # A wrong password: the error message, and still signed out.
    sign_in(page, email, PASSWORD + "-wrong")
    expect(page.get_by_role("status")).to_have_text("Wrong email or password.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect_signed_out(page)
    page.goto("/")
    expect_signed_out(page)

    # The right one.
    sign_in(page, email, PASSWORD)
    expect_signed_in_on_front_page(page, live_server, email)

    page.screenshot(path=str(artifacts / "smoke-signed-in.png"), full_page=True)


def test_a_forgotten_password_is_reset_from_the_emailed_link(
    page: Page, live_server: LiveServer, mailbox: Mailbox
) -> None:
    email = f"forgetful-{uuid.uuid4().hex[:8]}@example.com"
    with live_server.app.app_context():
        register_user(email, "Forgetful", PASSWORD)

    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_text("If an account has this address")).to_be_visible()

    page.goto(mailbox.link(email, "/reset-password/"))
    new_password = "quiet harbour lantern seven"
    page.get_by_label("New password", exact=True).fill("password1234")
    page.get_by_label("Repeat new password").fill("password1234")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator(".field.has-error .error")).to_contain_text("too common")
    page.get_by_label("New password", exact=True).fill(new_password)
    page.get_by_label("Repeat new password").fill(new_password)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your password is changed. Sign in with the new one."
    )
    sign_in(page, email, new_password)
    expect_signed_in_on_front_page(page, live_server, email)


def test_a_form_post_without_its_csrf_token_is_refused(page: Page) -> None:
    """CSRF protection is real here: a sign-in POST without the token signs nobody in."""
    response = page.request.post(
        "/login", form={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert response.status == 400
    assert "CSRF" in response.text()
