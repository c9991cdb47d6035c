"""Token scopes: every API operation needs the read or write scope of its area (none for one's own
account), checked before the operation runs, so a token outside its scopes is refused with 403
naming the missing scope and nothing happens; a session cookie's reads are not limited."""

from __future__ import annotations

import pytest
from flask import Flask, request
from sqlalchemy import func, select

from marketplace.accounts import scopes
from marketplace.audit.models import AuditEvent
from marketplace.auth import SAFE_METHODS, required_scope
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from tests.factories import UserFactory, bearer

API = "/api/v1"
#: Operations on one's own account: any valid token, whatever its scopes.
ACCOUNT_OPERATIONS = {
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/tokens"),
    ("POST", "/api/v1/me/tokens"),
    ("DELETE", "/api/v1/me/tokens/<int(max=9223372036854775807):token_id>"),
    ("GET", "/api/v1/me/sessions"),
    ("DELETE", "/api/v1/me/sessions/<int(max=9223372036854775807):session_id>"),
    ("GET", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/read"),
}
#: Where the area is not the path's first word.
AREA_BY_PATH_START = {
    "/api/v1/challenges": "needs",
    "/api/v1/invitations": "needs",
    "/api/v1/clarifications": "needs",
    "/api/v1/organizations": "needs",
    "/api/v1/ledger": "finance",
    "/api/v1/finance": "finance",
    "/api/v1/payout": "payouts",
    "/api/v1/me/payout-account": "payouts",
    "/api/v1/me/earnings": "value",
    "/api/v1/awards": "value",
    "/api/v1/contributions": "value",
    "/api/v1/value-reports": "value",
    "/api/v1/me/proposals": "proposals",
    "/api/v1/team-invitations": "proposals",
}
JUDGING_PATH_ENDS = ("/reviewers", "/reviews", "/reviews/mine", "/shortlist", "/decision",
                     "/scoreboard", "/awards", "/close")  # fmt: skip


def required_scopes(app: Flask) -> dict[tuple[str, str], tuple[str | None, bool]]:
    """What every API operation (method, rule) needs: its scope and whether it moves money."""
    api_blueprints = app.extensions["flask-smorest"]["blp_name_to_api"]
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in api_blueprints:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            with app.test_request_context("/api/v1/", method=method):
                request.url_rule = rule  # the operation, without building a real path
                found[(method, rule.rule)] = required_scope()
    return found


def expected_area(rule: str) -> str:
    if rule.endswith(JUDGING_PATH_ENDS):
        return "judging"
    if rule.endswith("/proposals"):  # a need's proposals
        return "proposals"
    for start, area in AREA_BY_PATH_START.items():
        if rule.startswith(start):
            return area
    return rule.split("/")[3]  # /api/v1/proposals/... -> proposals


def test_every_api_operation_needs_the_scope_of_its_area(app: Flask) -> None:
    found = required_scopes(app)
    assert len(found) > 60
    account = {operation for operation, (needed, _money) in found.items() if needed is None}
    assert account == ACCOUNT_OPERATIONS
    for (method, rule), (needed, money) in found.items():
        if needed is None:
            continue
        access = "read" if method in SAFE_METHODS else "write"
        if (method, rule) == ("POST", "/api/v1/finance/exports"):
            access = "read"  # an export reads the book
        assert needed == f"{expected_area(rule)}:{access}", (method, rule)
        moves_money = method == "POST" and rule.endswith(("/fundings", "/decision", "/close"))
        assert money == (needed in scopes.MONEY_SCOPES or moves_money), (method, rule)


def test_a_read_only_token_reads_but_is_refused_a_write(app: Flask, client) -> None:
    with app.app_context():
        headers = bearer(UserFactory(), scopes=["needs:read"])
    assert client.get(f"{API}/challenges", headers=headers).status_code == 200
    before = count_needs(app)
    response = client.post(f"{API}/challenges", json={"title": "x"}, headers=headers)
    assert response.status_code == 403
    assert response.json["title"] == "Forbidden"
    assert "needs:write" in response.json["detail"]
    assert count_needs(app) == before
    with app.app_context():
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "token.use"))
        assert (event.outcome, event.details["scope"]) == ("refused", "needs:write")
        assert event.api_token_id is not None and event.object_id == str(event.api_token_id)
    # The write scope gets past the check: the body is then read (and refused, 422).
    with app.app_context():
        writer = bearer(UserFactory(), scopes=["needs:write"])
    assert client.post(f"{API}/challenges", json={"title": "x"}, headers=writer).status_code == 422
    # ...but no read of another area, nor of its own area's reads.
    for path, missing in [("/me/proposals", "proposals:read"), ("/challenges", "needs:read")]:
        response = client.get(f"{API}{path}", headers=writer)
        assert response.status_code == 403 and missing in response.json["detail"], path


def test_the_account_needs_no_scope(app: Flask, client) -> None:
    with app.app_context():
        headers = bearer(UserFactory(), scopes=["finance:read"])
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert client.get(f"{API}/me/tokens", headers=headers).status_code == 200
    assert client.get(f"{API}/notifications", headers=headers).status_code == 200
    assert client.post(f"{API}/notifications/read", headers=headers).status_code == 204


@pytest.mark.parametrize(
    "path", ["/me/proposals", "/me/earnings", "/me/payout-account", "/challenges"]
)
def test_session_reads_are_not_limited_by_scopes(app: Flask, client, auth, path: str) -> None:
    with app.app_context():
        email = UserFactory().email
    auth.login(email)
    assert client.get(f"{API}{path}").status_code == 200


def count_needs(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Challenge.id)))
