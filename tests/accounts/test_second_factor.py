"""The second factor: setting it up, signing in with a code, replays and recovery codes refused
the second time, platform staff sent to set one up, and recent re-authentication before
tokens and membership changes."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import ApiToken, Membership, OrgRole, User
from marketplace.accounts.second_factor import has_second_factor
from marketplace.accounts.second_factor_models import RecoveryCode, SecondFactor
from marketplace.accounts.services import email_verification_token
from marketplace.audit.models import AuditEvent
from marketplace.extensions import db
from tests.challenges.test_api import new_token_json, token_form
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory, make_token
from tests.second_factors import enrol, fresh_code, used_code

API = "/api/v1"


def user(app, email: str) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def second_factor_on(app, email: str) -> bool:
    with app.app_context():
        return has_second_factor(db.session.scalar(select(User).where(User.email == email)))


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def code_of(app, email: str) -> str:
    with app.app_context():
        return fresh_code(email)


@pytest.fixture
def solver(app) -> str:
    with app.app_context():
        return UserFactory(email="solver@example.com").email


@pytest.fixture
def enrolled(app) -> tuple[str, list[str]]:
    """A user with a second factor, and its recovery codes."""
    with app.app_context():
        person = UserFactory(email="careful@example.com")
        return person.email, enrol(person)


# --- Setting it up -------------------------------------------------------------------------


def test_set_up_shows_a_qr_code_and_needs_a_first_valid_code(app, client, auth, solver) -> None:
    auth.login(solver)
    page = client.get("/account/second-factor").get_data(as_text=True)
    assert "Set up a second factor" in page
    assert client.post("/account/second-factor/start").status_code == 302
    answer = client.get("/account/second-factor")
    assert answer.headers["Cache-Control"] == "no-store"
    page = answer.get_data(as_text=True)
    secret = re.search(r'data-test="totp-secret">([A-Z2-7]+)<', page).group(1)
    uri = re.search(r'data-test="otpauth-uri">([^<]+)<', page).group(1)
    assert uri.startswith("otpauth://totp/Co-create:solver%40example.com?")
    assert f"secret={secret}" in uri
    assert "<svg" in page and 'class="segno"' in page  # the QR code, inline
    with app.app_context():  # not on yet: only a secret waiting for its first code
        assert not has_second_factor(user(app, solver))
        assert db.session.scalar(select(SecondFactor.secret)) == secret  # kept on the server

    wrong = client.post("/account/second-factor/confirm", data={"code": "000000"})
    assert wrong.status_code == 422
    assert "wrong or has expired" in wrong.get_data(as_text=True)
    assert not second_factor_on(app, solver)

    confirmed = client.post(
        "/account/second-factor/confirm", data={"code": pyotp.TOTP(secret).now()}
    )
    assert confirmed.status_code == 200
    assert confirmed.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<li><code>([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})</code></li>", confirmed.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert second_factor_on(app, solver)
    with app.app_context():  # the codes are kept as digests only
        stored = db.session.scalars(select(RecoveryCode.code_sha256)).all()
        assert len(stored) == 10 and not set(codes) & set(stored)
    page = client.get("/account/second-factor").get_data(as_text=True)
    assert "10 recovery codes left" in page and codes[0] not in page


def test_a_second_enrolment_is_refused_while_one_is_on(app, client, auth, enrolled) -> None:
    email, _codes = enrolled
    auth.login(email)
    answer = client.post("/account/second-factor/start", follow_redirects=True)
    assert "on already" in answer.get_data(as_text=True)
    assert second_factor_on(app, email)


# --- Signing in ----------------------------------------------------------------------------


def test_sign_in_asks_for_a_code_before_the_session_starts(app, client, enrolled) -> None:
    email, _codes = enrolled
    first = client.post("/login?next=/account", data={"email": email, "password": PASSWORD})
    assert first.location.endswith("/login/second-factor")
    assert not signed_in(client)  # the password alone opened nothing
    wrong = client.post("/login/second-factor", data={"code": "123456"})
    assert wrong.status_code == 422
    assert not signed_in(client)
    right = client.post("/login/second-factor", data={"code": code_of(app, email)})
    assert right.status_code == 302 and right.location == "/account"
    assert signed_in(client)


def test_a_code_is_accepted_once(app, client, enrolled) -> None:
    email, _codes = enrolled
    client.post("/login", data={"email": email, "password": PASSWORD})
    code = code_of(app, email)
    assert client.post("/login/second-factor", data={"code": code}).status_code == 302
    other = app.test_client()  # someone who saw the code signs in elsewhere within its window
    other.post("/login", data={"email": email, "password": PASSWORD})
    replay = other.post("/login/second-factor", data={"code": code})
    assert replay.status_code == 422
    assert "used already" in replay.get_data(as_text=True)
    assert not signed_in(other)
    with app.app_context():
        assert used_code(email) == code


def test_a_recovery_code_signs_in_once(app, client, enrolled) -> None:
    email, codes = enrolled
    typed = codes[3].lower().replace("-", " ")  # any case, with spaces instead of dashes
    client.post("/login", data={"email": email, "password": PASSWORD})
    answer = client.post("/login/second-factor", data={"code": typed}, follow_redirects=True)
    assert "9 left" in answer.get_data(as_text=True)
    assert signed_in(client)
    other = app.test_client()
    other.post("/login", data={"email": email, "password": PASSWORD})
    assert other.post("/login/second-factor", data={"code": codes[3]}).status_code == 422
    assert not signed_in(other)
    assert other.post("/login/second-factor", data={"code": codes[4]}).status_code == 302
    assert signed_in(other)


def test_the_code_step_without_a_password_step_or_too_late_signs_nobody_in(
    app, client, enrolled
) -> None:
    email, _codes = enrolled
    answer = client.post("/login/second-factor", data={"code": code_of(app, email)})
    assert answer.location.endswith("/login")
    client.post("/login", data={"email": email, "password": PASSWORD})
    with client.session_transaction() as session:
        pending = session["second_factor_sign_in"]
        session["second_factor_sign_in"] = {**pending, "until": int(time.time()) - 1}
    answer = client.post("/login/second-factor", data={"code": code_of(app, email)})
    assert answer.location.endswith("/login")
    assert not signed_in(client)


def test_a_user_without_a_second_factor_signs_in_with_the_password(client, solver) -> None:
    answer = client.post("/login", data={"email": solver, "password": PASSWORD})
    assert answer.status_code == 302 and "second-factor" not in answer.location
    assert signed_in(client)


def test_failed_codes_are_limited_per_account(app, enrolled) -> None:
    email, _codes = enrolled
    saved = app.config["SECOND_FACTOR_RATE_LIMIT"]
    app.config["SECOND_FACTOR_RATE_LIMIT"] = "3 per minute"
    try:
        answers = []
        for _ in range(4):  # each try from a new client: the count is the account's
            client = app.test_client()
            client.post("/login", data={"email": email, "password": PASSWORD})
            answers.append(client.post("/login/second-factor", data={"code": "000000"}))
        assert [a.status_code for a in answers] == [422, 422, 422, 429]
    finally:
        app.config["SECOND_FACTOR_RATE_LIMIT"] = saved


# --- Turning it off -------------------------------------------------------------------------


def test_turning_it_off_needs_a_code(app, client, auth, enrolled) -> None:
    email, codes = enrolled
    auth.login(email)
    assert client.post("/account/second-factor/disable", data={"code": "000000"}).status_code == 422
    assert client.post("/account/second-factor/disable", data={"code": ""}).status_code == 422
    assert second_factor_on(app, email)
    answer = client.post("/account/second-factor/disable", data={"code": codes[0]})
    assert answer.status_code == 200
    assert not second_factor_on(app, email)
    with app.app_context():
        assert db.session.scalar(select(func.count(RecoveryCode.id))) == 0


def test_new_recovery_codes_replace_the_old_ones(app, client, auth, enrolled) -> None:
    email, codes = enrolled
    auth.login(email)
    answer = client.post("/account/second-factor/recovery-codes", data={"code": codes[0]})
    assert answer.status_code == 422  # an authenticator code, not a recovery code
    answer = client.post(
        "/account/second-factor/recovery-codes", data={"code": code_of(app, email)}
    )
    fresh = re.findall(r"<li><code>([A-Z2-7-]{19})</code></li>", answer.get_data(as_text=True))
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    other = app.test_client()
    other.post("/login", data={"email": email, "password": PASSWORD})
    assert other.post("/login/second-factor", data={"code": codes[1]}).status_code == 422
    assert other.post("/login/second-factor", data={"code": fresh[1]}).status_code == 302


# --- Platform staff --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "page"),
    [({"is_platform_finance": True}, "/finance/payouts"),
     ({"is_platform_finance": True}, "/finance/"),
     ({"is_admin": True}, "/admin/jobs"),
     ({"is_admin": True}, "/admin/audit")],
)  # fmt: skip
def test_platform_staff_are_sent_to_set_up_a_second_factor(app, client, auth, flags, page) -> None:
    with app.app_context():
        email = UserFactory(**flags).email
    auth.login(email)
    answer = client.get(page)
    assert answer.status_code == 302
    assert answer.location == f"/account/second-factor?next={page}"
    assert "Set up a second factor" in client.get(answer.location).get_data(as_text=True)
    with app.app_context():
        enrol(email)
    assert client.get(page).status_code == 200


def test_finance_staff_without_a_second_factor_are_refused_by_the_api(app, client) -> None:
    with app.app_context():
        staff = UserFactory(is_platform_finance=True)
        staff_id = staff.id
        headers = {"Authorization": f"Bearer {make_token(staff, 'desk')[1]}"}
    for path in ("/payout-batches", "/ledger/trial-balance"):
        answer = client.get(f"{API}{path}", headers=headers)
        assert answer.status_code == 403, path
        assert "second factor" in answer.json["detail"]
    with app.app_context():
        enrol(staff_id)
    assert client.get(f"{API}/payout-batches", headers=headers).status_code == 200


# --- Recent re-authentication ------------------------------------------------------------------


def age_reauthentication(client, seconds: int) -> None:
    with client.session_transaction() as session:
        mark = session["reauthenticated"]
        session["reauthenticated"] = {**mark, "at": mark["at"] - seconds}


def test_a_token_needs_a_recent_sign_in_or_confirmation(app, client, auth, solver) -> None:
    auth.login(solver)
    age_reauthentication(client, 11 * 60)  # REAUTH_MINUTES is 10
    answer = client.post("/account/tokens", data=token_form("laptop"))
    assert answer.location == "/account/confirm?next=/account"
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0
    wrong = client.post("/account/confirm?next=/account", data={"password": "not it"})
    assert wrong.status_code == 422
    assert client.post("/account/tokens", data=token_form("laptop")).status_code == 302
    right = client.post("/account/confirm?next=/account", data={"password": PASSWORD})
    assert right.location == "/account"
    assert client.post("/account/tokens", data=token_form("laptop")).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 1


def test_a_second_factor_code_confirms_too(app, client, auth, enrolled) -> None:
    email, _codes = enrolled
    auth.login(email)
    age_reauthentication(client, 3600)
    assert client.post("/account/tokens", data=token_form("laptop")).status_code == 302
    assert client.post("/account/confirm", data={"code": "000000"}).status_code == 422
    assert client.post("/account/confirm", data={"code": code_of(app, email)}).status_code == 302
    assert client.post("/account/tokens", data=token_form("laptop")).status_code == 200


def test_membership_changes_need_a_recent_confirmation(app, client, auth) -> None:
    acme_members = "/organizations/acme/members"
    with app.app_context():
        acme = OrganizationFactory(slug="acme")
        owner = MembershipFactory(organization=acme, role=OrgRole.OWNER).user.email
        member_id = MembershipFactory(organization=acme, role=OrgRole.REVIEWER).user.id
        outsider = UserFactory().email
    auth.login(owner)
    age_reauthentication(client, 3600)
    assert client.get(acme_members).status_code == 200  # reading needs nothing more
    added = client.post(acme_members, data={"email": outsider, "role": "manager"})
    assert added.location == f"/account/confirm?next={acme_members}"
    removed = client.post(f"{acme_members}/{member_id}/remove")
    assert removed.location == added.location
    with app.app_context():
        assert db.session.scalar(select(func.count(Membership.id))) == 2  # nothing changed
    client.post(added.location, data={"password": PASSWORD})
    assert client.post(acme_members, data={"email": outsider, "role": "manager"}).location == (
        acme_members
    )
    assert client.post(f"{acme_members}/{member_id}/remove").location == acme_members
    with app.app_context():
        assert db.session.scalar(select(func.count(Membership.id))) == 2  # one in, one out
        assert db.session.scalar(select(Membership.user_id).where(Membership.role == "manager"))


def test_a_token_made_through_the_api_needs_the_password_or_a_code(app, client, enrolled) -> None:
    email, codes = enrolled
    with app.app_context():
        headers = {"Authorization": f"Bearer {make_token(user(app, email), 'first')[1]}"}
    url = f"{API}/me/tokens"
    bare = client.post(url, json=new_token_json("more"), headers=headers)
    assert bare.status_code == 422 and "password" in bare.json["errors"]
    wrong = client.post(url, json={**new_token_json("more"), "password": "guess"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json["errors"]["password"] == ["Wrong password."]
    replay_target = code_of(app, email)
    assert client.post(
        url, json={**new_token_json("more"), "code": replay_target}, headers=headers
    ).status_code == 201
    again = {**new_token_json("again"), "code": replay_target}
    replay = client.post(url, json=again, headers=headers)
    assert replay.status_code == 422 and "code" in replay.json["errors"]
    assert client.post(
        url, json={**new_token_json("more"), "password": PASSWORD}, headers=headers
    ).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 3


def test_the_audit_log_records_the_second_factor_events(app, client, auth, solver) -> None:
    with app.app_context():
        start = db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))
    auth.login(solver)
    client.post("/account/second-factor/start")
    client.post("/account/second-factor/confirm", data={"code": "000000"})  # refused
    with app.app_context():
        secret = db.session.scalar(select(SecondFactor.secret))
    page = client.post(
        "/account/second-factor/confirm", data={"code": pyotp.TOTP(secret).now()}
    ).get_data(as_text=True)
    recovery = re.findall(r"<li><code>([A-Z2-7-]{19})</code></li>", page)
    client.post("/account/second-factor/disable", data={"code": recovery[0]})
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.id > start, AuditEvent.action.startswith("second_factor.")
            ).order_by(AuditEvent.id)
        ).all()
        assert [(e.action, e.outcome) for e in events] == [
            ("second_factor.code", "refused"),
            ("second_factor.enable", "succeeded"),
            ("second_factor.recovery_code_use", "succeeded"),
            ("second_factor.disable", "succeeded"),
        ]
        assert {e.object_id for e in events} == {str(user(app, solver).id)}
        assert events[0].details["for"] == "enable" and "wrong" in events[0].details["reason"]
        assert recovery[0] not in str([e.details for e in events])


def test_a_confirmation_link_never_signs_in_someone_with_a_second_factor(app, client) -> None:
    with app.app_context():
        person = UserFactory(email="linked@example.com", email_verified_at=None)
        enrol(person)
        path = f"/verify-email/{email_verification_token(person)}"
    assert client.post(path).status_code == 302
    assert not signed_in(client)
    with app.app_context():
        assert user(app, "linked@example.com").email_verified_at is not None  # confirmed
