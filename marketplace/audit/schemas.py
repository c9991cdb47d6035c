"""The audit pages' query string."""

from __future__ import annotations

import marshmallow as ma

from marketplace.audit.models import Outcome
from marketplace.pagination import CursorQuerySchema

NAME = ma.validate.Regexp(r"^[a-z0-9_]+(\.[a-z0-9_]+)*\Z", error="Use a name like session.sign_in.")
PLAIN = ma.validate.Regexp(r"^[^\x00-\x1f\x7f]*\Z", error="No control characters, please.")


class AuditQuerySchema(CursorQuerySchema):
    actor_email = ma.fields.String(load_default=None, validate=[ma.validate.Length(max=254), PLAIN])
    action = ma.fields.String(load_default=None, validate=[ma.validate.Length(max=64), NAME])
    object_type = ma.fields.String(load_default=None, validate=[ma.validate.Length(max=40), NAME])
    object_id = ma.fields.String(load_default=None, validate=[ma.validate.Length(max=64), PLAIN])
    organization = ma.fields.String(load_default=None, validate=[ma.validate.Length(max=60), PLAIN])
    start = ma.fields.Date(load_default=None)
    end = ma.fields.Date(load_default=None)
    outcome = ma.fields.String(load_default=None, validate=ma.validate.OneOf(list(Outcome)))

    @ma.validates_schema
    def _period(self, data: dict, **_: object) -> None:
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ma.ValidationError("The first day must be on or before the last.", "start")
