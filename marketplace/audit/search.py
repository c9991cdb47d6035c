"""Reading the audit log: platform admins search all of it; an organization's owners read the
events of their organization. A page is one statement whatever the log's size: a keyset page
on (occurred_at, id), the actor's email and the organization joined in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from marketplace.accounts.models import Organization, OrgRole, User
from marketplace.accounts.second_factor import require_second_factor
from marketplace.accounts.services import normalise_email, require_role
from marketplace.audit.models import AuditEvent
from marketplace.errors import Forbidden
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page


@dataclass(frozen=True)
class AuditFilters:
    """What a search asks for; None: any."""

    actor_email: str | None = None
    #: A full action ("payout_batch.approve") or its object part ("payout_batch").
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    #: An organization's address (slug); the owners' page is fixed to their organization.
    organization: str | None = None
    start: date | None = None
    end: date | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class AuditRow:
    """An event as a page shows it."""

    event: AuditEvent
    actor_email: str | None
    organization_slug: str | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.event, name)


def require_platform_admin(user: User) -> None:
    if not (getattr(user, "is_authenticated", False) and user.is_admin):
        raise Forbidden("Only platform admins may search the audit log.")
    require_second_factor(user, "search the audit log")


def require_owner(user: User, organization: Organization) -> None:
    require_role(user, organization, OrgRole.OWNER)


def search(
    viewer: User, filters: AuditFilters, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[AuditRow]:
    """A page of the whole log, newest first (platform admins only)."""
    require_platform_admin(viewer)
    return _page(_conditions(filters), cursor, per_page)


def organization_events(
    viewer: User,
    organization: Organization,
    filters: AuditFilters,
    cursor: str | None = None,
    per_page: int = PER_PAGE,
) -> KeysetPage[AuditRow]:
    """A page of the events of ``organization``, newest first (its owners only). A team's
    draft proposals name no organization, so they never appear here."""
    require_owner(viewer, organization)
    mine = [AuditEvent.organization_id == organization.id]
    return _page(mine + _conditions(replace(filters, organization=None)), cursor, per_page)


def _page(conditions: list[ColumnElement[bool]], cursor: str | None, per_page: int) -> KeysetPage:
    page = keyset_page(
        _rows().where(*conditions),
        [AuditEvent.occurred_at, AuditEvent.id],
        cursor=cursor,
        per_page=per_page,
        key=lambda row: (row[0].occurred_at, row[0].id),
    )
    return replace(page, items=[AuditRow(*row) for row in page.items])


def _rows() -> Select:
    return (
        select(AuditEvent, User.email, Organization.slug)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .outerjoin(Organization, Organization.id == AuditEvent.organization_id)
    )


def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.actor_email:
        actor = select(User.id).where(User.email == normalise_email(filters.actor_email))
        conditions.append(AuditEvent.actor_user_id == actor.scalar_subquery())
    if filters.action:
        if "." in filters.action:
            conditions.append(AuditEvent.action == filters.action)
        else:  # every action on that kind of object (names are checked: no LIKE wildcards)
            conditions.append(AuditEvent.action.startswith(filters.action + ".", autoescape=True))
    if filters.object_type:
        conditions.append(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        conditions.append(AuditEvent.object_id == filters.object_id)
    if filters.organization:
        slug = select(Organization.id).where(Organization.slug == filters.organization.lower())
        conditions.append(AuditEvent.organization_id == slug.scalar_subquery())
    if filters.start:
        conditions.append(AuditEvent.occurred_at >= datetime.combine(filters.start, time.min, UTC))
    if filters.end:
        conditions.append(AuditEvent.occurred_at <= datetime.combine(filters.end, time.max, UTC))
    if filters.outcome:
        conditions.append(AuditEvent.outcome == filters.outcome)
    return conditions
