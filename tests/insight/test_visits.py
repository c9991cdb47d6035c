"""Need page views: each visitor once per need per hour, and a repeat view writes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ledger import utcnow
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.insight.models import NeedVisit
from marketplace.insight.visits import record_view, visitor_key
from tests.sql_writes import writes_during


def views(app, challenge_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Challenge.view_count).where(Challenge.id == challenge_id))


def test_a_visitor_counts_once_an_hour_and_earlier_hours_are_dropped(app, need) -> None:
    now = utcnow()
    with app.app_context():
        assert record_view(need, "user:1", now=now)
        assert not record_view(need, "user:1", now=now)
        assert record_view(need, "user:2", now=now)
        assert record_view(need, "user:1", now=now + timedelta(hours=1))
    assert views(app, need) == 3
    with app.app_context():
        rows = db.session.execute(select(NeedVisit.visitor).where(NeedVisit.challenge_id == need))
        assert [visitor for (visitor,) in rows] == ["user:1"]  # only the latest hour's rows


def test_a_repeat_view_of_the_page_writes_nothing(app, client, need) -> None:
    with writes_during(app) as first:
        assert client.get(f"/challenges/{need}").status_code == 200
    assert any("need_visits" in statement for statement in first)
    with writes_during(app) as repeats:
        for _ in range(3):
            assert client.get(f"/challenges/{need}").status_code == 200
    assert repeats == []
    assert views(app, need) == 1
    other_browser = {"User-Agent": "another browser"}
    assert client.get(f"/challenges/{need}", headers=other_browser).status_code == 200
    assert views(app, need) == 2


def test_anonymous_visitors_are_known_by_a_keyed_hash_only() -> None:
    key = visitor_key(None, "203.0.113.9", "Firefox", "secret")
    assert key.startswith("anon:") and "203.0.113.9" not in key and len(key) <= 40
    assert key == visitor_key(None, "203.0.113.9", "Firefox", "secret")
    assert key != visitor_key(None, "203.0.113.9", "Firefox", "another secret")
    assert key != visitor_key(None, "203.0.113.10", "Firefox", "secret")
    assert visitor_key(7, "203.0.113.9", "Firefox", "secret") == "user:7"
