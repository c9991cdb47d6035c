"""Recording audit events: ``record(action, ...)``, one line in the service where the rule lives.

Who acted, the API token and the address are read from the request when there is one (a job or
a CLI command has none: pass ``actor=`` when someone is known).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from flask import g, has_request_context, request
from flask_login import current_user

from ledger import utcnow
from marketplace.audit.models import AuditEvent, Outcome
from marketplace.db import after_end, transaction
from marketplace.errors import DomainError
from marketplace.extensions import db

#: Detail keys whose values are never written (a caller's slip must not store a secret).
_SECRET_KEY = re.compile(r"password|secret|_hash|sha256|totp|recovery_code", re.I)
WITHHELD = "[withheld]"
MAX_DETAIL_TEXT = 500
F = TypeVar("F", bound=Callable[..., Any])


def record(
    action: str,
    *,
    obj: Any = None,
    object_type: str | None = None,
    object_id: int | str | None = None,
    organization_id: int | None = None,
    outcome: str = Outcome.SUCCEEDED,
    details: Mapping[str, Any] | None = None,
    actor: Any = None,
    apart: bool = False,
) -> None:
    """Add an event to the audit log.

    ``action`` is a dotted name, the object's kind then the verb: ``"session.sign_in"``,
    ``"token.create"``, ``"payout_batch.approve"``. ``obj`` is a model instance (its type is its
    class name in snake case, its id its ``id``, its organization its ``organization_id`` if it
    has one); or give ``object_type`` and ``object_id``. ``organization_id`` makes the event
    visible to that organization's owners. ``details``: a few plain facts (amounts, roles,
    reasons), never a secret; keys that look like secrets are withheld. ``actor`` defaults to
    the signed-in user (or the API token's owner).

    Two ways to use it:

    - **Inside a command** (the usual case, ``apart=False``): call it in the service, next to
      the change, e.g. ``record("token.create", obj=token)``. The event joins the command's
      transaction: it commits with the change, and a rollback takes both away, so the log
      never shows something that did not happen. Called outside any transaction, it commits
      in a short transaction of its own.
    - **A refusal or a failure** that must stay recorded although the command's transaction
      rolls back (a wrong password, a missing permission, a refused step-up):
      ``record("session.sign_in", outcome="refused", details={"email": email}, apart=True)``
      just before raising. The event's values are taken now; it is written in a short
      transaction of its own once the current transaction ends, committed or rolled back (at
      once when none is open). A command whose permission check raises 401 or 403 records
      its refusals with the ``@refusals_recorded(action)`` decorator instead.
    """
    row = _event_values(
        action, obj, object_type, object_id, organization_id, outcome, details, actor
    )
    if apart:
        after_end(lambda: _write(row))
    else:
        _write(row)


def _write(row: dict[str, Any]) -> None:
    with transaction():
        db.session.add(AuditEvent(**row))


def _event_values(
    action: str,
    obj: Any,
    object_type: str | None,
    object_id: int | str | None,
    organization_id: int | None,
    outcome: str,
    details: Mapping[str, Any] | None,
    actor: Any,
) -> dict[str, Any]:
    if outcome not in set(Outcome):
        raise ValueError(f"unknown audit outcome {outcome!r}")
    if obj is not None:
        if getattr(obj, "id", None) is None:
            db.session.flush()  # a new row: its id is the event's object
        object_type = object_type or _snake(type(obj).__name__)
        object_id = obj.id
        if organization_id is None:
            organization_id = getattr(obj, "organization_id", None)
        if organization_id is None and object_type == "organization":
            organization_id = obj.id
    actor_id, token_id, address = _request_facts(actor)
    return {
        "occurred_at": utcnow(),
        "actor_user_id": actor_id,
        "api_token_id": token_id,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "organization_id": organization_id,
        "ip_address": address,
        "outcome": str(outcome),
        "details": _clean(details or {}),
    }


def _request_facts(actor: Any) -> tuple[int | None, int | None, str | None]:
    """The actor's id, the request's API token id and the client's address."""
    if not has_request_context():
        return (getattr(actor, "id", None), None, None)
    if actor is None and current_user and current_user.is_authenticated:
        actor = current_user
    return (getattr(actor, "id", None), g.get("api_token_id"), (request.remote_addr or None))


def _clean(details: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe facts, secrets withheld, long texts shortened."""
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        if _SECRET_KEY.search(str(key)):
            cleaned[str(key)] = WITHHELD
        elif value is None or isinstance(value, bool | int | float):
            cleaned[str(key)] = value
        elif isinstance(value, list | tuple):
            cleaned[str(key)] = [str(item)[:MAX_DETAIL_TEXT] for item in value[:50]]
        else:
            cleaned[str(key)] = str(value)[:MAX_DETAIL_TEXT]
    return cleaned


#: Object types named as people see them, where the class name differs.
_TYPE_NAMES = {"Challenge": "need"}


def _snake(name: str) -> str:
    if name in _TYPE_NAMES:
        return _TYPE_NAMES[name]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def refusals_recorded(
    action: str, *, object_arg: str | None = None, object_type: str | None = None
) -> Callable[[F], F]:
    """Decorate a command so that a permission refusal (a 401 or 403 domain error) is recorded
    as ``action`` with outcome "refused", apart from the command's rolled-back transaction.

    The actor is the command's ``actor`` (or ``user``) argument; ``object_arg`` names the
    argument holding the object (an id or a model), whose type is ``object_type`` or else the
    action's first part.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except DomainError as error:
                if error.status not in (401, 403):
                    raise
                given = signature.bind_partial(*args, **kwargs).arguments
                target = given.get(object_arg) if object_arg else None
                model = target if hasattr(target, "id") else None
                record(
                    action,
                    obj=model,
                    object_type=object_type or (action.rpartition(".")[0] if target else None),
                    object_id=None if model is not None else target,
                    outcome=Outcome.REFUSED,
                    details={"reason": error.message},
                    actor=given.get("actor", given.get("user")),
                    apart=True,
                )
                raise

        return cast(F, run)

    return decorate
