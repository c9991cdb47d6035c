"""Telling the platform's admins that something needs a person."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.db import command
from marketplace.extensions import db
from marketplace.notifications.services import notify


@command
def alert_platform_admins(*, kind: str, title: str, body: str = "", link: str = "") -> int:
    """An in-app notification (and its email) to every platform admin."""
    admins = db.session.scalars(
        select(User.id).where(User.is_admin.is_(True), User.active.is_(True))
    ).all()
    return notify(list(admins), kind=kind, title=title, body=body, link=link)
