"""The inbox pages by keyset at a fixed statement count, and the unread count on every page is
read from the partial index of unread notifications, capped at 99+."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from ledger import utcnow
from marketplace.extensions import db
from marketplace.notifications import services
from marketplace.notifications.models import Notification
from tests.challenges.conftest import people, user  # noqa: F401
from tests.judging.test_lists_bounded import count_statements
from tests.proposals.test_api import API
from tests.proposals.test_api import auth as token


def notify_many(app, email: str, count: int, read: bool = False) -> None:
    with app.app_context():
        user_id = user(email).id
        if count:
            db.session.execute(
                insert(Notification),
                [{"user_id": user_id, "kind": "test", "title": f"Note {n}", "body": "",
                  "link": "", "read_at": utcnow() if read else None} for n in range(count)],
            )  # fmt: skip
        db.session.commit()


@pytest.mark.parametrize("api", [False, True])
def test_the_inbox_costs_the_same_at_5_and_at_50(app, client, auth, people, api):  # noqa: F811
    headers = token(app, people.solver) if api else None
    if not api:
        auth.login(people.solver)
    path = f"{API}/notifications?per_page=100" if api else "/notifications?per_page=100"
    counts = []
    for have, total in ((0, 5), (5, 50)):
        notify_many(app, people.solver, total - have)
        statements, response = count_statements(app, client, path, headers)
        shown = (
            len(response.get_json()["items"])
            if api
            else response.get_data(as_text=True).count('data-test="notification"')
        )
        assert shown == total
        counts.append(statements)
    assert counts[0] == counts[1] <= 30


@pytest.mark.parametrize("total", [0, 4, 5])
def test_inbox_boundaries_newest_first(app, client, people, total):  # noqa: F811
    notify_many(app, people.solver, total)
    headers = token(app, people.solver)
    first = client.get(f"{API}/notifications?per_page=4", headers=headers).get_json()
    assert len(first["items"]) == min(total, 4)
    ids = [n["id"] for n in first["items"]]
    assert ids == sorted(ids, reverse=True)
    if total <= 4:
        assert first["next_cursor"] is None
        return
    rest = client.get(
        f"{API}/notifications?per_page=4&cursor={first['next_cursor']}", headers=headers
    ).get_json()
    assert [n["title"] for n in rest["items"]] == ["Note 0"] and rest["next_cursor"] is None


def test_a_bad_inbox_cursor_is_a_field_error_or_a_message(app, client, auth, people):  # noqa: F811
    notify_many(app, people.solver, 2)
    response = client.get(f"{API}/notifications?cursor=%%%", headers=token(app, people.solver))
    assert response.status_code == 422 and "cursor" in response.get_json()["errors"]
    auth.login(people.solver)
    page = client.get("/notifications?cursor=%%%")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Not a valid cursor" in text and text.count('data-test="notification"') == 2


def test_the_unread_count_ignores_read_ones_and_stops_at_99_plus(app, client, auth, people):  # noqa: F811
    notify_many(app, people.solver, 30, read=True)
    notify_many(app, people.solver, 3)
    with app.app_context():
        assert services.unread_count(user(people.solver)) == 3
    notify_many(app, people.solver, 200)
    with app.app_context():
        assert services.unread_count(user(people.solver)) == services.UNREAD_CAP + 1
    auth.login(people.solver)
    page = client.get("/notifications").get_data(as_text=True)
    assert '<span class="count">99+</span>' in page
